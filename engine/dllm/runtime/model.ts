// A loaded model: its folder (manifest, tokenizer) plus an ONNX Runtime session living in a
// worker thread (./ort-worker.mjs). The main thread only posts token ids and receives logits,
// both as transferred buffers, so a forward never blocks the event loop.
import { readdirSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { checkGraph, readModelFolder, type GraphInfo, type ModelFolder, type ModelManifest } from "../model-folder.js";
import type { DllmTokenizer } from "../tokenizer.js";
import { WorkerCanvas } from "./canvas-denoiser.js";
import { forwardPasses } from "./forward-count.js";
import { preloadStats, takePreloaded, takeWorker, type WorkerClient } from "./worker-client.js";

export { preloadSession, preloadStats, prewarmWorker } from "./worker-client.js";
export { forwardPasses } from "./forward-count.js";

export const DEVICES = ["cpu", "cuda", "dml", "coreml", "webgpu"] as const;
export type Device = (typeof DEVICES)[number];

/** The execution provider could not be used (missing from this build, or failed to start); the message says how to get it. */
export class DeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeviceError";
  }
}

export interface LoadOptions {
  /** Execution provider; `cpu` by default. */
  device?: Device;
  /** ORT intra-op threads; 0 or absent: one per CPU the process may use (os.availableParallelism()), and never more. */
  threads?: number;
  /** Real folders the model's files must lie in (a served instance's roots); null or absent: anywhere. */
  within?: readonly string[] | null;
}

/** What a worker thread with an ONNX session costs besides the weights (its isolate, ORT's arenas), roughly. */
const WORKER_BYTES = 32 * 1024 * 1024;

/** The bytes of the folder's files beside the graph (its external data lives there), plus the graph. */
function folderBytes(dir: string): number {
  let n = 0;
  try {
    for (const name of readdirSync(dir)) {
      const st = statSync(join(dir, name), { throwIfNoEntry: false });
      if (st?.isFile()) n += st.size;
    }
  } catch {
    // unreadable now: counted as the worker alone
  }
  return n;
}

/** What a sampler needs from a model. DllmModel implements it; so can a wrapper that counts calls. */
export interface LogitsModel {
  readonly manifest: ModelManifest;
  /**
   * Logits for a batch of token id rows.
   * @param ids    row-major [batch, seq] token ids
   * @param rows   optional sequence positions to return (the same for every batch row): then the
   *               result is [batch, rows.length, V] instead of [batch, seq, V]
   */
  forward(ids: Int32Array | readonly number[], batch: number, seq: number, rows?: readonly number[]): Promise<Float32Array>;
}

/** A forward request beyond plain logits: what the in-graph heads and the block KV cache offer. */
export interface ForwardRequest {
  /** Row-major [batch, seq] token ids (with a KV cache: only the positions that are fed). */
  ids: Int32Array;
  batch: number;
  seq: number;
  /** Positions (indices into the fed window, the same for every row) whose results are wanted. */
  rows: readonly number[];
  /** "logits": their logits rows; "top": the head's top-k ids and log-probabilities. */
  want: "logits" | "top";
  /** In-graph CFG: the batch is [conditional; unconditional] and results cover the first half. Only with want "top". */
  cfgScale?: number;
  /** Position of ids[:, 0] (length of the cached prefix). */
  offset?: number;
  /**
   * Feed the stored cache `use`; store this forward's K/V positions in `keep` ranges under
   * `store.id` (with `append`, after the cache that was fed: block-causal decoding grows its cache
   * block by block).
   */
  cache?: { use?: string; store?: { id: string; keep: [number, number][]; append?: boolean } };
  /** Block-causal graphs: the attention block size (default: maskflow.json attention.block_size). */
  blockSize?: number;
  /** With want "top": also each row's entropy (nats, of the untempered softmax), from the head. */
  entropy?: boolean;
}

export interface ForwardResult {
  /** want "logits": the rows' logits; with rows, a graph with a head and no cfgScale, topIds/topLogp/k come too. */
  logits?: Float32Array;
  /** [rows' batch, R, k] candidate ids, best first, and their log-softmax values (float32, in-graph). */
  topIds?: Int32Array;
  topLogp?: Float32Array;
  k?: number;
  /** [rows' batch, R] each row's entropy, when asked for (entropy: true) and the graph has it. */
  entropy?: Float32Array;
}

/** What a model's graph can do besides plain logits (see models/train/graph.py). */
export interface ModelFeatures {
  /** head_top_ids/head_top_logp at `decide` positions, and how many candidates. */
  topK: number;
  /** The same over a CFG batch (cfg_top_ids/cfg_top_logp). */
  cfgHead: boolean;
  /** past_kv/present_kv/position_offset: Fast-dLLM's block KV cache. */
  kvCache: boolean;
}

/** A LogitsModel whose graph has heads or a KV cache. */
export interface FastModel extends LogitsModel {
  readonly features: ModelFeatures;
  run(req: ForwardRequest): Promise<ForwardResult>;
  dropCache(id: string): Promise<void>;
  /** Hands back the buffer of a run()'s logits the caller is done with (it must not touch them again), for reuse. */
  recycle?(buffer: ArrayBuffer): void;
}

export function isFastModel(model: LogitsModel): model is FastModel {
  return typeof (model as FastModel).run === "function" && (model as FastModel).features !== undefined;
}

/** A session preloadSession() created for this file, device and thread count; null if none or if it failed (the caller then loads afresh and reports the error). */
async function adopt(onnxPath: string, device: Device, threads: number): Promise<{ client: WorkerClient; graph: GraphInfo } | null> {
  const pre = takePreloaded(onnxPath, device, threads);
  if (!pre) return null;
  try {
    const { graph } = await pre.loaded;
    preloadStats.adopted++;
    return { client: pre.client, graph };
  } catch {
    await pre.client.terminate();
    return null;
  }
}

export class DllmModel implements FastModel {
  /** Forwards run and milliseconds spent in session.run (for benchmarks and tests). */
  readonly stats = { forwards: 0, ms: 0 };
  private disposed = false;

  private constructor(
    private readonly folder: ModelFolder,
    private readonly client: WorkerClient,
    /** Identifies the weights and device (folder path, device, and any derivation such as a LoRA). */
    readonly key: string,
    readonly device: Device,
    readonly threads: number,
    readonly graph: GraphInfo,
    /** Roughly what the session holds: weights (file size) and its worker. The executor's cache counts it. */
    readonly memoryBytes: number,
  ) {}

  /** Reads and validates the folder, starts a worker and loads model.onnx there. */
  static async load(dir: string, { device = "cpu", threads = 0, within = null }: LoadOptions = {}): Promise<DllmModel> {
    if (!DEVICES.includes(device)) throw new DeviceError(`unknown device "${device}" (expected one of ${DEVICES.join(", ")})`);
    const folder = readModelFolder(dir, { within });
    return DllmModel.start(folder, { path: folder.onnxPath }, `${folder.dir}#${device}`, device, threads, folderBytes(dirname(folder.onnxPath)) + WORKER_BYTES);
  }

  private static async start(
    folder: ModelFolder,
    source: { path: string } | { bytes: Uint8Array; label: string },
    key: string,
    device: Device,
    threads: number,
    memoryBytes: number,
  ): Promise<DllmModel> {
    const pre = "path" in source ? await adopt(source.path, device, threads) : null;
    const client = pre?.client ?? takeWorker();
    try {
      const transfer = "bytes" in source ? [source.bytes.buffer as ArrayBuffer] : [];
      const { graph } = pre ?? (await client.call<{ graph: GraphInfo }>({ op: "load", ...source, device, threads }, transfer));
      const { inputs, outputs } = folder.manifest;
      const attention = folder.manifest.attention;
      await client.call({ op: "roles", inputs, outputs, logitsFromDecide: folder.manifest.logits_from_decide, blockSize: attention.kind === "block_causal" ? attention.block_size : 0 });
      checkGraph(folder, graph);
      return new DllmModel(folder, client, key, device, threads, graph, memoryBytes);
    } catch (err) {
      await client.terminate();
      const message = (err as Error).message;
      if (message.startsWith(`device "${device}"`) || message.includes(`on device "${device}"`)) throw new DeviceError(message);
      throw err;
    }
  }

  /**
   * A new model from modified ONNX bytes (e.g. LoRA-merged weights) with this model's folder,
   * tokenizer, manifest and device. Takes ownership of `bytes` when it spans its whole
   * ArrayBuffer (the buffer is transferred to the worker and detached here); otherwise copies.
   */
  async withOnnxBytes(bytes: Uint8Array, keySuffix: string): Promise<DllmModel> {
    const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer;
    const owned = whole ? bytes : bytes.slice();
    const label = `${this.folder.onnxPath} (${keySuffix})`;
    return DllmModel.start(this.folder, { bytes: owned, label }, `${this.key}+${keySuffix}`, this.device, this.threads, owned.byteLength + WORKER_BYTES);
  }

  get manifest(): ModelManifest {
    return this.folder.manifest;
  }

  get tokenizer(): DllmTokenizer {
    return this.folder.tokenizer;
  }

  get dir(): string {
    return this.folder.dir;
  }

  get onnxPath(): string {
    return this.folder.onnxPath;
  }

  /** Absolute path of weights.json (the weight manifest LoRA merging reads), if the folder has one. */
  get weightsPath(): string | null {
    return this.folder.weightsPath;
  }

  get config(): Record<string, unknown> | null {
    return this.folder.config;
  }

  /** One line for people (what Show Text shows of a MODEL). */
  describe(): string {
    const m = this.manifest;
    // The folder's name, not its path: an output is sent to clients, and a served instance shows no absolute paths.
    return `${m.name ?? basename(this.dir)} · ${m.family} · vocabulary ${m.vocab_size} · max_length ${m.max_length} · ${this.device}`;
  }

  async forward(ids: Int32Array | readonly number[], batch: number, seq: number, rows?: readonly number[]): Promise<Float32Array> {
    if (this.disposed) throw new Error(`model ${this.key} was disposed`);
    if (ids.length !== batch * seq) throw new Error(`forward: ${ids.length} ids for batch ${batch} x seq ${seq}`);
    const V = this.manifest.vocab_size;
    for (const id of ids) {
      if (!(id >= 0 && id < V)) throw new Error(`forward: token id ${id} is outside the vocabulary (0..${V - 1})`);
    }
    const idsCopy = Int32Array.from(ids);
    const rowsCopy = rows ? Int32Array.from(rows) : undefined;
    const transfer = [idsCopy.buffer, ...(rowsCopy ? [rowsCopy.buffer] : [])];
    const { logits, ms } = await this.client.call<{ logits: Float32Array; ms: number }>(
      { op: "forward", ids: idsCopy, batch, seq, rows: rowsCopy },
      transfer,
    );
    this.stats.forwards++;
    forwardPasses.count++;
    this.stats.ms += ms;
    return logits;
  }

  get features(): ModelFeatures {
    const m = this.manifest;
    const has = (role: string) => Boolean(m.outputs[role] && this.graph.outputNames.includes(m.outputs[role]));
    const fed = (role: string) => Boolean(m.inputs[role] && this.graph.inputNames.includes(m.inputs[role]));
    return {
      topK: has("head_top_ids") && has("head_top_logp") && fed("decide") ? m.head_top_k : 0,
      cfgHead: has("cfg_top_ids") && has("cfg_top_logp") && fed("cfg_scale"),
      kvCache: has("present_kv") && fed("past_kv") && fed("position_offset"),
    };
  }

  /**
   * Single-row requests made in the same turn of the event loop with the same shape (concurrent
   * runs on this model: `maskflow batch --concurrency N`, several Denoise nodes) are joined into
   * one batched session.run. Each row keeps its own positions; results are split back.
   */
  batching = true;
  private queue: { req: ForwardRequest; resolve(r: ForwardResult): void; reject(e: Error): void }[] = [];
  private flushScheduled = false;

  async run(req: ForwardRequest): Promise<ForwardResult> {
    if (this.disposed) throw new Error(`model ${this.key} was disposed`);
    if (req.ids.length !== req.batch * req.seq) throw new Error(`forward: ${req.ids.length} ids for batch ${req.batch} x seq ${req.seq}`);
    if (!this.batching || req.batch !== 1 || req.cache || req.cfgScale !== undefined || req.rows.length === 0 || req.entropy) return this.runNow(req);
    return new Promise<ForwardResult>((resolve, reject) => {
      this.queue.push({ req, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private async runNow(req: ForwardRequest, rowsPerRow = false): Promise<ForwardResult> {
    const ids = Int32Array.from(req.ids);
    const rows = Int32Array.from(req.rows);
    const recycle = this.returned.splice(0);
    const result = await this.client.call<ForwardResult & { ms: number }>(
      { op: "forward", ids, batch: req.batch, seq: req.seq, rows, rowsPerRow, want: req.want, cfgScale: req.cfgScale, offset: req.offset, cache: req.cache, blockSize: req.blockSize, entropy: req.entropy, recycle },
      [ids.buffer, rows.buffer, ...recycle],
    );
    this.stats.forwards++;
    forwardPasses.count++;
    this.stats.ms += result.ms;
    // A batch joined from several runs shares one buffer: only a caller's own buffer may come back.
    if (result.logits && !rowsPerRow) this.lent.add(result.logits.buffer as ArrayBuffer);
    return result;
  }

  private readonly lent = new WeakSet<ArrayBuffer>();
  private returned: ArrayBuffer[] = [];

  recycle(buffer: ArrayBuffer): void {
    if (!this.lent.delete(buffer) || this.returned.length >= 4) return;
    this.returned.push(buffer);
  }

  private flush(): void {
    this.flushScheduled = false;
    const groups = new Map<string, typeof this.queue>();
    for (const item of this.queue.splice(0)) {
      const r = item.req;
      const key = `${r.want}|${r.seq}|${r.rows.length}|${r.offset ?? 0}|${r.blockSize ?? 0}`;
      groups.set(key, [...(groups.get(key) ?? []), item]);
    }
    for (const group of groups.values()) {
      if (group.length === 1) {
        this.runNow(group[0].req).then(group[0].resolve, group[0].reject);
        continue;
      }
      const { want, seq, offset, blockSize } = group[0].req;
      const K = group[0].req.rows.length;
      const n = group.length;
      const ids = new Int32Array(n * seq);
      const rows = new Int32Array(n * K);
      group.forEach(({ req }, i) => {
        ids.set(req.ids, i * seq);
        rows.set(req.rows, i * K);
      });
      this.runNow({ ids, batch: n, seq, rows: [...rows], want, offset, blockSize }, true).then(
        (out) => {
          const part = <T extends Int32Array | Float32Array>(a: T | undefined, i: number) => (a ? (a.subarray((i * a.length) / n, ((i + 1) * a.length) / n) as T) : undefined);
          group.forEach(({ resolve }, i) => {
            const split: ForwardResult = { logits: part(out.logits, i), topIds: part(out.topIds, i), topLogp: part(out.topLogp, i), k: out.k };
            for (const key of Object.keys(split) as (keyof ForwardResult)[]) if (split[key] === undefined) delete split[key];
            resolve(split);
          });
        },
        (err) => group.forEach(({ reject }) => reject(err)),
      );
    }
  }

  /** Uniform-noise models (maskflow.json attention "encoder_canvas"): a new generation's canvas state in this model's worker. */
  openCanvas(): WorkerCanvas {
    if (this.disposed) throw new Error(`model ${this.key} was disposed`);
    return new WorkerCanvas((message, transfer) => this.client.call(message, transfer), this.manifest);
  }

  async dropCache(id: string): Promise<void> {
    if (!this.disposed) await this.client.call({ op: "drop-cache", cacheId: id });
  }

  /** Stops the worker and frees the session. Safe to call twice. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.client.terminate();
  }
}
