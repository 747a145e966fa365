import { marker } from "../../report/markers.js";
import type { LinkPolicy } from "../../report/link-policy.js";
import { sanitize, sanitizeInline } from "../../report/sanitize.js";
import { formatDuration } from "../../util/duration.js";
import type { Proof, ProofRun, ProvingTest } from "./proving-test.js";

export const FIX_LABEL = "bg:fix";
export const UNVERIFIED_LABEL = "bg:unverified";

/** What a fix is about. */
export interface FixSubject {
  /** Analysis key: `owner/repo#12` or `ENG-123`. */
  key: string;
  /** `issue:12` or `linear:ENG-123`. */
  target: string;
  issueNumber?: number;
  linear?: { identifier: string; id?: string; url?: string };
  title: string;
  branch: string;
  /** What hidden text was removed from the issue title before the fix prompt, in words. */
  removed?: string;
}

/** How one run of the test command ended, when it did not pass. */
export interface TestFailure {
  /** "failed with exit code 1", "timed out after 30s and was killed", "was killed by SIGTERM". */
  outcome: string;
  timedOut: boolean;
  /** The end of its output (short). */
  outputTail: string;
}

/** The test command on the unchanged default branch, before the edits, when it did not pass. */
export interface BaselineFailure extends TestFailure {
  /** The default branch it ran on. */
  base: string;
}

export type Verification =
  | {
      status: "passed";
      command: string;
      durationMs: number;
      repaired: boolean;
      /** Set when the tests did not pass before the change either: the change made them pass. */
      failedBefore?: BaselineFailure;
    }
  | {
      /** The tests failed on the unchanged branch and still fail with the change: not verified. */
      status: "failing-before";
      command: string;
      before: BaselineFailure;
      after: TestFailure;
    }
  | { status: "unverified" };

const SECRET_RE =
  /\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|sk-[A-Za-z0-9_-]{16,}|xox[abpr]-[A-Za-z0-9-]{10,})\b/g;

/**
 * Untrusted text (test output) shown verbatim in a fenced block: the fence is longer than any
 * backtick run inside, tokens are redacted, and nothing in it can forge a marker, ping or command.
 */
export function safeBlock(text: string, maxChars = 6_000): string {
  let t = text.length > maxChars ? `…${text.slice(-maxChars)}` : text;
  t = t.replace(SECRET_RE, "[redacted]");
  t = t.replace(/<!--/g, "<!‐‐");
  t = t.replace(/(^|[^\w`])@([A-Za-z0-9][\w-]*)/g, "$1@\u200d$2");
  t = t.replace(/^(\s*)\/bg\b/gim, "$1∕bg");
  const longest = Math.max(2, ...[...t.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = "`".repeat(longest + 1);
  return `${fence}text\n${t.replace(/\s+$/, "")}\n${fence}`;
}

export const issueRef = (s: FixSubject): string =>
  s.issueNumber !== undefined ? `#${s.issueNumber}` : (s.linear?.identifier ?? s.key);

export function prTitle(s: FixSubject): string {
  // A title is plain text on GitHub (no Markdown, no pings): only whitespace and length matter.
  const title = s.title.replace(/\s+/g, " ").trim();
  return `bg-agent: fix ${issueRef(s)} – ${title.length > 180 ? `${title.slice(0, 180)}…` : title}`;
}

// Config text in a code span renders as written: only whitespace, backticks and length matter.
const code = (text: string, max = 200): string =>
  `\`${text.replace(/\s+/g, " ").replace(/`/g, "'").slice(0, max)}\``;

export function verificationText(v: Verification): string {
  if (v.status === "unverified") {
    return "⚠️ **Nothing was verified.** No test command is configured (`fix.test_command` in `.github/bg-agent.yml`), so this change was not built or tested by bg-agent. Review it with that in mind.";
  }
  const command = code(v.command);
  if (v.status === "failing-before") {
    const headline = v.before.timedOut
      ? "the test command already timed out before this change"
      : "the tests were already failing before this change";
    return [
      `⚠️ **Not verified: ${headline}.**`,
      `On the unchanged ${code(v.before.base, 100)} branch, ${command} ${v.before.outcome}; with this change it ${v.after.outcome}.`,
      "It failed before and after, so bg-agent cannot tell whether this change makes the tests better or worse, and spent no repair round on failures that were already there. Review it with that in mind.",
    ].join(" ");
  }
  const after = v.repaired ? " after one repair round" : "";
  const before = v.failedBefore
    ? ` It did not pass on the unchanged ${code(v.failedBefore.base, 100)} branch before this change (it ${v.failedBefore.outcome}).`
    : "";
  return `✅ ${command} passed${after} (${formatDuration(v.durationMs)}).${before}`;
}

/** Verified: the test command passed and the proving test failed before and passes with the change. */
export const isVerified = (v: Verification, proof: Proof | undefined): boolean =>
  v.status === "passed" && proof?.status === "proven";

const testName = (p: { test: ProvingTest }): string =>
  `${code(p.test.file, 200)}${p.test.name ? ` (${code(p.test.name, 120)})` : ""}`;

/** One line on the proving test: proven, not proven (why), or none (said plainly). */
export function proofText(p: Proof | undefined): string {
  if (!p) return "";
  if (p.status === "proven")
    return `✅ **Proven:** the test ${testName(p)} failed on the unchanged branch and passes with this change.`;
  if (p.status === "not-proven")
    return `⚠️ **Not proven:** the test ${testName(p)} was meant to show the problem, but ${sanitize(p.why, 300)}. This pull request is marked \`bg:unverified\`.`;
  return `⚠️ **Not proven: no test shows the problem.** ${capitalize(sanitize(p.why, 300))}, so nothing shows that this change fixes it. This pull request is marked \`bg:unverified\`.`;
}

const capitalize = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function proofRunBlock(title: string, r: ProofRun): string[] {
  const exit = r.exitCode !== null ? `exit code ${r.exitCode}` : "no exit code";
  return [
    "",
    `**${title}:** ${code(r.command, 300)} ${r.outcome} (${exit}).`,
    "",
    safeBlock(r.outputTail || "(no output)", 2_000),
  ];
}

/** The two runs of the proving test, for the pull request body. */
function proofDetails(p: Proof | undefined): string[] {
  if (!p || p.status === "none") return [];
  return [
    ...(p.before ? proofRunBlock("Without this change (the unchanged branch)", p.before) : []),
    ...(p.after ? proofRunBlock("With this change", p.after) : []),
  ];
}

/** The ends of the test output, for the pull request body, when the tests were failing before. */
function verificationDetails(v: Verification): string[] {
  if (v.status !== "failing-before") return [];
  return [
    "",
    `**End of the test output before this change** (unchanged ${code(v.before.base, 100)}):`,
    "",
    safeBlock(v.before.outputTail, 3_000),
    "",
    "**End of the test output with this change:**",
    "",
    safeBlock(v.after.outputTail, 3_000),
  ];
}

export function prBody(o: {
  subject: FixSubject;
  proposalId: number;
  approvedBy: string | null;
  plan: string;
  summary: string;
  files: { path: string; added: boolean }[];
  verification: Verification;
  /** The proving test's runs (absent: none was tried, as before there was one). */
  proof?: Proof;
  /** Which links in the model's text stay clickable (default: none). */
  links?: LinkPolicy;
}): string {
  const s = o.subject;
  const links: string[] = [];
  if (s.issueNumber !== undefined) links.push(`Fixes #${s.issueNumber}`);
  if (s.linear) {
    links.push(`Fixes ${s.linear.identifier}`);
    if (s.linear.url && /^https:\/\//.test(s.linear.url))
      links.push(`Linear: [${s.linear.identifier}](${s.linear.url})`);
  }
  const approved = o.approvedBy ? ` approved by ${sanitizeInline(o.approvedBy, 60)}` : " approved";
  return [
    marker("fix", s.key),
    links.join("\n"),
    "",
    `🤖 Opened by **bg-agent** from the fix plan${approved} (proposal ${o.proposalId}).`,
    o.summary ? `\n${sanitize(o.summary, 2_000, o.links)}` : "",
    ...(s.removed ? ["", `_Removed before the fix: ${s.removed}._`] : []),
    "",
    "### Plan",
    "",
    sanitize(o.plan, 8_000, o.links),
    "",
    "### Files changed",
    "",
    ...o.files.map((f) => `- \`${f.path.replace(/`/g, "'")}\`${f.added ? " (new)" : ""}`),
    "",
    "### Verification",
    "",
    verificationText(o.verification),
    ...verificationDetails(o.verification),
    ...(o.proof ? ["", "#### Proving test", "", proofText(o.proof), ...proofDetails(o.proof)] : []),
    "",
    "### Review",
    "",
    "bg-agent never merges this pull request on its own: it needs a human approving review, or a person commenting `/bg approve` on it.",
  ].join("\n");
}

export function successComment(o: {
  pr: number;
  url: string;
  verification: Verification;
  proof?: Proof;
  updated: boolean;
}): string {
  const verb = o.updated ? "updated" : "opened";
  return [
    `🤖 bg-agent ${verb} pull request #${o.pr} with the approved fix: ${o.url}`,
    "",
    verificationText(o.verification),
    ...(o.proof ? ["", proofText(o.proof)] : []),
    "",
    "It is not merged without a human approving review.",
  ].join("\n");
}

export function failureComment(o: {
  reason: string;
  tried: string[];
  outputTail?: string;
}): string {
  return [
    "🤖 bg-agent tried the approved fix but did **not** open a pull request.",
    "",
    `**Why:** ${sanitize(o.reason, 1_500)}`,
    "",
    "**What was tried:**",
    "",
    ...o.tried.map((t) => `- ${sanitize(t, 500).replace(/\n/g, " ")}`),
    ...(o.outputTail ? ["", "**End of the test output:**", "", safeBlock(o.outputTail)] : []),
    "",
    "Nothing was pushed. Adjust the plan or the code and approve again to retry.",
  ].join("\n");
}

export function refusedComment(reason: string): string {
  return `🤖 bg-agent did not start this fix: ${sanitize(reason, 1_000)}\n\nOnly a fix plan that a person approved (\`/bg approve\` on the issue) is carried out.`;
}
