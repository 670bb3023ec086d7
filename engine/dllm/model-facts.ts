// What validation may know about a model folder without loading its graph: its max_length and a
// token counter (the tokenizer). Nodes' inspect() hooks pass these along (engine/workflow/inspect.ts),
// so the editor's checks catch prompt + gen_length over the model's max_length while typing.
// Read once per folder and kept while maskflow.json and tokenizer.json are unchanged.
import { statSync } from "node:fs";
import { join } from "node:path";
import { readModelFolder } from "./model-folder.js";

export interface ModelFacts {
  kind: "model";
  dir: string;
  maxLength: number;
  countTokens(text: string): number;
}

const memo = new Map<string, { stamp: string; facts: ModelFacts }>();

function stamp(dir: string): string {
  return ["maskflow.json", "tokenizer.json"].map((f) => statSync(join(dir, f)).mtimeMs).join(":");
}

/** The folder's facts, or null when it is not a readable model folder (Load Model reports that when it runs). */
export function modelFacts(dir: string): ModelFacts | null {
  try {
    const now = stamp(dir);
    const hit = memo.get(dir);
    if (hit?.stamp === now) return hit.facts;
    const folder = readModelFolder(dir);
    const facts: ModelFacts = {
      kind: "model",
      dir: folder.dir,
      maxLength: folder.manifest.max_length,
      countTokens: (text) => folder.tokenizer.encode(text).length,
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
