// Mask schedules as data: how many masked tokens each denoising step commits.
// Mirrored by models/reference/schedules.py; the test vectors come from
// reference/dllm-algorithms.md (LLaDA's get_num_transfer_tokens, Dream's float32 eps schedule).

export const SCHEDULE_KINDS = ["linear", "cosine", "loglinear", "list", "threshold", "factor"] as const;
export type ScheduleKind = (typeof SCHEDULE_KINDS)[number];

/** A SCHEDULE socket value. Plain JSON. */
export interface Schedule {
  kind: ScheduleKind;
  /** Total denoising steps over the whole generated region (split across blocks). Ignored for `list`. */
  steps: number;
  /** Semi-autoregressive block length; 0 means one block spanning the whole generated region. */
  blockLength: number;
  /** kind = list: tokens to commit at each step of every block (its length is the steps per block). */
  counts?: number[];
  /** cosine / loglinear: the time grid runs from 1 down to eps (Dream and MDLM use 1e-3). */
  eps?: number;
  /** kind = threshold (Fast-dLLM): commit the best position and every other one with confidence >= this. */
  threshold?: number;
  /** kind = factor (Fast-dLLM): commit the longest prefix of positions by confidence with c_n >= 1 - factor/(n+1). */
  factor?: number;
}

export const DEFAULT_THRESHOLD = 0.9;
export const DEFAULT_FACTOR = 1;

/**
 * Threshold and factor schedules (Fast-dLLM's parallel decoding) decide how many positions to
 * commit from the confidences at each step, so a block takes as many steps as it needs (at most
 * one per token) and `steps` is ignored.
 */
export function isDynamic(s: Schedule): boolean {
  return s.kind === "threshold" || s.kind === "factor";
}

/**
 * How many of a step's candidates a dynamic schedule commits, given their confidences sorted
 * best first (at least one). Mirrors Fast-dLLM's get_transfer_index: threshold commits the top
 * one and every other with confidence >= threshold; factor scans n = 1, 2, ... and stops before
 * the first n whose confidence is below 1 - factor/(n+1) (the first always commits; as in the
 * reference, reaching the last candidate commits all).
 */
export function dynamicCommitCount(s: Schedule, sortedConfidence: readonly number[]): number {
  const N = sortedConfidence.length;
  if (N === 0) return 0;
  if (s.kind === "threshold") {
    const tau = s.threshold ?? DEFAULT_THRESHOLD;
    let n = 1;
    while (n < N && sortedConfidence[n] >= tau) n++;
    return n;
  }
  const f = s.factor ?? DEFAULT_FACTOR;
  let i = 0;
  for (; i < N; i++) {
    const bound = i === 0 ? -1 : 1 - f / (i + 2); // n = i + 1
    if (sortedConfidence[i] < bound) break;
  }
  if (i === 0 || i >= N - 1) i++;
  return Math.min(i, N);
}

export const DEFAULT_EPS = 1e-3;

export function validateSchedule(s: Schedule): string | null {
  if (!SCHEDULE_KINDS.includes(s.kind)) return `unknown schedule kind "${s.kind}" (expected ${SCHEDULE_KINDS.join(", ")})`;
  if (!Number.isInteger(s.blockLength) || s.blockLength < 0) return `block_length must be an integer >= 0, got ${s.blockLength}`;
  if (s.kind === "list") {
    const c = s.counts ?? [];
    if (c.length === 0) return "kind=list needs counts: the number of tokens to commit at each step, e.g. 4,4,3,3";
    if (c.some((n) => !Number.isInteger(n) || n < 0)) return `counts must be integers >= 0, got [${c.join(", ")}]`;
    return null;
  }
  if (s.kind === "threshold") {
    const t = s.threshold ?? DEFAULT_THRESHOLD;
    return t > 0 && t <= 1 ? null : `threshold must be in (0, 1], got ${t}`;
  }
  if (s.kind === "factor") {
    const f = s.factor ?? DEFAULT_FACTOR;
    return f > 0 && Number.isFinite(f) ? null : `factor must be > 0, got ${f}`;
  }
  if (!Number.isInteger(s.steps) || s.steps < 1) return `steps must be an integer >= 1, got ${s.steps}`;
  const eps = s.eps ?? DEFAULT_EPS;
  if (!(eps > 0 && eps < 1)) return `eps must be in (0, 1), got ${eps}`;
  return null;
}

/** LLaDA's get_num_transfer_tokens: m masks over n steps, base = m div n, the first m mod n steps get one more. */
export function linearCounts(m: number, n: number): number[] {
  const base = Math.floor(m / n);
  const rem = m % n;
  return Array.from({ length: n }, (_, j) => base + (j < rem ? 1 : 0));
}

const f32 = Math.fround;

/**
 * torch.linspace(1, eps, n + 1) in float32, as the scalar CPU kernel computes it: a float32 step,
 * the first half counted up from the start and the second half down from the end.
 */
export function float32TimeGrid(n: number, eps: number): number[] {
  const start = 1;
  const end = f32(eps);
  const N = n + 1;
  const step = f32(f32(end - start) / n);
  const half = Math.floor(N / 2);
  return Array.from({ length: N }, (_, i) => (i < half ? f32(start + f32(step * i)) : f32(end - f32(step * (N - 1 - i)))));
}

/**
 * Dream / MDLM log-linear schedule (masked fraction (1-eps)t, time grid 1 -> eps): step i commits
 * int(remaining * (1 - s/t)) tokens, the last step everything left. Float32, like Dream's
 * `_sample`, so the counts agree with it exactly.
 */
export function loglinearCounts(m: number, n: number, eps = DEFAULT_EPS): number[] {
  const ts = float32TimeGrid(n, eps);
  const out: number[] = [];
  let remaining = m;
  for (let i = 0; i < n; i++) {
    if (i === n - 1) {
      out.push(remaining);
      break;
    }
    const t = ts[i];
    const s = ts[i + 1];
    const k = Math.trunc(f32(f32(remaining) * f32(1 - f32(s / t))));
    out.push(k);
    remaining -= k;
  }
  return out;
}

/**
 * MDLM's cosine schedule: alpha_t = eps + (1-eps)cos(pi t/2), so the masked fraction is
 * mu(t) = 1 - cos(pi t/2) up to a constant. Same time grid and rule as loglinear (the share of
 * the remaining masks that stay masked from t to s is mu(s)/mu(t)), in float64; front-loaded:
 * many tokens early, few late. A 1e-9 tolerance under the floor keeps an exact integer from
 * falling to the one below on a last-bit difference in cos between runtimes.
 */
export function cosineCounts(m: number, n: number, eps = DEFAULT_EPS): number[] {
  const mu = (t: number) => 1 - Math.cos((Math.PI * t) / 2);
  const out: number[] = [];
  let remaining = m;
  for (let i = 0; i < n; i++) {
    if (i === n - 1) {
      out.push(remaining);
      break;
    }
    const t = 1 + (i * (eps - 1)) / n;
    const s = 1 + ((i + 1) * (eps - 1)) / n;
    const k = Math.min(remaining, Math.floor(remaining * (1 - mu(s) / mu(t)) + 1e-9));
    out.push(k);
    remaining -= k;
  }
  return out;
}

/** An explicit list: each step commits min(count, what is left); the last step commits the rest. */
export function listCounts(m: number, counts: number[]): number[] {
  const out: number[] = [];
  let remaining = m;
  counts.forEach((c, i) => {
    const k = i === counts.length - 1 ? remaining : Math.min(c, remaining);
    out.push(k);
    remaining -= k;
  });
  return out;
}

/** Per-step unmask counts for a block holding `m` masks decoded in `n` steps. Sums to m. */
export function unmaskCounts(schedule: Schedule, m: number, n: number): number[] {
  if (n < 1) throw new Error(`a block needs at least one step, got ${n}`);
  switch (schedule.kind) {
    case "linear":
      return linearCounts(m, n);
    case "loglinear":
      return loglinearCounts(m, n, schedule.eps ?? DEFAULT_EPS);
    case "cosine":
      return cosineCounts(m, n, schedule.eps ?? DEFAULT_EPS);
    case "list":
      return listCounts(m, schedule.counts ?? []);
    case "threshold":
    case "factor":
      throw new Error(`a ${schedule.kind} schedule decides its counts from the confidences (dynamicCommitCount)`);
  }
}

export interface Block {
  /** Start and end (exclusive) in the generated region. */
  start: number;
  end: number;
  steps: number;
}

/**
 * The generated region cut into blocks, decoded left to right, with the steps each one gets.
 * When block_length divides gen_length and the block count divides steps this is exactly
 * LLaDA's generate (which asserts both); otherwise the last block is shorter and the steps are
 * shared like get_num_transfer_tokens shares tokens (the first blocks get one more).
 */
export function planBlocks(schedule: Schedule, genLength: number): Block[] {
  if (!Number.isInteger(genLength) || genLength < 1) throw new Error(`gen_length must be an integer >= 1, got ${genLength}`);
  const bl = schedule.blockLength > 0 ? Math.min(schedule.blockLength, genLength) : genLength;
  const nb = Math.max(1, Math.ceil(genLength / bl));
  const perBlock = (b: number) => Math.min((b + 1) * bl, genLength) - b * bl;
  const steps =
    schedule.kind === "list"
      ? Array(nb).fill((schedule.counts ?? []).length)
      : isDynamic(schedule)
        ? Array.from({ length: nb }, (_, b) => perBlock(b)) // at most one step per token
        : linearCounts(schedule.steps, nb);
  if (steps.some((s) => s < 1)) {
    throw new Error(`${schedule.steps} steps cannot cover ${nb} blocks of ${bl} tokens: use at least ${nb} steps or a longer block_length`);
  }
  return steps.map((s, b) => ({ start: b * bl, end: Math.min((b + 1) * bl, genLength), steps: s }));
}

/** Total number of steps a schedule runs for a generated region of this length. */
export function totalSteps(schedule: Schedule, genLength: number): number {
  return planBlocks(schedule, genLength).reduce((a, b) => a + b.steps, 0);
}
