import type { Async } from "../store/contract.js";
import type { PaceStore } from "../store/pace.js";
import type { Clock, Limiter } from "./rate-limit.js";
import { realClock } from "./rate-limit.js";

const MINUTE = 60_000;

/**
 * The LLM rate limit held in the store (src/store/pace.ts), for replicas sharing one database:
 * requests and tokens per minute are two paced keys, a token bucket each, that every process
 * reserves from in one statement, so N replicas together send what one would (the in-memory
 * RateLimiter would let each send the whole limit). A 429's wait holds the requests key for all.
 */
export class SharedRateLimiter implements Limiter {
  constructor(
    private readonly pace: Async<PaceStore>,
    /** `llm:<provider>|<base URL>` (and `|repo:<name>` for a repository's own share). */
    private readonly key: string,
    readonly limits: { rpm: number; tpm: number },
    readonly clock: Clock = realClock,
  ) {}

  async acquire(tokens: number): Promise<void> {
    const { rpm, tpm } = this.limits;
    const now = this.clock.now();
    const a = await this.pace.reserve(
      `${this.key}|requests`,
      { intervalMs: MINUTE / rpm, burstMs: MINUTE },
      now,
    );
    // A request above the bucket waits for a full one, as in memory.
    const b = await this.pace.reserve(
      `${this.key}|tokens`,
      { intervalMs: (Math.min(tokens, tpm) * MINUTE) / tpm, burstMs: MINUTE },
      now,
    );
    const wait = Math.max(a, b) - this.clock.now();
    if (wait > 0) await this.clock.sleep(wait);
  }

  async block(ms: number): Promise<void> {
    await this.pace.holdUntil(`${this.key}|requests`, this.clock.now() + ms, MINUTE);
  }
}
