import { snapshot } from "../engine/dllm/index.js";
import { beamSearch, type ScoredCanvas } from "../engine/dllm/samplers/beam.js";
import { elboScore } from "../engine/dllm/samplers/score.js";
import type { NodeDefinition } from "../engine/types.js";
import { CANDIDATES_INPUT, CFG_SCALE_INPUT, inspectSamplingStart, samplingStart, withPieces } from "./sampling-start.js";

const Beam: NodeDefinition = {
  type: "Beam",
  version: 1,
  title: "Beam Search",
  category: "sampling",
  description:
    "Searches over denoising trajectories: keeps the `width` best partial canvases at every step, each expanded by other tokens or other positions than greedy decoding would commit, scored by the sum of log-probabilities of the committed tokens. Width 1 is greedy low_confidence decoding; the greedy path is always kept, so a wider beam never scores below it. Gives every beam, best first (Show Text shows them side by side; Pick takes one).",
  inputs: {
    model: { socket: "MODEL", description: "From Load Model." },
    prompt: { socket: "TEXT", kind: "string", widget: "textarea", optional: true, description: "What to continue (or link a canvas)." },
    canvas: { socket: "CANVAS", optional: true, description: "Start from this canvas instead (e.g. from Infill or Remask): only its masks are filled." },
    schedule: { socket: "SCHEDULE", optional: true, description: "From Mask Schedule. Without one: one token per step, one block." },
    gen_length: { kind: "integer", widget: "number", default: 32, min: 1, max: 4096, description: "Tokens to generate (ignored with a canvas)." },
    width: { kind: "integer", widget: "number", default: 4, min: 1, max: 32, description: "Beams kept per step; all of them run as one batch." },
    cfg_scale: CFG_SCALE_INPUT,
    logits_eos_inf: { kind: "boolean", widget: "toggle", default: false, description: "Never generate EOS." },
    rerank: {
      kind: "string",
      widget: "select",
      options: ["path_logprob", "elbo"],
      default: "path_logprob",
      description: "Final order: by the beam's own score, or by Score's ELBO estimate of each finished canvas.",
    },
    rerank_samples: { kind: "integer", widget: "number", default: 32, min: 1, max: 4096, description: "rerank = elbo: Monte Carlo samples per canvas." },
    seed: { kind: "integer", widget: "seed", default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, description: "rerank = elbo: seed of the estimate (the search itself is deterministic)." },
    candidates: CANDIDATES_INPUT,
  },
  outputs: {
    canvases: { socket: "CANVASES", description: "Every final beam with its score, best first." },
    best: { socket: "CANVAS", description: "The best one." },
  },
  inspect: inspectSamplingStart,
  async execute(inputs, ctx) {
    const { model, start, schedule } = samplingStart(inputs, ctx);
    const tok = model.tokenizer;
    let beams: ScoredCanvas[] = await beamSearch(
      model,
      start,
      { schedule, width: inputs.width as number, logitsEosInf: inputs.logits_eos_inf as boolean, cfgScale: inputs.cfg_scale as number },
      {
        signal: ctx.signal,
        decoder: tok,
        // Each lane carries its beam's score, what the beams are ranked by.
        candidates: ctx.watched === false ? 0 : (inputs.candidates as number),
        onStep: ({ step, total, beams: now, changed, candidates }) =>
          now.forEach((c, beam) =>
            ctx.progress({ step, total, canvas: { ...snapshot(c, tok, step, changed[beam]), beam, score: c.score, scoreKind: c.scoreKind, ...withPieces(candidates?.[beam], tok) } }),
          ),
      },
    );
    if (inputs.rerank === "elbo") {
      for (const [i, c] of beams.entries()) {
        const r = await elboScore(model, c, { samples: inputs.rerank_samples as number, seed: inputs.seed as number }, ctx.signal);
        beams[i] = { ...c, score: r.logLikelihood, scoreKind: "elbo" };
      }
      beams = [...beams].sort((a, b) => b.score - a.score);
      // The lanes' last step shows the new ranking and the ELBO scores it is based on.
      const last = beams[0]?.trace.length ?? 0;
      beams.forEach((c, beam) => ctx.progress({ step: last, total: last, canvas: { ...snapshot(c, tok, last, []), beam, score: c.score, scoreKind: c.scoreKind } }));
    }
    ctx.log.info(beams.map((b, i) => `#${i} ${b.score.toFixed(3)}${b.greedy ? " (greedy)" : ""}: ${JSON.stringify(b.text)}`).join("\n"));
    return { canvases: beams, best: beams[0] };
  },
};

export default Beam;
