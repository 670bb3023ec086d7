// What validation may know about a model folder without loading its graph: its max_length and a
// token counter. Nodes' inspect() hooks pass these along (engine/workflow/inspect.ts), so the
// editor's checks catch prompt + gen_length over the model's max_length while typing. Reading
// maskflow.json is cheap; the tokenizer is built only when a count is needed (a prompt close to
// the limit), and both are kept while the files are unchanged.
//
// The files are read as Load Model reads them (model-folder.ts): bounded, regular files only,
// inside `within` when served, and the tokenizer checked before tokenizers.js builds it. This runs
// while a server validates a workflow that anyone with access may send.
import { statSync } from "node:fs";
import { join } from "node:path";
import { readManifest, readTokenizer } from "./model-folder.js";
import type { DllmTokenizer } from "./tokenizer.js";

export interface ModelFacts {
  kind: "model";
  dir: string;
  maxLength: number;
  /** An upper bound that needs no tokenizer: a token covers at least one UTF-8 byte. */
  maxTokens(text: string): number;
  /**
   * Tokens in `text`, or null when it is certain to be far more than max_length (it is not
   * tokenised then: seconds for megabytes). Throws when the tokenizer cannot be read.
   */
  countTokens(text: string): number | null;
}

/** Folders remembered (each may hold a built tokenizer). */
const MEMO_SIZE = 8;
const memo = new Map<string, { stamp: string; facts: ModelFacts }>();

function stamp(dir: string): string {
  return ["maskflow.json", "tokenizer.json"]
    .map((f) => {
      const st = statSync(join(dir, f));
      return `${st.mtimeMs}/${st.size}`;
    })
    .join(":");
}

/**
 * The folder's facts, or null when it is not a readable model folder (Load Model reports that when
 * it runs). `within`: the real folders every file read must stay inside (null: anywhere).
 */
export function modelFacts(dir: string, within: readonly string[] | null = null): ModelFacts | null {
  try {
    const key = `${dir}\0${within?.join("\0") ?? ""}`;
    const now = stamp(dir);
    const hit = memo.get(key);
    if (hit?.stamp === now) {
      memo.delete(key); // most recently used last
      memo.set(key, hit);
      return hit.facts;
    }
    const { manifest, manifestPath } = readManifest(dir, within);
    let tokenizer: DllmTokenizer | null = null;
    const tok = () => (tokenizer ??= readTokenizer(dir, manifest, manifestPath, within));
    const facts: ModelFacts = {
      kind: "model",
      dir,
      maxLength: manifest.max_length,
      maxTokens: (text) => Buffer.byteLength(text, "utf8"),
      countTokens: (text) => (tok().cannotFit(text, manifest.max_length) ? null : tok().encode(text).length),
    };
    memo.delete(key);
    memo.set(key, { stamp: now, facts });
    while (memo.size > MEMO_SIZE) memo.delete(memo.keys().next().value!);
    return facts;
  } catch {
    return null;
  }
}

export function isModelFacts(value: unknown): value is ModelFacts {
  return typeof value === "object" && value !== null && (value as ModelFacts).kind === "model";
}
