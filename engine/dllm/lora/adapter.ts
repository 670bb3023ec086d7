// A PEFT LoRA adapter on disk: adapter_config.json (LoraConfig's fields) and
// adapter_model.safetensors with, per adapted module M,
//   base_model.model.<M>.lora_A.weight  [r, in]
//   base_model.model.<M>.lora_B.weight  [out, r]
// and the merge W' = W + strength * scale * B @ A, scale = lora_alpha / r (or / sqrt(r) with
// use_rslora), where r and lora_alpha may be overridden per module by rank_pattern and
// alpha_pattern (keys are regexes matched against the end of the module name, as PEFT does;
// matched in linear time, see patterns.ts).
import { existsSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import { assertWithin, readJsonFile } from "../../files/read.js";
import { PatternError, checkMatchBudget, fullPattern, tailPattern, type NamePattern } from "./patterns.js";
import { SafetensorsError, SafetensorsFile, FLOAT_DTYPES } from "./safetensors.js";

/** adapter_config.json is a few hundred bytes; this leaves room for long pattern tables. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
/** LoRA module pairs one adapter may hold (an 8B model's every linear layer is ~224). */
const MAX_MODULES = 16_384;

/** A problem with one of ApplyLora's inputs; `input` names which. */
export class LoraError extends Error {
  constructor(
    readonly input: "model" | "path" | "strength",
    message: string,
  ) {
    super(message);
  }
}

const patternSchema = z.record(z.string(), z.number().positive()).nullish().transform((v) => v ?? {});

export const peftConfigSchema = z
  .object({
    peft_type: z.string().nullish(),
    base_model_name_or_path: z.string().nullish(),
    r: z.number().int().positive().default(8),
    lora_alpha: z.number().default(8),
    use_rslora: z.boolean().nullish().transform((v) => v ?? false),
    use_dora: z.boolean().nullish().transform((v) => v ?? false),
    target_modules: z.union([z.array(z.string()), z.string()]).nullish(),
    rank_pattern: patternSchema,
    alpha_pattern: patternSchema,
    fan_in_fan_out: z.boolean().nullish().transform((v) => v ?? false),
  })
  .loose();
export type PeftConfig = z.infer<typeof peftConfigSchema>;

/** One adapted module's tensors (float32) and merge factors. */
export interface LoraModule {
  /** Module name without PEFT's prefix, e.g. model.transformer.blocks.0.q_proj */
  module: string;
  /** [r, in] row-major */
  A: Float32Array;
  /** [out, r] row-major */
  B: Float32Array;
  r: number;
  inFeatures: number;
  outFeatures: number;
  alpha: number;
  /** alpha / r, or alpha / sqrt(r) with use_rslora */
  scale: number;
}

export interface LoraAdapter {
  /** The adapter's folder. */
  dir: string;
  configPath: string;
  tensorsPath: string;
  config: PeftConfig;
  /** safetensors __metadata__ */
  metadata: Record<string, string>;
  modules: LoraModule[];
  /** Modules that adapter_config.json's target_modules does not name (PEFT would not have created them). */
  untargeted: string[];
}

const PREFIX = "base_model.model.";
const SUFFIXES = { ".lora_A.weight": "A", ".lora_B.weight": "B" } as const;

/** A rank_pattern / alpha_pattern table, compiled: [pattern, value] in the file's order. */
type PatternTable = [NamePattern, number][];

function compileTable(patterns: Record<string, number>, field: string): PatternTable {
  return Object.entries(patterns).map(([key, value]) => [tailPattern(key, `${field} key "${key.slice(0, 60)}"`), value]);
}

function lookup(table: PatternTable, module: string, fallback: number): number {
  for (const [pattern, value] of table) if (pattern.test(module)) return value;
  return fallback;
}

/** PEFT's rank_pattern / alpha_pattern lookup: the first key that matches the module name's tail. Throws PatternError for an invalid key. */
export function patternValue(patterns: Record<string, number>, module: string, fallback: number): number {
  return lookup(compileTable(patterns, "pattern"), module, fallback);
}

/** PEFT's target_modules, compiled: a list matches the name or its last parts, a string is a full-match regex. */
function targetMatcher(target: PeftConfig["target_modules"]): { test(module: string): boolean; patterns: NamePattern[] } {
  if (target === null || target === undefined || target === "all-linear") return { test: () => true, patterns: [] };
  if (typeof target === "string") {
    const p = fullPattern(target, `target_modules "${target.slice(0, 60)}"`);
    return { test: (m) => p.test(m), patterns: [p] };
  }
  return { test: (m) => target.some((t) => m === t || m.endsWith(`.${t}`)), patterns: [] };
}

/** Whether PEFT's target_modules selects `module`. Throws PatternError for an invalid pattern. */
export function isTargeted(target: PeftConfig["target_modules"], module: string): boolean {
  return targetMatcher(target).test(module);
}

function listSome(names: string[], n = 5): string {
  const shown = names.slice(0, n).join(", ");
  return names.length > n ? `${shown}, … (${names.length} in all)` : shown;
}

/** Finds adapter_config.json and adapter_model.safetensors from a folder or either file's path. */
export function locateAdapter(path: string, within: readonly string[] | null = null): { dir: string; configPath: string; tensorsPath: string } {
  if (!existsSync(path)) throw new LoraError("path", `adapter not found: ${path}`);
  const isDir = statSync(path).isDirectory();
  const dir = isDir ? path : dirname(path);
  let tensorsPath = isDir ? join(dir, "adapter_model.safetensors") : path;
  if (!isDir && basename(path) === "adapter_config.json") tensorsPath = join(dir, "adapter_model.safetensors");
  const configPath = join(dir, "adapter_config.json");
  if (!existsSync(tensorsPath)) {
    const bin = join(dir, "adapter_model.bin");
    throw new LoraError(
      "path",
      existsSync(bin)
        ? `${dir} has adapter_model.bin (a pickled PyTorch file), which Maskflow does not read: save the adapter with safetensors (PEFT's default, save_pretrained(..., safe_serialization=True))`
        : `${dir} has no adapter_model.safetensors: a LoRA adapter is a PEFT folder with adapter_config.json and adapter_model.safetensors`,
    );
  }
  if (!tensorsPath.endsWith(".safetensors")) throw new LoraError("path", `${tensorsPath} is not a .safetensors file`);
  if (!existsSync(configPath)) {
    throw new LoraError("path", `${dir} has no adapter_config.json (needed for r, lora_alpha and target_modules): a LoRA adapter is a PEFT folder with adapter_config.json and adapter_model.safetensors`);
  }
  try {
    assertWithin(tensorsPath, within, "the adapter's weights");
    assertWithin(configPath, within, "the adapter config");
  } catch (err) {
    throw new LoraError("path", (err as Error).message);
  }
  return { dir, configPath, tensorsPath };
}

export function parseAdapterConfig(raw: unknown, configPath: string): PeftConfig {
  const parsed = peftConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new LoraError("path", `${configPath}: invalid adapter config: ${problems}`);
  }
  const config = parsed.data;
  if (config.peft_type && config.peft_type.toUpperCase() !== "LORA") {
    throw new LoraError("path", `${configPath}: peft_type is "${config.peft_type}"; ApplyLora reads LoRA adapters only`);
  }
  if (config.use_dora) throw new LoraError("path", `${configPath}: use_dora is true; DoRA adapters (a magnitude vector per module) are not supported, only plain LoRA`);
  return config;
}

/**
 * Reads and checks an adapter: config, tensor names, dtypes, ranks and A/B shape agreement.
 * `within`: the real folders its files must lie in (a served instance's roots), or null.
 */
export function loadAdapter(path: string, within: readonly string[] | null = null): LoraAdapter {
  const { dir, configPath, tensorsPath } = locateAdapter(path, within);
  let raw: unknown;
  try {
    raw = readJsonFile(configPath, { what: "adapter_config.json", maxBytes: MAX_CONFIG_BYTES, within });
  } catch (err) {
    throw new LoraError("path", (err as Error).message);
  }
  const config = parseAdapterConfig(raw, configPath);
  let ranks: PatternTable, alphas: PatternTable, target: ReturnType<typeof targetMatcher>;
  try {
    ranks = compileTable(config.rank_pattern, "rank_pattern");
    alphas = compileTable(config.alpha_pattern, "alpha_pattern");
    target = targetMatcher(config.target_modules);
  } catch (err) {
    if (err instanceof PatternError) throw new LoraError("path", `${configPath}: ${err.message}`);
    throw err;
  }

  let file: SafetensorsFile;
  try {
    file = SafetensorsFile.open(tensorsPath);
  } catch (err) {
    if (err instanceof SafetensorsError) throw new LoraError("path", err.message);
    throw err;
  }
  const pairs = new Map<string, { A?: string; B?: string }>();
  const unknown: string[] = [];
  for (const name of file.names()) {
    const suffix = (Object.keys(SUFFIXES) as (keyof typeof SUFFIXES)[]).find((s) => name.endsWith(s));
    if (!suffix) {
      unknown.push(name);
      continue;
    }
    const module = name.slice(name.startsWith(PREFIX) ? PREFIX.length : 0, -suffix.length);
    const pair = pairs.get(module) ?? {};
    pair[SUFFIXES[suffix]] = name;
    pairs.set(module, pair);
  }
  if (unknown.length) {
    throw new LoraError(
      "path",
      `${tensorsPath}: ${unknown.length} tensor(s) are not LoRA weights (expected base_model.model.<module>.lora_A.weight / .lora_B.weight): ${listSome(unknown)}. ` +
        `Embedding LoRAs (lora_embedding_A/B), DoRA magnitudes, biases and modules_to_save are not supported.`,
    );
  }
  if (pairs.size === 0) throw new LoraError("path", `${tensorsPath} holds no LoRA weights`);
  if (pairs.size > MAX_MODULES) throw new LoraError("path", `${tensorsPath} adapts ${pairs.size} modules, more than the ${MAX_MODULES} Maskflow reads`);
  try {
    checkMatchBudget([...ranks.map(([p]) => p), ...alphas.map(([p]) => p), ...target.patterns], pairs.size, configPath);
  } catch (err) {
    if (err instanceof PatternError) throw new LoraError("path", err.message);
    throw err;
  }

  const modules: LoraModule[] = [];
  const untargeted: string[] = [];
  for (const [module, pair] of [...pairs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (!pair.A || !pair.B) {
      throw new LoraError("path", `${tensorsPath}: module ${module} has ${pair.A ? "lora_A but no lora_B" : "lora_B but no lora_A"}`);
    }
    const a = file.entry(pair.A);
    const b = file.entry(pair.B);
    for (const e of [a, b]) {
      if (!(FLOAT_DTYPES as readonly string[]).includes(e.dtype)) {
        throw new LoraError("path", `${tensorsPath}: tensor "${e.name}" has unsupported dtype ${e.dtype} (LoRA weights must be ${FLOAT_DTYPES.join(", ")})`);
      }
      if (e.shape.length !== 2) throw new LoraError("path", `${tensorsPath}: tensor "${e.name}" has shape [${e.shape}]; LoRA weights are 2-D`);
    }
    const [rA, inFeatures] = a.shape;
    const [outFeatures, rB] = b.shape;
    if (rA !== rB) {
      throw new LoraError("path", `${tensorsPath}: rank mismatch in ${module}: lora_A is [${a.shape}] (rank ${rA}) but lora_B is [${b.shape}] (rank ${rB})`);
    }
    const r = lookup(ranks, module, config.r);
    if (rA !== r) {
      const why = r === config.r ? `r=${config.r}` : `rank_pattern gives ${r}`;
      throw new LoraError("path", `rank mismatch in ${module}: ${configPath} says ${why} but ${tensorsPath} has rank ${rA} (lora_A [${a.shape}], lora_B [${b.shape}])`);
    }
    if (rA === 0) throw new LoraError("path", `${tensorsPath}: module ${module} has rank 0`);
    const alpha = lookup(alphas, module, config.lora_alpha);
    const scale = config.use_rslora ? alpha / Math.sqrt(r) : alpha / r;
    if (!target.test(module)) untargeted.push(module);
    modules.push({
      module,
      A: file.readFloat32(pair.A),
      B: file.readFloat32(pair.B),
      r,
      inFeatures,
      outFeatures,
      alpha,
      scale,
    });
  }
  return { dir, configPath, tensorsPath, config, metadata: file.metadata, modules, untargeted };
}
