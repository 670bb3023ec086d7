// Fuzzed LoRA adapter folders: the bundled romance adapter's config mutated field by field
// (ranks, alphas, hostile and invalid patterns, types, not JSON at all) over its real weights or
// over a broken safetensors file (truncated, a header length of 2^64-1, a header that is not
// JSON, wrong dtypes, shapes and offsets, a FIFO, a folder, a link out of the root).
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeSafetensors } from "../../engine/dllm/lora/safetensors.js";
import type { Random } from "./random.js";

const FIELDS: Record<string, unknown[]> = {
  r: [0, -1, 1, 4, 16, "8", null, 1e9, 8.5],
  lora_alpha: [16, 0, -16, 1e308, -1e308, "x", null, 1e-300, 1e30],
  target_modules: ["((", "(.*)*Z", "(a|a)*b", ["q_proj", "k_proj"], ["nope"], 42, null, "all-linear", "x".repeat(600), ".*\\.blocks\\.\\d+\\.q_proj", "(?=q)q_proj", "\\"],
  rank_pattern: [{}, { "(.*)*Z": 8 }, { q_proj: 4 }, { "[": 8 }, [], "x", { "blocks\\.0\\..*": 8 }, { ff_out: 0 }],
  alpha_pattern: [{}, { "(.*)*Z": 1 }, { q_proj: 1e308 }, { "(": 2 }, { k_proj: -4 }],
  peft_type: ["LORA", "IA3", null, 5, "lora"],
  use_dora: [true, false, "yes"],
  use_rslora: [true, false, 1],
  fan_in_fan_out: [true, false],
  base_model_name_or_path: ["elsewhere/model", "", null, 7],
};

export interface AdapterPaths {
  /** The bundled adapter, whose weights every valid case links to. */
  romance: string;
  /** A file outside every root (a served instance must not read it). */
  outsideFile: string;
}

const linux = process.platform === "linux";

function weights(rng: Random, dir: string, paths: AdapterPaths): void {
  const file = join(dir, "adapter_model.safetensors");
  const real = readFileSync(join(paths.romance, "adapter_model.safetensors"));
  const header = new Uint8Array(8);
  switch (rng.int(0, 11)) {
    case 0:
      writeFileSync(file, real.subarray(0, rng.int(0, 600)));
      break;
    case 1:
      writeFileSync(file, Buffer.concat([Buffer.alloc(8, 0xff), real.subarray(8, 200)]));
      break;
    case 2:
      new DataView(header.buffer).setBigUint64(0, 12n, true);
      writeFileSync(file, Buffer.concat([header, Buffer.from("TOPSECRET!!!"), Buffer.alloc(16)]));
      break;
    case 3:
      writeFileSync(file, encodeSafetensors({ "base_model.model.model.transformer.blocks.0.q_proj.lora_A.weight": { dtype: "F16", shape: [2, 3], data: [1, 2, 3, 4, 5, 6] } }));
      break;
    case 4:
      writeFileSync(
        file,
        encodeSafetensors({
          "base_model.model.model.transformer.blocks.0.q_proj.lora_A.weight": { dtype: "F32", shape: [8, 256], data: new Float32Array(2048) },
          "base_model.model.model.transformer.blocks.0.q_proj.lora_B.weight": { dtype: "BF16", shape: [256, 4], data: new Float32Array(1024) },
        }),
      );
      break;
    case 5:
      writeFileSync(file, encodeSafetensors({ "base_model.model.nope.lora_A.weight": { dtype: "F32", shape: [1, 2], data: [1, 2] }, "base_model.model.nope.lora_B.weight": { dtype: "F32", shape: [2, 1], data: [1, 2] } }));
      break;
    case 6:
      mkdirSync(file);
      break;
    case 7:
      if (linux) execFileSync("mkfifo", [file]);
      break;
    case 8:
      symlinkSync(paths.outsideFile, file);
      break;
    case 9:
      writeFileSync(join(dir, "adapter_model.bin"), "pickle");
      break;
    case 10: {
      const bytes = Buffer.from(real);
      bytes[bytes.length - rng.int(1, 100)] ^= 0xff; // a flipped data byte: still valid safetensors, other weights
      writeFileSync(file, bytes);
      break;
    }
    default:
      writeFileSync(file, Buffer.concat([real, Buffer.alloc(rng.int(1, 16))]));
  }
}

/** Writes `count` adapter folders under `root`; returns their names. */
export function generateAdapters(rng: Random, count: number, root: string, paths: AdapterPaths): string[] {
  const base = JSON.parse(readFileSync(join(paths.romance, "adapter_config.json"), "utf8")) as Record<string, unknown>;
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `adapter-${String(i).padStart(3, "0")}`;
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const config: Record<string, unknown> = { ...base };
    for (let m = rng.int(2, 4); m > 0; m--) {
      const field = rng.pick(Object.keys(FIELDS));
      if (rng.chance(0.1)) delete config[field];
      else config[field] = rng.pick(FIELDS[field]);
    }
    const configText = rng.chance(0.06) ? rng.pick(["TOPSECRET not json", "[]", "", '"string"', "{"]) : JSON.stringify(config);
    if (!rng.chance(0.03)) writeFileSync(join(dir, "adapter_config.json"), configText);
    // Real weights for one in eight: what is left valid is merged, a model session each (the slow part).
    if (rng.chance(0.12)) symlinkSync(join(paths.romance, "adapter_model.safetensors"), join(dir, "adapter_model.safetensors"));
    else weights(rng, dir, paths);
    names.push(name);
  }
  return names;
}
