// DiffusionGemma's released sampler for uniform-noise models (maskflow.json noise "uniform"):
// transformers' generation_diffusion_gemma.py (EntropyBoundSampler, the linear temperature
// schedule, StableAndConfidentStoppingCriteria, the canvas loop), one batch row, reading side by
// side with models/reference/diffusion_gemma_generate.py.
//
// Per canvas: encode what came before into the cache; start from canvasLength ids drawn uniformly
// over the whole vocabulary; then for cur_step = N .. 1: run the decoder (with the previous step's
// soft embedding), temper the logits by t_min + (t_max - t_min) cur_step / N, sample every
// position, keep the lowest-entropy positions while the entropies before them sum to at most the
// bound, re-draw every other position uniformly (nothing stays fixed between steps), and stop once
// the argmax canvas repeats and the mean entropy is under the confidence threshold. The argmax of
// the last step is committed; a stop id in it ends generation, the ids after it becoming pad.
//
// Every random number comes from a CanvasDraws: Maskflow's counter-based generator (a function of
// seed, stream, step and position, mirrored by models/reference/rng.py), or a recorded file, so a
// run can be replayed exactly by another implementation.
import { readFileSync } from "node:fs";
import { CounterRng, Stream } from "../rng.js";
import type { ModelManifest } from "../model-folder.js";
import { abortError } from "./generate.js";

/** This sampler's generator streams (rng.ts's Stream.CANVAS_*). */
export const CANVAS_STREAM = { INITIAL: Stream.CANVAS_INITIAL, SAMPLE: Stream.CANVAS_SAMPLE, RENOISE: Stream.CANVAS_RENOISE } as const;

/** Where the sampler's random numbers come from. */
export interface CanvasDraws {
  /** canvas c's starting ids, uniform over [0, vocab) */
  initial(canvas: number, n: number, vocab: number): Int32Array;
  /** step g's uniforms in [0, 1), one per position, for sampling by inverse CDF */
  sample(step: number, n: number): Float64Array;
  /** step g's fresh ids for the positions not kept */
  renoise(step: number, n: number, vocab: number): Int32Array;
}

/** Maskflow's generator: draw (stream, step, position) = u(seed, stream, step, position, 0); ids are floor(u * vocab). */
export class SeededCanvasDraws implements CanvasDraws {
  private readonly rng: CounterRng;
  constructor(readonly seed: number) {
    this.rng = new CounterRng(seed);
  }
  private ids(stream: number, step: number, n: number, vocab: number): Int32Array {
    const out = new Int32Array(n);
    for (let p = 0; p < n; p++) out[p] = Math.floor(this.rng.uniform(stream, step, p) * vocab);
    return out;
  }
  initial(canvas: number, n: number, vocab: number): Int32Array {
    return this.ids(CANVAS_STREAM.INITIAL, canvas, n, vocab);
  }
  sample(step: number, n: number): Float64Array {
    const out = new Float64Array(n);
    for (let p = 0; p < n; p++) out[p] = this.rng.uniform(CANVAS_STREAM.SAMPLE, step, p);
    return out;
  }
  renoise(step: number, n: number, vocab: number): Int32Array {
    return this.ids(CANVAS_STREAM.RENOISE, step, n, vocab);
  }
}

type Draw = { kind: "initial"; ids: number[] } | { kind: "sample"; u: number[] } | { kind: "renoise"; ids: number[] };

/** A draws file ({"format": 1, "kind": "maskflow-canvas-draws", "draws": [...]}), consumed in order; any mismatch is an error naming the draw. */
export class RecordedCanvasDraws implements CanvasDraws {
  private next = 0;
  private constructor(private readonly draws: Draw[], private readonly source: string) {}

  static fromFile(path: string): RecordedCanvasDraws {
    return RecordedCanvasDraws.fromJson(JSON.parse(readFileSync(path, "utf8")), path);
  }

  static fromJson(doc: unknown, source = "the draws"): RecordedCanvasDraws {
    const d = doc as { format?: unknown; kind?: unknown; draws?: unknown };
    if (d?.format !== 1 || d.kind !== "maskflow-canvas-draws" || !Array.isArray(d.draws)) throw new Error(`${source}: not a Maskflow canvas draws file (format 1, kind "maskflow-canvas-draws", draws [...])`);
    return new RecordedCanvasDraws(d.draws as Draw[], source);
  }

  private take<K extends Draw["kind"]>(kind: K, n: number): Extract<Draw, { kind: K }> {
    const i = this.next++;
    const d = this.draws[i];
    if (!d) throw new Error(`${this.source}: the run wants draw ${i} (${kind}), but the file holds only ${this.draws.length}`);
    const values = d.kind === "sample" ? d.u : d.ids;
    if (d.kind !== kind || !Array.isArray(values) || values.length !== n) {
      throw new Error(`${this.source}: draw ${i} is ${d.kind} of ${Array.isArray(values) ? values.length : "?"}, but the run wants ${kind} of ${n}: the file is from another run`);
    }
    return d as Extract<Draw, { kind: K }>;
  }
  initial(_canvas: number, n: number): Int32Array {
    return Int32Array.from(this.take("initial", n).ids);
  }
  sample(_step: number, n: number): Float64Array {
    return Float64Array.from(this.take("sample", n).u);
  }
  renoise(_step: number, n: number): Int32Array {
    return Int32Array.from(this.take("renoise", n).ids);
  }
  /** Draws the run did not use (0 when it replayed the recording exactly). */
  get unused(): number {
    return this.draws.length - this.next;
  }
}

/** Wraps draws and records them, to write a file another implementation can replay. */
export class RecordingCanvasDraws implements CanvasDraws {
  readonly log: Draw[] = [];
  constructor(private readonly inner: CanvasDraws) {}
  initial(canvas: number, n: number, vocab: number): Int32Array {
    const ids = this.inner.initial(canvas, n, vocab);
    this.log.push({ kind: "initial", ids: [...ids] });
    return ids;
  }
  sample(step: number, n: number): Float64Array {
    const u = this.inner.sample(step, n);
    this.log.push({ kind: "sample", u: [...u] });
    return u;
  }
  renoise(step: number, n: number, vocab: number): Int32Array {
    const ids = this.inner.renoise(step, n, vocab);
    this.log.push({ kind: "renoise", ids: [...ids] });
    return ids;
  }
  toJson(vocab: number): object {
    return { format: 1, kind: "maskflow-canvas-draws", vocab_size: vocab, draws: this.log };
  }
}

/** One decoder step's results for the canvas (the model does the vocabulary-wide work). */
export interface DenoiserStep {
  /** argmax of the tempered logits per position */
  argmax: Int32Array;
  /** entropy (nats, float32) of softmax(logits / temperature) per position */
  entropy: Float32Array;
  /** per position, the first id whose cumulative tempered probability exceeds the uniform given */
  sampled: Int32Array;
  /** the tempered probability of the argmax and of the sampled id per position (for display; absent: not computed) */
  argmaxProb?: Float32Array;
  sampledProb?: Float32Array;
  /** [L, k] each position's most likely ids under the tempered distribution and their probabilities, when asked for (the inspector's) */
  topIds?: Int32Array;
  topProbs?: Float32Array;
  /** the next step's self-conditioning input (softmax(logits / temperature) @ E * scale) */
  selfConditioning: Float32Array;
}

/** A uniform-noise model as this sampler drives it: a context cache and a denoising step. */
export interface CanvasDenoiser {
  readonly canvasLength: number;
  readonly vocab: number;
  /** appends ids to the context (the causal encoder pass) */
  encode(ids: readonly number[]): Promise<void>;
  /** one decoder step over the canvas against the context; sc null = no self-conditioning */
  step(canvas: Int32Array, sc: Float32Array | null, temperature: number, uniforms: Float64Array): Promise<DenoiserStep>;
}

export interface EntropyBoundOptions {
  maxNewTokens: number;
  maxDenoisingSteps: number;
  entropyBound: number;
  tMax: number;
  tMin: number;
  /** the argmax canvas must equal the last n ones (0: always stable) */
  stabilityThreshold: number;
  /** the mean tempered entropy must be below this */
  confidenceThreshold: number;
  stopIds: readonly number[];
  pad: number;
  /** feed each step the previous step's soft embedding (upstream: always) */
  selfConditioning?: boolean;
}

export interface EntropyBoundStep {
  /** counts steps over the whole run (the draws' step index) */
  step: number;
  temperature: number;
  /** positions whose sampled token was kept; every other position was re-drawn */
  accepted: number[];
  argmax: number[];
  /** the canvas the next step starts from */
  canvas: number[];
  entropy: number[];
  /** the tempered probability of each argmax, when the model gives it */
  argmaxProb?: number[];
  /** the tempered probability of each kept token (in the order of accepted), when the model gives it */
  keptProb?: number[];
  /** per position, the model's most likely ids and their tempered probabilities, when it gives them */
  top?: { ids: number[]; probs: number[] }[];
  meanEntropy: number;
  stable: boolean;
  confident: boolean;
}

export interface EntropyBoundCanvas {
  canvas: number;
  steps: EntropyBoundStep[];
  /** the argmax of the last step, pad after the first stop id */
  committed: number[];
  finished: boolean;
}

export interface EntropyBoundResult {
  /** whole canvases after the prompt (pad after the first stop id), as upstream's sequences */
  tokens: number[];
  canvases: EntropyBoundCanvas[];
}

/** The released settings a converted folder records (maskflow.json decoding, rule "entropy_bound"). */
export function entropyBoundDefaults(m: Pick<ModelManifest, "noise" | "decoding" | "pad_token_id" | "name" | "family">): EntropyBoundOptions {
  const d = m.decoding;
  const who = m.name ?? m.family;
  if ((m.noise as ModelManifest["noise"] | undefined)?.kind !== "uniform" || d?.rule !== "entropy_bound") {
    throw new Error(`${who}: maskflow.json declares no entropy-bound decoding (noise "uniform", decoding.rule "entropy_bound"); the entropy-bound sampler runs uniform-noise models such as DiffusionGemma`);
  }
  const need = <T>(v: T | undefined, field: string): T => {
    if (v === undefined) throw new Error(`${who}: maskflow.json decoding.${field} is missing`);
    return v;
  };
  return {
    maxNewTokens: need(d.max_new_tokens, "max_new_tokens"),
    maxDenoisingSteps: need(d.max_denoising_steps, "max_denoising_steps"),
    entropyBound: need(d.entropy_bound, "entropy_bound"),
    tMax: need(d.t_max, "t_max"),
    tMin: need(d.t_min, "t_min"),
    stabilityThreshold: need(d.stability_threshold, "stability_threshold"),
    confidenceThreshold: need(d.confidence_threshold, "confidence_threshold"),
    stopIds: need(d.stop_token_ids, "stop_token_ids"),
    pad: m.pad_token_id ?? 0,
  };
}

/** The first setting that cannot run, named by its field, or null. */
export function entropyBoundProblem(o: EntropyBoundOptions): { field: keyof EntropyBoundOptions; message: string } | null {
  const bad = (field: keyof EntropyBoundOptions, message: string) => ({ field, message });
  if (!Number.isSafeInteger(o.maxNewTokens) || o.maxNewTokens <= 0) return bad("maxNewTokens", `max_new_tokens must be a positive integer (got ${o.maxNewTokens})`);
  if (!Number.isSafeInteger(o.maxDenoisingSteps) || o.maxDenoisingSteps <= 0) return bad("maxDenoisingSteps", `max_denoising_steps must be a positive integer (got ${o.maxDenoisingSteps})`);
  if (!(o.entropyBound > 0)) return bad("entropyBound", `entropy_bound must be > 0 (got ${o.entropyBound})`);
  const schedule = `the temperature schedule needs 0 <= t_min < t_max (got t_min ${o.tMin}, t_max ${o.tMax})`;
  if (!(o.tMin >= 0)) return bad("tMin", schedule);
  if (!(o.tMax > o.tMin)) return bad("tMax", schedule);
  if (!Number.isSafeInteger(o.stabilityThreshold) || o.stabilityThreshold < 0) return bad("stabilityThreshold", `stability_threshold must be an integer >= 0 (got ${o.stabilityThreshold})`);
  if (!(o.confidenceThreshold > 0)) return bad("confidenceThreshold", `confidence_threshold must be > 0 (got ${o.confidenceThreshold})`);
  return null;
}

/**
 * `pins` (Maskflow's, not upstream's): a token per position of the whole output (its length a
 * multiple of the canvas length; it sets how many canvases there are), or null where the sampler
 * decides. A pinned position holds its token on every step (in the canvas the model sees, in the
 * argmax, in what is committed) and takes no part in the entropy budget; a canvas with every
 * position pinned is committed as it is, without a step. All null: the released loop exactly.
 */
function topLists(ids: Int32Array, probs: Float32Array, L: number): { ids: number[]; probs: number[] }[] {
  const k = ids.length / L;
  return Array.from({ length: L }, (_, i) => ({ ids: Array.from(ids.subarray(i * k, (i + 1) * k)), probs: Array.from(probs.subarray(i * k, (i + 1) * k)) }));
}

export async function generateEntropyBound(
  model: CanvasDenoiser,
  prompt: readonly number[],
  o: EntropyBoundOptions,
  draws: CanvasDraws,
  hooks: { signal?: AbortSignal; onStep?: (canvas: number, step: EntropyBoundStep) => void } = {},
  pins: readonly (number | null)[] | null = null,
): Promise<EntropyBoundResult> {
  const problem = entropyBoundProblem(o);
  if (problem) throw new Error(problem.message);
  const L = model.canvasLength;
  const V = model.vocab;
  const N = o.maxDenoisingSteps;
  const bound = Math.fround(o.entropyBound); // compared with float32 entropies, as torch does
  const stops = new Set(o.stopIds);
  if (pins && pins.length % L !== 0) throw new Error(`pinned tokens cover ${pins.length} positions, not whole canvases of ${L}`);
  const canvases = pins ? pins.length / L : Math.ceil(o.maxNewTokens / L);
  const tokens: number[] = [];
  const out: EntropyBoundCanvas[] = [];
  let pending: readonly number[] = prompt;
  let g = 0;
  for (let c = 0; c < canvases; c++) {
    await model.encode(pending);
    const pinned = pins ? pins.slice(c * L, (c + 1) * L) : null;
    const pin = (a: Int32Array) => {
      if (pinned) for (let i = 0; i < L; i++) if (pinned[i] !== null) a[i] = pinned[i]!;
      return a;
    };
    if (pinned && pinned.every((t) => t !== null)) {
      // nothing to decide: committed as given
      const committed = pinned as number[];
      const end = committed.findIndex((t) => stops.has(t));
      tokens.push(...committed);
      out.push({ canvas: c, steps: [], committed: [...committed], finished: end >= 0 });
      if (end >= 0) break;
      pending = committed;
      continue;
    }
    let canvas = pin(draws.initial(c, L, V));
    let sc: Float32Array | null = null;
    const history: Int32Array[] = Array.from({ length: o.stabilityThreshold }, () => new Int32Array(L).fill(-1));
    const steps: EntropyBoundStep[] = [];
    let argmax = canvas;
    for (let curStep = N; curStep >= 1; curStep--) {
      if (hooks.signal?.aborted) throw abortError(N - curStep, N);
      const temperature = o.tMin + (o.tMax - o.tMin) * (curStep / N);
      const r = await model.step(canvas, o.selfConditioning === false ? null : sc, temperature, draws.sample(g, L));
      argmax = pin(r.argmax);
      // keep the lowest-entropy positions while the entropies before each sum to at most the bound
      // (pinned positions are held, outside the budget)
      const order = Array.from({ length: L }, (_, i) => i).filter((i) => pinned?.[i] == null).sort((a, b) => r.entropy[a] - r.entropy[b] || a - b);
      const accept = new Uint8Array(L);
      let sum = 0; // cumulative sums accumulated in float64, each rounded to float32 (torch's CPU cumsum)
      for (const i of order) {
        sum += r.entropy[i];
        if (Math.fround(Math.fround(sum) - r.entropy[i]) <= bound) accept[i] = 1;
      }
      const fresh = draws.renoise(g, L, V);
      const next = new Int32Array(L);
      for (let i = 0; i < L; i++) next[i] = accept[i] ? r.sampled[i] : fresh[i];
      pin(next);
      const stable = history.every((h) => h.every((t, i) => t === argmax[i]));
      if (history.length) {
        history.shift();
        history.push(Int32Array.from(argmax));
      }
      // over the positions the sampler decides (all of them upstream; pinned ones are not its to settle)
      let total = 0;
      let n = 0;
      for (let i = 0; i < L; i++) {
        if (pinned?.[i] != null) continue;
        total += r.entropy[i];
        n++;
      }
      const meanEntropy = total / n;
      const confident = meanEntropy < o.confidenceThreshold;
      const info: EntropyBoundStep = {
        step: g,
        temperature,
        accepted: [...accept.keys()].filter((i) => accept[i]),
        argmax: [...argmax],
        canvas: [...next],
        entropy: [...r.entropy],
        ...(r.argmaxProb ? { argmaxProb: [...r.argmaxProb] } : {}),
        ...(r.topIds && r.topProbs ? { top: topLists(r.topIds, r.topProbs, L) } : {}),
        ...(r.sampledProb ? { keptProb: [...accept.keys()].filter((i) => accept[i]).map((i) => r.sampledProb![i]) } : {}),
        meanEntropy,
        stable,
        confident,
      };
      steps.push(info);
      hooks.onStep?.(c, info);
      canvas = next;
      sc = r.selfConditioning;
      g++;
      if (stable && confident) break;
    }
    const committed = [...argmax];
    const end = committed.findIndex((t) => stops.has(t));
    if (end >= 0) committed.fill(o.pad, end + 1);
    tokens.push(...committed);
    out.push({ canvas: c, steps, committed, finished: end >= 0 });
    if (end >= 0) break;
    pending = committed;
  }
  return { tokens, canvases: out };
}
