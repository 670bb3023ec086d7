// @ts-check
// The ONNX Runtime side of a loaded model, in its own worker thread: onnxruntime-node's
// session.run() is synchronous native code, so running it here keeps the main event loop (the
// server, the WebSocket, the CLI's progress bar) free. Plain JavaScript on purpose: a worker
// file must load without a TypeScript loader, from source, from a bundle and under vitest.
//
// Protocol (one request in flight per message id; replies carry the same id):
//   {op:"load", path? | bytes?, device, threads}   -> {graph: {inputNames, outputNames, inputMetadata, outputMetadata}}
//   {op:"roles", inputs, outputs}                   -> {} (maskflow.json's role -> graph name maps, sent after load)
//   {op:"forward", ids: Int32Array, batch, seq, rows?: Int32Array, want?: "logits" | "top",
//    cfgScale?, offset?, cache?: {use?: id, store?: {id, keep: [from, to][]}}}
//      want "logits" (default) -> {logits: Float32Array [batch, rows?.length ?? seq, V], ms}, and
//                                 with rows on a graph with a head and no cfgScale also the top-k below
//      want "top"              -> {topIds: Int32Array, topLogp: Float32Array [rows' batch, R, k], k, ms}
//                                 (with entropy: true, also entropy: Float32Array [rows' batch, R] from the head)
//      With cfgScale the batch is [conditional rows; unconditional rows] and the result covers the
//      first half: the graph combines u + (cfgScale + 1)(c - u) before its head.
//      rowsPerRow: rows holds K positions for each batch row ([batch * K]) instead of K shared ones.
//      recycle: ArrayBuffers of earlier logits the main thread is done with, reused for head outputs.
//      offset: position of ids[:, 0] (the cached prefix's length). cache.use feeds a stored past_kv;
//      cache.store keeps present_kv's positions in [from, to) ranges (of the fed window) under an id.
//   {op:"drop-cache", cacheId}                      -> {} (a stored cache or canvas state)
//   {op:"canvas-encode", cacheId, ids: Int32Array, groups?}  -> {encoded} (encoder + canvas graphs: extends
//      the canvas state `cacheId`, made from maskflow.json's kv_cache groups on first use; canvas-session.mjs)
//   {op:"canvas-step", cacheId, canvas: Int32Array, sc: Float32Array | null, temperature, uniforms: Float64Array, k?}
//      -> {argmax, entropy, sampled, argmaxProb, sampledProb, selfConditioning, topIds?, topProbs?, ms}: one decoder
//      step, sampled here by inverse CDF (k > 0: also each position's k most likely ids, tempered)
// Graphs exported with models/train/export.py --graph full (graph.py) have more inputs than
// input_ids; onnxruntime-node wants every input fed, so they get their neutral values here (no KV
// cache, offset 0, no CFG), and when rows are asked for, the `decide` input and `head_logits`
// output return just those rows.
//   {op:"ping"}                                     -> {} (the worker is up: onnxruntime is loaded)
//   {op:"dispose"}                                  -> {}
// Buffers cross the thread boundary by transfer, not by copy.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, utimesSync } from "node:fs";
import { availableParallelism, homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { parentPort, threadId } from "node:worker_threads";
import { createRequire } from "node:module";
import ort from "onnxruntime-node";
import { CanvasSession } from "./canvas-session.mjs";

const require = createRequire(import.meta.url);

/** @type {import("onnxruntime-node").InferenceSession | null} */
let session = null;
/** @type {Record<string, string>} */
let inputRoles = { input_ids: "input_ids" };
/** @type {Record<string, string>} */
let outputRoles = { logits: "logits" };
/** The graph's logits are the head over `decide`: whole-canvas logits are asked for with every position as a row. */
let logitsFromDecide = false;
/** Block-causal graphs: the block size fed when a request does not name one (maskflow.json attention.block_size). */
let defaultBlockSize = 0;

const HINTS = {
  cuda:
    "CUDA needs onnxruntime-node's CUDA provider libraries (libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so, " +
    "the same version as onnxruntime-node) next to its binding in node_modules/onnxruntime-node/bin/napi-v6/linux/x64/. " +
    "On a machine with internet access run `node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install` " +
    "(or with ONNXRUNTIME_NODE_INSTALL_CUDA=v12 set), or copy both files from the Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet " +
    "package of the same version (for 1.29.0, also from the npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9, " +
    "Plugins/Linux/x64/). They load the CUDA runtime, cuBLAS and cuDNN 9 from LD_LIBRARY_PATH (recent builds need " +
    "CUDA 13: check with `ldd libonnxruntime_providers_cuda.so`). See models/README.md.",
  dml: "DirectML ships inside onnxruntime-node on Windows (x64, arm64) only.",
  coreml: "CoreML ships inside onnxruntime-node on macOS arm64 only.",
  webgpu: "WebGPU is experimental in onnxruntime-node (Windows, Linux x64, macOS arm64) and needs a GPU with a working Vulkan/Metal/D3D12 driver (on Linux: the Vulkan loader libvulkan.so.1, e.g. Debian's libvulkan1, and the GPU vendor's Vulkan driver).",
  cpu: "",
};

/** @param {string} device */
function executionProviders(device) {
  const platform = `${process.platform}/${process.arch}`;
  const supported = ort.listSupportedBackends().map((b) => b.name);
  if (!supported.includes(device)) {
    throw new Error(
      `device "${device}" is not available in this onnxruntime-node build on ${platform} (available: ${supported.join(", ")}). ` +
        (HINTS[/** @type {keyof typeof HINTS} */ (device)] ?? ""),
    );
  }
  if (device === "cuda") {
    // dist/index.js -> bin/napi-v6/<platform>/<arch>/, where the install script puts the provider libraries
    const binding = join(dirname(require.resolve("onnxruntime-node")), "..", "bin", "napi-v6", process.platform, process.arch);
    const lib = process.platform === "win32" ? "onnxruntime_providers_cuda.dll" : "libonnxruntime_providers_cuda.so";
    if (!existsSync(join(binding, lib))) throw new Error(`device "cuda": ${join(binding, lib)} is not installed. ${HINTS.cuda}`);
    return { executionProviders: [{ name: "cuda", deviceId: 0 }] };
  }
  if (device === "dml") return { executionProviders: ["dml"], enableMemPattern: false, executionMode: /** @type {const} */ ("sequential") };
  return { executionProviders: [device] };
}

/** @param {unknown} err */
function message(err) {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The folder for onnxruntime's optimized copies of model graphs, or null when caching is off
 * (MASKFLOW_CACHE_DIR=off) or no folder can be made.
 */
function graphCacheDir() {
  const env = process.env.MASKFLOW_CACHE_DIR;
  if (env === "off") return null;
  const base =
    env ||
    join(process.env.XDG_CACHE_HOME || (process.platform === "win32" ? process.env.LOCALAPPDATA || join(homedir(), "AppData", "Local") : join(homedir(), ".cache")), "maskflow");
  const dir = join(base, "ort-graphs");
  try {
    mkdirSync(dir, { recursive: true });
    return dir;
  } catch {
    return null;
  }
}

/** Models up to this size (graph and files beside it) get an optimized copy; the cache keeps this many copies, the most recently used. */
const CACHE_MAX_BYTES = 512 * 1024 * 1024;
const CACHE_MAX_COPIES = 8;
/** What a copy holds; part of its key, so a change here rewrites older copies. 2: prepacked weights. */
const COPY_FORMAT = 2;

/**
 * Drops the older copies of the same model file (`prefix`), then the least recently used copies
 * beyond CACHE_MAX_COPIES (temporary model folders, such as tests make, would otherwise pile up).
 * Each copy is a folder: model.onnx (the graph) and model.onnx.data (its weights, also prepacked).
 * @param {string} dir @param {string} prefix @param {string} keep
 */
function trimCache(dir, prefix, keep) {
  const remove = (/** @type {string} */ path) => rmSync(path, { recursive: true, force: true });
  const names = readdirSync(dir);
  for (const name of names.filter((n) => n.includes(".tmp"))) {
    try {
      if (Date.now() - statSync(join(dir, name)).mtimeMs > 3600e3) remove(join(dir, name)); // left by a process that died writing
    } catch {
      // gone already
    }
  }
  const copies = names
    .filter((name) => !name.includes(".tmp"))
    .map((name) => join(dir, name))
    .filter((path) => {
      if (path === keep || !path.startsWith(join(dir, prefix))) return true;
      remove(path);
      return false;
    })
    .map((path) => {
      try {
        return { path, used: statSync(path).mtimeMs };
      } catch {
        return { path, used: Infinity }; // just removed by another process
      }
    })
    .sort((a, b) => b.used - a.used);
  for (const { path } of copies.slice(CACHE_MAX_COPIES)) if (path !== keep) remove(path);
}

/**
 * The model file and the files beside it, where its external data lives when it has any (the graph
 * names them; reading the graph to find out would cost what the cache saves): their total size,
 * and a key that changes when any of them changes. Size, mtime, ctime and inode: a file replaced
 * by another of the same size with its mtime kept still changes the last two. Null when the model
 * file cannot be read.
 * @param {string} abs
 */
function modelFiles(abs) {
  const folder = dirname(abs);
  try {
    const main = statSync(abs);
    let bytes = main.size;
    const parts = [`${main.size}:${main.mtimeMs}:${main.ctimeMs}:${main.ino}`];
    for (const name of readdirSync(folder).sort()) {
      const path = join(folder, name);
      if (path === abs) continue;
      const st = statSync(path, { throwIfNoEntry: false });
      if (!st?.isFile()) continue;
      bytes += st.size;
      parts.push(`${name}:${st.size}:${st.mtimeMs}:${st.ctimeMs}:${st.ino}`);
    }
    return { bytes, key: parts.join("|") };
  } catch {
    return null;
  }
}

/**
 * A CPU session for the model file at `path` created from onnxruntime's own optimized copy of its
 * graph, written by the first load into the user's cache folder, with the weights in a file of
 * their own beside the graph, their matrix-multiply layouts included (prepacked, as the CPU kernels
 * want them): creating the default model's session from it takes ~150 ms instead of ~450 (no graph
 * optimisation, a small protobuf to parse, no repacking), paid once per model file instead of once
 * per process. The weights file holds both layouts, about twice the model's size. The copy is
 * keyed by the model's files (modelFiles), onnxruntime's version and COPY_FORMAT; it is only
 * read on the machine that wrote it (an "all"-level graph may hold CPU-specific fusions); the
 * computation is the same graph, so results are identical (the parity tests run through it). Only
 * for models whose folder holds up to CACHE_MAX_BYTES (a graph with gigabytes of external data is
 * a small file), and the cache keeps the CACHE_MAX_COPIES most recently used copies. Null when
 * there is no usable copy yet: then this load writes one, and any trouble with the cache falls
 * back to a plain load.
 * @param {string} path @param {import("onnxruntime-node").InferenceSession.SessionOptions} options
 */
async function fromOptimizedCopy(path, options) {
  const dir = graphCacheDir();
  if (!dir) return null;
  const abs = resolve(path);
  const files = modelFiles(abs);
  if (!files) return null; // the plain load says what is wrong
  if (files.bytes > CACHE_MAX_BYTES) return null; // a big model's copy would cost twice its size in disk, for a smaller share of its load
  // onnxruntime 1.29's saved prepacked MatMulNBits weights (int4/int8 models from `maskflow
  // convert`) read back as NaN (checked: the same copy without them is identical to a direct
  // load), so quantised models keep their weights in the graph's own layout.
  const prepack = !quantised(abs);
  const hash = (/** @type {string} */ text) => createHash("sha256").update(text).digest("hex").slice(0, 16);
  const prefix = `${hash(abs)}-`;
  // COPY_FORMAT: copies written by an earlier Maskflow (without prepacked weights) are replaced.
  const copy = join(dir, `${prefix}${hash(`${files.key}:${ort.env.versions.node}:${COPY_FORMAT}:${prepack}`)}`);
  if (existsSync(join(copy, "model.onnx"))) {
    try {
      const session = await ort.InferenceSession.create(join(copy, "model.onnx"), { ...options, graphOptimizationLevel: "disabled" });
      const now = new Date();
      utimesSync(copy, now, now); // recently used: kept when the folder is trimmed
      return session;
    } catch {
      rmSync(copy, { recursive: true, force: true }); // unreadable: make a new one below
    }
  }
  // Written into a folder of its own, then renamed into place: a reader never sees half a copy.
  const tmp = `${copy}.${process.pid}-${threadId}.tmp`;
  try {
    mkdirSync(tmp, { recursive: true });
    const session = await ort.InferenceSession.create(abs, {
      ...options,
      optimizedModelFilePath: join(tmp, "model.onnx"),
      extra: {
        session: {
          optimized_model_external_initializers_file_name: "model.onnx.data",
          optimized_model_external_initializers_min_size_in_bytes: "1024",
          save_external_prepacked_constant_initializers: prepack ? "1" : "0",
        },
      },
      logSeverityLevel: 3, // onnxruntime warns that an "all"-level copy is for this machine only, which it is
    });
    try {
      renameSync(tmp, copy);
    } catch {
      rmSync(tmp, { recursive: true, force: true }); // another process put its copy there first
    }
    trimCache(dir, prefix, copy);
    return session;
  } catch {
    rmSync(tmp, { recursive: true, force: true });
    return null;
  }
}

/**
 * Whether the model folder's maskflow.json says its weights are block-quantised (int8/int4).
 * @param {string} onnxPath
 */
function quantised(onnxPath) {
  try {
    const manifest = JSON.parse(readFileSync(join(dirname(onnxPath), "maskflow.json"), "utf8"));
    return typeof manifest.dtype === "string" && manifest.dtype.startsWith("int");
  } catch {
    return false;
  }
}

/** @param {any} msg */
async function load(msg) {
  const device = msg.device ?? "cpu";
  /** @type {import("onnxruntime-node").InferenceSession.SessionOptions} */
  const options = { graphOptimizationLevel: "all", ...executionProviders(device) };
  // 0: one thread per CPU the process may use. Always explicit: left to itself onnxruntime pins its
  // pool threads to cores, and a pinned thread sharing a core with Node's main thread makes every
  // forward ~25% slower on a 2-core machine (measured: 5.8 vs 4.4 ms for the default model).
  // Never more than the CPUs there are: a workflow sets `threads`, and 256 threads on 2 cores made
  // a run 170 times slower (and each distinct value is another session).
  const cpus = availableParallelism();
  options.intraOpNumThreads = msg.threads > 0 ? Math.min(msg.threads, cpus) : cpus;
  const source = msg.path ?? msg.label ?? "the ONNX bytes";
  try {
    session = msg.path ? ((device === "cpu" && (await fromOptimizedCopy(msg.path, options))) || (await ort.InferenceSession.create(msg.path, options))) : await ort.InferenceSession.create(msg.bytes, options);
  } catch (err) {
    const hint = device === "cpu" ? "" : ` ${HINTS[/** @type {keyof typeof HINTS} */ (device)] ?? ""}`;
    throw new Error(`${source}: onnxruntime could not load it${device === "cpu" ? "" : ` on device "${device}"`}: ${message(err)}${hint}`);
  }
  feedPlan = null;
  const graph = {
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: session.inputMetadata.map((m) => ({ ...m, shape: "shape" in m ? [...m.shape] : undefined })),
    outputMetadata: session.outputMetadata.map((m) => ({ ...m, shape: "shape" in m ? [...m.shape] : undefined })),
  };
  return { graph };
}

/** The vocabulary axis of the head_logits output, when the graph has one of fixed size (else 0). */
let headVocab = 0;

/** Logits buffers handed back by the main thread, for the next forwards' head output. */
/** @type {ArrayBuffer[]} */
const spareBuffers = [];

/** Stored KV caches: id -> past_kv tensor [layers, 2, batch, heads, positions, head_dim]. */
/** @type {Map<string, import("onnxruntime-node").Tensor>} */
const caches = new Map();

/** Uniform-noise models: id -> the canvas state (context caches) of one generation. */
/** @type {Map<string, CanvasSession>} */
const canvases = new Map();

/**
 * How each graph input is fed, worked out once per session and roles message rather than on every
 * forward: input_ids' element type, and [name, role, shape] of every other input.
 * @typedef {{ idsName: string, idsType: "int64" | "int32", others: { name: string, role: string | undefined, shape: readonly (number | string)[] }[] }} FeedPlan
 */
/** @type {FeedPlan | null} */
let feedPlan = null;

/** @returns {FeedPlan} */
function planFeeds() {
  if (!session) throw new Error("no model loaded");
  if (feedPlan) return feedPlan;
  const s = session;
  const roleOf = Object.fromEntries(Object.entries(inputRoles).map(([role, name]) => [name, role]));
  const meta = (/** @type {string} */ name) => s.inputMetadata.find((m) => m.name === name);
  const idsName = inputRoles.input_ids;
  const idsMeta = meta(idsName);
  const others = s.inputNames
    .filter((name) => roleOf[name] !== "input_ids")
    .map((name) => {
      const m = meta(name);
      return { name, role: roleOf[name], shape: m && "shape" in m ? m.shape : [] };
    });
  feedPlan = { idsName, idsType: idsMeta && "type" in idsMeta && idsMeta.type === "int32" ? "int32" : "int64", others };
  return feedPlan;
}

/**
 * Values for the graph inputs other than input_ids (graph.py's contract): neutral ones (no KV cache,
 * offset 0, no CFG) unless the request sets them.
 * @param {FeedPlan} plan @param {number} batch @param {Int32Array | undefined} rows
 * @param {{cfgScale?: number, offset?: number, past?: import("onnxruntime-node").Tensor, perRow?: boolean, blockSize?: number}} [opts]
 */
function extraFeeds(plan, batch, rows, opts = {}) {
  /** @type {Record<string, import("onnxruntime-node").Tensor>} */
  const feeds = {};
  for (const { name, role, shape } of plan.others) {
    if (role === "past_kv" && opts.past) {
      feeds[name] = opts.past;
    } else if (role === "past_kv") {
      // [layers, 2, batch, heads, past, head_dim] with no cached positions. The batch must be the
      // real one: onnxruntime's Expand of an empty tensor over a broadcast dimension dies with SIGFPE.
      const dims = shape.map((d, i) => (typeof d === "number" ? d : i === 4 ? 0 : i === 2 ? batch : 1));
      feeds[name] = new ort.Tensor("float32", new Float32Array(0), dims);
    } else if (role === "position_offset") {
      feeds[name] = new ort.Tensor("int64", BigInt64Array.of(BigInt(opts.offset ?? 0)), [1]);
    } else if (role === "block_size") {
      feeds[name] = new ort.Tensor("int64", BigInt64Array.of(BigInt(opts.blockSize || defaultBlockSize || 1)), [1]);
    } else if (role === "cfg_scale") {
      feeds[name] = new ort.Tensor("float32", Float32Array.of(opts.cfgScale ?? 0), [1]);
    } else if (role === "decide") {
      const k = (opts.perRow && rows ? rows.length / batch : rows?.length) || 1;
      const data = new BigInt64Array(batch * k);
      if (rows) for (let b = 0; b < batch; b++) for (let r = 0; r < k; r++) data[b * k + r] = BigInt(rows[opts.perRow ? b * k + r : r]);
      feeds[name] = new ort.Tensor("int64", data, [batch, k]);
    } else {
      throw new Error(`the graph has an input "${name}"${role ? ` (role ${role})` : ""} that Maskflow does not know how to feed`);
    }
  }
  return feeds;
}

/**
 * Keeps the positions of present_kv [L, 2, B, H, S, D] that fall in the [from, to) ranges.
 * @param {import("onnxruntime-node").Tensor} present @param {number[][]} keep
 */
function slicePast(present, keep) {
  const [L, two, B, H, S, D] = /** @type {number[]} */ (present.dims);
  const src = /** @type {Float32Array} */ (present.data);
  const ranges = keep.map(([a, b]) => [Math.max(0, a), Math.min(S, b)]).filter(([a, b]) => b > a);
  const P = ranges.reduce((n, [a, b]) => n + b - a, 0);
  const out = new Float32Array(L * two * B * H * P * D);
  let o = 0;
  for (let outer = 0; outer < L * two * B * H; outer++) {
    for (const [a, b] of ranges) {
      out.set(src.subarray((outer * S + a) * D, (outer * S + b) * D), o);
      o += (b - a) * D;
    }
  }
  return new ort.Tensor("float32", out, [L, two, B, H, P, D]);
}

/**
 * The cache `a` [L, 2, B, H, P, D] followed by `b` [L, 2, B, H, Q, D] along the positions.
 * @param {import("onnxruntime-node").Tensor} a @param {import("onnxruntime-node").Tensor} b
 */
function appendPast(a, b) {
  const [L, two, B, H, P, D] = /** @type {number[]} */ (a.dims);
  const Q = /** @type {number} */ (b.dims[4]);
  const x = /** @type {Float32Array} */ (a.data);
  const y = /** @type {Float32Array} */ (b.data);
  const out = new Float32Array(L * two * B * H * (P + Q) * D);
  for (let outer = 0, o = 0; outer < L * two * B * H; outer++) {
    out.set(x.subarray(outer * P * D, (outer + 1) * P * D), o);
    o += P * D;
    out.set(y.subarray(outer * Q * D, (outer + 1) * Q * D), o);
    o += Q * D;
  }
  return new ort.Tensor("float32", out, [L, two, B, H, P + Q, D]);
}

/** @param {any} msg @param {(value: unknown, transfer?: ArrayBuffer[]) => void} reply */
async function forward(msg, reply) {
  if (!session) throw new Error("no model loaded");
  /** @type {Int32Array} */
  const ids = msg.ids;
  const { batch, seq } = msg;
  const want = msg.want ?? "logits";
  /** @type {Int32Array | undefined} */
  let rows = msg.rows;
  if (logitsFromDecide && !msg.rowsPerRow && (!rows || rows.length === 0)) rows = Int32Array.from({ length: seq }, (_, i) => i);
  const cfg = msg.cfgScale;
  const plan = planFeeds();
  const data = plan.idsType === "int32" ? ids : BigInt64Array.from(ids, (v) => BigInt(v));
  let past;
  if (msg.cache?.use) {
    past = caches.get(msg.cache.use);
    if (!past) throw new Error(`no KV cache "${msg.cache.use}" in this model's worker`);
  }
  const feeds = { [plan.idsName]: new ort.Tensor(plan.idsType, data, [batch, seq]), ...extraFeeds(plan, batch, rows, { cfgScale: cfg, offset: msg.offset, past, perRow: msg.rowsPerRow, blockSize: msg.blockSize }) };

  /** @type {string[]} */
  const fetch = [];
  const useRowsHead = rows && rows.length > 0 && inputRoles.decide && outputRoles.head_logits;
  /** @type {string | null} */
  let entropyName = null;
  if (want === "top") {
    const prefix = cfg !== undefined ? "cfg" : "head";
    fetch.push(outputRoles[`${prefix}_top_ids`], outputRoles[`${prefix}_top_logp`]);
    if (fetch.some((f) => !f)) throw new Error(`this graph has no ${prefix}_top_ids/${prefix}_top_logp head`);
    // the rows' entropies too, when asked and the graph has them (the editor's candidate inspector)
    if (msg.entropy && outputRoles[`${prefix}_entropy`]) fetch.push((entropyName = outputRoles[`${prefix}_entropy`]));
  } else {
    fetch.push(useRowsHead ? outputRoles.head_logits : outputRoles.logits);
    // The rows' top-k log-probabilities come along (a few bytes): a sampler bounds each row's
    // confidence with them and prepares only the rows it must decide.
    if (useRowsHead && cfg === undefined && outputRoles.head_top_ids && outputRoles.head_top_logp) fetch.push(outputRoles.head_top_ids, outputRoles.head_top_logp);
  }
  if (msg.cache?.store) {
    if (!outputRoles.present_kv) throw new Error("this graph has no present_kv output (export it with the KV cache)");
    fetch.push(outputRoles.present_kv);
  }
  /** @type {string[] | Record<string, import("onnxruntime-node").Tensor | null>} */
  let fetchSpec = fetch;
  // The head's logits rows are written into a buffer the main thread handed back (`recycle`) when
  // one is large enough: a sampled step otherwise allocates, and later collects, R x V floats.
  for (const b of msg.recycle ?? []) if (spareBuffers.length < 4) spareBuffers.push(b);
  const V = headVocab;
  /** @type {Float32Array | null} */
  let into = null;
  if (rows && useRowsHead && want === "logits" && V > 0) {
    const K = msg.rowsPerRow ? rows.length / batch : rows.length;
    const n = batch * K * V;
    const at = spareBuffers.findIndex((b) => b.byteLength >= n * 4);
    into = new Float32Array(at >= 0 ? spareBuffers.splice(at, 1)[0] : new ArrayBuffer(n * 4), 0, n);
    /** @type {Record<string, import("onnxruntime-node").Tensor | null>} */
    const preallocated = Object.fromEntries(fetch.map((name) => [name, null]));
    preallocated[fetch[0]] = new ort.Tensor("float32", into, [batch, K, V]);
    fetchSpec = preallocated;
  }
  const t0 = performance.now();
  const out = await session.run(feeds, fetchSpec);
  const ms = performance.now() - t0;
  if (msg.cache?.store) {
    const present = out[outputRoles.present_kv];
    const kept = slicePast(present, msg.cache.store.keep);
    caches.set(msg.cache.store.id, msg.cache.store.append && past ? appendPast(past, kept) : kept);
    present.dispose?.();
  }

  /** @param {string} idsName @param {string} logpName */
  const top = (idsName, logpName) => {
    const idsT = out[idsName];
    const lpT = out[logpName];
    const k = /** @type {number[]} */ (idsT.dims).at(-1) ?? 0;
    const topIds = Int32Array.from(/** @type {BigInt64Array} */ (idsT.data), (v) => Number(v));
    const topLogp = /** @type {Float32Array} */ (lpT.data).slice();
    return { topIds, topLogp, k };
  };
  if (want === "top") {
    const t = top(fetch[0], fetch[1]);
    const entropy = entropyName ? /** @type {Float32Array} */ (out[entropyName].data).slice() : undefined;
    reply({ ...t, ...(entropy ? { entropy } : {}), ms }, [t.topIds.buffer, t.topLogp.buffer, ...(entropy ? [entropy.buffer] : [])].map((b) => /** @type {ArrayBuffer} */ (b)));
    return;
  }
  const withTop = fetch.includes(outputRoles.head_top_logp) && want === "logits" ? top(outputRoles.head_top_ids, outputRoles.head_top_logp) : null;
  const tensor = out[fetch[0]];
  const all = /** @type {Float32Array} */ (tensor.data);
  /** @type {Float32Array} */
  let logits;
  if (into) {
    logits = into;
  } else if (rows && !useRowsHead) {
    const V = all.length / (batch * seq);
    const K = msg.rowsPerRow ? rows.length / batch : rows.length;
    logits = new Float32Array(batch * K * V);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < K; r++) {
        const from = (b * seq + rows[msg.rowsPerRow ? b * K + r : r]) * V;
        logits.set(all.subarray(from, from + V), (b * K + r) * V);
      }
    }
  } else if (all.byteOffset === 0 && all.byteLength === all.buffer.byteLength) {
    logits = all;
  } else {
    logits = all.slice();
  }
  tensor.dispose?.();
  const transfer = [logits, ...(withTop ? [withTop.topIds, withTop.topLogp] : [])].map((a) => /** @type {ArrayBuffer} */ (a.buffer));
  reply({ logits, ...withTop, ms }, transfer);
}

parentPort?.on("message", async (msg) => {
  const { id, op } = msg;
  /** @param {unknown} value @param {ArrayBuffer[]} [transfer] */
  const reply = (value, transfer = []) => parentPort?.postMessage({ id, ok: true, value }, transfer);
  try {
    if (op === "load") reply(await load(msg));
    else if (op === "roles") {
      inputRoles = msg.inputs ?? inputRoles;
      outputRoles = msg.outputs ?? outputRoles;
      logitsFromDecide = msg.logitsFromDecide === true;
      defaultBlockSize = msg.blockSize ?? 0;
      feedPlan = null;
      const head = session?.outputMetadata.find((m) => m.name === outputRoles.head_logits);
      const v = head && "shape" in head ? head.shape[2] : undefined;
      headVocab = typeof v === "number" ? v : 0;
      reply({});
    }
    else if (op === "forward") await forward(msg, reply);
    else if (op === "drop-cache") {
      caches.delete(msg.cacheId);
      canvases.delete(msg.cacheId);
      reply({});
    }
    else if (op === "canvas-encode") {
      if (!session) throw new Error("no model loaded");
      let state = canvases.get(msg.cacheId);
      if (!state) canvases.set(msg.cacheId, (state = new CanvasSession(session, msg.groups, inputRoles, outputRoles)));
      await state.encode(msg.ids);
      reply({ encoded: state.length });
    }
    else if (op === "canvas-step") {
      const state = canvases.get(msg.cacheId);
      if (!state) throw new Error(`no canvas state "${msg.cacheId}" (encode the context first)`);
      const t0 = performance.now();
      const r = await state.step(msg.canvas, msg.sc, msg.temperature, msg.uniforms, msg.k ?? 0);
      const arrays = [r.argmax, r.entropy, r.sampled, r.argmaxProb, r.sampledProb, r.selfConditioning, ...(r.topIds ? [r.topIds, r.topProbs] : [])];
      reply({ ...r, ms: performance.now() - t0 }, arrays.map((a) => /** @type {ArrayBuffer} */ (a?.buffer)));
    }
    else if (op === "ping") reply({});
    else if (op === "dispose") {
      canvases.clear();
      await session?.release();
      session = null;
      reply({});
    } else throw new Error(`unknown op ${op}`);
  } catch (err) {
    parentPort?.postMessage({ id, ok: false, error: message(err) });
  }
});
