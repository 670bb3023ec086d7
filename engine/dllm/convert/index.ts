// `maskflow convert`: a Hugging Face checkpoint folder (or a hub repo id, downloaded first) into a
// Maskflow model folder (model.onnx + model.onnx.data, tokenizer.json, tokenizer_config.json,
// maskflow.json, weights.json, config.json), with no Python. The family module (families/) reads
// the config; decoder.ts writes the graph; weights.ts stores each tensor in the chosen dtype as it
// is read, so memory holds about one tensor (plus its converted copy) at a time.
//
// The folder is written under a temporary name beside the target and renamed into place at the
// end: an interrupted or failed conversion leaves no half-written model behind.
import { existsSync, mkdirSync, renameSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { GraphBuilder } from "../onnx/builder.js";
import { ExternalDataWriter } from "../onnx/external.js";
import { PROTOBUF_LIMIT } from "../onnx/model.js";
import { loadAdapter } from "../lora/adapter.js";
import { applyTerms, planMerge, type LoraLayer, type MergeTarget, type WeightEntry } from "../lora/merge.js";
import { DllmTokenizer } from "../tokenizer.js";
import { Checkpoint } from "./checkpoint.js";
import { buildCanvasGraph, canvasExpectedTensors, CANVAS_INPUT_NAMES, CANVAS_OUTPUT_NAMES, kvGroups, pastName, presentName } from "./canvas-graph.js";
import { buildDecoder, HEAD_TOP_K, INPUT_NAMES, OUTPUT_NAMES } from "./decoder.js";
import type { CanvasFamilyModel, DecoderFamilyModel, DecoderSpec, FamilyModel } from "./family.js";
import { familyFor } from "./families/index.js";
import { readTokenizerFiles, tokenizerConfig, tokenizerJson } from "./tokenizer.js";
import { CONVERT_DTYPES, WeightWriter, type ConvertDtype, type Storage, type WeightPlan } from "./weights.js";

export { CONVERT_DTYPES, type ConvertDtype } from "./weights.js";
export { Checkpoint, CheckpointError } from "./checkpoint.js";
export { FAMILIES, familyFor } from "./families/index.js";

export interface ConvertOptions {
  out: string;
  dtype: ConvertDtype;
  /** MatMulNBits block size (default 32) */
  blockSize?: number;
  /** MatMulNBits accuracy_level (default 4: int8 products, the fastest on CPUs) */
  accuracyLevel?: number;
  /** storage of the embedding / output head; defaults by dtype (see defaultPlan) */
  embedding?: Storage;
  head?: Storage;
  /** storage of MoE experts (default: the dtype's bits); see WeightPlan.experts */
  experts?: Storage;
  /** LoRA adapters merged into the float weights before they are stored (and quantised) */
  loras?: { path: string; strength: number }[];
  /** the name maskflow.json gives the model (default: the checkpoint folder's name) */
  name?: string;
  /** where the model came from (a hub id), recorded in maskflow.json */
  source?: string;
  /** replace an existing folder at `out` */
  force?: boolean;
  /** override the family's max_length */
  maxLength?: number;
  /** write RMSNorm as onnxruntime's fused SimplifiedLayerNormalization (default false: plain ops, which onnxruntime fuses itself) */
  fusedNorm?: boolean;
  onProgress?: (p: ConvertProgress) => void;
  signal?: AbortSignal;
}

export interface ConvertProgress {
  /** bytes of checkpoint tensors converted so far, of `total` */
  done: number;
  total: number;
  tensor: string;
}

export interface ConvertResult {
  dir: string;
  family: string;
  dtype: ConvertDtype;
  parameters: number;
  /** bytes on disk of the model folder */
  bytes: number;
  warnings: string[];
  seconds: number;
}

/**
 * Embedding and head storage per dtype: 8 bits for both, also in int4 models (as llama.cpp keeps
 * its output matrix at higher precision). Measured on a LLaDA-8B-shaped 2-layer model (random
 * weights, logits' relative RMS error against fp32): int4 layers with a q4 embedding 0.151, with
 * a q8 one 0.116, for 0.26 GiB more at 8B; a q4 head instead of q8 0.167. Looking up 8-bit rows
 * costs nothing measurable, and the head projects only the decided rows.
 */
export function defaultPlan(dtype: ConvertDtype): Pick<WeightPlan, "embedding" | "head"> {
  if (dtype === "int4" || dtype === "int8") return { embedding: "q8", head: "q8" };
  return { embedding: "float", head: "float" };
}

/** Every tensor the decoder reads, with its shape. */
export function expectedTensors(spec: DecoderSpec): Map<string, number[]> {
  const { hidden: d, heads: H, kvHeads: Hkv, headDim: D, intermediate: I, vocab: V } = spec;
  const out = new Map<string, number[]>([[spec.embed, [V, d]], [spec.finalNorm, [d]], [spec.head, [V, d]]]);
  for (let i = 0; i < spec.layers; i++) {
    const t = spec.layer(i);
    const add = (name: string | undefined, shape: number[]) => name && out.set(name, shape);
    add(t.attnNorm, [d]);
    add(t.q, [H * D, d]);
    add(t.k, [Hkv * D, d]);
    add(t.v, [Hkv * D, d]);
    add(t.qkv, [(H + 2 * Hkv) * D, d]);
    add(t.qBias, [H * D]);
    add(t.kBias, [Hkv * D]);
    add(t.vBias, [Hkv * D]);
    add(t.qNorm, [D]);
    add(t.kNorm, [D]);
    add(t.o, [d, H * D]);
    add(t.mlpNorm, [d]);
    add(t.gate, [I, d]);
    add(t.up, [I, d]);
    add(t.down, [d, I]);
    if (t.moe && spec.moe) {
      const m = spec.moe;
      add(t.moe.router, [m.experts, d]);
      add(t.moe.expertBias, [m.experts]);
      for (let e = 0; e < m.experts; e++) {
        const x = t.moe.expert(e);
        add(x.gate, [m.intermediate, d]);
        add(x.up, [m.intermediate, d]);
        add(x.down, [d, m.intermediate]);
      }
      if (t.moe.shared) {
        add(t.moe.shared.gate, [m.sharedIntermediate, d]);
        add(t.moe.shared.up, [m.sharedIntermediate, d]);
        add(t.moe.shared.down, [d, m.sharedIntermediate]);
      }
    }
  }
  return out;
}

function bytesPer(storage: Storage | ConvertDtype, blockSize: number): number {
  if (storage === "q4" || storage === "int4") return 0.5 + 5 / blockSize; // + a float scale and a zero point per block
  if (storage === "q8" || storage === "int8") return 1 + 5 / blockSize;
  return storage === "fp16" ? 2 : 4;
}

function fmtBytes(n: number): string {
  return n >= 2 ** 30 ? `${(n / 2 ** 30).toFixed(1)} GiB` : `${(n / 2 ** 20).toFixed(1)} MiB`;
}

/** Bytes the converted weights will take: to check the disk before writing anything. */
export function estimateBytes(spec: DecoderSpec, plan: WeightPlan): number {
  return estimateFrom(expectedTensors(spec), spec, plan);
}

function estimateFrom(tensors: Map<string, number[]>, spec: { embed: string; head: string }, plan: WeightPlan): number {
  const floatBytes = plan.dtype === "fp16" ? 2 : 4;
  const storageBytes = (s: Storage) => (s === "float" ? floatBytes : bytesPer(s, plan.blockSize));
  let n = 0;
  for (const [name, shape] of tensors) {
    const numel = shape.reduce((a, b) => a * b, 1);
    if (shape.length === 1) n += numel * 4;
    else if (name === spec.embed) n += numel * storageBytes(plan.embedding) * (name === spec.head ? 2 : 1);
    else if (name === spec.head) n += numel * storageBytes(plan.head);
    else n += numel * (plan.dtype === "fp32" || plan.dtype === "fp16" ? floatBytes : bytesPer(plan.dtype, plan.blockSize));
  }
  return Math.ceil(n);
}

export async function convertCheckpoint(source: string, options: ConvertOptions): Promise<ConvertResult> {
  const t0 = performance.now();
  if (!CONVERT_DTYPES.includes(options.dtype)) throw new Error(`--dtype ${options.dtype} is not one of ${CONVERT_DTYPES.join(", ")}`);
  const ckpt = Checkpoint.open(source);
  const tok = readTokenizerFiles(ckpt.dir);
  const family = familyFor(ckpt.config, ckpt.dir);
  const model: FamilyModel = family.describe(ckpt, tok);
  const spec = model.canvas ?? model.decoder;
  const warnings: string[] = [];

  // Check every tensor's presence, dtype and shape before writing anything.
  const expected = model.canvas ? canvasExpectedTensors(model.canvas) : expectedTensors(model.decoder);
  let parameters = 0;
  let total = 0;
  for (const [name, shape] of expected) {
    const info = ckpt.expect(name, shape);
    parameters += shape.reduce((a, b) => a * b, 1);
    total += shape.reduce((a, b) => a * b, 1) * (info.dtype === "F32" ? 4 : 2);
  }
  const skipped = model.canvas ? model.skipped : undefined;
  const left = skipped ? ckpt.names().filter((n) => skipped.test(n)) : [];
  if (left.length) warnings.push(`${skipped!.message} (${left.length} tensor(s) skipped)`);
  const unused = ckpt.names().filter((n) => !expected.has(n) && !/rotary_emb\.inv_freq$/.test(n) && !skipped?.test(n));
  if (unused.length) warnings.push(`${unused.length} checkpoint tensor(s) are not part of the ${family.id} graph and were skipped: ${unused.slice(0, 3).join(", ")}`);

  const tokens = model.tokens;
  for (const [field, id] of Object.entries(tokens)) {
    if (id !== undefined && (id < 0 || id >= spec.vocab)) throw new Error(`${ckpt.dir}: the ${field} token id ${id} is outside the model's ${spec.vocab} embedding rows`);
  }

  const blockSize = options.blockSize ?? 32;
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`--block-size ${blockSize}: MatMulNBits needs a power of two, at least 16`);
  const plan: WeightPlan = {
    dtype: options.dtype,
    blockSize,
    accuracyLevel: options.accuracyLevel ?? 4,
    ...defaultPlan(options.dtype),
    ...(options.embedding ? { embedding: options.embedding } : {}),
    ...(options.head ? { head: options.head } : {}),
    ...(options.experts ? { experts: options.experts } : {}),
  };
  if (options.dtype === "fp16" && (plan.embedding !== "float" || plan.head !== "float")) throw new Error("fp16 conversions keep the embedding and head in fp16 (--embedding/--head float)");

  // LoRA adapters, merged into the float weights before anything is stored or quantised
  const merges = new Map<string, MergeTarget>();
  if (options.loras?.length) {
    const linear = new Map<string, WeightEntry>();
    for (const [name, shape] of expected) if (shape.length === 2 && name !== spec.embed) linear.set(name, { name, onnx: name, shape, dtype: "float32", layout: "out_in" });
    const layers: LoraLayer[] = options.loras.map((l) => ({ adapter: loadAdapter(l.path), strength: l.strength }));
    for (const t of planMerge(linear, layers, options.name ?? basename(ckpt.dir))) merges.set(t.weight.name, t);
  }

  // The output folder: refuse to overwrite by accident, check the disk.
  const out = resolve(options.out);
  if (existsSync(out) && !options.force) throw new Error(`${out} already exists (pass --force to replace it)`);
  const parent = dirname(out);
  mkdirSync(parent, { recursive: true });
  // a canvas graph with a quantised embedding also stores E^T for the self-conditioning product
  const softCopy = model.canvas && plan.embedding !== "float" ? spec.vocab * model.canvas.hidden * bytesPer(plan.embedding, plan.blockSize) : 0;
  const needed = estimateFrom(expected, spec, plan) + softCopy + 64 * 2 ** 20;
  const fs = statfsSync(parent);
  const free = Number(fs.bavail) * Number(fs.bsize);
  if (free < needed) throw new Error(`not enough disk space at ${parent}: the ${options.dtype} model needs about ${fmtBytes(needed)}, ${fmtBytes(free)} is free`);

  const tmp = join(parent, `.${basename(out)}.partial-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  try {
    const external = new ExternalDataWriter(tmp, "model.onnx.data");
    const g = new GraphBuilder({ external });
    let done = 0;
    const seen = new Set<string>();
    const writer = new WeightWriter(g, plan, (name, shape) => {
      options.signal?.throwIfAborted();
      const values = ckpt.read(name, shape);
      const merge = merges.get(name);
      if (merge) applyTerms(values, merge);
      if (!seen.has(name)) {
        seen.add(name);
        done += ckpt.info(name.replace(/\[\d+\]$/, "")).dtype === "F32" ? values.length * 4 : values.length * 2;
      }
      options.onProgress?.({ done, total, tensor: name });
      return values;
    });
    if (model.canvas) buildCanvasGraph(g, model.canvas, writer, { head: plan.head, embedding: plan.embedding });
    else buildDecoder(g, model.decoder, writer, { fusedNorm: options.fusedNorm ?? false, head: plan.head });
    external.close();
    const graph = g.encode({ producer: "maskflow convert", doc: `${family.id} from ${options.source ?? ckpt.dir}, ${options.dtype}` });
    if (graph.byteLength > PROTOBUF_LIMIT) throw new Error("the graph's protobuf exceeds 2 GiB (too many inline tensors)");
    writeFileSync(join(tmp, "model.onnx"), graph);

    const tokJson = tokenizerJson(tok, model.canvas ? undefined : model.slowTokenizer, ckpt.dir);
    const tokConfig = tokenizerConfig(tok, model.chatTemplate);
    writeJson(join(tmp, "tokenizer.json"), tokJson, false);
    writeJson(join(tmp, "tokenizer_config.json"), tokConfig);
    // The tokenizer must load here and fit the logits, or the folder is useless.
    const tokenizer = new DllmTokenizer(tokJson, tokConfig);
    if (tokenizer.vocabSize > spec.vocab) throw new Error(`the tokenizer has ${tokenizer.vocabSize} ids but the model has ${spec.vocab} embedding rows`);
    if (!model.canvas && tokenizer.piece(tokens.mask) === "") warnings.push(`the mask token id ${tokens.mask} has no text in the tokenizer`);

    writeJson(join(tmp, "config.json"), ckpt.config);
    writeJson(join(tmp, "weights.json"), { format: 1, weights: writer.manifest });
    const manifest = {
      format: 1,
      family: family.id,
      name: options.name ?? basename(ckpt.dir),
      mask_token_id: tokens.mask,
      eos_token_id: tokens.eos,
      ...(tokens.eot !== undefined ? { eot_token_id: tokens.eot } : {}),
      ...(tokens.pad !== undefined ? { pad_token_id: tokens.pad } : {}),
      vocab_size: spec.vocab,
      max_length: options.maxLength ?? model.maxLength,
      ...(model.canvas ? canvasManifest(model) : decoderManifest(model)),
      weights: "weights.json",
      dtype: options.dtype,
      parameters,
      source: options.source ?? ckpt.dir,
      convert: {
        block_size: plan.dtype.startsWith("int") || plan.embedding !== "float" ? plan.blockSize : undefined,
        accuracy_level: plan.dtype.startsWith("int") ? plan.accuracyLevel : undefined,
        embedding: plan.embedding,
        head: plan.head,
        ...(spec.moe ? { experts: plan.experts ?? (plan.dtype === "int4" ? "q4" : plan.dtype === "int8" ? "q8" : "float") } : {}),
        loras: options.loras?.map((l) => ({ path: resolve(l.path), strength: l.strength })),
      },
    };
    writeJson(join(tmp, "maskflow.json"), manifest);

    if (existsSync(out)) rmSync(out, { recursive: true, force: true });
    renameSync(tmp, out);
    return {
      dir: out,
      family: family.id,
      dtype: options.dtype,
      parameters,
      bytes: g.weightBytes + graph.byteLength,
      warnings,
      seconds: (performance.now() - t0) / 1000,
    };
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
}

/** maskflow.json's graph fields for a decoder graph (decoder.ts). */
function decoderManifest(model: DecoderFamilyModel): Record<string, unknown> {
  return {
    shift_logits: model.shiftLogits,
    inputs: Object.fromEntries([...INPUT_NAMES, ...(model.decoder.blockCausal ? ["block_size"] : [])].map((n) => [n, n])),
    outputs: { logits: "head_logits", ...Object.fromEntries(OUTPUT_NAMES.map((n) => [n, n])) },
    logits_from_decide: true,
    heads: ["argmax", "top_k", "entropy", "logits_at", "cfg"],
    head_top_k: HEAD_TOP_K,
    kv_cache: { layers: model.decoder.layers, heads: model.decoder.kvHeads, head_dim: model.decoder.headDim, layout: "L,2,B,H,P,D" },
    attention: model.decoder.blockCausal
      ? { kind: "block_causal", block_size: model.blockDecoding?.blockSize ?? 32 }
      : { kind: "bidirectional" },
    ...(model.blockDecoding
      ? {
          decoding: {
            threshold: model.blockDecoding.threshold,
            ...(model.blockDecoding.editing ? { editing_threshold: model.blockDecoding.editing.threshold, max_post_steps: model.blockDecoding.editing.maxPostSteps } : {}),
            ...(model.blockDecoding.subBlock ? { sub_block: model.blockDecoding.subBlock } : {}),
            ...(model.blockDecoding.stopWhenSettled ? { stop_when_settled: true } : {}),
          },
        }
      : {}),
  };
}

/** maskflow.json's graph fields for an encoder + canvas graph (canvas-graph.ts): uniform noise, the per-type caches, the entropy-bound defaults. */
function canvasManifest(model: CanvasFamilyModel): Record<string, unknown> {
  const spec = model.canvas;
  const groups = kvGroups(spec);
  const d = model.decoding;
  return {
    shift_logits: false,
    inputs: Object.fromEntries([...CANVAS_INPUT_NAMES, ...groups.map((g) => pastName(g.type))].map((n) => [n, n])),
    outputs: { logits: "head_logits", ...Object.fromEntries([...CANVAS_OUTPUT_NAMES, ...groups.map((g) => presentName(g.type))].map((n) => [n, n])) },
    logits_from_decide: true,
    heads: ["argmax", "top_k", "entropy", "logits_at", "soft_embedding"],
    head_top_k: HEAD_TOP_K,
    kv_cache: {
      layout: "per_layer_type",
      groups: groups.map((g) => ({
        type: g.type,
        input: pastName(g.type),
        output: presentName(g.type),
        layers: g.layers,
        heads: g.geometry.kvHeads,
        head_dim: g.geometry.headDim,
        ...(g.geometry.window ? { window: g.geometry.window } : {}),
      })),
    },
    noise: model.noise,
    attention: { kind: "encoder_canvas", canvas_length: d.canvasLength },
    decoding: {
      rule: "entropy_bound",
      entropy_bound: d.entropyBound,
      max_denoising_steps: d.maxDenoisingSteps,
      max_new_tokens: d.maxNewTokens,
      t_max: d.tMax,
      t_min: d.tMin,
      stability_threshold: d.stabilityThreshold,
      confidence_threshold: d.confidenceThreshold,
      stop_token_ids: d.stopIds,
    },
  };
}

function writeJson(path: string, value: unknown, pretty = true): void {
  writeFileSync(path, JSON.stringify(value, null, pretty ? 2 : undefined) + "\n");
}
