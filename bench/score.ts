// The Score of outputs (LLaDA's Monte Carlo ELBO per generated token, the Score node's figure) so
// the report can say what fewer forward passes cost in quality. Found at run time, so the bench
// also runs on a checkout without it.
import * as dllm from "../engine/dllm/index.js";
import { createCanvas, type Canvas, type LogitsModel } from "../engine/dllm/index.js";
import type { Workload } from "./workloads.js";

/** Monte Carlo samples per output (two forwards of batch 16) and their seed: the same for every output compared (common random numbers). */
export const SCORE_SAMPLES = 32;
export const SCORE_SEED = 7;

type Elbo = (model: LogitsModel, canvas: Canvas, opts: { samples: number; seed: number }) => Promise<{ perToken: number }>;

export type Scorer = { ok: true; fn: Elbo; via: string } | { ok: false; reason: string };

export async function findScorer(): Promise<Scorer> {
  const fromIndex = (dllm as Record<string, unknown>).elboScore;
  if (typeof fromIndex === "function") return { ok: true, fn: fromIndex as Elbo, via: "elboScore (engine/dllm)" };
  const path = "../engine/dllm/samplers/score.js"; // not a literal: the module may not exist in this checkout
  try {
    const mod = (await import(path)) as { elboScore?: unknown };
    if (typeof mod.elboScore === "function") return { ok: true, fn: mod.elboScore as Elbo, via: "elboScore (engine/dllm/samplers/score.ts)" };
  } catch {
    // fall through
  }
  return { ok: false, reason: "the engine has no elboScore (engine/dllm/samplers/score.ts)" };
}

/** Mean over the rows of the per-token ELBO (nats; higher = more likely under the model), without CFG. */
export async function meanScore(fn: Elbo, model: LogitsModel, w: Workload, tokens: number[][]): Promise<number> {
  let sum = 0;
  for (const [r, prompt] of w.promptIds.entries()) {
    const canvas = createCanvas(prompt, w.genLength, model.manifest.mask_token_id);
    canvas.tokens = [...tokens[r]];
    canvas.finished = true;
    sum += (await fn(model, canvas, { samples: SCORE_SAMPLES, seed: SCORE_SEED })).perToken;
  }
  return sum / w.promptIds.length;
}
