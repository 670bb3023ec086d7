// What a node showed while it ran (its canvas snapshots and warnings), kept with its cached
// outputs so a cache hit can show it again: a cached result shows exactly what the run that
// computed it showed (the denoising view, the warning on the node).
//
// Snapshots of a long generation add up (one whole canvas per step), so the log is bounded: past
// TOKEN_BUDGET tokens it keeps only the newest snapshot of each lane, which still shows the tokens;
// warnings past MAX_WARNINGS are not kept. `bytes` estimates what it holds, for the cache's budget.
import type { CanvasSnapshot } from "../types.js";

export type Replayable =
  | { type: "progress"; step: number; total: number; canvas: CanvasSnapshot; label?: string }
  | { type: "warning"; message: string };

/** About 16 MB of snapshots per cached node at most. */
const TOKEN_BUDGET = 1_000_000;
/** Warnings one cached node shows again (a node that warns per step would otherwise grow the log without bound). */
const MAX_WARNINGS = 100;
/** Bytes a kept token costs about (its piece, confidence and flags). */
const TOKEN_BYTES = 16;

export class ReplayLog {
  private events: Replayable[] = [];
  private tokens = 0;
  private warnings = 0;
  private trimmed = false;

  add(event: Replayable): void {
    if (event.type === "warning") {
      if (this.warnings >= MAX_WARNINGS) return;
      this.warnings++;
    }
    if (event.type === "progress") {
      this.tokens += event.canvas.pieces.length;
      if (this.tokens > TOKEN_BUDGET && !this.trimmed) this.trim();
      if (this.trimmed) {
        // Over budget: one snapshot per lane (beam) replaces the previous one.
        const lane = event.canvas.beam;
        this.events = this.events.filter((e) => e.type !== "progress" || e.canvas.beam !== lane);
      }
    }
    this.events.push(event);
  }

  get list(): readonly Replayable[] {
    return this.events;
  }

  /** About what the kept events hold, in bytes. */
  get bytes(): number {
    let n = 0;
    for (const e of this.events) n += e.type === "progress" ? 64 + e.canvas.pieces.length * TOKEN_BYTES + (e.label?.length ?? 0) * 2 : 64 + e.message.length * 2;
    return n;
  }

  private trim(): void {
    this.trimmed = true;
    const last = new Map<number | undefined, Replayable>();
    for (const e of this.events) if (e.type === "progress") last.set(e.canvas.beam, e);
    this.events = this.events.filter((e) => e.type !== "progress" || last.get(e.canvas.beam) === e);
  }
}
