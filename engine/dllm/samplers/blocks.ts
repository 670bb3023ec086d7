// Block-causal decoding (LLaDA2.0 / LLaDA2.1, Fast-dLLM v2), for models whose maskflow.json says
// attention.kind "block_causal". Reads side by side with upstream's generate() (LLaDA2: the HF remote
// code as copied in ZHZisZZ/dllm, transcribed in models/reference/llada2_reference.py; Fast-dLLM v2:
// its modeling.py, transcribed in models/reference/fast_dllm_v2_reference.py):
//
//   x = [prompt | MASK ...] rounded up to whole blocks; blocks count from position 0, so the
//   prompt's last partial block is denoised with the first new tokens
//   for each block b from floor(P / B):
//     LLaDA2.0: for each of `steps` steps, while the block has masks:
//       p, x0 = softmax(f(x)[block]), argmax      (float32 probabilities, as upstream ranks them)
//       commit every masked position with p > threshold, or else the num_transfer[step] most confident
//     LLaDA2.1 (editing): loop until no masks and no edits (and at most max_post_steps passes
//       after the last mask): fill as above with 1 token when none is above the threshold, and
//       replace every committed non-prompt token of the block whose new argmax differs with
//       p > editing_threshold
//     2.0: stop after a block that holds EOS; 2.1: only with eos_early_stop, once nothing is masked
//   Fast-dLLM v2 is LLaDA2.0's rule with one token per step at least (steps = block), run over
//   sub-blocks left to right (subBlock), stopping as soon as the output holds EOS with nothing
//   masked before it (stopWhenSettled). Its logits are shifted (maskflow.json shift_logits): row
//   r - 1 predicts position r (row 0 stays row 0, as upstream), so a block's first position is
//   predicted by the previous block's last row, which only the forward that seals that block (or
//   the prompt's prefill) computes: its argmax is committed there, as upstream does.
//
// The KV cache is exact: a block never attends to later ones, so once a block is final its K/V
// are too. The prompt's whole blocks are prefilled once; each step feeds only the current block
// against the cache; a finished block gets one more forward that writes its final K/V (its last
// step still saw masks). Without the cache every step runs the whole prefix, as upstream does:
// the same tokens, measurably slower.
import { randomUUID } from "node:crypto";
import { cloneCanvas, refreshCanvas, type Canvas, type TraceStep } from "../canvas.js";
import { isFastModel, type FastModel, type LogitsModel } from "../runtime/model.js";
import { abortError, unlessAborted, type GenerateHooks, type StepCandidates } from "./generate.js";
import { maskedSamplingProblem } from "./noise.js";

export interface BlockOptions {
  /** the attention block (LLaDA2: 32); also the decoding block */
  blockSize: number;
  /** LLaDA2.0: denoising steps per block (the commit counts spread the block over them) */
  steps: number;
  /** commit every masked position whose probability exceeds this */
  threshold: number;
  /** LLaDA2.1's loop: also replace committed tokens the model now prefers to change (null: LLaDA2.0's loop) */
  editing?: { threshold: number; maxPostSteps: number } | null;
  /** stop early at EOS as upstream's eos_early_stop (2.1: once the decoded part holds EOS and no mask) */
  eosEarlyStop?: boolean;
  /** the exact block KV cache (default true); false recomputes the prefix at every step */
  cache?: boolean;
  /** upstream's minimal_topk: steps = min(steps, gen_length / minimal_topk) */
  minimalTopk?: number;
  /** Fast-dLLM v2: fill the block in sub-blocks of this size, left to right, the steps spread over them (default: the block) */
  subBlock?: number;
  /** Fast-dLLM v2: stop as soon as the output holds EOS with nothing masked before it */
  stopWhenSettled?: boolean;
  /** position r is predicted by row r - 1 (default: the model's shift_logits) */
  shiftLogits?: boolean;
}

export interface BlockTraceExtras {
  /** the block this step decoded */
  block: number;
  /** LLaDA2.1: positions whose committed token was replaced at this step, and what they held */
  edited?: number[];
  previous?: number[];
}

export type BlockTraceStep = TraceStep & BlockTraceExtras;

/** upstream's _get_num_transfer_tokens: the block spread evenly over the steps, the remainder first */
export function transferCounts(block: number, steps: number): number[] {
  const base = Math.floor(block / steps);
  const rem = block % steps;
  return Array.from({ length: steps }, (_, i) => base + (i < rem ? 1 : 0));
}

export function blockProblem(o: BlockOptions): string | null {
  if (!Number.isInteger(o.blockSize) || o.blockSize < 1) return `block size must be a whole number >= 1, got ${o.blockSize}`;
  if (!Number.isInteger(o.steps) || o.steps < 1) return `steps per block must be a whole number >= 1, got ${o.steps}`;
  if (!(o.threshold >= 0 && o.threshold <= 1)) return `threshold must be in [0, 1], got ${o.threshold}`;
  if (o.editing && !(o.editing.threshold >= 0 && o.editing.threshold <= 1)) return `editing threshold must be in [0, 1], got ${o.editing.threshold}`;
  if (o.editing && !(Number.isInteger(o.editing.maxPostSteps) && o.editing.maxPostSteps >= 0)) return `max_post_steps must be a whole number >= 0, got ${o.editing.maxPostSteps}`;
  if (o.subBlock !== undefined && !(Number.isInteger(o.subBlock) && o.subBlock >= 1 && o.subBlock <= o.blockSize)) return `sub-block must be a whole number from 1 to the block size ${o.blockSize}, got ${o.subBlock}`;
  if (o.editing && o.subBlock !== undefined && o.subBlock < o.blockSize) return "LLaDA2.1's editing loop decodes whole blocks: sub-blocks are for the threshold rule only";
  return null;
}

/** argmax and its float32 probability per row, from the head's top-k log-probabilities */
function argmaxRows(topIds: Int32Array, topLogp: Float32Array, k: number, rows: number): { token: Int32Array; prob: Float32Array } {
  const token = new Int32Array(rows);
  const prob = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    token[r] = topIds[r * k];
    prob[r] = Math.exp(topLogp[r * k]);
  }
  return { token, prob };
}

/** indices of the k largest values (ties: the lower index), as a set */
function topIndices(values: Float32Array, k: number): Set<number> {
  const order = [...values.keys()].filter((i) => values[i] > -Infinity).sort((a, b) => values[b] - values[a] || a - b);
  return new Set(order.slice(0, k));
}

export async function generateBlocks(model: LogitsModel, start: Canvas, o: BlockOptions, hooks: GenerateHooks = {}): Promise<Canvas> {
  const problem = blockProblem(o);
  if (problem) throw new Error(problem);
  if (!isFastModel(model) || !model.features.topK) throw new Error("block-causal decoding needs a graph with the in-graph sampling head (maskflow convert writes one)");
  const fast: FastModel = model;
  const m = model.manifest;
  const noise = maskedSamplingProblem(m, "block decoding");
  if (noise) throw new Error(noise);
  const MASK = m.mask_token_id;
  const EOS = m.eos_token_id;
  if (start.maskId !== MASK) throw new Error(`the canvas uses mask id ${start.maskId} but the model's mask id is ${MASK}`);
  const useCache = o.cache !== false;
  const shift = o.shiftLogits ?? m.shift_logits;
  const sub = o.subBlock ?? o.blockSize;
  if (useCache && !fast.features.kvCache) throw new Error("the block KV cache needs a graph with past_kv/present_kv");
  const { signal, onStep } = hooks;
  const recordK = Math.max(0, Math.floor(hooks.candidates ?? 0));
  let stepCandidates: StepCandidates[] | undefined;
  const c = cloneCanvas(start);
  const P = c.promptIds.length;
  const G = c.tokens.length;
  const B = o.blockSize;
  const nBlocks = Math.ceil((P + G) / B);
  const S = nBlocks * B;
  if (S > m.max_length) throw new Error(`prompt (${P}) + gen_length (${G}), rounded up to whole blocks of ${B}, is ${S} tokens: more than the model's max_length ${m.max_length}`);
  const x = new Int32Array(S).fill(MASK);
  x.set(c.promptIds, 0);
  for (let g = 0; g < G; g++) x[P + g] = c.tokens[g];
  const fixed = (p: number) => p < P || (p - P < G && c.fixed[p - P]);
  const steps = Math.max(1, Math.min(o.steps, Math.floor(G / (o.minimalTopk ?? 1)) || 1));
  const cacheId = useCache ? `blocks-${randomUUID()}` : "";
  const stepOffset = c.trace.length ? c.trace[c.trace.length - 1].step + 1 : 0;
  const firstBlock = Math.floor(P / B);
  const blockRows = [...Array(B).keys()];
  let step = 0;
  let forwards = 0;
  // An upper bound for progress: 2.0 runs at most `steps` per block; 2.1 can run longer.
  const total = (nBlocks - firstBlock) * (o.editing ? B + o.editing.maxPostSteps : steps);

  /** One forward over block [bs, bs + B): argmax and probability of each of its rows. */
  const blockForward = async (bs: number) => {
    const req = useCache
      ? { ids: x.slice(bs, bs + B), batch: 1, seq: B, rows: blockRows, offset: bs, cache: bs > 0 ? { use: cacheId } : undefined }
      : { ids: x.slice(0, bs + B), batch: 1, seq: bs + B, rows: blockRows.map((r) => bs + r), offset: 0 };
    const out = await unlessAborted(fast.run({ ...req, want: "top", blockSize: B, ...(recordK > 0 ? { entropy: true } : {}) }), signal, step, total);
    forwards++;
    if (recordK > 0) {
      // the block's open positions (all its decided ones too under LLaDA2.1's editing loop), each from its row
      const k = out.k!;
      const kc = Math.min(recordK, k);
      stepCandidates = [];
      for (let r = 0; r < B; r++) {
        const pos = bs + r;
        if (pos < P || pos - P >= G || fixed(pos) || (x[pos] !== MASK && !o.editing)) continue;
        const row = shift && r > 0 ? r - 1 : r;
        stepCandidates.push({
          position: pos - P,
          ids: Array.from(out.topIds!.subarray(row * k, row * k + kc)),
          probs: Array.from(out.topLogp!.subarray(row * k, row * k + kc), Math.exp),
          entropy: out.entropy ? out.entropy[row] : null,
        });
      }
    }
    const rows = argmaxRows(out.topIds!, out.topLogp!, out.k!, B);
    if (shift) {
      // position r from row r - 1; row 0 stays (upstream's cat(logits[:, :1], logits[:, :-1]))
      rows.token.copyWithin(1, 0, B - 1);
      rows.prob.copyWithin(1, 0, B - 1);
    }
    return rows;
  };
  /** With shifted logits, the row at `end - 1` predicts position `end`: commit its argmax there (a block's first token). */
  const commitNext = (end: number, out: { topIds?: Int32Array; topLogp?: Float32Array; k?: number }, row: number) => {
    if (!shift || end >= S || x[end] !== MASK || fixed(end)) return;
    const { token, prob } = argmaxRows(out.topIds!.subarray(row * out.k!), out.topLogp!.subarray(row * out.k!), out.k!, 1);
    record(Math.floor(end / B), end, [0], token, prob, [], []);
  };
  /**
   * Writes the prefix [0, end) into the cache (the prompt's whole blocks, or a finished block after
   * the cached ones); with shifted logits also the next block's first token. Without the cache only
   * that token needs a forward, over the whole prefix.
   */
  const seal = async (from: number, end: number) => {
    const wantsNext = shift && end < S && x[end] === MASK && !fixed(end);
    if (!useCache && !wantsNext) return;
    const out = useCache
      ? await unlessAborted(
          fast.run({ ids: x.slice(from, end), batch: 1, seq: end - from, rows: [end - from - 1], want: "top", offset: from, blockSize: B, cache: { ...(from > 0 ? { use: cacheId } : {}), store: { id: cacheId, keep: [[0, end - from]], append: from > 0 } } }),
          signal,
          step,
          total,
        )
      : await unlessAborted(fast.run({ ids: x.slice(0, end), batch: 1, seq: end, rows: [end - 1], want: "top", offset: 0, blockSize: B }), signal, step, total);
    forwards++;
    commitNext(end, out, 0);
  };
  /** Fast-dLLM v2's stop: the output up to `end` holds EOS with nothing masked before it. */
  const settled = (end: number) => {
    const at = x.subarray(P, end).indexOf(EOS);
    return at >= 0 && !x.subarray(P, P + at).includes(MASK);
  };

  const record = (bIndex: number, bs: number, chosen: number[], token: Int32Array, prob: Float32Array, edited: number[], previous: number[]) => {
    const t: BlockTraceStep = { step: stepOffset + step, positions: [], tokens: [], confidence: [], block: bIndex };
    for (const r of chosen) {
      const pos = bs + r;
      x[pos] = token[r];
      const g = pos - P;
      if (g >= G) continue; // beyond gen_length in the last block: decoded (it shapes the others), not shown
      c.tokens[g] = token[r];
      c.confidence[g] = prob[r];
      c.committedAt[g] = stepOffset + step;
      t.positions.push(g);
      t.tokens.push(token[r]);
      t.confidence.push(prob[r]);
    }
    const shownEdits = edited.map((r, i) => [bs + r - P, previous[i]] as const).filter(([g]) => g < G);
    if (shownEdits.length) {
      t.edited = shownEdits.map(([g]) => g);
      t.previous = shownEdits.map(([, p]) => p);
    }
    c.trace.push(t);
    c.finished = !c.tokens.includes(MASK);
    step++;
    onStep?.({ step, total: Math.max(total, step), canvas: c, changed: t.positions, ...(stepCandidates ? { candidates: stepCandidates } : {}) });
    stepCandidates = undefined;
  };

  try {
    // the prompt's whole blocks, once
    if (firstBlock > 0) await seal(0, firstBlock * B);
    blocks: for (let b = firstBlock; b < nBlocks; b++) {
      const bs = b * B;
      const masked = (r: number) => x[bs + r] === MASK && !fixed(bs + r);
      if (!o.editing) {
        // the steps spread over the sub-blocks (one sub-block: LLaDA2.0's schedule over the block)
        for (let lo = 0; lo < B; lo += sub) {
          const hi = Math.min(B, lo + sub);
          const subSteps = hi - lo === B ? steps : Math.max(1, Math.round((steps * (hi - lo)) / B));
          const counts = transferCounts(hi - lo, subSteps);
          for (let i = 0; i < subSteps; i++) {
            if (signal?.aborted) throw abortError(step, total);
            const active = blockRows.filter((r) => r >= lo && r < hi && masked(r));
            if (active.length === 0) break;
            const { token, prob } = await blockForward(bs);
            const conf = new Float32Array(B).fill(-Infinity);
            for (const r of active) conf[r] = prob[r];
            const high = active.filter((r) => conf[r] > o.threshold);
            const chosen = high.length >= counts[i] ? high : [...topIndices(conf, Math.min(counts[i], active.length))].sort((a, b) => a - b);
            record(b, bs, chosen, token, prob, [], []);
            // upstream's eos_early_stop: stop once an EOS is committed and nothing before it is masked
            if (o.eosEarlyStop && chosen.some((r) => token[r] === EOS) && settled(bs + B)) break blocks;
            if (o.stopWhenSettled && settled(bs + B)) break blocks;
          }
        }
      } else {
        let post = 0;
        for (;;) {
          if (signal?.aborted) throw abortError(step, total);
          const active = blockRows.filter(masked);
          if (active.length === 0) post++;
          if (post > o.editing.maxPostSteps) break;
          const { token, prob } = await blockForward(bs);
          let fill: number[] = [];
          if (active.length) {
            const conf = new Float32Array(B).fill(-Infinity);
            for (const r of active) conf[r] = prob[r];
            const high = active.filter((r) => conf[r] > o.threshold);
            fill = high.length >= 1 ? high : [...topIndices(conf, 1)];
          }
          const editable = blockRows.filter((r) => x[bs + r] !== MASK && !fixed(bs + r));
          const edits = editable.filter((r) => prob[r] > o.editing!.threshold && token[r] !== x[bs + r]);
          const previous = edits.map((r) => x[bs + r]);
          record(b, bs, [...fill, ...edits].sort((a, c2) => a - c2), token, prob, edits, previous);
          if (active.length === 0 && edits.length === 0) break;
        }
      }
      // the last block's K/V (and the token after it) serve nothing
      if (b + 1 < nBlocks) await seal(useCache ? bs : 0, bs + B);
      const decoded = x.subarray(P, Math.min(S, bs + B + (shift ? 1 : 0)));
      if (!o.editing && decoded.includes(EOS)) break;
      if (o.editing && o.eosEarlyStop && !decoded.includes(MASK) && decoded.includes(EOS)) break;
    }
  } finally {
    if (cacheId) await fast.dropCache(cacheId).catch(() => undefined);
  }
  if (hooks.decoder) refreshCanvas(c, hooks.decoder, EOS);
  else c.finished = !c.tokens.includes(MASK);
  (c as Canvas & { forwards?: number }).forwards = forwards;
  return c;
}
