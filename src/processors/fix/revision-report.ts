import { sanitize, sanitizeInline } from "../../report/sanitize.js";
import type { LinkPolicy } from "../../report/link-policy.js";
import type { Proof } from "./proving-test.js";
import type { Verification } from "./report.js";
import { proofText, safeBlock, verificationText } from "./report.js";

/** A login in a comment: no ping (a zero-width joiner after the @ is not needed: no @ at all). */
const who = (login: string): string => `**${sanitizeInline(login, 60).replace(/[*_`@]/g, "")}**`;

const via = (v: "review" | "command"): string =>
  v === "review" ? "review requesting changes" : "`/bg revise`";

/** The PR comment summarising one revision round. */
export function revisionComment(o: {
  round: number;
  maxRounds: number;
  headSha: string;
  requests: readonly { by: string; via: "review" | "command"; removed?: string }[];
  summary: string;
  files: readonly string[];
  verification: Verification;
  proof?: Proof;
  verified: boolean;
  links?: LinkPolicy;
}): string {
  const left = o.maxRounds - o.round;
  const removed = o.requests.filter((r) => r.removed);
  return [
    `🤖 bg-agent revised this pull request: round ${o.round} of ${o.maxRounds}, one new commit \`${o.headSha.slice(0, 12)}\` on this branch.`,
    "",
    `**Asked by:** ${o.requests.map((r) => `${who(r.by)} (${via(r.via)})`).join(", ")}`,
    ...(removed.length
      ? [
          "",
          `_Removed from the requests before they reached the model: ${removed.map((r) => sanitizeInline(r.removed ?? "", 200)).join("; ")}._`,
        ]
      : []),
    ...(o.summary ? ["", `**What changed:** ${sanitize(o.summary, 2_000, o.links)}`] : []),
    "",
    "**Files changed in this round:**",
    "",
    ...o.files.map((f) => `- \`${f.replace(/`/g, "'")}\``),
    "",
    verificationText(o.verification),
    ...(o.proof ? ["", proofText(o.proof)] : []),
    ...(o.verified ? [] : ["", "This pull request is labelled `bg:unverified`."]),
    "",
    left > 0
      ? `${left} more revision round${left === 1 ? "" : "s"} may be asked for (a review requesting changes, or \`/bg revise <what>\`).`
      : "That was the last revision round (`fix.max_revisions`).",
    "It is not merged without a human approving review.",
  ].join("\n");
}

/** A round that ends without a commit: why, and what was tried. */
export function revisionFailedComment(o: {
  round: number;
  reason: string;
  tried: string[];
  outputTail?: string;
}): string {
  return [
    `🤖 bg-agent tried revision round ${o.round} of this pull request but did **not** push a commit.`,
    "",
    `**Why:** ${sanitize(o.reason, 1_500)}`,
    "",
    "**What was tried:**",
    "",
    ...o.tried.map((t) => `- ${sanitize(t, 500).replace(/\n/g, " ")}`),
    ...(o.outputTail ? ["", "**End of the test output:**", "", safeBlock(o.outputTail)] : []),
    "",
    "Nothing was pushed, and the round does not count against `fix.max_revisions`.",
  ].join("\n");
}

/** A review from someone who may not ask for a revision: said once, nothing else done. */
export const revisionRefusedText = (login: string, reason: string): string =>
  `🤖 bg-agent did not revise this pull request for the review by ${who(login)}: ${sanitize(reason, 500)}`;
