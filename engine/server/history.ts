// Run history on disk, so the queue panel's past runs (their workflow, outputs and, when small
// enough, every event for the denoising view) survive a server restart. Per ended run, one JSON
// file with its detail and one with its events, read only when asked for (a restart reads 200
// small files, not 200 event logs); the newest `limit` runs are kept, older files are deleted.
// Writes go through a temporary file and a rename, one at a time, off the request path.
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

/** A bigger event log is not kept (the outputs still show the result); bigger outputs neither. */
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
const ID = /^[0-9a-f-]{36}$/;

export class RunHistory {
  private writing: Promise<void> = Promise.resolve();
  /** File names in order of the runs' creation, oldest first. */
  private files: string[] = [];

  constructor(
    private readonly dir: string,
    private readonly limit: number,
  ) {}

  /**
   * The stored runs, oldest first, without their events (events() reads those). Unreadable files
   * are skipped: a crash mid-write leaves only a temporary file.
   */
  load(): StoredRun[] {
    if (!existsSync(this.dir)) return [];
    const runs: StoredRun[] = [];
    for (const name of readdirSync(this.dir)) {
      if (!FILE.test(name)) continue;
      try {
        const run = JSON.parse(readFileSync(join(this.dir, name), "utf8")) as StoredRun;
        if (typeof run.id === "string" && typeof run.createdAt === "string") runs.push({ ...run, events: [] });
      } catch {
        // a damaged file is left alone and ignored
      }
    }
    runs.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
    const kept = runs.slice(-this.limit);
    this.files = kept.map((r) => fileName(r.id));
    this.remove(runs.slice(0, runs.length - kept.length).map((r) => r.id));
    return kept;
  }

  /** A stored run's events ([] when none were kept). */
  events(id: string): RunEvent[] {
    if (!ID.test(id)) return [];
    try {
      const events: unknown = JSON.parse(readFileSync(join(this.dir, eventsName(id)), "utf8"));
      return Array.isArray(events) ? (events as RunEvent[]) : [];
    } catch {
      return [];
    }
  }

  save(run: StoredRun): void {
    const name = fileName(run.id);
    this.files = [...this.files.filter((f) => f !== name), name];
    const { events, ...rest } = run;
    let detail = JSON.stringify(rest);
    if (detail.length > FILE_BYTES) detail = JSON.stringify({ ...rest, outputs: {}, trimmed: true });
    const log = JSON.stringify(events);
    const excess = this.files.slice(0, Math.max(0, this.files.length - this.limit));
    this.files = this.files.slice(excess.length);
    this.queue(async () => {
      mkdirSync(this.dir, { recursive: true });
      await writeAtomically(join(this.dir, eventsName(run.id)), log.length > FILE_BYTES ? "[]" : log);
      await writeAtomically(join(this.dir, name), detail);
      for (const old of excess) {
        await rm(join(this.dir, old), { force: true });
        await rm(join(this.dir, old.replace(/^run-/, "events-")), { force: true });
      }
    });
  }

  remove(ids: readonly string[]): void {
    const names = new Set(ids.map(fileName));
    this.files = this.files.filter((f) => !names.has(f));
    this.queue(async () => {
      for (const id of ids) {
        await rm(join(this.dir, fileName(id)), { force: true });
        await rm(join(this.dir, eventsName(id)), { force: true });
      }
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

function eventsName(id: string): string {
  return `events-${id}.json`;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  await rename(tmp, path);
}
