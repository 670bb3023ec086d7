// ReMDM (kuleshov-group/remdm, arXiv 2503.00307; reference/dllm-algorithms.md section 4) adapted
// to LLaDA-style steps. The per-token remasking probabilities are ReMDM's:
//
//   alpha_t = fraction decoded at the start of the step, alpha_s = at its end
//   sigma_max = min(1, (1 - alpha_s) / alpha_t)          (1 when alpha_t = 0)
//   cap:     sigma = min(eta, sigma_max)
//   rescale: sigma = eta * sigma_max
//   conf:    sigma_i = softmax_i(psi) * sigma_max, psi_i = -p(token i when it was committed),
//            the softmax taken over the decoded positions only (masked ones weigh 0); eta unused
//   loop:    t > t_on: no remasking, alpha rises linearly to alpha_on at t_on;
//            t_off < t <= t_on: alpha frozen at alpha_on, sigma = eta (remasking and unmasking balance);
//            t <= t_off: no remasking, alpha rises to 1
//
// How it meets LLaDA's sampler (one forward per step, a fixed count committed by confidence):
// - Time runs over each block's steps: step i of n starts at t = (n - i)/n, so alpha_t = i/n and
//   alpha_s = (i+1)/n (MDLM's linear alpha_t = 1 - t), whatever the count schedule; the last
//   step of a block has alpha_s = 1, so sigma_max = 0 and the block always ends fully decoded.
// - Each decoded token of the block that this run committed is remasked when u < sigma_i, with u
//   from the seeded generator (stream REMDM, step, position). Prompt, given and fixed tokens never are.
// - The schedule still says how many tokens are decoded after each step (for loop: round(alpha_s * m)).
//   A step commits what reaches that target from the masked positions (by confidence, as LLaDA),
//   so remasked tokens are replaced by as many new commits; a remasked position itself is decided
//   again from the next step on (ReMDM's transitions are simultaneous: x_s comes from x_t).
// - With sigma = 0 (eta = 0 for cap/rescale) no token is remasked and every step commits exactly
//   what plain sampling commits: the output is plain sampling's, token for token.

export const REMDM_STRATEGIES = ["cap", "rescale", "conf", "loop"] as const;
export type RemdmStrategy = (typeof REMDM_STRATEGIES)[number];

export interface RemdmOptions {
  strategy: RemdmStrategy;
  /** cap / rescale / loop: ReMDM's eta (paper defaults 0.008, 0.015, 0.02). conf ignores it. */
  eta: number;
  /** loop: remasking runs while t_off < t <= t_on (defaults 0.55 and 0.05). */
  tOn?: number;
  tOff?: number;
  /** loop: the decoded fraction held during the remasking phase (default 0.9). */
  alphaOn?: number;
}

export const REMDM_DEFAULT_ETA: Record<RemdmStrategy, number> = { cap: 0.008, rescale: 0.015, conf: 0, loop: 0.02 };
export const LOOP_DEFAULTS = { tOn: 0.55, tOff: 0.05, alphaOn: 0.9 } as const;

export function validateRemdm(o: RemdmOptions): string | null {
  if (!REMDM_STRATEGIES.includes(o.strategy)) return `unknown ReMDM strategy "${o.strategy}" (expected ${REMDM_STRATEGIES.join(", ")})`;
  if (!(o.eta >= 0 && o.eta <= 1)) return `ReMDM eta must be in [0, 1], got ${o.eta}`;
  if (o.strategy === "loop") {
    const { tOn, tOff, alphaOn } = loopParams(o);
    if (!(tOff >= 0 && tOff < tOn && tOn <= 1)) return `ReMDM loop needs 0 <= t_off < t_on <= 1, got t_off ${tOff}, t_on ${tOn}`;
    if (!(alphaOn > 0 && alphaOn < 1)) return `ReMDM loop alpha_on must be in (0, 1), got ${alphaOn}`;
  }
  return null;
}

function loopParams(o: RemdmOptions) {
  return { tOn: o.tOn ?? LOOP_DEFAULTS.tOn, tOff: o.tOff ?? LOOP_DEFAULTS.tOff, alphaOn: o.alphaOn ?? LOOP_DEFAULTS.alphaOn };
}

/** ReMDM's bound: min(1, (1 - alpha_s) / alpha_t), and 1 when alpha_t = 0. */
export function sigmaMax(alphaT: number, alphaS: number): number {
  return alphaT > 0 ? Math.min(1, (1 - alphaS) / alphaT) : 1;
}

/** The loop strategy's decoded fraction at time t (1 = all masked, 0 = done). Continuous, piecewise linear. */
export function loopAlpha(t: number, o: RemdmOptions): number {
  const { tOn, tOff, alphaOn } = loopParams(o);
  if (t > tOn) return ((1 - t) * alphaOn) / (1 - tOn);
  if (t > tOff) return alphaOn;
  return tOff > 0 ? 1 - (t * (1 - alphaOn)) / tOff : 1;
}

/**
 * Decoded-count targets after each of a block's n steps, for a block whose run decodes m
 * positions: the schedule's cumulative counts, or for loop floor(loopAlpha(s) * m + 0.5) (the last is m).
 */
export function decodeTargets(o: RemdmOptions | null | undefined, counts: readonly number[], m: number): number[] {
  const n = counts.length;
  if (o?.strategy === "loop") {
    return Array.from({ length: n }, (_, i) => (i === n - 1 ? m : Math.min(m, Math.floor(loopAlpha((n - i - 1) / n, o) * m + 0.5))));
  }
  let sum = 0;
  return counts.map((k) => (sum += k));
}

/**
 * sigma for each decoded position at step i of n. `confidence` holds, per decoded position, the
 * probability its token had when it was committed (for conf).
 */
export function remdmSigmas(o: RemdmOptions, i: number, n: number, confidence: readonly number[]): number[] {
  const d = confidence.length;
  if (d === 0) return [];
  // The last step of a block ends it fully decoded (alpha_s = 1): nothing is remasked there.
  if (i >= n - 1) return Array(d).fill(0);
  const alphaT = i / n;
  const alphaS = (i + 1) / n;
  switch (o.strategy) {
    case "cap":
      return Array(d).fill(Math.min(o.eta, sigmaMax(alphaT, alphaS)));
    case "rescale":
      return Array(d).fill(o.eta * sigmaMax(alphaT, alphaS));
    case "conf": {
      const sm = sigmaMax(alphaT, alphaS);
      let max = -Infinity;
      for (const p of confidence) max = Math.max(max, -p);
      const w = confidence.map((p) => Math.exp(-p - max));
      const sum = w.reduce((a, b) => a + b, 0);
      return w.map((x) => (x / sum) * sm);
    }
    case "loop": {
      const { tOn, tOff } = loopParams(o);
      const t = (n - i) / n;
      return Array(d).fill(t > tOff && t <= tOn ? o.eta : 0);
    }
  }
}
