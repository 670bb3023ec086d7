// Applying LoRA adapters to a loaded model: a new DllmModel (its own ONNX session) whose weights
// are the base model's plus the adapters' deltas. The base is never modified: every merge starts
// from the base model's file, and a model made by ApplyLora remembers its base and adapter stack,
// so ApplyLora(ApplyLora(base, A, 0.5), B, 1) merges A and B into the base's weights together.
//
// Two ways to build the merged session, chosen by size (see models/README-lora.md):
//   bytes:  decode model.onnx, patch the adapted initializers, encode, and hand the bytes to
//           DllmModel.withOnnxBytes. External data is read inline first. For models whose weights
//           fit a protobuf (under `inlineLimit`, 1 GiB by default).
//   folder: bigger models. Adapted weights are merged one at a time and streamed into a new
//           external data file in a temporary model folder; the base's data files are hard-linked
//           there (copied if the temp folder is on another file system), the graph is rewritten to
//           point at them, and the folder is loaded with DllmModel.load, then deleted (the session
//           has read it). Memory: one weight at a time plus what ONNX Runtime holds.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join, relative } from "node:path";
import { fingerprint, sha256File } from "../../files/fingerprint.js";
import { DEFAULT_LIMITS } from "../../limits.js";
import { float32ToBytes } from "../onnx/dtypes.js";
import { ExternalDataWriter } from "../onnx/external.js";
import { OnnxModel, PROTOBUF_LIMIT } from "../onnx/model.js";
import { DllmModel } from "../runtime/model.js";
import { LoraError, type LoraAdapter } from "./adapter.js";
import { mergeIntoModel, planMerge, readWeightManifest, type LoraLayer } from "./merge.js";

export interface AppliedLayer extends LoraLayer {
  /** Fingerprint of the adapter folder (part of the session key). */
  id: string;
}

interface Stack {
  root: DllmModel;
  layers: AppliedLayer[];
}

const stacks = new WeakMap<DllmModel, Stack>();

/** The base model and adapters a model was made from (empty for a model loaded from disk). */
export function loraStack(model: DllmModel): { base: DllmModel; adapters: { dir: string; strength: number }[] } {
  const s = stacks.get(model);
  return { base: s?.root ?? model, adapters: (s?.layers ?? []).map((l) => ({ dir: l.adapter.dir, strength: l.strength })) };
}

export interface ApplyOptions {
  /** "auto" (default) picks bytes or folder by size. */
  strategy?: "auto" | "bytes" | "folder";
  /** Largest total weight size merged in memory as one protobuf (default 1 GiB). */
  inlineLimit?: number;
  /** Where the folder strategy makes its temporary model folder (default the OS temp dir). */
  tempDir?: string;
  /** Checked between weights. */
  signal?: AbortSignal;
}

export interface ApplyStats {
  strategy: "bytes" | "folder";
  /** Weights changed. */
  weights: number;
  /** Reading the base, merging and encoding/writing. */
  mergeMs: number;
  /** Creating the ONNX Runtime session. */
  sessionMs: number;
}

export async function adapterId(adapter: LoraAdapter): Promise<string> {
  return `${basename(adapter.dir)}:${(await fingerprint(adapter.dir, DEFAULT_LIMITS)).replace(/^\w+:/, "").slice(0, 12)}`;
}

/** A new model: `model`'s base with `model`'s adapters and `adapter` at `strength` merged in. */
export async function applyLora(
  model: DllmModel,
  adapter: LoraAdapter,
  strength: number,
  options: ApplyOptions = {},
): Promise<{ model: DllmModel; stats: ApplyStats; warnings: string[] }> {
  if (!Number.isFinite(strength)) throw new LoraError("strength", `strength must be a finite number, got ${strength}`);
  const prior = stacks.get(model) ?? { root: model, layers: [] };
  const root = prior.root;
  const layers: AppliedLayer[] = [...prior.layers, { adapter, strength, id: await adapterId(adapter) }];
  const warnings: string[] = [];

  if (!root.weightsPath) {
    throw new LoraError(
      "model",
      `${root.dir} has no weight manifest (maskflow.json "weights", usually weights.json), so its LoRA-adaptable weights are unknown; ` +
        `convert it with maskflow convert (or export it with models/train/export.py), which writes one`,
    );
  }
  const manifest = readWeightManifest(root.weightsPath);
  const modelName = root.manifest.name ?? basename(root.dir);
  const plan = planMerge(manifest, layers, modelName);
  const made = adapter.config.base_model_name_or_path;
  if (made && made !== modelName && basename(made) !== modelName) {
    warnings.push(`adapter ${adapter.dir} was made for "${made}" and this model is "${modelName}"; its shapes fit, so it is applied`);
  }
  if (adapter.untargeted.length) {
    warnings.push(`${adapter.untargeted.length} module(s) in ${adapter.tensorsPath} are not in adapter_config.json target_modules (applied anyway): ${adapter.untargeted.slice(0, 3).join(", ")}`);
  }
  const baseSha = adapter.metadata["maskflow.base_model_sha256"];
  if (baseSha && /^[0-9a-f]{64}$/.test(baseSha)) {
    const current = await sha256File(root.onnxPath);
    if (current !== baseSha) {
      warnings.push(`adapter ${adapter.dir} was trained on another version of ${root.onnxPath} (sha256 ${baseSha.slice(0, 12)}…, now ${current.slice(0, 12)}…): retrain it (models/train/train_lora.py) for its intended effect`);
    }
  }

  const suffix = `lora[${layers.map((l) => `${l.id}@${l.strength}`).join(",")}]`;
  const t0 = performance.now();
  const onnx = OnnxModel.read(root.onnxPath);
  const total = onnx.weightBytes();
  const inlineLimit = Math.min(options.inlineLimit ?? 2 ** 30, PROTOBUF_LIMIT - 64 * 2 ** 20);
  const strategy = options.strategy && options.strategy !== "auto" ? options.strategy : total <= inlineLimit ? "bytes" : "folder";

  if (strategy === "bytes") {
    if (total > PROTOBUF_LIMIT - 2 ** 20) throw new LoraError("model", `${root.onnxPath}: ${total} bytes of weights cannot be merged in memory (protobuf's 2 GiB limit)`);
    const merged = await mergeIntoModel(onnx, plan, { signal: options.signal });
    if (onnx.hasExternalData()) onnx.inlineExternalData();
    const bytes = onnx.encode();
    const mergeMs = performance.now() - t0;
    const t1 = performance.now();
    const derived = await root.withOnnxBytes(bytes, suffix);
    stacks.set(derived, { root, layers });
    return { model: derived, stats: { strategy, weights: merged.weights, mergeMs, sessionMs: performance.now() - t1 }, warnings };
  }

  const dir = mkdtempSync(join(options.tempDir ?? tmpdir(), "maskflow-lora-"));
  try {
    const modelRel = relative(root.dir, root.onnxPath);
    const onnxOut = join(dir, modelRel);
    mkdirSync(dirname(onnxOut), { recursive: true });
    const writer = new ExternalDataWriter(dirname(onnxOut), `${basename(root.onnxPath)}.lora.data`);
    let merged;
    try {
      merged = await mergeIntoModel(onnx, plan, {
        signal: options.signal,
        write: (name, values) => onnx.writeExternal(name, float32ToBytes(values, onnx.tensor(name).dataType), writer),
      });
    } finally {
      writer.close();
    }
    onnx.save(onnxOut, { foreignData: "link" });
    for (const file of ["maskflow.json", "tokenizer.json", "tokenizer_config.json", "config.json", relative(root.dir, root.weightsPath)]) {
      const src = join(root.dir, file);
      if (existsSync(src)) {
        mkdirSync(dirname(join(dir, file)), { recursive: true });
        copyFileSync(src, join(dir, file));
      }
    }
    const mergeMs = performance.now() - t0;
    const t1 = performance.now();
    const derived = await DllmModel.load(dir, { device: root.device, threads: root.threads });
    stacks.set(derived, { root, layers });
    return { model: derived, stats: { strategy, weights: merged.weights, mergeMs, sessionMs: performance.now() - t1 }, warnings };
  } finally {
    removeLater(dir);
  }
}

/** The session has read the folder; remove it now, or at exit where open files cannot be deleted (Windows). */
function removeLater(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    process.once("exit", () => {
      try {
        rmSync(dir, { recursive: true, force: true });
      } catch {
        // nothing more to do
      }
    });
  }
}
