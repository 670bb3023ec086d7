import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { encodeSafetensors, type FloatDtype } from "../../engine/dllm/lora/safetensors.js";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const FIXTURES = join(ROOT, "test", "fixtures", "lora");
export const DEFAULT_MODEL = join(ROOT, "models", "default");

/** A temp folder removed by the returned cleanup. */
export function tempDir(prefix = "maskflow-lora-test-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Deterministic values in [-1, 1) (xorshift32), so random adapters are reproducible. */
export function noise(n: number, seed: number, scale = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

export interface TestModule {
  module: string;
  A: Float32Array;
  B: Float32Array;
  r: number;
  inF: number;
  outF: number;
}

/** Writes a PEFT adapter folder and returns its path. */
export function writeAdapter(
  dir: string,
  modules: TestModule[],
  config: Record<string, unknown>,
  dtype: FloatDtype = "F32",
  extraTensors: Record<string, { dtype: FloatDtype; shape: number[]; data: ArrayLike<number> }> = {},
): string {
  mkdirSync(dir, { recursive: true });
  const tensors: Record<string, { dtype: FloatDtype; shape: number[]; data: ArrayLike<number> }> = { ...extraTensors };
  for (const m of modules) {
    tensors[`base_model.model.${m.module}.lora_A.weight`] = { dtype, shape: [m.r, m.inF], data: m.A };
    tensors[`base_model.model.${m.module}.lora_B.weight`] = { dtype, shape: [m.outF, m.r], data: m.B };
  }
  writeFileSync(join(dir, "adapter_model.safetensors"), encodeSafetensors(tensors, { format: "pt" }));
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", lora_alpha: 8, ...config }, null, 2));
  return dir;
}

/** Random LoRA modules for the given (module, in, out) list. */
export function randomModules(specs: [string, number, number][], r: number, seed: number, scale = 0.05): TestModule[] {
  return specs.map(([module, inF, outF], i) => ({
    module,
    r,
    inF,
    outF,
    A: noise(r * inF, seed * 1000 + i * 2 + 1, scale),
    B: noise(outF * r, seed * 1000 + i * 2 + 2, scale),
  }));
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
