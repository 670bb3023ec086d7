// A Maskflow model folder (DESIGN.md contract 6; the format is in models/README.md):
//   model.onnx            input_ids int64 [B,S] -> logits float32 [B,S,V]
//   tokenizer.json        Hugging Face tokenizer
//   tokenizer_config.json optional; chat_template and special tokens
//   maskflow.json         what the sampler needs (validated here with zod)
//   config.json           optional; the checkpoint's own config (LLaDA fields), informational
//   weights.json          optional; weight manifest for LoRA merging
// Every error is a plain Error whose message names the file; the node adds its id.
import { existsSync, readdirSync, statSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { z } from "zod";
import { assertWithin as assertInside, readJsonFile } from "../files/read.js";
import { tokenizerPatternProblem } from "./tokenizer-patterns.js";
import { DllmTokenizer, tokenizerConfigProblem, tokenizerIdProblem, type TokenizerConfig } from "./tokenizer.js";

/**
 * The most Maskflow reads of each JSON file of a model folder: generous for real models (Gemma's
 * tokenizer.json is 33 MB), small enough that a hostile folder cannot make the thread parse forever.
 */
const MAX_JSON_BYTES: Record<string, number> = {
  "maskflow.json": 1 << 20,
  "tokenizer.json": 64 << 20,
  "tokenizer_config.json": 16 << 20,
  "config.json": 4 << 20,
};

const tokenId = z.number().int().nonnegative();

export const manifestSchema = z.object({
  format: z.literal(1),
  /** Model family: llada, dream, mdlm, ... (informational; the sampler reads the fields below). */
  family: z.string().min(1),
  name: z.string().optional(),
  /** The graph file, relative to the folder. */
  model: z.string().min(1).default("model.onnx"),
  mask_token_id: tokenId,
  eos_token_id: tokenId,
  /** End-of-turn token of chat models (LLaDA's <|eot_id|>), for confidence_eos_eot_inf. */
  eot_token_id: tokenId.optional(),
  pad_token_id: tokenId.optional(),
  vocab_size: z.number().int().positive(),
  /** Longest sequence (prompt + generated) the model was trained for. */
  max_length: z.number().int().positive(),
  /** Dream-style models: the prediction for position j is at output row j-1. */
  shift_logits: z.boolean().default(false),
  /** Graph input names by role. */
  inputs: z.object({ input_ids: z.string().min(1) }).catchall(z.string()),
  /** Graph output names by role. */
  outputs: z.object({ logits: z.string().min(1) }).catchall(z.string()),
  /**
   * In-graph sampling heads the graph carries (models/train/graph.py): "logits_at" (head_logits: the
   * rows at `decide`), "top_k" (head_top_ids/head_top_logp), "entropy", "cfg" (the same over a
   * conditional/unconditional batch). [] for logits-only graphs.
   */
  heads: z.array(z.string()).default([]),
  /**
   * The graph has no whole-canvas logits output: outputs.logits names the head over `decide`, and
   * full logits are asked for with decide = every position (graphs from `maskflow convert`).
   */
  logits_from_decide: z.boolean().default(false),
  /** How many candidates head_top_ids holds per position. */
  head_top_k: z.number().int().nonnegative().default(0),
  /** Shape of past_kv/present_kv when the graph has Fast-dLLM's block KV cache: [layers, 2, batch, heads, positions, head_dim]. */
  kv_cache: z
    .union([
      z.object({ layers: z.number().int().positive(), heads: z.number().int().positive(), head_dim: z.number().int().positive(), layout: z.string() }),
      /** One cache tensor per attention layer type (DiffusionGemma: sliding and full layers differ in heads and head size). */
      z.object({
        layout: z.literal("per_layer_type"),
        groups: z
          .array(
            z.object({
              type: z.string().min(1),
              input: z.string().min(1),
              output: z.string().min(1),
              layers: z.array(z.number().int().nonnegative()).min(1),
              heads: z.number().int().positive(),
              head_dim: z.number().int().positive(),
              window: z.number().int().positive().optional(),
            }),
          )
          .min(1),
      }),
    ])
    .nullable()
    .default(null),
  /**
   * How the model noises a canvas: "absorbing" (positions become the mask token and are filled in:
   * LLaDA, Dream, LLaDA2, Fast-dLLM v2) or "uniform" (positions are random vocabulary ids and every
   * step re-randomises the ones it does not keep: DiffusionGemma). Folders written before this field
   * are absorbing. Samplers and nodes read this, not the family.
   */
  noise: z.discriminatedUnion("kind", [z.object({ kind: z.literal("absorbing") }), z.object({ kind: z.literal("uniform") })]).default({ kind: "absorbing" }),
  /** Weight manifest (names, shapes, layouts) for LoRA merging, relative to the folder. */
  weights: z.string().optional(),
  /** How the weights are stored (fp32, fp16, int8, int4), for listings; written by `maskflow convert`. */
  dtype: z.string().optional(),
  /**
   * The attention pattern: bidirectional (LLaDA, Dream), or block-causal (LLaDA2: a key is seen
   * when its block is not after the query's), with the block size it was trained for. Denoise
   * follows it: block-causal models decode block by block with an exact KV cache.
   */
  attention: z
    .discriminatedUnion("kind", [
      z.object({ kind: z.literal("bidirectional") }),
      z.object({ kind: z.literal("block_causal"), block_size: z.number().int().positive() }),
      /** a causal encoder pass fills a KV cache; a bidirectional decoder step denoises a canvas of this length against it (DiffusionGemma) */
      z.object({ kind: z.literal("encoder_canvas"), canvas_length: z.number().int().positive() }),
    ])
    .default({ kind: "bidirectional" }),
  /** Decoding defaults from the checkpoint's family (block-causal models: LLaDA2's threshold rule and LLaDA2.1's editing, Fast-dLLM v2's sub-blocks and stop rule). */
  decoding: z
    .object({
      threshold: z.number().min(0).max(1).optional(),
      editing_threshold: z.number().min(0).max(1).optional(),
      max_post_steps: z.number().int().nonnegative().optional(),
      /** Fast-dLLM v2: fill the block in sub-blocks of this size, left to right */
      sub_block: z.number().int().positive().optional(),
      /** Fast-dLLM v2: stop once the output holds EOS with nothing masked before it */
      stop_when_settled: z.boolean().optional(),
      /** uniform-noise models: the released sampler's rule and settings (DiffusionGemma's generation_config.json) */
      rule: z.literal("entropy_bound").optional(),
      entropy_bound: z.number().nonnegative().optional(),
      max_denoising_steps: z.number().int().positive().optional(),
      max_new_tokens: z.number().int().positive().optional(),
      t_max: z.number().positive().optional(),
      t_min: z.number().positive().optional(),
      stability_threshold: z.number().int().nonnegative().optional(),
      confidence_threshold: z.number().nonnegative().optional(),
      stop_token_ids: z.array(tokenId).optional(),
    })
    .optional(),
  /** Parameter count, for listings. */
  parameters: z.number().int().nonnegative().optional(),
  /** Where the model came from (a Hugging Face repo id or a checkpoint folder). */
  source: z.string().optional(),
});
export type ModelManifest = z.infer<typeof manifestSchema>;

export interface ModelFolder {
  /** Absolute path of the folder. */
  dir: string;
  onnxPath: string;
  manifest: ModelManifest;
  tokenizer: DllmTokenizer;
  /** config.json, if present (LLaDA's fields for the default model). */
  config: Record<string, unknown> | null;
  /** Absolute path of the weight manifest, if the folder has one. */
  weightsPath: string | null;
}

/** What the ONNX session reports about its graph (InferenceSession input/output names and metadata). */
export interface GraphInfo {
  inputNames: string[];
  outputNames: string[];
  inputMetadata: { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] }[];
  outputMetadata: { name: string; isTensor: boolean; type?: string; shape?: (number | string)[] }[];
}

const README_HINT = "see models/README.md for the model folder format";

/** Graph input roles the runtime can feed (models/train/graph.py's full graph; all but input_ids get neutral values). */
export const KNOWN_INPUT_ROLES = ["input_ids", "past_kv", "position_offset", "decide", "cfg_scale", "block_size", "encode", "self_conditioning", "temperature"] as const;
/** Per-layer-type caches (kv_cache.layout "per_layer_type") are fed under roles "past_kv.<type>". */
const isKnownRole = (role: string) => (KNOWN_INPUT_ROLES as readonly string[]).includes(role) || /^past_kv\.[\w.-]+$/.test(role);

export interface ReadFolderOptions {
  /** Real folders every file must lie in (a served instance's roots); null or absent: anywhere. */
  within?: readonly string[] | null;
}

function readJson(path: string, what: string, within: readonly string[] | null | undefined): unknown {
  const name = path.slice(path.lastIndexOf("/") + 1);
  return readJsonFile(path, { what, maxBytes: MAX_JSON_BYTES[name] ?? 4 << 20, within });
}

/** A file the manifest names, which must stay inside the folder ("../../secret" does not). */
function inside(dir: string, name: string, field: string, manifestPath: string): string {
  const path = resolve(dir, name);
  const rel = relative(dir, path);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel)) throw new Error(`${manifestPath}: "${field}" must name a file inside the model folder`);
  return path;
}

function requireFile(dir: string, name: string, what: string): string {
  const path = join(dir, name);
  if (!existsSync(path)) throw new Error(`${path} is missing: the model folder needs ${what} (${README_HINT})`);
  if (!statSync(path).isFile()) throw new Error(`${path} is not a file`);
  return path;
}

/** Parses and checks maskflow.json's content (no graph involved). */
export function parseManifest(raw: unknown, path = "maskflow.json"): ModelManifest {
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`);
    throw new Error(`${path}: invalid manifest: ${problems.join("; ")} (${README_HINT})`);
  }
  const m = parsed.data;
  const ids: [string, number | undefined][] = [
    ["mask_token_id", m.mask_token_id],
    ["eos_token_id", m.eos_token_id],
    ["eot_token_id", m.eot_token_id],
    ["pad_token_id", m.pad_token_id],
  ];
  for (const [field, id] of ids) {
    if (id !== undefined && id >= m.vocab_size) {
      throw new Error(`${path}: ${field} ${id} is outside the vocabulary (vocab_size ${m.vocab_size}: ids 0..${m.vocab_size - 1})`);
    }
  }
  return m;
}

/**
 * A folder's tokenizer (tokenizer.json, tokenizer_config.json), read bounded and confined and
 * checked against its manifest before tokenizers.js sees it. readModelFolder and the static
 * checks (model-facts.ts) both read it through here.
 */
export function readTokenizer(dir: string, manifest: ModelManifest, manifestPath: string, within: readonly string[] | null | undefined): DllmTokenizer {
  const tokPath = requireFile(dir, "tokenizer.json", "tokenizer.json (a Hugging Face tokenizer)");
  const tokJson = readJson(tokPath, "the tokenizer", within);
  // Checked before building: a token id of 1e9 makes tokenizers.js fill a table that large (a 40 s stall).
  const idProblem = tokenizerIdProblem(tokJson, manifest.vocab_size) ?? tokenizerPatternProblem(tokJson);
  if (idProblem) throw new Error(`${tokPath}: ${idProblem}`);
  const cfgPath = join(dir, "tokenizer_config.json");
  const tokConfig = (existsSync(cfgPath) ? readJson(cfgPath, "the tokenizer config", within) : {}) as TokenizerConfig;
  if (typeof tokConfig !== "object" || tokConfig === null || Array.isArray(tokConfig)) {
    throw new Error(`${cfgPath}: expected a JSON object`);
  }
  const configProblem = tokenizerConfigProblem(tokConfig);
  if (configProblem) throw new Error(`${cfgPath}: invalid tokenizer config: ${configProblem}`);
  let tokenizer: DllmTokenizer;
  try {
    tokenizer = new DllmTokenizer(tokJson as object, tokConfig);
  } catch (err) {
    // tokenizers.js and the template engine say what they know ("Unknown Normalizer type: X"); a
    // TypeError means a field of an unexpected shape, which its own words would not explain.
    const why = err instanceof TypeError || err instanceof RangeError ? "a field has a shape tokenizers.js does not read" : (err as Error).message;
    throw new Error(`${tokPath}: cannot build the tokenizer: ${why}`);
  }
  if (tokenizer.vocabSize > manifest.vocab_size) {
    throw new Error(
      `${tokPath}: the tokenizer has ${tokenizer.vocabSize} ids but ${manifestPath} says vocab_size ${manifest.vocab_size}: its ids would fall outside the logits`,
    );
  }
  return tokenizer;
}

/** A folder's maskflow.json, read bounded and confined, and checked. */
export function readManifest(dir: string, within: readonly string[] | null | undefined): { manifest: ModelManifest; manifestPath: string } {
  const manifestPath = requireFile(dir, "maskflow.json", "maskflow.json (mask/EOS ids, vocabulary size, graph input/output names)");
  return { manifest: parseManifest(readJson(manifestPath, "the model manifest", within), manifestPath), manifestPath };
}

/**
 * Reads and validates a model folder's files (everything but the graph itself, which the
 * runtime loads in its worker and checks with `checkGraph`).
 */
export function readModelFolder(path: string, { within = null }: ReadFolderOptions = {}): ModelFolder {
  const dir = resolve(path);
  if (!existsSync(dir)) throw new Error(`model folder not found: ${dir}`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a folder: a model is a folder with model.onnx, tokenizer.json and maskflow.json`);

  // Served: no file of the folder may be a link out of the roots (onnxruntime reads the graph's
  // external data from here too, where Maskflow cannot check each read).
  if (within) for (const name of readdirSync(dir)) assertInside(join(dir, name), within, name);
  const { manifest, manifestPath } = readManifest(dir, within);
  inside(dir, manifest.model, "model", manifestPath);
  const onnxPath = requireFile(dir, manifest.model, `${manifest.model} (the ONNX graph named by maskflow.json "model")`);
  assertInside(onnxPath, within, "the ONNX graph");

  const tokenizer = readTokenizer(dir, manifest, manifestPath, within);

  const configPath = join(dir, "config.json");
  const config = existsSync(configPath) ? (readJson(configPath, "the model config", within) as Record<string, unknown>) : null;
  let weightsPath: string | null = null;
  if (manifest.weights) {
    weightsPath = inside(dir, manifest.weights, "weights", manifestPath);
    if (!existsSync(weightsPath)) throw new Error(`${weightsPath} is missing (named by ${manifestPath} "weights")`);
    assertInside(weightsPath, within, "the weight manifest");
  }
  return { dir, onnxPath, manifest, tokenizer, config, weightsPath };
}

/** Checks that maskflow.json fits the loaded graph: names, dtypes, vocabulary size. */
export function checkGraph(folder: Pick<ModelFolder, "dir" | "onnxPath" | "manifest">, graph: GraphInfo): void {
  const m = folder.manifest;
  const mf = join(folder.dir, "maskflow.json");
  const idsName = m.inputs.input_ids;
  if (!graph.inputNames.includes(idsName)) {
    throw new Error(`${mf}: inputs.input_ids is "${idsName}" but ${folder.onnxPath} has inputs [${graph.inputNames.join(", ")}]`);
  }
  const declared = new Set(Object.values(m.inputs));
  const unfed = graph.inputNames.filter((n) => !declared.has(n));
  if (unfed.length) {
    throw new Error(`${folder.onnxPath} needs inputs [${unfed.join(", ")}] that ${mf} does not map to a role`);
  }
  const unknown = Object.entries(m.inputs).filter(([role, name]) => graph.inputNames.includes(name) && !isKnownRole(role));
  if (unknown.length) {
    throw new Error(`${mf}: Maskflow cannot feed inputs with roles [${unknown.map(([r]) => r).join(", ")}] (it knows ${KNOWN_INPUT_ROLES.join(", ")})`);
  }
  const idsMeta = graph.inputMetadata.find((i) => i.name === idsName);
  if (idsMeta?.type && idsMeta.type !== "int64" && idsMeta.type !== "int32") {
    throw new Error(`${folder.onnxPath}: input "${idsName}" is ${idsMeta.type}; token ids must be int64 or int32`);
  }
  const logitsName = m.outputs.logits;
  if (!graph.outputNames.includes(logitsName)) {
    throw new Error(`${mf}: outputs.logits is "${logitsName}" but ${folder.onnxPath} has outputs [${graph.outputNames.join(", ")}]`);
  }
  for (const [role, name] of Object.entries(m.outputs)) {
    if (!graph.outputNames.includes(name)) {
      throw new Error(`${mf}: outputs.${role} is "${name}" but ${folder.onnxPath} has outputs [${graph.outputNames.join(", ")}]`);
    }
  }
  const meta = graph.outputMetadata.find((o) => o.name === logitsName);
  if (meta?.type && meta.type !== "float32") {
    throw new Error(`${folder.onnxPath}: output "${logitsName}" is ${meta.type}; Maskflow reads float32 logits`);
  }
  const shape = meta?.shape;
  if (shape && shape.length !== 3) {
    throw new Error(`${folder.onnxPath}: output "${logitsName}" has rank ${shape.length}; expected [batch, sequence, vocab]`);
  }
  const v = shape?.[2];
  if (typeof v === "number" && v !== m.vocab_size) {
    throw new Error(`${mf}: vocab_size is ${m.vocab_size} but ${folder.onnxPath}'s "${logitsName}" has ${v} entries per position`);
  }
}
