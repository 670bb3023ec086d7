// Run history on disk, so the queue panel's past runs (their workflow, outputs and, when small
// enough, every event for the denoising view) survive a server restart. One JSON file per ended
// run in the history folder; the newest `limit` are kept, older files are deleted; clear()
// empties it. Writes go through a temporary file and a rename, one at a time, off the request path.
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import type { RunEvent } from "../types.js";
import type { RunDetail } from "./protocol.js";

/** A run as stored: its detail (summary, workflow, outputs, stats) and its events (dropped when large). */
export interface StoredRun extends RunDetail {
  events: RunEvent[];
}

/** Bigger files lose their events (the outputs still rebuild the result), then their outputs. */
const FILE_BYTES = 2 * 1024 * 1024;

/**
 * Where `maskflow serve` and the desktop app keep their history: MASKFLOW_HISTORY, else
 * ~/.maskflow/history; "off" keeps it in memory only.
 */
export function defaultHistoryDir(): string | null {
  const env = process.env.MASKFLOW_HISTORY;
  if (env === "off") return null;
  return env ? resolve(env) : join(homedir(), ".maskflow", "history");
}

const FILE = /^run-[0-9a-f-]{36}\.json$/;

export class RunHistory {
  private writing: Promise<void> = Promise.resolve();
  /** File names in order of the runs' creation, oldest first. */
  private files: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly limit: number,
  ) {}

  /** The stored runs, oldest first (unreadable files are skipped: a crash mid-write leaves only a temporary file). */
  load(): StoredRun[] {
    if (!existsSync(this.dir)) return [];
    const runs: StoredRun[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!FILE.test(name)) continue;
      try {
        const run = JSON.parse(readFileSync(join(this.dir, name), "utf8")) as StoredRun;
        if (typeof run.id === "string" && typeof run.createdAt === "string") runs.push({ ...run, events: Array.isArray(run.events) ? run.events : [] });
      } catch {
        // a damaged file is left alone and ignored
      }
    }
    runs.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const kept = runs.slice(-this.limit);
    this.files = kept.map((r) => fileName(r.id));
    for (const dropped of runs.slice(0, runs.length - kept.length)) this.queue(() => rm(join(this.dir, fileName(dropped.id)), { force: true }));
    return kept;
  }

  save(run: StoredRun): void {
    const name = fileName(run.id);
    this.files = [...this.files.filter((f) => f !== name), name];
    const text = fit(run);
    const excess = this.files.slice(0, Math.max(0, this.files.length - this.limit));
    this.files = this.files.slice(excess.length);
    this.queue(async () => {
      mkdirSync(this.dir, { recursive: true });
      const tmp = join(this.dir, `.${name}.${process.pid}.tmp`);
      await writeFile(tmp, text);
      await rename(tmp, join(this.dir, name));
      for (const old of excess) await rm(join(this.dir, old), { force: true });
    });
  }

  remove(ids: readonly string[]): void {
    const names = new Set(ids.map(fileName));
    this.files = this.files.filter((f) => !names.has(f));
    this.queue(async () => {
      for (const name of names) await rm(join(this.dir, name), { force: true });
    });
  }

  /** Resolves when every write so far is on disk. */
  flush(): Promise<void> {
    return this.writing;
  }

  private queue(task: () => Promise<unknown>): void {
    this.writing = this.writing.then(task).then(
      () => undefined,
      (err: Error) => console.error(`maskflow: run history in ${this.dir}: ${err.message}`),
    );
  }
}

function fileName(id: string): string {
  return `run-${id}.json`;
}

/** The run as JSON, smaller parts dropped first when it would be too big a file. */
function fit(run: StoredRun): string {
  let text = JSON.stringify(run);
  if (text.length > FILE_BYTES) text = JSON.stringify({ ...run, events: [] });
  if (text.length > FILE_BYTES) text = JSON.stringify({ ...run, events: [], outputs: {}, trimmed: true });
  return text;
}
