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
import { Stream, CounterRng, gumbel } from "../rng.js";
import { planBlocks, unmaskCounts } from "../schedules.js";
import { cloneCanvas, refreshCanvas, type Canvas, type CanvasDecoder } from "../canvas.js";
import type { LogitsModel } from "../runtime/model.js";
import { decide, Scratch, type Decision } from "./decide.js";
import { validateOptions, type SamplerOptions } from "./options.js";
import { rankKey, topK } from "./rank.js";

export interface StepInfo {
  /** 1-based step within this run. */
  step: number;
  total: number;
  /** The canvas after this step (live object: copy it to keep it). */
  canvas: Canvas;
  /** Positions (in the generated region) committed at this step. */
  changed: number[];
}

export interface GenerateHooks {
  signal?: AbortSignal;
  onStep?(info: StepInfo): void;
  /** When given, the returned canvas's `text` is filled in. */
  decoder?: CanvasDecoder;
}

export function abortError(step: number, total: number): Error {
  const err = new Error(`denoising cancelled before step ${step + 1} of ${total}`);
  err.name = "AbortError";
  return err;
}

/** Resolves with the promise, or rejects as soon as the signal aborts (the forward finishes in its worker and is dropped). */
function unlessAborted<T>(p: Promise<T>, signal: AbortSignal | undefined, step: number, total: number): Promise<T> {
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
  const MASK = m.mask_token_id;
  if (start.maskId !== MASK) throw new Error(`the canvas uses mask id ${start.maskId} but the model's mask id is ${MASK}`);
  const { signal, onStep } = hooks;
  const c = cloneCanvas(start);
  const P = c.promptIds.length;
  const G = c.tokens.length;
  const S = P + G;
  const V = m.vocab_size;
  const shift = opts.shiftLogits ?? m.shift_logits;
  const cfg = opts.cfgScale;
  const eotIds = [m.eos_token_id, ...(m.eot_token_id !== undefined ? [m.eot_token_id] : [])];

  // x = [prompt | generated region]; prompt_index = x != MASK (given tokens count as prompt).
  const x = Int32Array.from([...c.promptIds, ...c.tokens]);
  const promptIndex = Uint8Array.from(x, (t) => (t !== MASK ? 1 : 0));
  const unX = new Int32Array(S);
  const fixed = c.fixed;

  const blocks = planBlocks(opts.schedule, G);
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
  const cfgFactor = Math.fround(cfg + 1);
  const row = new Float32Array(V);

  let step = 0;
  for (const block of blocks) {
    const blockMasks = countMasks(x, fixed, P, block.start, block.end, MASK);
    const numTransfer = unmaskCounts(opts.schedule, blockMasks, block.steps);
    for (let i = 0; i < block.steps; i++, step++) {
      if (signal?.aborted) throw abortError(step, total);
      const k = numTransfer[i];
      // Candidates: the block's masked positions that are not fixed (absolute indices into x).
      const candidates: number[] = [];
      for (let p = P + block.start; p < P + block.end; p++) if (x[p] === MASK && !fixed[p - P]) candidates.push(p);
      const chosen: { pos: number; d: Decision }[] = [];

      if (k > 0 && candidates.length > 0) {
        const rows = candidates.map((p) => (shift ? Math.max(p - 1, 0) : p));
        const R = rows.length;
        let logits: Float32Array;
        if (cfg > 0) {
          for (let p = 0; p < S; p++) unX[p] = promptIndex[p] ? MASK : x[p]; // un_x = x; un_x[prompt_index] = MASK
          const ids = new Int32Array(2 * S);
          ids.set(x, 0);
          ids.set(unX, S);
          logits = await unlessAborted(model.forward(ids, 2, S, rows), signal, step, total);
        } else {
          logits = await unlessAborted(model.forward(x, 1, S, rows), signal, step, total);
        }

        const decisions: { pos: number; d: Decision; key: number }[] = [];
        for (let r = 0; r < R; r++) {
          const cond = logits.subarray(r * V, (r + 1) * V);
          if (cfg > 0) {
            // float32, as torch computes un_logits + (cfg_scale + 1) * (logits - un_logits)
            const un = logits.subarray((R + r) * V, (R + r + 1) * V);
            for (let v = 0; v < V; v++) row[v] = un[v] + Math.fround(cfgFactor * Math.fround(cond[v] - un[v]));
          } else {
            row.set(cond);
          }
          if (opts.logitsEosInf) row[m.eos_token_id] = -Infinity;
          const pos = candidates[r];
          const d = decide(row, step, pos, settings, scratch);
          if (opts.confidenceEosEotInf && eotIds.includes(d.token)) d.score = -Infinity;
          // Dream's alg_temp: sample positions without replacement ~ softmax(score / alg_temp), as Gumbel-top-k.
          const rank = algTemp > 0 ? d.score / algTemp + gumbel(rng.uniform(Stream.POSITION_SAMPLE, step, pos, 0)) : d.score;
          decisions.push({ pos, d, key: rankKey(rank) });
        }
        for (const { pos, d } of topK(decisions, k)) chosen.push({ pos, d });
      }

      const trace = { step: stepOffset + step, positions: [] as number[], tokens: [] as number[], confidence: [] as number[] };
      for (const { pos, d } of chosen) {
        x[pos] = d.token;
        const g = pos - P;
        c.tokens[g] = d.token;
        c.confidence[g] = d.prob;
        c.committedAt[g] = stepOffset + step;
        trace.positions.push(g);
        trace.tokens.push(d.token);
        trace.confidence.push(d.prob);
      }
      c.trace.push(trace);
      c.finished = !c.tokens.includes(MASK);
      onStep?.({ step: step + 1, total, canvas: c, changed: trace.positions });
    }
  }
  if (hooks.decoder) refreshCanvas(c, hooks.decoder, m.eos_token_id);
  else c.finished = !c.tokens.includes(MASK);
  return c;
}

/** Masked, unfixed positions of the generated region in [from, to). */
function countMasks(x: Int32Array, fixed: readonly boolean[], P: number, from: number, to: number, mask: number): number {
  let n = 0;
  for (let g = from; g < to; g++) if (x[P + g] === mask && !fixed[g]) n++;
  return n;
}
