// The executor's output cache: node outputs by structural key, bounded by bytes (a loaded model
// counts what it holds, its weights and worker) and by how many models are loaded at once, least
// recently used evicted first. An entry that a run in progress uses is pinned: evicting it would
// dispose a model under a running sampler. Evicted outputs are disposed (a model's worker ends).
import type { NodeOutputs } from "../types.js";
import type { ReplayLog } from "./replay.js";
import type { ValueSize } from "./value-size.js";

export interface CacheLimits {
  maxCacheBytes: number;
  maxModels: number;
}

export interface CacheEntry {
  readonly key: string;
  readonly outputs: Promise<NodeOutputs>;
  /** Data bytes plus held memory, once the outputs are known (0 before). */
  bytes: number;
  /** Models held: expected while pending (from the node's MODEL outputs), counted once settled. */
  models: number;
  lastUsed: number;
  /** Runs using it now. */
  pins: number;
  /** What the node showed while computing the outputs (snapshots, warnings), shown again on a hit. */
  readonly replay?: ReplayLog;
}

export class OutputCache {
  private readonly entries = new Map<string, CacheEntry>();
  private clock = 0;

  constructor(private readonly limits: CacheLimits) {}

  /** The entry for `key`, marked as just used. */
  get(key: string): CacheEntry | undefined {
    const entry = this.entries.get(key);
    if (entry) entry.lastUsed = ++this.clock;
    return entry;
  }

  /** A new entry, pinned once (by the run that computes it). `models` is how many models it is expected to hold. */
  put(key: string, outputs: Promise<NodeOutputs>, models: number, replay?: ReplayLog): CacheEntry {
    this.remove(key);
    const entry: CacheEntry = { key, outputs, bytes: 0, models, lastUsed: ++this.clock, pins: 1, ...(replay ? { replay } : {}) };
    this.entries.set(key, entry);
    return entry;
  }

  /** Records what a settled entry weighs, then evicts what no longer fits. */
  settle(entry: CacheEntry, size: ValueSize): void {
    entry.bytes = size.data + size.held;
    entry.models = size.resources;
    this.evict();
  }

  pin(entry: CacheEntry): void {
    entry.pins++;
  }

  unpin(entry: CacheEntry): void {
    entry.pins = Math.max(0, entry.pins - 1);
  }

  /** Drops an entry without disposing it (its computation failed, or the caller disposes it). */
  remove(key: string): void {
    this.entries.delete(key);
  }

  /**
   * Makes room for one more model: evicts unpinned models, least recently used first, until fewer
   * than maxModels are loaded. False when every loaded model is in use by a running run.
   */
  roomForModel(): boolean {
    while (this.loadedModels() >= this.limits.maxModels) {
      const victim = this.oldest((e) => e.models > 0);
      if (!victim) return false;
      this.evictEntry(victim);
    }
    return true;
  }

  /** Evicts unpinned entries, least recently used first, while over the byte or model budget. */
  evict(): void {
    while (this.totalBytes() > this.limits.maxCacheBytes || this.loadedModels() > this.limits.maxModels) {
      const overModels = this.loadedModels() > this.limits.maxModels;
      const victim = this.oldest((e) => (overModels ? e.models > 0 : e.bytes > 0));
      if (!victim) return;
      this.evictEntry(victim);
    }
  }

  /** Forget everything, disposing what is held. */
  clear(): void {
    for (const entry of this.entries.values()) void entry.outputs.then(dispose, () => undefined);
    this.entries.clear();
  }

  stats(): { entries: number; bytes: number; models: number } {
    return { entries: this.entries.size, bytes: this.totalBytes(), models: this.loadedModels() };
  }

  private totalBytes(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.bytes;
    return n;
  }

  private loadedModels(): number {
    let n = 0;
    for (const e of this.entries.values()) n += e.models;
    return n;
  }

  private oldest(eligible: (e: CacheEntry) => boolean): CacheEntry | undefined {
    let best: CacheEntry | undefined;
    for (const e of this.entries.values()) if (e.pins === 0 && eligible(e) && (!best || e.lastUsed < best.lastUsed)) best = e;
    return best;
  }

  private evictEntry(entry: CacheEntry): void {
    this.entries.delete(entry.key);
    void entry.outputs.then(dispose, () => undefined);
  }
}

/** Outputs that hold resources (a model's ONNX session) release them when evicted. */
export function dispose(outputs: NodeOutputs): void {
  for (const value of Object.values(outputs)) {
    const d = (value as { dispose?: () => unknown } | null)?.dispose;
    if (typeof d === "function") void d.call(value);
  }
}
