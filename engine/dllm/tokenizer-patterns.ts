// tokenizer.json carries regular expressions (a Split pre-tokenizer's pattern, a Replace
// normalizer's or decoder's) that tokenizers.js runs with JavaScript's backtracking RegExp on
// every prompt, on the main thread. They need lookahead (GPT-2's `\s+(?!\S)`), so they cannot be
// moved to RE2; instead a pattern that can take exponential time is refused when the folder is
// read: a repeated group that itself contains a repetition or an alternation, as `(.*)*Z` or
// `(a|a)*b` (star height above one). Real tokenizers' patterns (GPT-2, Llama 3, Qwen) have none.

/** The `Regex` strings anywhere in a tokenizer.json, with where they are. */
function regexes(value: unknown, path: string, out: { path: string; source: string }[]): void {
  if (Array.isArray(value)) value.forEach((v, i) => regexes(v, `${path}[${i}]`, out));
  else if (typeof value === "object" && value !== null) {
    for (const [key, v] of Object.entries(value)) {
      if (key === "Regex" && typeof v === "string") out.push({ path, source: v });
      else if (key !== "vocab" && key !== "merges" && key !== "added_tokens") regexes(v, path ? `${path}.${key}` : key, out);
    }
  }
}

/** Whether the pattern has a quantified group containing a quantifier or an alternation. */
export function mayBacktrackExponentially(source: string): boolean {
  // One frame per open group: does its content repeat or branch?
  const groups: { risky: boolean }[] = [];
  let lastClosed: { risky: boolean } | null = null;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") {
      i++; // an escaped character is a plain atom
      lastClosed = null;
      continue;
    }
    if (c === "[") {
      // a character class is one atom: skip to its end
      for (i++; i < source.length && source[i] !== "]"; i++) if (source[i] === "\\") i++;
      lastClosed = null;
      continue;
    }
    const quantifier = c === "*" || c === "+" || (c === "{" && /^\{\d+,\d*\}/.test(source.slice(i)) && !/^\{\d+,1\}/.test(source.slice(i)));
    if (quantifier) {
      if (lastClosed?.risky) return true;
      if (groups.length) groups[groups.length - 1].risky = true;
      lastClosed = null;
      continue;
    }
    if (c === "(") {
      groups.push({ risky: false });
      lastClosed = null;
    } else if (c === ")") {
      const closed = groups.pop() ?? { risky: false };
      if (groups.length && closed.risky) groups[groups.length - 1].risky = true;
      lastClosed = closed;
    } else if (c === "|") {
      if (groups.length) groups[groups.length - 1].risky = true;
      lastClosed = null;
    } else if (c !== "?") {
      lastClosed = null;
    }
  }
  return false;
}

/** Why a tokenizer.json's patterns cannot be run safely, or null. */
export function tokenizerPatternProblem(json: unknown): string | null {
  const found: { path: string; source: string }[] = [];
  regexes(json, "", found);
  for (const { path, source } of found) {
    if (source.length > 4096) return `the pattern at ${path} is ${source.length} characters long, more than 4096`;
    if (mayBacktrackExponentially(source)) {
      return `the pattern at ${path} ("${source.slice(0, 60)}") repeats a group that itself repeats or branches, which can take exponential time; Maskflow does not run it`;
    }
  }
  return null;
}
