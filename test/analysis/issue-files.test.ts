import nock from "nock";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { memoryStore } from "../helpers/store.js";
import { twelveModules, writeRepo } from "../context/repo-map-fixture.js";
import { answerAll, fakeGitHub, fakeOpenAI, unmatched } from "./fakes.js";
import { REPO, baseConfig, enqueue, env, issues, pass } from "./setup.js";

let nomatch: ReturnType<typeof unmatched>;
beforeEach(() => {
  nomatch = unmatched();
});
afterEach(() => nomatch.stop());

describe("the files each issue names", () => {
  it("an issue naming src/foo.ts and parseBar gets that file in its batch's prompt, after the shared prefix; the comment says what the model saw", async () => {
    const store = await memoryStore();
    const list = issues(3);
    list[0]!.body = "`src/foo.ts:3` is hard to read: parseBar should validate its input.";
    list[1]!.body = "parseBar has no tests. Also see ../../etc/passwd.txt";
    const gh = fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(env(store, { workspace: writeRepo(twelveModules()) }));

    expect(llm.calls).toHaveLength(1);
    const msgs = llm.calls[0]!.messages;
    // The prefix (system messages) does not change with the issues: the file is in the user message.
    expect(msgs[0]!.content).toContain("## Repository map (");
    const user = msgs.at(-1)!.content;
    expect(user).toContain(`<<<FILE src/foo.ts (named by ${REPO}#1, ${REPO}#2)>>>`);
    expect(user).toContain("export function parseBar(input: string, strict = false)");
    expect(user.indexOf("<<<FILE src/foo.ts")).toBeLessThan(user.indexOf("<<<ISSUE"));
    expect([...user.matchAll(/^<<<FILE (\S+)/gm)].map((m) => m[1])).toEqual(["src/foo.ts"]);

    const c1 = list[0]!.comments![0]!.body;
    expect(c1).toMatch(/What the model saw: the repository map covered \d+ of 14 files/);
    expect(c1).toContain("files read for this issue: `src/foo.ts`");
    expect(list[1]!.comments![0]!.body).toContain("1 path(s) outside the repository ignored");
    expect(list[2]!.comments![0]!.body).toContain("no file read for this issue");
    expect(gh.checkRuns).toHaveLength(1);
    expect(nomatch.list).toEqual([]);
    expect(nock.pendingMocks()).toEqual([]);
  });

  it("tech_debt.context.issue_file_tokens 0 reads no file", async () => {
    const store = await memoryStore();
    const list = issues(1);
    list[0]!.body = "src/foo.ts is messy.";
    fakeGitHub(REPO, list);
    const llm = fakeOpenAI(answerAll, { times: 1 });
    await enqueue(store, list);
    await pass(
      env(store, {
        workspace: writeRepo(twelveModules()),
        config: baseConfig({ tech_debt: { context: { issue_file_tokens: 0 } } }),
      }),
    );
    expect(llm.calls[0]!.messages.at(-1)!.content).not.toContain("<<<FILE");
    expect(list[0]!.comments![0]!.body).toContain("no file read for this issue");
    expect(nock.pendingMocks()).toEqual([]);
  });
});
