/** A reader's view of Markdown bg-agent posts, independent of src/report/sanitize.ts. */

/**
 * What a CommonMark reader would leave outside code: fenced blocks (at the start of a line) and
 * code spans removed, code spans paired across lines of a paragraph as CommonMark pairs them.
 */
export function outsideCode(md: string): string {
  const kept: string[] = [];
  let fence: string | null = null;
  for (const line of md.split("\n")) {
    if (fence) {
      if (new RegExp(`^ {0,3}${fence[0] === "`" ? "`" : "~"}{${fence.length},}[ \\t]*$`).test(line))
        fence = null;
      kept.push("");
      continue;
    }
    const f = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (f) {
      fence = f[1]!;
      kept.push("");
      continue;
    }
    kept.push(line);
  }
  let out = "";
  for (const para of kept.join("\n").split(/\n[ \t]*\n/)) {
    let i = 0;
    while (i < para.length) {
      const c = para[i]!;
      if (c === "\\" && i + 1 < para.length) {
        out += para.slice(i, i + 2);
        i += 2;
        continue;
      }
      if (c === "`") {
        let k = i;
        while (para[k] === "`") k++;
        const run = k - i;
        let m = k;
        let close = -1;
        while (m < para.length) {
          const at = para.indexOf("`", m);
          if (at === -1) break;
          let e = at;
          while (para[e] === "`") e++;
          if (e - at === run) {
            close = e;
            break;
          }
          m = e;
        }
        if (close === -1) {
          out += para.slice(i, k);
          i = k;
        } else {
          out += " ";
          i = close;
        }
        continue;
      }
      out += c;
      i++;
    }
    out += "\n\n";
  }
  return out;
}

/** The clickable or fetched destinations a reader's Markdown would make of the text. */
export function destinations(md: string): string[] {
  const t = outsideCode(md).replace(/\\[!-/:-@[-`{-~]/g, "  ");
  const found: string[] = [];
  for (const m of t.matchAll(/\]\(\s*<?([^)\s>]*)/g)) found.push(m[1]!);
  for (const m of t.matchAll(/^ {0,3}(?:> ?)*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/gm))
    found.push(m[1]!);
  for (const m of t.matchAll(/(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|www\.)[^\s<>`]*/g)) found.push(m[0]);
  for (const m of t.matchAll(/[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g))
    found.push(`mailto:${m[0]}`);
  return found.map((u) => u.replace(/[.,:;!?'")\]*_~]+$/, ""));
}
