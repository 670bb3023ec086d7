// Shared fixtures for the converter tests: the tiny upstream-layout checkpoints and what the
// Python reference (models/reference/make_convert_fixtures.py) computed from them.
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { SamplerOptions } from "../../engine/dllm/samplers/index.js";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const FIXTURES = join(ROOT, "test", "fixtures", "convert");
export const REGENERATE = "/usr/bin/python3 models/reference/make_convert_fixtures.py";
export const FAMILIES = ["llada", "dream"] as const;
export type FamilyId = (typeof FAMILIES)[number];

export interface ForwardCase {
  name: string;
  input_ids: number[][];
  shape: [number, number, number];
  logits: string;
}

export interface GenerateCase {
  name: string;
  prompt_ids: number[];
  gen_length: number;
  options: SamplerOptions;
  tokens: number[];
  trace: { step: number; positions: number[]; tokens: number[]; confidence: number[] }[];
}

export interface FamilyFixture {
  family: FamilyId;
  checkpoint: string;
  tokens: { mask: number; eos: number; eot: number; rows: number };
  forward: ForwardCase[];
  generate: GenerateCase[];
  tokenizer?: { text: string; ids: number[] }[];
}

export function familyFixture(family: FamilyId): FamilyFixture {
  return JSON.parse(readFileSync(join(FIXTURES, `${family}.json`), "utf8")) as FamilyFixture;
}

export function checkpointDir(family: FamilyId): string {
  return join(FIXTURES, `${family}-tiny`);
}

export function referenceLogits(c: ForwardCase): Float32Array {
  return readF32(c.logits);
}

/** A fixture file of little-endian float32 values. */
export function readF32(file: string): Float32Array {
  const buf = readFileSync(join(FIXTURES, file));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** A temp folder removed by the returned cleanup. */
export function tempDir(prefix = "maskflow-convert-test-"): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A writable copy of a fixture checkpoint, to break in a test. */
export function copyCheckpoint(family: FamilyId, into: string): string {
  const dir = join(into, `${family}-copy`);
  cpSync(checkpointDir(family), dir, { recursive: true });
  return dir;
}

/** Largest absolute difference, the relative RMS error over rows, and how many rows keep their argmax. */
export function compareLogits(want: Float32Array, got: Float32Array, vocab: number): { maxAbs: number; relRms: number; argmaxAgree: number; rows: number } {
  let maxAbs = 0;
  let rel = 0;
  let agree = 0;
  const rows = want.length / vocab;
  for (let r = 0; r < rows; r++) {
    let se = 0;
    let sw = 0;
    let a = 0;
    let b = 0;
    for (let v = 0; v < vocab; v++) {
      const i = r * vocab + v;
      const d = want[i] - got[i];
      se += d * d;
      sw += want[i] * want[i];
      if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
      if (want[i] > want[r * vocab + a]) a = v;
      if (got[i] > got[r * vocab + b]) b = v;
    }
    rel += Math.sqrt(se / sw);
    if (a === b) agree++;
  }
  return { maxAbs, relRms: rel / rows, argmaxAgree: agree, rows };
}
