// The sampler core with the editing extensions: ReMDM remasking during sampling (./remdm.ts) and
// stopping once every remaining mask is decided to be EOS. Without them it hands over to
// generate() (./generate.ts); with them it runs the same loop, step for step, plus:
//
//   for each block, for each step i of n:
//     remask = decoded tokens of this block committed by this run with u < sigma_i   (ReMDM)
//     k = target_i - (decoded - |remask|)          (target_i: the schedule's decoded count after step i)
//     logits = f(x); decide the block's masked positions; commit the top k         (as generate)
//     eos_stop: if every masked position of the canvas decides EOS, commit them all and stop
//     x[remask] = MASK
//
// With sigma = 0 the step is generate's (k = the schedule's count): ReMDM with eta = 0 gives
// plain sampling token for token, which test/edit/remdm.test.ts checks. Decisions come from the
// same place as generate's: the graph's sampling head when it suffices (headSuffices), else full
// logits rows. The block KV cache is not used here (ReMDM changes tokens behind the block), and
// with a dynamic schedule (threshold / factor) only the EOS stop is available.
import { cloneCanvas, commitStep, refreshCanvas, type Canvas } from "../canvas.js";
import { CounterRng, Stream, gumbel } from "../rng.js";
import { isFastModel, type LogitsModel } from "../runtime/model.js";
import { dynamicCommitCount, isDynamic, planBlocks, unmaskCounts } from "../schedules.js";
import { guidedRow, unconditional } from "./cfg.js";
import { decide, Scratch, type Decision } from "./decide.js";
import { abortError, decideFromTop, generate, headSuffices, unlessAborted, type GenerateHooks } from "./generate.js";
import { validateOptions, type SamplerOptions } from "./options.js";
import { rankKey, topK } from "./rank.js";
import { decodeTargets, remdmSigmas, validateRemdm, type RemdmOptions } from "./remdm.js";
import { EditStream } from "./streams.js";

export interface ExtendedOptions {
  /** Remask already decoded tokens while sampling (ReMDM); null/absent = off. */
  remdm?: RemdmOptions | null;
  /** Stop as soon as every remaining masked position is decided to be EOS (they all become EOS). */
  eosStop?: boolean;
}

export const EOS_STOP_NOTE = "eos_stop: every remaining mask was decided to be EOS";


/** generate() with ReMDM and/or EOS stopping. Without either it is generate(). */
export async function generateExtended(
  model: LogitsModel,
  start: Canvas,
  opts: SamplerOptions,
  ext: ExtendedOptions,
  hooks: GenerateHooks = {},
): Promise<Canvas> {
  if (!ext.remdm && !ext.eosStop) return generate(model, start, opts, hooks);
  const problem = validateOptions(opts) ?? (ext.remdm ? validateRemdm(ext.remdm) : null);
  if (problem) throw new Error(problem);
  if (opts.cache && opts.cache !== "none") throw new Error(`the KV cache ("${opts.cache}") is not available with ReMDM or the EOS stop: set cache to none`);
  const dynamic = isDynamic(opts.schedule);
  if (dynamic && ext.remdm) throw new Error(`ReMDM needs a schedule with step counts (linear, cosine, loglinear, list), not "${opts.schedule.kind}"`);
  const m = model.manifest;
  const MASK = m.mask_token_id;
  const EOS = m.eos_token_id;
  if (start.maskId !== MASK) throw new Error(`the canvas uses mask id ${start.maskId} but the model's mask id is ${MASK}`);
  const { signal, onStep } = hooks;
  const remdm = ext.remdm ?? null;
  const c = cloneCanvas(start);
  const P = c.promptIds.length;
  const G = c.tokens.length;
  const S = P + G;
  const V = m.vocab_size;
  const shift = opts.shiftLogits ?? m.shift_logits;
  const cfg = opts.cfgScale;
  const eotIds = [m.eos_token_id, ...(m.eot_token_id !== undefined ? [m.eot_token_id] : [])];

  const x = Int32Array.from([...c.promptIds, ...c.tokens]);
  const promptIndex = Uint8Array.from(x, (t) => (t !== MASK ? 1 : 0));
  const fixed = c.fixed;
  // Positions this run decodes: the only ones ReMDM may remask (given and fixed tokens are kept).
  const owned = c.tokens.map((t, g) => t === MASK && !fixed[g]);

  const blocks = planBlocks(opts.schedule, G);
  const total = blocks.reduce((a, b) => a + b.steps, 0);
  const rng = new CounterRng(opts.seed);
  const scratch = new Scratch(V);
  const settings = { remasking: opts.remasking, temperature: opts.temperature, topP: opts.topP ?? null, topK: opts.topK ?? null, rng };
  const algTemp = opts.algTemp ?? 0;
  const stepOffset = c.trace.length;
  const row = new Float32Array(V);

  const fast = isFastModel(model) ? model : null;
  const useHead = opts.head !== false && fast !== null && headSuffices(opts, fast.features);

  /** The decision at each absolute position of `at` for this step (as generate decides it). */
  async function decideAt(at: number[], step: number): Promise<Decision[]> {
    const rows = at.map((p) => (shift ? Math.max(p - 1, 0) : p));
    const R = rows.length;
    const batch = cfg > 0 ? 2 : 1;
    const ids = new Int32Array(batch * S);
    ids.set(x, 0);
    if (cfg > 0) unconditional(x, promptIndex, MASK, ids.subarray(S)); // un_x[prompt_index] = MASK
    if (useHead && fast) {
      const out = await unlessAborted(fast.run({ ids, batch, seq: S, rows, want: "top", cfgScale: cfg > 0 ? cfg : undefined }), signal, step, total);
      return at.map((pos, r) => decideFromTop(out.topIds!, out.topLogp!, r * out.k!, step, pos, settings));
    }
    const logits = await unlessAborted(model.forward(ids, batch, S, rows), signal, step, total);
    const out: Decision[] = [];
    for (let r = 0; r < R; r++) {
      guidedRow(row, logits.subarray(r * V, (r + 1) * V), cfg > 0 ? logits.subarray((R + r) * V, (R + r + 1) * V) : null, cfg);
      if (opts.logitsEosInf) row[EOS] = -Infinity;
      out.push(decide(row, step, at[r], settings, scratch));
    }
    return out;
  }

  let step = 0;
  let stopped = false;
  for (const block of blocks) {
    if (stopped) break;
    const ownedInBlock: number[] = [];
    for (let g = block.start; g < block.end; g++) if (owned[g]) ownedInBlock.push(g);
    const blockMasks = ownedInBlock.filter((g) => x[P + g] === MASK).length;
    const targets = dynamic ? null : decodeTargets(remdm, unmaskCounts(opts.schedule, blockMasks, block.steps), blockMasks);
    for (let i = 0; i < block.steps; i++, step++) {
      if (signal?.aborted) throw abortError(step, total);
      // ReMDM: which decoded tokens go back to masks at the end of this step (decided on x_t).
      const decoded = ownedInBlock.filter((g) => x[P + g] !== MASK);
      const remask: number[] = [];
      if (remdm) {
        const sigma = remdmSigmas(remdm, i, block.steps, decoded.map((g) => c.confidence[g]));
        decoded.forEach((g, j) => {
          if (sigma[j] > 0 && rng.uniform(EditStream.REMDM, step, P + g, 0) < sigma[j]) remask.push(g);
        });
      }
      const candidates: number[] = [];
      for (let p = P + block.start; p < P + block.end; p++) if (x[p] === MASK && !fixed[p - P]) candidates.push(p);
      if (dynamic && candidates.length === 0) break; // a dynamic block ends when it is decoded
      const k = targets ? Math.max(0, Math.min(candidates.length, targets[i] - (decoded.length - remask.length))) : candidates.length;
      let chosen: { pos: number; d: Decision }[] = [];
      let stopNow = false;

      if (k > 0 && candidates.length > 0) {
        const decisions = (await decideAt(candidates, step)).map((d, r) => {
          const pos = candidates[r];
          if (opts.confidenceEosEotInf && eotIds.includes(d.token)) d.score = -Infinity;
          const rank = algTemp > 0 ? d.score / algTemp + gumbel(rng.uniform(Stream.POSITION_SAMPLE, step, pos, 0)) : d.score;
          return { pos, d, key: rankKey(rank) };
        });
        if (ext.eosStop && decisions.every(({ d }) => d.token === EOS)) {
          // The block says EOS everywhere; the masks after it (later blocks) must agree too.
          const later: number[] = [];
          for (let p = P + block.end; p < S; p++) if (x[p] === MASK && !fixed[p - P]) later.push(p);
          const rest: { pos: number; d: Decision }[] = [];
          if (later.length > 0) (await decideAt(later, step)).forEach((d, r) => rest.push({ pos: later[r], d }));
          if (rest.every(({ d }) => d.token === EOS)) {
            stopNow = true;
            chosen = [...decisions.map(({ pos, d }) => ({ pos, d })), ...rest].sort((a, b) => a.pos - b.pos);
          }
        }
        if (!stopNow) {
          const ranked = topK(decisions, k);
          chosen = (dynamic ? ranked.slice(0, dynamicCommitCount(opts.schedule, ranked.map((r) => r.d.prob))) : ranked).map(({ pos, d }) => ({ pos, d }));
        }
      }

      const trace = commitStep(c, x, stepOffset + step, chosen.map(({ pos, d }) => ({ pos, token: d.token, prob: d.prob })));
      if (stopNow) {
        trace.note = EOS_STOP_NOTE;
        stopped = true;
      } else if (remask.length > 0) {
        for (const g of remask) {
          x[P + g] = MASK;
          c.tokens[g] = MASK;
          c.confidence[g] = 0;
          c.committedAt[g] = -1;
        }
        trace.remasked = remask;
      }
      c.trace.push(trace);
      c.finished = !c.tokens.includes(MASK);
      onStep?.({ step: step + 1, total, canvas: c, changed: trace.positions });
      if (stopped) break;
    }
  }
  if (hooks.decoder) refreshCanvas(c, hooks.decoder, EOS);
  else c.finished = !c.tokens.includes(MASK);
  return c;
}
