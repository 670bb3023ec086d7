// A seeded generator for the fuzz tests (mulberry32): the same seed makes the same cases, so a
// failure seen once can be replayed with MASKFLOW_FUZZ_SEED=<seed>.
export class Random {
  private state: number;

  constructor(readonly seed: number) {
    this.state = seed >>> 0 || 1;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)];
  }

  /** A short random string, sometimes with characters that mean something to paths, JSON or regexes. */
  text(max = 12): string {
    const alphabet = "abcxyz019_.-/\\()[]*+?{}|^$\"' \u00e9\u4e2d\u0000\n";
    let s = "";
    const n = this.int(0, max);
    for (let i = 0; i < n; i++) s += alphabet[this.int(0, alphabet.length - 1)];
    return s;
  }
}

/** CI runs the fixed seed; MASKFLOW_FUZZ_SEED replays another, MASKFLOW_FUZZ_SOAK=<factor> runs that many times the cases. */
export function fuzzSettings(): { seed: number; scale: number } {
  const seed = Number(process.env.MASKFLOW_FUZZ_SEED ?? 18);
  const scale = Math.max(1, Number(process.env.MASKFLOW_FUZZ_SOAK ?? 1) || 1);
  return { seed: Number.isFinite(seed) ? seed : 18, scale };
}
