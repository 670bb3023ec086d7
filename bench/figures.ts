// The figures reported for one side (Maskflow or the reference) of one workload, from its timed repeats.

export interface Repeat {
  /** Wall time of the whole generation (all rows), ms. */
  wallMs: number;
  /** Time inside the model's forward (session.run / torch forward), ms. */
  modelMs: number;
  forwards: number;
  /** Generated ids, one list per batch row. */
  tokens: number[][];
}

export interface SideFigures {
  wall_ms: number[];
  model_ms: number[];
  /** Forward passes per repeat (network calls; a CFG pass of batch 2 counts once). */
  forwards: number;
  median_wall_ms: number;
  /** Generated tokens (gen_length x rows) per second of median wall time. */
  tokens_per_s: number;
  /** Wall time per forward pass ("per step"; steps that commit nothing skip the forward on both sides). */
  ms_per_forward: number;
  model_ms_per_forward: number;
  /** Everything outside the model's forward: sampling, transfers, bookkeeping. */
  other_ms_per_forward: number;
  /** other / wall. */
  other_share: number;
  /** Process-wide peak resident set size so far (MiB). */
  peak_rss_mb: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export function figures(repeats: readonly Repeat[], generatedTokens: number, peakRssMb: number): SideFigures {
  const wall = repeats.map((r) => r.wallMs);
  const model = repeats.map((r) => r.modelMs);
  const forwards = repeats[repeats.length - 1]?.forwards ?? 0;
  const medWall = median(wall);
  const medModel = median(model);
  const medOther = median(repeats.map((r) => r.wallMs - r.modelMs));
  const perFwd = (ms: number) => (forwards > 0 ? ms / forwards : NaN);
  return {
    wall_ms: wall.map(round2),
    model_ms: model.map(round2),
    forwards,
    median_wall_ms: round2(medWall),
    tokens_per_s: round2((generatedTokens / medWall) * 1000),
    ms_per_forward: round3(perFwd(medWall)),
    model_ms_per_forward: round3(perFwd(medModel)),
    other_ms_per_forward: round3(perFwd(medOther)),
    other_share: round3(medOther / medWall),
    peak_rss_mb: Math.round(peakRssMb),
  };
}

/** Positions (summed over rows) where two outputs differ; rows of different length count their extra tokens. */
export function countDiffering(a: readonly number[][], b: readonly number[][]): { tokens: number; rows: number } {
  let tokens = 0;
  let rows = 0;
  for (let r = 0; r < Math.max(a.length, b.length); r++) {
    const x = a[r] ?? [];
    const y = b[r] ?? [];
    let d = Math.abs(x.length - y.length);
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) d++;
    tokens += d;
    if (d > 0) rows++;
  }
  return { tokens, rows };
}

export function firstDifference(a: readonly number[][], b: readonly number[][]): { row: number; position: number; maskflow: number | null; reference: number | null } | null {
  for (let r = 0; r < Math.max(a.length, b.length); r++) {
    const x = a[r] ?? [];
    const y = b[r] ?? [];
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
      if (x[i] !== y[i]) return { row: r, position: i, maskflow: x[i] ?? null, reference: y[i] ?? null };
    }
  }
  return null;
}

export const round2 = (x: number) => Math.round(x * 100) / 100;
export const round3 = (x: number) => Math.round(x * 1000) / 1000;

export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "?";
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`;
}

/**
 * Runs `fn` once to warm up, then `repeats` times, and returns the mean wall time of the timed runs
 * with the mean growth of `counters` (the model's forwards and time in forwards) over the same runs:
 * counting the warm-up in one and not the other made "other" time per step negative.
 */
export async function timedRuns<T>(repeats: number, fn: () => Promise<T>, counters: () => { forwards: number; ms: number }): Promise<{ ms: number; forwards: number; modelMs: number; last: T }> {
  let last = await fn(); // warm-up
  const before = { ...counters() };
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) last = await fn();
  const ms = (performance.now() - t0) / repeats;
  const after = counters();
  return { ms, forwards: (after.forwards - before.forwards) / repeats, modelMs: (after.ms - before.ms) / repeats, last };
}
