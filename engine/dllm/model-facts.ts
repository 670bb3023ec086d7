// What validation may know about a model folder without loading its graph: its max_length and a
// token counter. Nodes' inspect() hooks pass these along (engine/workflow/inspect.ts), so the
// editor's checks catch prompt + gen_length over the model's max_length while typing. Reading
// maskflow.json is cheap; the tokenizer is built only when a count is needed (a prompt close to
// the limit), and both are kept while the files are unchanged.
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseManifest } from "./model-folder.js";
import { DllmTokenizer, type TokenizerConfig } from "./tokenizer.js";

export interface ModelFacts {
  kind: "model";
  dir: string;
  maxLength: number;
  /** An upper bound that needs no tokenizer: a token covers at least one UTF-8 byte. */
  maxTokens(text: string): number;
  countTokens(text: string): number;
}

const memo = new Map<string, { stamp: string; facts: ModelFacts }>();
const readJson = (path: string): unknown => JSON.parse(readFileSync(path, "utf8"));

function stamp(dir: string): string {
  return ["maskflow.json", "tokenizer.json"].map((f) => statSync(join(dir, f)).mtimeMs).join(":");
}

/** The folder's facts, or null when it is not a readable model folder (Load Model reports that when it runs). */
export function modelFacts(dir: string): ModelFacts | null {
  try {
    const now = stamp(dir);
    const hit = memo.get(dir);
    if (hit?.stamp === now) return hit.facts;
    const manifest = parseManifest(readJson(join(dir, "maskflow.json")));
    let tokenizer: DllmTokenizer | null = null;
    const tok = () => {
      const config = join(dir, "tokenizer_config.json");
      tokenizer ??= new DllmTokenizer(readJson(join(dir, "tokenizer.json")) as object, (existsSync(config) ? readJson(config) : {}) as TokenizerConfig);
      return tokenizer;
    };
    const facts: ModelFacts = {
      kind: "model",
      dir,
      maxLength: manifest.max_length,
      maxTokens: (text) => Buffer.byteLength(text, "utf8"),
      countTokens: (text) => tok().encode(text).length,
    };
    memo.set(dir, { stamp: now, facts });
    return facts;
  } catch {
    return null;
  }
}

export function isModelFacts(value: unknown): value is ModelFacts {
  return typeof value === "object" && value !== null && (value as ModelFacts).kind === "model";
}
