// Jobs per second over the last minute and the time left at that pace, for the progress bar of
// `maskflow batch --redis` (where the pace is that of all the workers together).

export class Throughput {
  private readonly times: number[] = [];

  constructor(private readonly windowMs = 60_000) {}

  /** One job finished at `now` (ms). */
  add(now: number): void {
    this.times.push(now);
    while (this.times.length > 2 && now - this.times[0] > this.windowMs) this.times.shift();
  }

  /** Jobs per second since the first job in the window, or 0 before two jobs are seen. */
  rate(now: number): number {
    if (this.times.length < 2) return 0;
    const span = Math.max(now, this.times[this.times.length - 1]) - this.times[0];
    return span > 0 ? (this.times.length - 1) / (span / 1000) : 0;
  }
}

/** "45s", "12m 05s", "3h 20m"; "--" while the pace is unknown. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`;
}

/** The bar's text after the bar itself: "120/200 jobs · 3 workers · 4.1 jobs/s · ETA 20s · 2 failed". */
export function progressText(p: { done: number; total: number; failed: number; workers: number; rate: number }): string {
  const left = p.total - p.done;
  const rate = p.rate >= 10 ? p.rate.toFixed(0) : p.rate.toFixed(1);
  const parts = [`${p.done}/${p.total} jobs`, `${p.workers} worker${p.workers === 1 ? "" : "s"}`, `${rate} jobs/s`, `ETA ${p.rate > 0 ? formatEta(left / p.rate) : "--"}`];
  if (p.failed) parts.push(`${p.failed} failed`);
  return parts.join(" · ");
}
