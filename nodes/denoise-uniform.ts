// Denoise for uniform-noise models (maskflow.json noise "uniform": DiffusionGemma). There is no
// mask: each canvas of the model's canvas length starts as random ids, and every step keeps the
// lowest-entropy positions within the entropy bound and re-draws all the others
// (samplers/entropy-bound.ts, the released sampler). The settings Denoise has for masked models
// that mean nothing here are refused on their own inputs; the sampler's own settings default to
// the folder's (the checkpoint's generation_config.json).
import { DllmModel, canvasProblem, type Canvas, type Schedule } from "../engine/dllm/index.js";
import {
  RecordedCanvasDraws,
  SeededCanvasDraws,
  entropyBoundDefaults,
  entropyBoundProblem,
  generateEntropyBound,
  type EntropyBoundOptions,
  type EntropyBoundStep,
} from "../engine/dllm/samplers/entropy-bound.js";
import type { CanvasSnapshot, ExecuteContext, InputDef, NodeInputs } from "../engine/types.js";
import { encodePrompt } from "./sampling-start.js";

/** Denoise's inputs that only uniform-noise models read (advanced; empty = the model's). */
export const UNIFORM_INPUTS: Record<string, InputDef> = {
  entropy_bound: {
    advanced: true,
    kind: "number",
    widget: "number",
    optional: true,
    min: 0.000001,
    max: 1000,
    step: 0.05,
    description: "Uniform-noise models (DiffusionGemma): keep the lowest-entropy positions while the entropies before them sum to at most this (nats). Empty: the model's (0.1).",
  },
  t_max: {
    advanced: true,
    kind: "number",
    widget: "number",
    optional: true,
    min: 0.000001,
    max: 10,
    step: 0.05,
    description: "Uniform-noise models: the temperature of the first step; it falls linearly towards t_min. Empty: the model's (0.8).",
  },
  t_min: {
    advanced: true,
    kind: "number",
    widget: "number",
    optional: true,
    min: 0,
    max: 10,
    step: 0.05,
    description: "Uniform-noise models: the temperature the schedule falls towards (the last step's is just above it). Empty: the model's (0.4).",
  },
  stability_threshold: {
    advanced: true,
    kind: "integer",
    widget: "number",
    optional: true,
    min: 0,
    max: 1000,
    description: "Uniform-noise models: a canvas may stop once its argmax has not changed for this many steps (and it is confident); 0 = no stability test. Empty: the model's (1).",
  },
  confidence_threshold: {
    advanced: true,
    kind: "number",
    widget: "number",
    optional: true,
    min: 0.000001,
    max: 1000,
    step: 0.001,
    description: "Uniform-noise models: ... and its mean entropy (nats) is under this. Empty: the model's (0.005).",
  },
  self_conditioning: {
    advanced: true,
    kind: "boolean",
    widget: "toggle",
    default: true,
    description: "Uniform-noise models: feed each step the previous step's prediction (DiffusionGemma's self-conditioning; always on upstream).",
  },
  draws: {
    advanced: true,
    kind: "string",
    widget: "file",
    file: true,
    optional: true,
    description:
      "Uniform-noise models: take every random draw (starting canvases, samples, re-draws) from this file (kind maskflow-canvas-draws) instead of the seed, to replay a run another implementation made. Empty: the seed.",
  },
};

/** A masked-model setting a uniform-noise model has no use for: [input, is it set?, why]. */
function maskOnly(inputs: NodeInputs): [string, boolean][] {
  return [
    ["temperature", (inputs.temperature as number) > 0],
    ["remasking", inputs.remasking !== "low_confidence"],
    ["cfg_scale", (inputs.cfg_scale as number) > 0],
    ["top_p", (inputs.top_p as number) < 1],
    ["top_k", (inputs.top_k as number) > 0],
    ["alg_temp", (inputs.alg_temp as number) > 0],
    ["logits_eos_inf", inputs.logits_eos_inf === true],
    ["confidence_eos_eot_inf", inputs.confidence_eos_eot_inf === true],
    ["shift_logits", inputs.shift_logits !== "auto"],
    ["remdm", inputs.remdm !== "off"],
    ["eos_stop", inputs.eos_stop === true],
    ["length", inputs.length !== "fixed"],
    ["cache", inputs.cache !== "none"],
    ["editing_threshold", (inputs.editing_threshold as number) > 0],
    ["sub_block", (inputs.sub_block as number) > 0],
  ];
}

const WHY: Record<string, string> = {
  temperature: "its temperature falls from t_max to t_min over the steps (set those)",
  remasking: "it keeps positions by entropy within entropy_bound; remasking rules choose masks to fill",
};

export async function denoiseUniform(inputs: NodeInputs, ctx: ExecuteContext, model: DllmModel) {
  const m = model.manifest;
  const who = `${m.name ?? m.family} is a uniform-noise model (maskflow.json noise "uniform")`;
  for (const [input, set] of maskOnly(inputs)) {
    if (set) return ctx.fail(input, `${who}: ${input} has no meaning for it (${WHY[input] ?? "it is a setting of the masked samplers"}); leave it at its default`);
  }
  let o: EntropyBoundOptions;
  try {
    o = entropyBoundDefaults(m);
  } catch (err) {
    return ctx.fail("model", (err as Error).message);
  }
  const L = (m.attention as { canvas_length: number }).canvas_length;
  o = { ...o, maxNewTokens: inputs.gen_length as number, selfConditioning: inputs.self_conditioning !== false };
  const schedule = inputs.schedule as Schedule | undefined;
  if (schedule) {
    if (schedule.kind !== "linear") return ctx.fail("schedule", `${who}: only a schedule's steps are used (its temperature schedule is linear, from t_max to t_min): set the kind to linear, not "${schedule.kind}"`);
    if (schedule.blockLength > 0) return ctx.fail("schedule", `${who}: it denoises whole canvases of ${L} tokens (its canvas length); set block_length to 0`);
    o.maxDenoisingSteps = schedule.steps as number;
  }
  if (inputs.entropy_bound != null) o.entropyBound = inputs.entropy_bound as number;
  if (inputs.t_max != null) o.tMax = inputs.t_max as number;
  if (inputs.t_min != null) o.tMin = inputs.t_min as number;
  if (inputs.stability_threshold != null) o.stabilityThreshold = inputs.stability_threshold as number;
  if (inputs.confidence_threshold != null) o.confidenceThreshold = inputs.confidence_threshold as number;
  const problem = entropyBoundProblem(o);
  if (problem) {
    // the node input each setting comes from (t_max < t_min is laid at the one the user set)
    const tMaxOrMin = inputs.t_min != null ? "t_min" : "t_max";
    const input: Record<keyof EntropyBoundOptions, string> = {
      maxNewTokens: "gen_length",
      maxDenoisingSteps: "schedule",
      entropyBound: "entropy_bound",
      tMin: "t_min",
      tMax: tMaxOrMin,
      stabilityThreshold: "stability_threshold",
      confidenceThreshold: "confidence_threshold",
      stopIds: "model",
      pad: "model",
      selfConditioning: "self_conditioning",
    };
    return ctx.fail(input[problem.field], problem.message);
  }

  // Continuing a canvas (after Remask, Replace Tokens): its tokens are pinned, its holes (-1) settled again.
  const given = inputs.canvas as Canvas | null | undefined;
  let pins: (number | null)[] | null = null;
  if (given != null) {
    const bad = canvasProblem(given);
    if (bad) return ctx.fail("canvas", bad);
    if (given.maskId !== -1) return ctx.fail("canvas", `${who}: this canvas has mask id ${given.maskId}, so it comes from a masked model (a uniform-noise canvas has none: -1)`);
    if (given.tokens.length % L !== 0) return ctx.fail("canvas", `the canvas holds ${given.tokens.length} tokens, not whole canvases of ${L} (this model's canvas length)`);
    pins = given.tokens.map((t) => (t === -1 ? null : t));
    const holes = pins.filter((t) => t === null).length;
    ctx.log.info(holes ? `settling ${holes} position(s) again; the other ${pins.length - holes} are pinned` : "nothing to settle again: the canvas has no holes");
  }
  const promptText = inputs.prompt as string | undefined;
  if (promptText == null && !given) return ctx.fail("prompt", "link a prompt (or a canvas to continue from)");
  const promptIds = promptText != null ? encodePrompt(promptText, model, ctx) : given!.promptIds;
  const canvases = pins ? pins.length / L : Math.ceil(o.maxNewTokens / L);
  if (promptIds.length + canvases * L > m.max_length) {
    return ctx.fail("gen_length", `prompt (${promptIds.length} tokens) + ${canvases} canvas${canvases === 1 ? "" : "es"} of ${L} = ${promptIds.length + canvases * L} tokens, more than the model's max_length ${m.max_length} (maskflow.json)`);
  }
  let draws;
  let drawsPath: string | null = null;
  if (inputs.draws != null && inputs.draws !== "") {
    drawsPath = await ctx.files.resolve("draws", inputs.draws as string);
    try {
      draws = RecordedCanvasDraws.fromFile(drawsPath);
    } catch (err) {
      return ctx.fail("draws", (err as Error).message);
    }
  } else draws = new SeededCanvasDraws(inputs.seed as number);

  const tok = model.tokenizer;
  const stops = new Set(o.stopIds);
  const offset = given?.trace.length ?? 0;
  const view = new SettlingView(L, tok, pins, offset);
  const canvas = model.openCanvas();
  canvas.candidates = ctx.watched === false ? 0 : ((inputs.candidates as number | undefined) ?? 0);
  let result;
  try {
    result = await generateEntropyBound(canvas, promptIds, o, draws, {
      signal: ctx.signal,
      onStep: (c, s) => ctx.progress({ step: view.steps + 1, total: canvases * o.maxDenoisingSteps, canvas: view.snapshot(c, s) }),
    }, pins);
  } catch (err) {
    if ((err as Error).name === "AbortError" || ctx.signal.aborted) throw err;
    // a draws file that does not fit this run is the file's fault, not the model's
    if (drawsPath && (err as Error).message.startsWith(drawsPath)) return ctx.fail("draws", (err as Error).message);
    throw err;
  } finally {
    await canvas.release();
  }
  if (draws instanceof RecordedCanvasDraws && draws.unused > 0) ctx.log.warn(`the draws file holds ${draws.unused} draws this run did not use: it was made with other settings`);
  const steps = result.canvases.reduce((n, c) => n + c.steps.length, 0);
  ctx.log.info(`${result.canvases.length} canvas${result.canvases.length === 1 ? "" : "es"} of ${L}, ${steps} steps (${canvas.stats.ms.toFixed(0)} ms in the model)`);
  return { canvas: uniformCanvas(promptIds, result, L, stops, tok, given ?? null) };
}

/**
 * What the denoising view shows of each step: the canvases committed so far, then this canvas's
 * argmax (what it would commit now); which positions were kept (the rest re-drawn), each
 * position's entropy, the temperature and the two stop signals.
 */
class SettlingView {
  steps = 0;
  /** each canvas's latest argmax (and its tempered probabilities) */
  private readonly latest = new Map<number, { tokens: number[]; probs: number[] }>();

  constructor(
    private readonly L: number,
    private readonly tok: DllmModel["tokenizer"],
    /** continuing a canvas: its pinned tokens (null: settled again) */
    private readonly pins: readonly (number | null)[] | null,
    /** continuing a canvas: the steps it had already taken */
    private readonly offset: number,
  ) {}

  snapshot(c: number, s: EntropyBoundStep): CanvasSnapshot {
    const L = this.L;
    this.steps++;
    this.latest.set(c, { tokens: s.argmax, probs: s.argmaxProb ?? s.argmax.map(() => 0) });
    const tokens: number[] = [];
    const confidence: number[] = [];
    // the canvases before this one as committed (one wholly pinned took no step: its own tokens)
    for (let j = 0; j <= c; j++) {
      const k = this.latest.get(j);
      const pinned = this.pins?.slice(j * L, (j + 1) * L) ?? [];
      tokens.push(...(k?.tokens ?? (pinned as number[])));
      confidence.push(...(k?.probs ?? pinned.map(() => 0)));
    }
    const kept = s.accepted.map((i) => c * L + i);
    // the inspector's: what the model offered at each position it settles (tempered, as it samples)
    const candidates = s.top?.flatMap((t, i) =>
      this.pins?.[c * L + i] != null ? [] : [{ position: c * L + i, ids: t.ids, pieces: t.ids.map((id) => this.tok.piece(id)), probs: t.probs, entropy: s.entropy[i] }],
    );
    const fixed = this.pins ? this.pins.flatMap((t, i) => (t !== null && i < tokens.length ? [i] : [])) : undefined;
    return {
      step: this.steps,
      at: this.offset + this.steps,
      tokens,
      pieces: tokens.map((t) => this.tok.piece(t)),
      confidence,
      changed: kept,
      ...(fixed ? { fixed } : {}),
      ...(candidates ? { candidates } : {}),
      settling: { canvas: c, canvasStart: c * L, canvasLength: L, kept, entropy: s.entropy, meanEntropy: s.meanEntropy, temperature: s.temperature, stable: s.stable, confident: s.confident },
    };
  }
}

/** The CANVAS value of a uniform-noise run: the committed canvases (pad after the first stop id), no masks. */
function uniformCanvas(promptIds: number[], result: Awaited<ReturnType<typeof generateEntropyBound>>, L: number, stops: Set<number>, tok: DllmModel["tokenizer"], given: Canvas | null): Canvas {
  const tokens = result.tokens;
  const confidence: number[] = [];
  const committedAt: number[] = [];
  // continuing a canvas: its trace goes on, and pinned positions keep their confidence and step
  const trace: Canvas["trace"] = given ? given.trace.map((t) => ({ ...t })) : [];
  let step = trace.length;
  for (const k of result.canvases) {
    const last = k.steps[k.steps.length - 1];
    const at = step + k.steps.length;
    k.committed.forEach((_, i) => {
      const g = k.canvas * L + i;
      const pinned = given !== null && given.tokens[g] !== -1;
      confidence.push(pinned ? given.confidence[g] : (last?.argmaxProb?.[i] ?? 0));
      committedAt.push(pinned ? given.committedAt[g] : at);
    });
    for (const s of k.steps) {
      step++;
      trace.push({
        step,
        positions: s.accepted.map((i) => k.canvas * L + i),
        tokens: s.accepted.map((i) => s.canvas[i]),
        confidence: s.keptProb ?? s.accepted.map(() => 0),
        note: `canvas ${k.canvas + 1}: kept ${s.accepted.length} of ${L}, re-drew ${L - s.accepted.length}; mean entropy ${s.meanEntropy.toFixed(4)}, t ${s.temperature.toFixed(3)}${s.stable ? ", stable" : ""}${s.confident ? ", confident" : ""}`,
      });
    }
  }
  const end = tokens.findIndex((t) => stops.has(t));
  const text = tok.decode(end >= 0 ? tokens.slice(0, end) : tokens, { skipSpecial: true });
  // maskId -1: a uniform-noise canvas has no mask token (nothing in it is ever "still masked")
  const fixed = tokens.map((_, i) => given?.fixed[i] ?? false);
  return { promptIds, tokens, maskId: -1, fixed, confidence, committedAt, trace, text, finished: true };
}
