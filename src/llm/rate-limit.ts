import { RateLimitError } from "openai";

/** A clock seam so the bucket logic is testable without waiting. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
};

/** A token bucket: `capacity` tokens, refilled continuously over a minute. */
export class TokenBucket {
  private level: number;
  private last: number;

  constructor(
    public capacity: number,
    private readonly clock: Clock,
  ) {
    this.level = capacity;
    this.last = clock.now();
  }

  private refill(): void {
    const t = this.clock.now();
    this.level = Math.min(this.capacity, this.level + ((t - this.last) * this.capacity) / 60_000);
    this.last = t;
  }

  /** Milliseconds until `n` tokens are available (a request above capacity waits for a full bucket). */
  waitFor(n: number): number {
    this.refill();
    const need = Math.min(n, this.capacity);
    if (this.level >= need) return 0;
    return Math.ceil(((need - this.level) * 60_000) / this.capacity);
  }

  take(n: number): void {
    this.refill();
    this.level -= Math.min(n, this.capacity);
  }

  /** Empties the bucket (after a 429, nothing should go out until it refills). */
  drain(): void {
    this.refill();
    this.level = Math.min(this.level, 0);
  }
}

/** What a call goes through: requests and tokens per minute, and a 429's wait. */
export interface Limiter {
  readonly clock: Clock;
  /** The requests and tokens per minute it allows. */
  readonly limits: { rpm: number; tpm: number };
  /** Waits (in order of arrival) until one request of about `tokens` tokens may go out, and takes it. */
  acquire(tokens: number): Promise<void>;
  /** The provider said 429: nothing goes out before `ms` from now. */
  block(ms: number): void | Promise<void>;
}

/** Requests and tokens per minute for one provider, in this process's memory. */
export class RateLimiter implements Limiter {
  readonly requests: TokenBucket;
  readonly tokens: TokenBucket;
  private blockedUntil = 0;
  private chain: Promise<void> = Promise.resolve();

  constructor(
    limits: { rpm: number; tpm: number },
    readonly clock: Clock = realClock,
  ) {
    this.requests = new TokenBucket(limits.rpm, clock);
    this.tokens = new TokenBucket(limits.tpm, clock);
  }

  get limits(): { rpm: number; tpm: number } {
    return { rpm: this.requests.capacity, tpm: this.tokens.capacity };
  }

  setLimits(limits: { rpm: number; tpm: number }): void {
    this.requests.capacity = limits.rpm;
    this.tokens.capacity = limits.tpm;
  }

  /** How long a request of `tokens` tokens would wait now. */
  waitMs(tokens: number): number {
    return Math.max(
      this.blockedUntil - this.clock.now(),
      this.requests.waitFor(1),
      this.tokens.waitFor(tokens),
    );
  }

  /** Waits (in order of arrival) until one request of about `tokens` tokens may go out, and takes it. */
  acquire(tokens: number): Promise<void> {
    const run = async () => {
      for (let w = this.waitMs(tokens); w > 0; w = this.waitMs(tokens)) await this.clock.sleep(w);
      this.requests.take(1);
      this.tokens.take(tokens);
    };
    const next = this.chain.then(run);
    this.chain = next.catch(() => {});
    return next;
  }

  /** The provider said 429: nothing goes out before `ms` from now. */
  block(ms: number): void {
    this.blockedUntil = Math.max(this.blockedUntil, this.clock.now() + ms);
    this.requests.drain();
  }
}

const limiters = new Map<string, RateLimiter>();

/** The process-wide limiter of a provider (and base URL), with the latest configured limits. */
export function limiterFor(
  key: string,
  limits: { rpm: number; tpm: number },
  clock: Clock = realClock,
): RateLimiter {
  let l = limiters.get(key);
  if (!l) {
    l = new RateLimiter(limits, clock);
    limiters.set(key, l);
  } else l.setLimits(limits);
  return l;
}

/** Forgets every limiter (tests). */
export const resetLimiters = (): void => limiters.clear();

/** How long a 429 asked to wait: `retry-after-ms`, `retry-after` (seconds or a date), else 1s. */
export function retryAfterMs(headers: Headers | undefined, clock: Clock = realClock): number {
  const ms = Number.parseFloat(headers?.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get("retry-after");
  if (raw) {
    const s = Number.parseFloat(raw);
    if (Number.isFinite(s) && s >= 0) return s * 1000;
    const at = Date.parse(raw);
    if (Number.isFinite(at)) return Math.max(0, at - clock.now());
  }
  return 1000;
}

export interface RetryOptions {
  /** Retries after a 429 (default 2). */
  retries?: number;
  /** The longest bg-agent waits for one 429 (default 60s); a longer retry-after fails the call. */
  maxWaitMs?: number;
}

/**
 * Runs `fn` through the limiter; on a 429 waits what the provider asked (bounded) and tries
 * again, at most `retries` times. 5xx retries are the SDK's own (maxRetries).
 */
export async function withRateLimit<T>(
  limiter: Limiter,
  tokens: number,
  fn: () => Promise<T>,
  o: RetryOptions = {},
): Promise<T> {
  const retries = o.retries ?? 2;
  const maxWait = o.maxWaitMs ?? 60_000;
  for (let attempt = 0; ; attempt++) {
    await limiter.acquire(tokens);
    try {
      return await fn();
    } catch (e) {
      if (!(e instanceof RateLimitError) || attempt >= retries) throw e;
      const wait = retryAfterMs(e.headers, limiter.clock);
      if (wait > maxWait) throw e;
      await limiter.block(wait);
    }
  }
}
