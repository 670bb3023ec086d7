// PEFT's module-name patterns (adapter_config.json's target_modules as a string, and the keys of
// rank_pattern / alpha_pattern) come from a file a workflow names, so they are compiled with RE2
// (re2js): matching takes time linear in the name, where JavaScript's backtracking RegExp takes
// exponential time on patterns such as "(.*)*Z" and would hang the thread. RE2 has no lookaround
// or backreferences; a pattern that uses them, or that does not parse, is reported by name.
import { RE2JS } from "re2js";

/** Longest pattern accepted (the compiled program, and so each match, grows with it). */
export const MAX_PATTERN_CHARS = 512;
/** Most (regex pattern, module) pairs one adapter may ask to match: about 5 µs each. */
export const MAX_PATTERN_MATCHES = 20_000;

export class PatternError extends Error {}

/** A compiled pattern: `test(name)`. */
export interface NamePattern {
  readonly source: string;
  /** Needs the regex engine (not a plain dotted name). */
  readonly regex: boolean;
  test(name: string): boolean;
}

const PLAIN = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)*$/;

function compile(source: string, wrap: (s: string) => string, what: string): RE2JS {
  if (source.length > MAX_PATTERN_CHARS) throw new PatternError(`${what} is ${source.length} characters long, more than ${MAX_PATTERN_CHARS}`);
  try {
    return RE2JS.compile(wrap(source));
  } catch (err) {
    const why = (err as Error).message.replace(/^error parsing regexp: /, "");
    throw new PatternError(`${what} is not a valid pattern (${why}; lookaround and backreferences are not supported)`);
  }
}

/**
 * A rank_pattern / alpha_pattern key: as PEFT, it matches the end of a module name at a dot
 * boundary, `^(.*\.)?(key)$`. A plain dotted name ("blocks.1.k_proj") is compared as text.
 */
export function tailPattern(key: string, what: string): NamePattern {
  if (PLAIN.test(key)) return { source: key, regex: false, test: (name) => name === key || name.endsWith(`.${key}`) };
  const re = compile(key, (s) => `^(.*\\.)?(${s})$`, what);
  return { source: key, regex: true, test: (name) => re.matcher(name).matches() };
}

/** target_modules given as a string: a regex the whole module name must match (PEFT's re.fullmatch). */
export function fullPattern(source: string, what: string): NamePattern {
  const re = compile(source, (s) => `^(?:${s})$`, what);
  return { source, regex: true, test: (name) => re.matcher(name).matches() };
}

/** Refuses an adapter whose regex patterns would take too long to match against its modules. */
export function checkMatchBudget(patterns: NamePattern[], modules: number, where: string): void {
  const regexes = patterns.filter((p) => p.regex).length;
  if (regexes * modules > MAX_PATTERN_MATCHES) {
    throw new PatternError(`${where}: ${regexes} regex patterns for ${modules} modules is more matching than Maskflow does for one adapter (${MAX_PATTERN_MATCHES} pattern-module pairs); use plain module names`);
  }
}
