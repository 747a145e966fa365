import type { ExternalTargetKind } from "../../config/report-to.js";
import { discordTarget } from "./discord.js";
import { slackTarget } from "./slack.js";
import type { ExternalTarget } from "./types.js";
import { webhookTarget } from "./webhook.js";

/** Every report target outside GitHub, by kind (the kinds are declared in src/config/report-to.ts). */
export const EXTERNAL_TARGETS: Record<ExternalTargetKind, ExternalTarget> = {
  slack: slackTarget,
  discord: discordTarget,
  webhook: webhookTarget,
};

export type { ExternalTarget, OutboundReport } from "./types.js";
