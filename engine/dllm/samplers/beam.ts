// Beam search over denoising trajectories (reference/dllm-algorithms.md section 6: a beam over
// token arrays, children one step apart, scored by the log-probabilities of committed tokens,
// states deduplicated).
//
//   beams = [start]; every step commits the schedule's k tokens in each beam, as greedy decoding:
//     logits = f(all beams as one batch of B = beams)
//     per beam: each masked position of the block gets its argmax token, probability and
//               alternatives (next most likely tokens); greedy child = LLaDA's low_confidence
//               choice (top k positions by confidence, argmax tokens; ./rank.ts order)
//     children: the greedy child; the greedy child with one chosen position taking its 2nd..width-th
//               token; the greedy child with its last chosen position swapped for the next
//               width-1 positions by confidence
//     child score = parent score + sum of log p of the tokens it commits
//     keep the `width` best children over all beams (equal token arrays merged, keeping the best
//     score), one slot always going to the greedy trajectory (the greedy child of the greedy beam)
//
// Consequences: width 1 is greedy low_confidence decoding exactly (same tokens, same trace), and
// since the greedy trajectory is never pruned, a wider beam's best score is never below width 1's.
// Decisions and alternatives come from where generate() takes them: the graph's sampling head
// (top-k ids and log-probabilities) when the model has one with at least `width` candidates,
// else full logits rows. With cfg_scale > 0 every forward is one batch of 2 x beams (conditional,
// then each beam with the prompt masked) combined as generate() does: l = u + (cfg + 1) (c - u).
import { cloneCanvas, commitStep, refreshCanvas, type Canvas, type CanvasDecoder } from "../canvas.js";
import { CounterRng } from "../rng.js";
import { isFastModel, type LogitsModel } from "../runtime/model.js";
import { isDynamic, planBlocks, unmaskCounts, validateSchedule, type Schedule } from "../schedules.js";
import { guidedRow, unconditional } from "./cfg.js";
import { decide, Scratch, type DecideSettings, type Decision } from "./decide.js";
import { abortError, decideFromTop, headSuffices, rowCandidates, unlessAborted, type StepCandidates } from "./generate.js";
import { rankKey, topK } from "./rank.js";

export interface BeamOptions {
  schedule: Schedule;
  /** Beams kept per step (1 = greedy). */
  width: number;
  logitsEosInf?: boolean;
  shiftLogits?: boolean;
  /** Classifier-free guidance weight (LLaDA's); 0 = off. */
  cfgScale?: number;
  /** Use the graph's sampling head when it can serve the step (as SamplerOptions.head); default true. */
  head?: boolean;
}

/** A canvas with the beam's score: the sum of log p of the tokens the beam committed. */
export type ScoredCanvas = Canvas & { score: number; scoreKind: "path_logprob" | "elbo"; pathScore: number; greedy: boolean };

export interface BeamHooks {
  signal?: AbortSignal;
  /** After every step, the beams in rank order (live objects: copy to keep). */
  onStep?(info: { step: number; total: number; beams: ScoredCanvas[]; changed: number[][]; candidates?: StepCandidates[][] }): void;
  decoder?: CanvasDecoder;
  /** Per step and beam, the top `candidates` at every position the beam's parent offered (as GenerateHooks.candidates). */
  candidates?: number;
}

interface Commit {
  pos: number; // absolute
  token: number;
  lp: number;
  prob: number;
}

interface Beam {
  canvas: Canvas;
  x: Int32Array;
  score: number;
  greedy: boolean;
}

interface Child {
  parent: number;
  commits: Commit[];
  score: number;
  greedy: boolean;
  /** Generation order, for deterministic ties. */
  order: number;
}

interface Option {
  pos: number;
  key: number;
  /** Most likely tokens first (alts[0] = the greedy token). */
  alts: { token: number; lp: number; prob: number }[];
}

/** The `n` largest entries of row (value desc, id asc), with their log-softmax values. */
function topTokens(row: Float32Array, n: number): { token: number; lp: number; prob: number }[] {
  const V = row.length;
  let max = -Infinity;
  for (let v = 0; v < V; v++) if (row[v] > max) max = row[v];
  let sum = 0;
  for (let v = 0; v < V; v++) sum += Math.exp(row[v] - max);
  const lse = max + Math.log(sum);
  const best: number[] = [];
  for (let v = 0; v < V; v++) {
    if (row[v] === -Infinity) continue;
    if (best.length === n && row[v] <= row[best[n - 1]]) continue;
    let at = best.length;
    while (at > 0 && row[best[at - 1]] < row[v]) at--;
    best.splice(at, 0, v);
    if (best.length > n) best.pop();
  }
  return best.map((token) => ({ token, lp: row[token] - lse, prob: Math.exp(row[token] - max) / sum }));
}

/** The alternatives, checked to start with the greedy decision's token. */
function checked(d: Decision, alts: Option["alts"]): Option["alts"] {
  if (alts[0].token !== d.token) throw new Error(`beam: greedy token ${d.token} is not the most likely (${alts[0].token})`);
  return alts;
}

function stateKey(x: Int32Array, commits: Commit[], P: number): string {
  const y = x.slice(P);
  for (const c of commits) y[c.pos - P] = c.token;
  return y.join(",");
}

export async function beamSearch(model: LogitsModel, start: Canvas, opts: BeamOptions, hooks: BeamHooks = {}): Promise<ScoredCanvas[]> {
  const bad = validateSchedule(opts.schedule);
  if (bad) throw new Error(bad);
  if (!(Number.isInteger(opts.width) && opts.width >= 1)) throw new Error(`width must be an integer >= 1, got ${opts.width}`);
  const cfg = opts.cfgScale ?? 0;
  if (!(Number.isFinite(cfg) && cfg >= 0)) throw new Error(`cfg_scale must be a number >= 0, got ${opts.cfgScale}`);
  if (isDynamic(opts.schedule)) throw new Error(`beam search needs a schedule with step counts (linear, cosine, loglinear, list), not "${opts.schedule.kind}"`);
  const recordK = Math.max(0, Math.floor(hooks.candidates ?? 0));
  const m = model.manifest;
  const MASK = m.mask_token_id;
  if (start.maskId !== MASK) throw new Error(`the canvas uses mask id ${start.maskId} but the model's mask id is ${MASK}`);
  const W = opts.width;
  const V = m.vocab_size;
  const shift = opts.shiftLogits ?? m.shift_logits;
  const P = start.promptIds.length;
  const G = start.tokens.length;
  const S = P + G;
  const fixed = start.fixed;
  const stepOffset = start.trace.length;
  const blocks = planBlocks(opts.schedule, G);
  const total = blocks.reduce((a, b) => a + b.steps, 0);
  const scratch = new Scratch(V);
  // Greedy decisions exactly as generate() makes them (temperature 0, low_confidence).
  const greedy: DecideSettings = { remasking: "low_confidence", temperature: 0, topP: null, topK: null, rng: new CounterRng(0) };
  const row = new Float32Array(V);

  const fast = isFastModel(model) ? model : null;
  const headOk = (f: NonNullable<typeof fast>) =>
    f.features.topK >= W &&
    headSuffices({ schedule: opts.schedule, temperature: 0, remasking: "low_confidence", cfgScale: cfg, seed: 0, logitsEosInf: opts.logitsEosInf }, f.features);
  const head = opts.head !== false && fast && headOk(fast) ? fast : null;

  let beams: Beam[] = [{ canvas: cloneCanvas(start), x: Int32Array.from([...start.promptIds, ...start.tokens]), score: 0, greedy: true }];
  // CFG's unconditional pass masks the prompt: what was not a mask at the start (as generate()).
  const promptIndex = Uint8Array.from(beams[0].x, (t) => (t !== MASK ? 1 : 0));
  const scored = (b: Beam): ScoredCanvas => Object.assign(b.canvas, { score: b.score, pathScore: b.score, scoreKind: "path_logprob" as const, greedy: b.greedy });

  let step = 0;
  for (const block of blocks) {
    let blockMasks = 0;
    for (let g = block.start; g < block.end; g++) if (beams[0].x[P + g] === MASK && !fixed[g]) blockMasks++;
    const counts = unmaskCounts(opts.schedule, blockMasks, block.steps);
    for (let i = 0; i < block.steps; i++, step++) {
      if (hooks.signal?.aborted) throw abortError(step, total);
      const k = counts[i];
      const masked = (b: Beam) => {
        const out: number[] = [];
        for (let p = P + block.start; p < P + block.end; p++) if (b.x[p] === MASK && !fixed[p - P]) out.push(p);
        return out;
      };
      let children: Child[] = [];
      // what each current beam was offered this step (the inspector's), by beam
      const offered: StepCandidates[][] = beams.map(() => []);
      let candidatesAt: ((j: number, pos: number) => StepCandidates) | null = null;
      let lastRow: StepCandidates | null = null;
      if (k > 0 && masked(beams[0]).length > 0) {
        const union = [...new Set(beams.flatMap(masked))].sort((a, b) => a - b);
        const rowOf = new Map(union.map((p, r) => [p, r]));
        const R = union.length;
        const B = beams.length;
        const ids = new Int32Array((cfg > 0 ? 2 : 1) * B * S);
        beams.forEach((b, j) => ids.set(b.x, j * S));
        if (cfg > 0) beams.forEach((b, j) => unconditional(b.x, promptIndex, MASK, ids.subarray((B + j) * S, (B + j + 1) * S)));
        const batch = ids.length / S;
        const rows = union.map((p) => (shift ? Math.max(p - 1, 0) : p));
        // options(j, pos): the greedy decision at pos in beam j and the W most likely tokens there.
        let optionAt: (j: number, pos: number) => Option;
        if (head) {
          const out = await unlessAborted(
            head.run({ ids, batch, seq: S, rows, want: "top", cfgScale: cfg > 0 ? cfg : undefined, ...(recordK > 0 ? { entropy: true } : {}) }),
            hooks.signal,
            step,
            total,
          );
          const K = out.k!;
          candidatesAt = (j, pos) => {
            const r = j * R + rowOf.get(pos)!;
            const kc = Math.min(recordK, K);
            return { position: pos - P, ids: Array.from(out.topIds!.subarray(r * K, r * K + kc)), probs: Array.from(out.topLogp!.subarray(r * K, r * K + kc), Math.exp), entropy: out.entropy ? out.entropy[r] : null };
          };
          optionAt = (j, pos) => {
            const at = (j * R + rowOf.get(pos)!) * K;
            const d = decideFromTop(out.topIds!, out.topLogp!, at, step, pos, greedy);
            const alts = Array.from({ length: W }, (_, a) => ({ token: out.topIds![at + a], lp: out.topLogp![at + a], prob: Math.exp(out.topLogp![at + a]) }));
            return { pos, key: rankKey(d.score), alts: checked(d, alts) };
          };
        } else {
          const logits = await unlessAborted(model.forward(ids, batch, S, rows), hooks.signal, step, total);
          optionAt = (j, pos) => {
            const at = (j * R + rowOf.get(pos)!) * V;
            const un = cfg > 0 ? logits.subarray(at + B * R * V, at + B * R * V + V) : null;
            guidedRow(row, logits.subarray(at, at + V), un, cfg);
            if (opts.logitsEosInf) row[m.eos_token_id] = -Infinity;
            if (recordK > 0) lastRow = { position: pos - P, ...rowCandidates(row, recordK) };
            const d = decide(row, step, pos, greedy, scratch);
            return { pos, key: rankKey(d.score), alts: checked(d, topTokens(row, W)) };
          };
        }
        let order = 0;
        beams.forEach((beam, j) => {
          const options: Option[] = masked(beam).map((pos) => {
            const o = optionAt(j, pos);
            if (recordK > 0) offered[j].push(candidatesAt ? candidatesAt(j, pos) : lastRow!);
            return o;
          });
          const ranked = topK(options, options.length);
          const chosen = ranked.slice(0, k);
          const base = chosen.map((o) => ({ pos: o.pos, ...o.alts[0] }));
          const mine: Child[] = [];
          const add = (commits: Commit[], isGreedy: boolean) =>
            mine.push({ parent: j, commits, score: beam.score + commits.reduce((a, c) => a + c.lp, 0), greedy: isGreedy && beam.greedy, order: order++ });
          add(base, true);
          if (W > 1) {
            chosen.forEach((o, c) => {
              for (const alt of o.alts.slice(1)) add(base.map((b, cc) => (cc === c ? { pos: o.pos, ...alt } : b)), false);
            });
            for (const o of ranked.slice(k, k + W - 1)) add([...base.slice(0, k - 1), { pos: o.pos, ...o.alts[0] }], false);
          }
          // Per beam, no more than W children can survive anyway (the greedy one always stays).
          const sorted = mine.slice(1).sort((a, b) => b.score - a.score || a.order - b.order);
          children.push(mine[0], ...sorted.slice(0, W - 1));
        });
      } else {
        children = beams.map((b, j) => ({ parent: j, commits: [], score: b.score, greedy: b.greedy, order: j }));
      }

      // Merge equal states (keep the best score; the greedy mark survives the merge).
      const byState = new Map<string, Child>();
      for (const ch of children) {
        const key = stateKey(beams[ch.parent].x, ch.commits, P);
        const seen = byState.get(key);
        if (!seen) byState.set(key, ch);
        else {
          const keep = ch.score > seen.score ? ch : seen;
          byState.set(key, { ...keep, greedy: seen.greedy || ch.greedy });
        }
      }
      const pool = [...byState.values()].sort((a, b) => b.score - a.score || a.order - b.order);
      const protectedChild = pool.find((ch) => ch.greedy)!;
      const kept = [protectedChild, ...pool.filter((ch) => ch !== protectedChild).slice(0, W - 1)].sort(
        (a, b) => b.score - a.score || a.order - b.order,
      );

      const changed: number[][] = [];
      const candidates = kept.map((ch) => offered[ch.parent]);
      beams = kept.map((ch) => {
        const parent = beams[ch.parent];
        const canvas = cloneCanvas(parent.canvas);
        const x = parent.x.slice();
        const trace = commitStep(canvas, x, stepOffset + step, ch.commits);
        canvas.trace.push(trace);
        canvas.finished = !canvas.tokens.includes(MASK);
        changed.push(trace.positions);
        return { canvas, x, score: ch.score, greedy: ch.greedy };
      });
      hooks.onStep?.({ step: step + 1, total, beams: beams.map(scored), changed, ...(recordK > 0 ? { candidates } : {}) });
    }
  }
  return beams.map((b) => {
    const c = scored(b);
    if (hooks.decoder) refreshCanvas(c, hooks.decoder, m.eos_token_id);
    return c;
  });
}

