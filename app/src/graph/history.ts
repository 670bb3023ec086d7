// Undo/redo over whole-graph snapshots. React Flow state is immutable, so a snapshot shares
// almost everything with its neighbours and costs little.

const MERGE_WINDOW_MS = 1200;
const LIMIT = 200;

export class History<T> {
  private past: T[] = [];
  private future: T[] = [];
  private lastKey: string | null = null;
  private lastAt = 0;

  /**
   * Records `state` (the state before a change). Consecutive changes with the same `mergeKey`
   * (typing in one field) within a short window collapse into one undo step.
   */
  record(state: T, mergeKey?: string, now = Date.now()): void {
    if (mergeKey && mergeKey === this.lastKey && now - this.lastAt < MERGE_WINDOW_MS) {
      this.lastAt = now;
      return;
    }
    this.past.push(state);
    if (this.past.length > LIMIT) this.past.shift();
    this.future = [];
    this.lastKey = mergeKey ?? null;
    this.lastAt = now;
  }

  undo(current: T): T | null {
    const previous = this.past.pop();
    if (previous === undefined) return null;
    this.future.push(current);
    this.lastKey = null;
    return previous;
  }

  redo(current: T): T | null {
    const next = this.future.pop();
    if (next === undefined) return null;
    this.past.push(current);
    this.lastKey = null;
    return next;
  }

  get canUndo(): boolean {
    return this.past.length > 0;
  }

  get canRedo(): boolean {
    return this.future.length > 0;
  }
}
