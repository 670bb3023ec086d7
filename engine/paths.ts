import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
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
 * The user's models directory: where `maskflow convert` writes and `maskflow models` looks.
 * MASKFLOW_MODELS, else ~/.maskflow/models.
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

/**
 * Files above this size are fingerprinted by size and mtime instead of content: a content hash of a
 * model's weights (27 MB for the bundled one) costs a CLI run ~0.2 s of reading and hashing, and a
 * process's memo is keyed by size and mtime anyway, so it would see no change the cheap key misses.
 */
const HASH_LIMIT = 1024 * 1024;
const memo = new Map<string, { size: number; mtimeMs: number; hash: string }>();

/**
 * A fingerprint of a file or folder (recursively), memoised by path, size and mtime, so the cache
 * key of a node that reads a file changes when the file does: the content's sha256 for small files,
 * size and mtime for large ones.
 */
export function fingerprint(path: string): string {
  const abs = resolveResource(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    return "missing";
  }
  if (st.isDirectory()) {
    const h = createHash("sha256");
    for (const name of readdirSync(abs).sort()) h.update(name + "\0" + fingerprint(join(abs, name)) + "\0");
    return h.digest("hex");
  }
  return st.size > HASH_LIMIT ? `size:${st.size}:mtime:${st.mtimeMs}` : sha256File(abs);
}

/** The sha256 of a file's content (hex), memoised by path, size and mtime. */
export function sha256File(path: string): string {
  const abs = resolveResource(path);
  const st = statSync(abs);
  const hit = memo.get(abs);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.hash;
  const hash = createHash("sha256").update(readFileSync(abs)).digest("hex");
  memo.set(abs, { size: st.size, mtimeMs: st.mtimeMs, hash });
  return hash;
}
