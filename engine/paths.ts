import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root (where package.json, models/ and workflows/ live), from source or from dist/. */
export const PACKAGE_ROOT = (() => {
  let dir = fileURLToPath(new URL(".", import.meta.url));
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "workflows"))) return dir;
    dir = resolve(dir, "..");
  }
  return process.cwd();
})();

/**
 * The user's models directory: where `maskflow convert` writes and `maskflow models` looks; a
 * served instance loads models and adapters from here too (besides the bundled folders and
 * --models). MASKFLOW_MODELS, else ~/.maskflow/models.
 */
export function userModelsDir(): string {
  return process.env.MASKFLOW_MODELS ? resolve(process.env.MASKFLOW_MODELS) : join(homedir(), ".maskflow", "models");
}

/** The folders a relative resource path is looked up in, in order. */
export function resourceRoots(): string[] {
  return [process.cwd(), PACKAGE_ROOT, userModelsDir()];
}

/**
 * Resolves a path a workflow names (a model folder, an adapter): absolute paths as they are,
 * relative ones against the working directory first, then the package root (so the bundled
 * `models/default` works from anywhere), then the user's models directory (so a converted model
 * can be named by its folder name).
 */
export function resolveResource(path: string): string {
  if (isAbsolute(path)) return path;
  const fromCwd = resolve(process.cwd(), path);
  for (const root of resourceRoots()) {
    const candidate = resolve(root, path);
    if (existsSync(candidate)) return candidate;
  }
  return fromCwd;
}

// Fingerprints are asynchronous and bounded (a workflow names the path): see files/fingerprint.ts.
export { fingerprint, sha256File, FingerprintError, type FingerprintLimits } from "./files/fingerprint.js";
