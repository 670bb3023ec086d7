// The main thread's end of an ONNX worker (./ort-worker.mjs): request/response by message id, and
// the two ways a CLI starts work early. Kept free of heavy imports (no zod, no tokenizer) so the CLI
// can load it first and overlap the worker's start-up with loading the rest of Maskflow:
//   prewarmWorker()        starts a worker (it imports onnxruntime-node) for the next load to take;
//   preloadSession(...)    also creates the ONNX Runtime session for a model file, which the next
//                          DllmModel.load of that file, device and thread count adopts.
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { PACKAGE_ROOT } from "../../paths.js";
import type { GraphInfo } from "../model-folder.js";

function workerUrl(): URL {
  const here = new URL("./ort-worker.mjs", import.meta.url);
  if (here.protocol === "file:" && existsSync(fileURLToPath(here))) return here;
  // Bundled builds: the worker file stays in the package's source tree.
  const fallback = join(PACKAGE_ROOT, "engine", "dllm", "runtime", "ort-worker.mjs");
  if (existsSync(fallback)) return new URL(`file://${fallback}`);
  throw new Error(`ONNX worker script not found (looked for ${fileURLToPath(here)} and ${fallback})`);
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
}

/** Every worker not yet closed, so the process can close them all before it exits (shutdownWorkers). */
const live = new Set<WorkerClient>();

/** Request/response over one worker; the worker keeps the process alive only while a request is pending. */
export class WorkerClient {
  private readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private dead: Error | null = null;
  private closing: Promise<void> | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor() {
    live.add(this);
    this.worker = new Worker(workerUrl());
    this.worker.unref();
    // An unref() before the thread is online does not hold in Node 20: repeat it then, unless a request is pending.
    this.worker.once("online", () => this.pending.size === 0 && this.worker.unref());
    this.worker.on("message", (msg: { id: number; ok: boolean; value?: unknown; error?: string }) => {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.settle(msg.id);
      if (msg.ok) p.resolve(msg.value);
      else p.reject(new Error(msg.error));
    });
    this.worker.on("error", (err) => this.fail(err));
    this.worker.on("exit", (code) => this.fail(new Error(`the ONNX worker thread exited (code ${code})`)));
  }

  get isDead(): boolean {
    return this.dead !== null;
  }

  private settle(id: number): void {
    this.pending.delete(id);
    if (this.pending.size === 0) {
      this.worker.unref();
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  /** Resolves when no request is in flight, or after `timeoutMs`. */
  private idle(timeoutMs: number): Promise<void> {
    if (this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      timer.unref();
      this.idleWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private fail(err: Error): void {
    this.dead ??= err;
    for (const [id, p] of this.pending) {
      this.settle(id);
      p.reject(err);
    }
  }

  call<T>(message: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.dead) return Promise.reject(new Error(`the model's worker is gone: ${this.dead.message}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  /**
   * Ends the worker, in the one order that is safe: terminating a thread while onnxruntime is inside
   * a native call (creating a session, a forward) aborts the whole process ("terminate called after
   * throwing an instance of 'Napi::Error'", exit 134). So: wait for what is in flight to finish
   * (at most `timeoutMs`), release the session, then terminate. Safe to call more than once.
   */
  close(timeoutMs = 60_000): Promise<void> {
    this.closing ??= (async () => {
      await this.idle(timeoutMs);
      if (!this.dead && this.pending.size === 0) {
        await Promise.race([this.call({ op: "dispose" }).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, timeoutMs).unref())]);
      }
      this.dead ??= new Error("disposed");
      live.delete(this);
      await this.worker.terminate();
    })();
    return this.closing;
  }

  /** Same as close(). */
  terminate(): Promise<void> {
    return this.close();
  }
}

/**
 * Closes every worker this process started (preloads, the spare, models not yet disposed) in the
 * safe order (WorkerClient.close): call before process.exit, which would otherwise tear threads
 * down in the middle of a native call.
 */
export async function shutdownWorkers(timeoutMs = 60_000): Promise<void> {
  spare = null;
  preloads.clear();
  await Promise.all([...live].map((client) => client.close(timeoutMs)));
}

let spare: WorkerClient | null = null;

/**
 * Starts an ONNX worker thread now (it imports onnxruntime-node, a few hundred milliseconds) for
 * the next DllmModel.load to take, so a CLI can overlap that with loading its own modules. An
 * unused spare keeps nothing alive.
 */
export function prewarmWorker(): void {
  if (spare) return;
  spare = new WorkerClient();
  // A request in flight from the start, answered once onnxruntime has loaded: close() waits for it,
  // so a CLI that exits early never terminates the thread in the middle of loading the native module.
  spare.call({ op: "ping" }).catch(() => undefined);
}

/** The prewarmed worker if there is a live one, else a new one. */
export function takeWorker(): WorkerClient {
  const w = spare;
  spare = null;
  return w && !w.isDead ? w : new WorkerClient();
}

/** A session being created ahead of its DllmModel.load. */
export interface Preloaded {
  client: WorkerClient;
  loaded: Promise<{ graph: GraphInfo }>;
}

const preloads = new Map<string, Preloaded>();
/** How many preloaded sessions a load adopted (tests read it). */
export const preloadStats = { started: 0, adopted: 0 };

const preloadKey = (onnxPath: string, device: string, threads: number) => `${resolve(onnxPath)}#${device}#${threads}`;

/**
 * Starts creating the ONNX Runtime session for `onnxPath` now, in a worker of its own. The next
 * DllmModel.load whose folder names this file, with the same device and thread count, adopts it
 * instead of creating its own; if it failed, that load starts afresh and reports the error as
 * usual. An unadopted preload keeps nothing alive. Idempotent per (file, device, threads).
 */
export function preloadSession(onnxPath: string, device: string, threads: number): void {
  const key = preloadKey(onnxPath, device, threads);
  if (preloads.has(key)) return;
  const client = takeWorker();
  const loaded = client.call<{ graph: GraphInfo }>({ op: "load", path: resolve(onnxPath), device, threads });
  loaded.catch(() => undefined); // reported, if at all, by the load that would adopt it
  preloads.set(key, { client, loaded });
  preloadStats.started++;
}

/** The preloaded session for this file, device and thread count, if one was started (taken once). */
export function takePreloaded(onnxPath: string, device: string, threads: number): Preloaded | null {
  const key = preloadKey(onnxPath, device, threads);
  const p = preloads.get(key) ?? null;
  preloads.delete(key);
  return p;
}
