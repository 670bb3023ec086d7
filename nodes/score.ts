import { DllmModel, canvasProblem, type Canvas } from "../engine/dllm/index.js";
import { maskedSamplingProblem } from "../engine/dllm/samplers/noise.js";
import { elboScore } from "../engine/dllm/samplers/score.js";
import type { NodeDefinition } from "../engine/types.js";

/** A canvas with Score's result attached (ShowText shows `score`). */
export type ElboCanvas = Canvas & { score: number; scoreKind: "elbo"; perToken: number; scoredTokens: number; pathScore?: number };

const Score: NodeDefinition = {
  type: "Score",
  version: 1,
  title: "Score",
  category: "editing",
  description:
    "How likely the model finds a canvas's generated text given its prompt: LLaDA's Monte Carlo estimate of the log-likelihood lower bound (ELBO, in nats; higher is better). Several canvases come out ranked by it.",
  inputs: {
    model: { socket: "MODEL", description: "The model that judges (any model with the same tokenizer)." },
    canvas: { socket: ["CANVAS", "CANVASES"], description: "A finished canvas, or several (from Beam) to rank." },
    samples: {
      kind: "integer",
      widget: "number",
      default: 64,
      min: 1,
      max: 4096,
      description: "Monte Carlo samples (LLaDA uses 128). More samples, less noise; each group of batch_size is one forward pass.",
    },
    seed: { kind: "integer", widget: "seed", default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, description: "Which tokens each sample masks." },
    batch_size: { kind: "integer", widget: "number", default: 16, min: 1, max: 256, description: "Samples per stratified group (LLaDA's batch_size)." },
    cfg_scale: { kind: "number", widget: "number", default: 0, min: 0, max: 10, step: 0.1, description: "Classifier-free guidance while scoring (0 = off)." },
  },
  outputs: {
    score: { socket: "NUMBER", description: "The log-likelihood estimate (of the best canvas, when several)." },
    canvas: { socket: "CANVAS", description: "The canvas (the best one, when several) with its score." },
    canvases: { socket: "CANVASES", description: "Every canvas with its score, best first." },
  },
  async execute(inputs, ctx) {
    const model = inputs.model;
    if (!(model instanceof DllmModel)) return ctx.fail("model", "link a model from Load Model");
    const noise = maskedSamplingProblem(model.manifest, "Score's likelihood estimate");
    if (noise) return ctx.fail("model", noise);
    const given = inputs.canvas as Canvas | Canvas[];
    const list = Array.isArray(given) ? given : [given];
    if (list.length === 0) return ctx.fail("canvas", "no canvases to score");
    const scored: ElboCanvas[] = [];
    for (const [i, c] of list.entries()) {
      const problem = canvasProblem(c);
      if (problem) return ctx.fail("canvas", list.length > 1 ? `canvas ${i}: ${problem}` : problem);
      let r;
      try {
        r = await elboScore(
          model,
          c,
          { samples: inputs.samples as number, seed: inputs.seed as number, batchSize: inputs.batch_size as number, cfgScale: inputs.cfg_scale as number },
          ctx.signal,
        );
      } catch (err) {
        if ((err as Error).name === "AbortError") throw err;
        return ctx.fail("canvas", (err as Error).message);
      }
      const prev = c as Canvas & { score?: number; scoreKind?: string; pathScore?: number };
      const pathScore = prev.pathScore ?? (prev.scoreKind === "path_logprob" ? prev.score : undefined);
      scored.push({
        ...c,
        score: r.logLikelihood,
        scoreKind: "elbo",
        perToken: r.perToken,
        scoredTokens: r.scored,
        ...(pathScore !== undefined ? { pathScore } : {}),
      });
      ctx.progress({ step: i + 1, total: list.length, label: `canvas ${i}: ${r.logLikelihood.toFixed(3)} nats (${r.perToken.toFixed(3)} per token)` });
    }
    const ranked = [...scored].sort((a, b) => b.score - a.score);
    return { score: ranked[0].score, canvas: ranked[0], canvases: ranked };
  },
};

export default Score;
