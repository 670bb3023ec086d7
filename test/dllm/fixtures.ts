// Shared paths and fixture loading for the dLLM tests.
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..", "..");
export const MODEL_DIR = join(ROOT, "models", "default");
export const FIXTURES = join(ROOT, "test", "fixtures", "dllm");
export const REGENERATE = "/usr/bin/python3 models/reference/make_fixtures.py";

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(FIXTURES, name), "utf8")) as T;
}

export function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}
