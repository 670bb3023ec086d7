// The sampler core. Reads side by side with LLaDA's generate.py (ML-GSAI/LLaDA):
//
//   x = [prompt | MASK * gen_length]; prompt_index = x != MASK
//   for each block (left to right):
//     num_transfer_tokens = schedule counts for the block's masks over its steps
//     for each step i:
//       logits = f(x)                     (CFG: f([x; x with prompt_index masked]) as ONE batch of 2,
//                                          logits = u + (cfg + 1) * (c - u))
//       if logits_eos_inf: logits[EOS] = -inf
//       x0 = argmax(gumbel(logits, T));  confidence = softmax(logits)[x0]   (or the Dream rules)
//       commit the num_transfer_tokens[i] masked positions of the block with the highest confidence
//
// What differs, on purpose (and is mirrored by models/reference/):
// - Only the masked positions of the current block are evaluated (LLaDA computes every row and
//   then sets the others to -inf), and only their logits rows cross from the worker.
// - Random numbers come from the counter-based generator, so they do not depend on which rows
//   are evaluated.
// - Positions are ranked by score compared at bf16 precision, then by position (./rank.ts).
// - The canvas may arrive partly decoded: unmasked tokens are kept (and count as "prompt" for
//   CFG, like LLaDA's app.py constraints); fixed tokens are never touched.
// - Steps that commit nothing skip the forward (the result is the same).
import { randomUUID } from "node:crypto";
import { Stream, CounterRng, gumbel } from "../rng.js";
import { dynamicCommitCount, isDynamic, planBlocks, unmaskCounts } from "../schedules.js";
import { cloneCanvas, commitStep, refreshCanvas, type Canvas, type CanvasDecoder } from "../canvas.js";
import { isFastModel, type ForwardRequest, type ForwardResult, type LogitsModel, type ModelFeatures } from "../runtime/model.js";
import { decide, rowStats, Scratch, type Decision, type DecideSettings } from "./decide.js";
import { guidedRow, unconditional } from "./cfg.js";
import { validateOptions, type Remasking, type SamplerOptions } from "./options.js";
import { rankKey, topK } from "./rank.js";
import { maskedSamplingProblem } from "./noise.js";

export interface StepInfo {
  /** 1-based step within this run. */
  step: number;
  total: number;
  /** The canvas after this step (live object: copy it to keep it). */
  canvas: Canvas;
  /** Positions (in the generated region) committed at this step. */
  changed: number[];
  /** With hooks.candidates: what the model offered at each position this step looked at. */
  candidates?: StepCandidates[];
}

/** What the model offered at one position in one step: its top candidates (untempered probabilities, CFG applied) and the entropy of its distribution. */
export interface StepCandidates {
  /** in the generated region */
  position: number;
  ids: number[];
  probs: number[];
  /** nats; null when the graph's head does not give it */
  entropy: number | null;
}

export interface GenerateHooks {
  signal?: AbortSignal;
  onStep?(info: StepInfo): void;
  /**
   * Record, per step, the top `candidates` of every position the step looked at (the masked
   * positions of its block), for the editor's inspector: from the graph's head when the sampler
   * uses it (no extra forward), else from the logits rows it fetched. 0 or absent: none.
   */
  candidates?: number;
  /** When given, the returned canvas's `text` is filled in. */
  decoder?: CanvasDecoder;
}

export function abortError(step: number, total: number): Error {
  const err = new Error(`denoising cancelled before step ${step + 1} of ${total}`);
  err.name = "AbortError";
  return err;
}

/** Resolves with the promise, or rejects as soon as the signal aborts (the forward finishes in its worker and is dropped). */
export function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, step: number, total: number): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortError(step, total));
    if (signal.aborted) return onAbort();
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Denoises the masked positions of `start` and returns a new canvas (the input is not changed).
 * Use createCanvas(promptIds, genLength, maskId) for a fresh run.
 */
export async function generate(model: LogitsModel, start: Canvas, opts: SamplerOptions, hooks: GenerateHooks = {}): Promise<Canvas> {
  const problem = validateOptions(opts);
  if (problem) throw new Error(problem);
  const m = model.manifest;
  const noise = maskedSamplingProblem(m, "generate()");
  if (noise) throw new Error(noise);
  const MASK = m.mask_token_id;
  if (start.maskId !== MASK) throw new Error(`the canvas uses mask id ${start.maskId} but the model's mask id is ${MASK}`);
  const { signal, onStep } = hooks;
  const recordK = Math.max(0, Math.floor(hooks.candidates ?? 0));
  let stepCandidates: StepCandidates[] | undefined;
  const c = cloneCanvas(start);
  const P = c.promptIds.length;
  const G = c.tokens.length;
  const S = P + G;
  const V = m.vocab_size;
  const shift = opts.shiftLogits ?? m.shift_logits;
  const cfg = opts.cfgScale;
  const eotIds = [m.eos_token_id, ...(m.eot_token_id !== undefined ? [m.eot_token_id] : [])];

  // What the graph offers beyond logits: the in-graph head and the block KV cache.
  const fast = isFastModel(model) ? model : null;
  const useHead = opts.head !== false && fast !== null && headSuffices(opts, fast.features);
  const cacheMode = opts.cache ?? "none";
  if (cacheMode !== "none") {
    if (!fast?.features.kvCache) throw new Error(`cache "${cacheMode}" needs a model exported with a KV cache (models/train/export.py --graph full)`);
  }
  const cacheId = cacheMode === "none" ? "" : `generate-${randomUUID()}`;

  // x = [prompt | generated region]; prompt_index = x != MASK (given tokens count as prompt).
  const x = Int32Array.from([...c.promptIds, ...c.tokens]);
  const promptIndex = Uint8Array.from(x, (t) => (t !== MASK ? 1 : 0));
  const unX = new Int32Array(S);
  const fixed = c.fixed;

  const blocks = planBlocks(opts.schedule, G);
  const dynamic = isDynamic(opts.schedule);
  const total = blocks.reduce((a, b) => a + b.steps, 0);
  const rng = new CounterRng(opts.seed);
  const scratch = new Scratch(V);
  const settings = {
    remasking: opts.remasking,
    temperature: opts.temperature,
    topP: opts.topP ?? null,
    topK: opts.topK ?? null,
    rng,
  };
  const algTemp = opts.algTemp ?? 0;
  const stepOffset = c.trace.length;
  const row = new Float32Array(V);
  let rowsBuf = new Float32Array(0);
  const bins = new Float64Array(BIN_EDGES.length);
  // Rules whose score is bounded before the token is drawn (low_confidence: p(x0) <= max p;
  // random: the score does not depend on the token), so rows that cannot reach the top k are
  // never decided: with temperature > 0 that skips their Gumbel noise, the costliest part of a step.
  const boundable = !dynamic && (opts.remasking === "low_confidence" || opts.remasking === "random");

  /**
   * One forward for the block [bs, be) (absolute positions) and the decision of every candidate.
   * With a KV cache, the block's first forward covers everything and stores the cache; later ones
   * feed only the block (dual) or the block and what follows (prefix).
   */
  let cachedBlock = -1;
  const score = async (candidates: number[], bs: number, be: number, blockIndex: number, step: number, commit: number) => {
    if (cfg > 0) unconditional(x, promptIndex, MASK, unX); // un_x = x; un_x[prompt_index] = MASK
    let from = 0;
    let to = S;
    let cache: ForwardRequest["cache"];
    if (cacheMode !== "none") {
      // Shifted logits (Dream): position bs is decided by output row bs - 1, so the fed window
      // starts one position earlier and the cache ends there.
      const start = shift && bs > 0 ? bs - 1 : bs;
      if (cachedBlock !== blockIndex) {
        cache = { store: { id: cacheId, keep: cacheMode === "dual" ? [[0, start], [be, S]] : [[0, start]] } };
        cachedBlock = blockIndex;
      } else {
        [from, to] = cacheMode === "dual" ? [start, be] : [start, S];
        cache = { use: cacheId };
      }
    }
    const seq = to - from;
    const batch = cfg > 0 ? 2 : 1;
    const ids = new Int32Array(batch * seq);
    ids.set(x.subarray(from, to), 0);
    if (cfg > 0) ids.set(unX.subarray(from, to), seq);
    const rows = candidates.map((p) => (shift ? Math.max(p - 1, 0) : p) - from);
    // GatherND would take a negative row from the window's end: never let one through
    if (rows.some((r) => r < 0 || r >= seq)) throw new Error(`internal: rows [${rows}] fall outside the fed window [${from}, ${to})`);
    const R = rows.length;
    const decisions: { pos: number; d: Decision; key: number }[] = [];
    // Dream's alg_temp: sample positions without replacement ~ softmax(score / alg_temp), as Gumbel-top-k.
    const keyOf = (pos: number, score: number) =>
      rankKey(algTemp > 0 ? score / algTemp + gumbel(rng.uniform(Stream.POSITION_SAMPLE, step, pos, 0)) : score);
    const rank = (pos: number, d: Decision) => {
      if (opts.confidenceEosEotInf && eotIds.includes(d.token)) d.score = -Infinity;
      decisions.push({ pos, d, key: keyOf(pos, d.score) });
    };

    if (useHead && fast) {
      const out = await unlessAborted(
        fast.run({ ids, batch, seq, rows, want: "top", cfgScale: cfg > 0 ? cfg : undefined, offset: from, cache, ...(recordK > 0 ? { entropy: true } : {}) }),
        signal,
        step,
        total,
      );
      const k = out.k!;
      if (recordK > 0) {
        const kc = Math.min(recordK, k);
        stepCandidates = candidates.map((pos, r) => ({
          position: pos - P,
          ids: Array.from(out.topIds!.subarray(r * k, r * k + kc)),
          probs: Array.from(out.topLogp!.subarray(r * k, r * k + kc), Math.exp),
          entropy: out.entropy ? out.entropy[r] : null,
        }));
      }
      for (let r = 0; r < R; r++) rank(candidates[r], decideFromTop(out.topIds!, out.topLogp!, r * k, step, candidates[r], settings));
      return decisions;
    }

    let logits: Float32Array;
    let top: ForwardResult | null = null;
    if (fast) {
      const out = await unlessAborted(fast.run({ ids, batch, seq, rows, want: "logits", offset: from, cache }), signal, step, total);
      logits = out.logits!;
      if (out.topLogp && out.topIds && out.k && out.k >= 2 && cfg === 0 && opts.head !== false) top = out;
    } else {
      logits = await unlessAborted(model.forward(ids, batch, seq, rows), signal, step, total);
    }
    const prepare = (r: number, into: Float32Array) => {
      const un = cfg > 0 ? logits.subarray((R + r) * V, (R + r + 1) * V) : null;
      guidedRow(into, logits.subarray(r * V, (r + 1) * V), un, cfg);
      if (opts.logitsEosInf) into[m.eos_token_id] = -Infinity;
    };
    // Done with the logits rows: their buffer goes back to the model for the next forward.
    const done = () => {
      fast?.recycle?.(logits.buffer as ArrayBuffer);
      return decisions;
    };
    // Recording candidates (the inspector's) reads every row, so the rows are prepared once for both.
    const recorded = (pos: number, prepared: Float32Array): StepCandidates => ({ position: pos - P, ...rowCandidates(prepared, recordK) });
    if (!boundable || commit >= R || !samplerTuning.boundRows) {
      if (recordK > 0) stepCandidates = [];
      for (let r = 0; r < R; r++) {
        prepare(r, row);
        if (recordK > 0) stepCandidates!.push(recorded(candidates[r], row));
        rank(candidates[r], decide(row, step, candidates[r], settings, scratch));
      }
      return done();
    }
    // Bounds first, then exact decisions in order of bound, skipping rows that cannot enter the
    // top `commit` of what is decided so far (so cannot enter the final top `commit` either): the
    // committed positions are exactly those of deciding every row. low_confidence has two bounds:
    // a first one, from the head's top-k log-probabilities when the graph sent them (topBound),
    // else from a histogram of (max - logit) in half-nat bins (no exponential per token: each
    // token's e^(l - max) is at least its bin's lower edge, so p(x0) <= 1 / sum of the edges);
    // then the exact max probability 1 / sum(e^(l - max)). A row's logits are prepared (CFG, EOS
    // rule) only when a bound needs them or it is decided.
    if (rowsBuf.length < R * V) rowsBuf = new Float32Array(R * V);
    const random = opts.remasking === "random";
    const prepared = new Uint8Array(R);
    const rowOf = (r: number) => {
      const into = rowsBuf.subarray(r * V, (r + 1) * V);
      if (!prepared[r]) prepare(r, into);
      prepared[r] = 1;
      return into;
    };
    if (recordK > 0) stepCandidates = candidates.map((pos, r) => recorded(pos, rowOf(r)));
    const bounds = candidates.map((pos, r) => {
      let bound: number;
      if (random) bound = rng.uniform(Stream.REMASK_RANDOM, step, pos, 0);
      else if (top) bound = topBound(top.topIds!, top.topLogp!, r * top.k!, top.k!, opts.logitsEosInf ? m.eos_token_id : -1);
      else {
        const into = rowOf(r);
        let max = -Infinity;
        for (let v = 0; v < V; v++) if (into[v] > max) max = into[v];
        bins.fill(0);
        for (let v = 0; v < V; v++) {
          const d = (max - into[v]) * 2;
          if (d < BIN_EDGES.length) bins[d | 0]++;
        }
        let lower = 1 - BIN_EDGES[0]; // the max itself counts 1, not its bin's edge
        for (let b = 0; b < bins.length; b++) lower += bins[b] * BIN_EDGES[b];
        bound = max === -Infinity ? 1 : (1 / lower) * (1 + 1e-9);
      }
      return { r, pos, key: nanLow(keyOf(pos, bound)) };
    });
    bounds.sort((a, b) => b.key - a.key || a.pos - b.pos);
    let kth: { pos: number; key: number } | null = null;
    const beats = (key: number, pos: number) => !kth || key > kth.key || (key === kth.key && pos < kth.pos);
    for (const b of bounds) {
      if (!beats(b.key, b.pos)) break; // sorted: no later row can either
      const into = rowOf(b.r);
      const stats = rowStats(into);
      if (!random && !beats(nanLow(keyOf(b.pos, 1 / stats.sum)), b.pos)) continue;
      rank(b.pos, decide(into, step, b.pos, settings, scratch, stats));
      if (decisions.length >= commit) {
        const t = topK(decisions, commit)[commit - 1];
        kth = { pos: t.pos, key: nanLow(t.key) };
      }
    }
    return done();
  };

  let step = 0;
  try {
    for (let b = 0; b < blocks.length; b++) {
      const block = blocks[b];
      const bs = P + block.start;
      const be = P + block.end;
      const numTransfer = dynamic ? null : unmaskCounts(opts.schedule, countMasks(x, fixed, P, block.start, block.end, MASK), block.steps);
      for (let i = 0; i < block.steps; i++, step++) {
        if (signal?.aborted) throw abortError(step, total);
        // Candidates: the block's masked positions that are not fixed (absolute indices into x).
        const candidates: number[] = [];
        for (let p = bs; p < be; p++) if (x[p] === MASK && !fixed[p - P]) candidates.push(p);
        if (dynamic && candidates.length === 0) break; // a dynamic block ends when it is decoded
        const k = numTransfer ? numTransfer[i] : candidates.length;
        let chosen: { pos: number; d: Decision }[] = [];
        if (k > 0 && candidates.length > 0) {
          const ranked = topK(await score(candidates, bs, be, b, step, k), k);
          chosen = dynamic ? ranked.slice(0, dynamicCommitCount(opts.schedule, ranked.map((r) => r.d.prob))) : ranked;
        }

        const trace = commitStep(c, x, stepOffset + step, chosen.map(({ pos, d }) => ({ pos, token: d.token, prob: d.prob })));
        c.trace.push(trace);
        c.finished = !c.tokens.includes(MASK);
        onStep?.({ step: step + 1, total, canvas: c, changed: trace.positions, ...(stepCandidates ? { candidates: stepCandidates } : {}) });
        stepCandidates = undefined;
      }
    }
  } finally {
    if (cacheId && fast) await fast.dropCache(cacheId).catch(() => undefined);
  }
  if (hooks.decoder) refreshCanvas(c, hooks.decoder, m.eos_token_id);
  else c.finished = !c.tokens.includes(MASK);
  return c;
}

/** Whether the head's top-k ids and log-probabilities are all a step needs (no full logits rows). */
/** A logits row's top k (probabilities of its softmax) and entropy, in float64. */
export function rowCandidates(row: Float32Array, k: number): { ids: number[]; probs: number[]; entropy: number } {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) if (row[v] > max) max = row[v];
  let sum = 0;
  let weighted = 0;
  const best: number[] = [];
  for (let v = 0; v < row.length; v++) {
    const l = row[v];
    if (l === -Infinity) continue;
    const e = Math.exp(l - max);
    sum += e;
    weighted += e * (l - max);
    if (best.length < k || l > row[best[best.length - 1]]) {
      let i = best.length < k ? best.length : k - 1;
      best[i] = v;
      while (i > 0 && row[best[i - 1]] < l) {
        best[i] = best[i - 1];
        best[i - 1] = v;
        i--;
      }
    }
  }
  const logSum = Math.log(sum);
  return { ids: best, probs: best.map((v) => Math.exp(row[v] - max - logSum)), entropy: logSum - weighted / sum };
}

export function headSuffices(o: SamplerOptions, f: ModelFeatures): boolean {
  return (
    f.topK >= 2 &&
    o.temperature === 0 &&
    (o.topP == null || o.topP >= 1) &&
    !(o.topK != null && o.topK > 0) &&
    !o.logitsEosInf &&
    HEAD_RULES.has(o.remasking) &&
    (o.cfgScale === 0 || f.cfgHead)
  );
}

const HEAD_RULES: ReadonlySet<Remasking> = new Set(["low_confidence", "random", "maskgit_plus", "topk_margin"]);

/**
 * A decision from the head's candidates at offset `at`: with temperature 0 and no filters the
 * token is the argmax and every rule in HEAD_RULES needs only the top two probabilities
 * (maskgit_plus = the token's probability; topk_margin = p1 - p2).
 */
export function decideFromTop(ids: Int32Array, logp: Float32Array, at: number, step: number, position: number, s: DecideSettings): Decision {
  const token = ids[at];
  const prob = Math.exp(logp[at]);
  let score = prob;
  if (s.remasking === "random") score = s.rng.uniform(Stream.REMASK_RANDOM, step, position, 0);
  else if (s.remasking === "topk_margin") score = prob - Math.exp(logp[at + 1]);
  return { token, score, prob };
}

/** Switches for exact shortcuts, so tests can compare them with the plain computation. */
export const samplerTuning = { boundRows: true };

/**
 * An upper bound on a row's largest probability from the head's top-k log-probabilities (float32:
 * 0.1% of margin, far above its rounding). With EOS forbidden (`eos` >= 0) the row is renormalised
 * without it, p' = p / (1 - p(EOS)), and p(EOS) is at most the k-th probability when EOS is not
 * among the top k. Not finite (a row of -Infinity logits): 1, so the row is decided exactly.
 */
export function topBound(ids: Int32Array, logp: Float32Array, at: number, k: number, eos: number): number {
  let best = -1;
  let pEos = eos < 0 ? 0 : -1;
  for (let j = 0; j < k; j++) {
    const p = Math.exp(logp[at + j]);
    if (ids[at + j] === eos) pEos = p;
    else if (best < 0) best = p;
  }
  if (pEos < 0) pEos = Math.exp(logp[at + k - 1]);
  const bound = (best / (1 - pEos)) * 1.001;
  return Number.isFinite(bound) && bound >= 0 && bound < 1 ? bound : 1;
}

/** e^(-(b + 1) / 2): the lower edge of e^(logit - max) for tokens in half-nat bin b below the max. */
const BIN_EDGES = Float64Array.from({ length: 32 }, (_, b) => Math.exp(-(b + 1) / 2));

/** rank.ts orders NaN keys lowest. */
const nanLow = (key: number) => (Number.isNaN(key) ? -Infinity : key);

/** Masked, unfixed positions of the generated region in [from, to). */
function countMasks(x: Int32Array, fixed: readonly boolean[], P: number, from: number, to: number, mask: number): number {
  let n = 0;
  for (let g = from; g < to; g++) if (x[P + g] === mask && !fixed[g]) n++;
  return n;
}
