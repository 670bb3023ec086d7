// @ts-check
// The ONNX Runtime side of a loaded model, in its own worker thread: onnxruntime-node's
// session.run() is synchronous native code, so running it here keeps the main event loop (the
// server, the WebSocket, the CLI's progress bar) free. Plain JavaScript on purpose: a worker
// file must load without a TypeScript loader, from source, from a bundle and under vitest.
//
// Protocol (one request in flight per message id; replies carry the same id):
//   {op:"load", path? | bytes?, device, threads, inputs, outputs}
//                                                   -> {graph: {inputNames, outputNames, inputMetadata, outputMetadata}}
//   {op:"forward", ids: Int32Array, batch, seq, rows?: Int32Array}
//                                                   -> {logits: Float32Array [batch, rows?.length ?? seq, V], ms}
// `inputs`/`outputs` are maskflow.json's role -> graph name maps. Graphs exported with
// models/train/export.py --graph full (graph.py) have more inputs than input_ids; onnxruntime-node
// wants every input fed, so they get their neutral values here (no KV cache, offset 0, no CFG),
// and when rows are asked for, the `decide` input and `head_logits` output return just those rows.
//   {op:"dispose"}                                  -> {}
// Buffers cross the thread boundary by transfer, not by copy.
import { parentPort } from "node:worker_threads";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createRequire } from "node:module";
import ort from "onnxruntime-node";

const require = createRequire(import.meta.url);

/** @type {import("onnxruntime-node").InferenceSession | null} */
let session = null;
/** @type {"int64" | "int32"} */
let idsType = "int64";
/** @type {Record<string, string>} */
let inputRoles = { input_ids: "input_ids" };
/** @type {Record<string, string>} */
let outputRoles = { logits: "logits" };

const HINTS = {
  cuda:
    "CUDA needs onnxruntime-node's CUDA provider libraries (libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so, " +
    "the same version as onnxruntime-node) next to its binding in node_modules/onnxruntime-node/bin/napi-v6/linux/x64/. " +
    "On a machine with internet access run `node node_modules/onnxruntime-node/script/install.js --onnxruntime-node-install` " +
    "(or with ONNXRUNTIME_NODE_INSTALL_CUDA=v12 set), or copy both files from the Microsoft.ML.OnnxRuntime.Gpu.Linux NuGet " +
    "package of the same version. They load the CUDA runtime, cuBLAS and cuDNN 9 from LD_LIBRARY_PATH (recent builds need " +
    "CUDA 13: check with `ldd libonnxruntime_providers_cuda.so`). See models/README.md.",
  dml: "DirectML ships inside onnxruntime-node on Windows (x64, arm64) only.",
  coreml: "CoreML ships inside onnxruntime-node on macOS arm64 only.",
  webgpu: "WebGPU is experimental in onnxruntime-node (Windows, Linux x64, macOS arm64) and needs a GPU with a working Vulkan/Metal/D3D12 driver.",
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

/** @param {any} msg */
async function load(msg) {
  const device = msg.device ?? "cpu";
  /** @type {import("onnxruntime-node").InferenceSession.SessionOptions} */
  const options = { graphOptimizationLevel: "all", ...executionProviders(device) };
  if (msg.threads > 0) options.intraOpNumThreads = msg.threads;
  const source = msg.path ?? msg.label ?? "the ONNX bytes";
  inputRoles = msg.inputs ?? inputRoles;
  outputRoles = msg.outputs ?? outputRoles;
  try {
    session = msg.path ? await ort.InferenceSession.create(msg.path, options) : await ort.InferenceSession.create(msg.bytes, options);
  } catch (err) {
    const hint = device === "cpu" ? "" : ` ${HINTS[/** @type {keyof typeof HINTS} */ (device)] ?? ""}`;
    throw new Error(`${source}: onnxruntime could not load it${device === "cpu" ? "" : ` on device "${device}"`}: ${message(err)}${hint}`);
  }
  const graph = {
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    inputMetadata: session.inputMetadata.map((m) => ({ ...m, shape: "shape" in m ? [...m.shape] : undefined })),
    outputMetadata: session.outputMetadata.map((m) => ({ ...m, shape: "shape" in m ? [...m.shape] : undefined })),
  };
  return { graph };
}

/**
 * Neutral values for the graph inputs other than input_ids (graph.py's contract).
 * @param {number} batch @param {Int32Array | undefined} rows
 */
function extraFeeds(batch, rows) {
  if (!session) throw new Error("no model loaded");
  /** @type {Record<string, import("onnxruntime-node").Tensor>} */
  const feeds = {};
  const roleOf = Object.fromEntries(Object.entries(inputRoles).map(([role, name]) => [name, role]));
  for (const name of session.inputNames) {
    const role = roleOf[name];
    if (role === "input_ids") continue;
    const meta = session.inputMetadata.find((m) => m.name === name);
    const shape = meta && "shape" in meta ? meta.shape : [];
    if (role === "past_kv") {
      // [layers, 2, batch, heads, past, head_dim]: one (broadcast) batch row, no cached positions
      const dims = shape.map((d, i) => (typeof d === "number" ? d : i === 4 ? 0 : 1));
      feeds[name] = new ort.Tensor("float32", new Float32Array(0), dims);
    } else if (role === "position_offset") {
      feeds[name] = new ort.Tensor("int64", new BigInt64Array(1), [1]);
    } else if (role === "cfg_scale") {
      feeds[name] = new ort.Tensor("float32", new Float32Array(1), [1]);
    } else if (role === "decide") {
      const k = rows?.length || 1;
      const data = new BigInt64Array(batch * k);
      if (rows) for (let b = 0; b < batch; b++) for (let r = 0; r < k; r++) data[b * k + r] = BigInt(rows[r]);
      feeds[name] = new ort.Tensor("int64", data, [batch, k]);
    } else {
      throw new Error(`the graph has an input "${name}"${role ? ` (role ${role})` : ""} that Maskflow does not know how to feed`);
    }
  }
  return feeds;
}

/** @param {any} msg @param {(value: unknown, transfer?: ArrayBuffer[]) => void} reply */
async function forward(msg, reply) {
  if (!session) throw new Error("no model loaded");
  /** @type {Int32Array} */
  const ids = msg.ids;
  const { batch, seq } = msg;
  /** @type {Int32Array | undefined} */
  const rows = msg.rows;
  const input = inputRoles.input_ids;
  const inputMeta = session.inputMetadata.find((m) => m.name === input);
  idsType = inputMeta && "type" in inputMeta && inputMeta.type === "int32" ? "int32" : "int64";
  const data = idsType === "int32" ? ids : BigInt64Array.from(ids, (v) => BigInt(v));
  // The in-graph head gathers the asked-for rows before they leave onnxruntime.
  const useHead = rows && rows.length > 0 && inputRoles.decide && outputRoles.head_logits;
  const output = useHead ? outputRoles.head_logits : outputRoles.logits;
  const feeds = { [input]: new ort.Tensor(idsType, data, [batch, seq]), ...extraFeeds(batch, rows) };
  const t0 = performance.now();
  const out = await session.run(feeds, [output]);
  const ms = performance.now() - t0;
  const tensor = out[output];
  const all = /** @type {Float32Array} */ (tensor.data);
  /** @type {Float32Array} */
  let logits;
  if (rows && !useHead) {
    const V = all.length / (batch * seq);
    logits = new Float32Array(batch * rows.length * V);
    for (let b = 0; b < batch; b++) {
      for (let r = 0; r < rows.length; r++) {
        const from = (b * seq + rows[r]) * V;
        logits.set(all.subarray(from, from + V), (b * rows.length + r) * V);
      }
    }
  } else if (all.byteOffset === 0 && all.byteLength === all.buffer.byteLength) {
    logits = all;
  } else {
    logits = all.slice();
  }
  tensor.dispose?.();
  reply({ logits, ms }, [/** @type {ArrayBuffer} */ (logits.buffer)]);
}

parentPort?.on("message", async (msg) => {
  const { id, op } = msg;
  /** @param {unknown} value @param {ArrayBuffer[]} [transfer] */
  const reply = (value, transfer = []) => parentPort?.postMessage({ id, ok: true, value }, transfer);
  try {
    if (op === "load") reply(await load(msg));
    else if (op === "forward") await forward(msg, reply);
    else if (op === "dispose") {
      await session?.release();
      session = null;
      reply({});
    } else throw new Error(`unknown op ${op}`);
  } catch (err) {
    parentPort?.postMessage({ id, ok: false, error: message(err) });
  }
});
