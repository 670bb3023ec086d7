// The model folders a user has: the bundled ones under the package's models/, and those in the
// user's models directory (where `maskflow convert` writes). `maskflow models`, the server's
// GET /api/models and the editor's Load Model picker all read this list.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { PACKAGE_ROOT, userModelsDir } from "../../paths.js";

export interface ModelListing {
  /**
   * What Load Model's path takes: relative to the package for bundled models, the folder's name for
   * those in the user's models directory (Load Model looks there too), so a workflow that names a
   * converted model runs on another machine that converted the same one.
   */
  path: string;
  /** the folder itself */
  dir: string;
  name: string;
  family: string;
  /** fp32, fp16, int8, int4 */
  dtype: string;
  parameters: number | null;
  /** bytes of the folder's files */
  bytes: number;
  /** block-causal models (LLaDA2): the block size they decode in; null for bidirectional ones */
  blockSize: number | null;
  /** how the model noises its canvas (maskflow.json "noise"; absorbing when absent) */
  noise: "absorbing" | "uniform";
  /** encoder + canvas models (DiffusionGemma): the canvas length the graph denoises; null otherwise */
  canvasLength: number | null;
  where: "bundled" | "user";
  /** why the folder is listed but will not load (an unreadable maskflow.json) */
  problem?: string;
}

function folderBytes(dir: string): number {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(join(dir, name), { throwIfNoEntry: false });
    if (st?.isFile()) n += st.size;
  }
  return n;
}

/** Parameters and storage type from weights.json, for folders whose manifest does not say (the bundled model). */
function fromWeights(dir: string, manifest: Record<string, unknown>): { parameters: number | null; dtype: string | null } {
  const file = typeof manifest.weights === "string" ? join(dir, manifest.weights) : null;
  if (!file || !existsSync(file)) return { parameters: null, dtype: null };
  try {
    const weights = (JSON.parse(readFileSync(file, "utf8")) as { weights: { shape: number[]; dtype?: string }[] }).weights;
    const parameters = weights.reduce((n, w) => n + w.shape.reduce((a, b) => a * b, 1), 0);
    const dtype = weights.some((w) => w.dtype === "uint4") ? "int4" : weights.some((w) => w.dtype === "uint8") ? "int8" : weights.every((w) => w.dtype === "float16") ? "fp16" : "fp32";
    return { parameters, dtype };
  } catch {
    return { parameters: null, dtype: null };
  }
}

export function describeModelFolder(dir: string, where: ModelListing["where"]): ModelListing | null {
  const manifestPath = join(dir, "maskflow.json");
  if (!existsSync(manifestPath)) return null;
  const path = relative(where === "bundled" ? PACKAGE_ROOT : userModelsDir(), dir);
  const base = { path, dir, name: basename(dir), family: "?", dtype: "?", parameters: null, bytes: folderBytes(dir), blockSize: null, noise: "absorbing" as const, canvasLength: null, where };
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(readFileSync(manifestPath, "utf8")) as Record<string, unknown>;
  } catch (err) {
    return { ...base, problem: `maskflow.json: ${(err as Error).message}` };
  }
  const w = fromWeights(dir, m);
  return {
    ...base,
    name: typeof m.name === "string" ? m.name : base.name,
    family: typeof m.family === "string" ? m.family : "?",
    dtype: typeof m.dtype === "string" ? m.dtype : (w.dtype ?? "?"),
    parameters: typeof m.parameters === "number" ? m.parameters : w.parameters,
    blockSize: (m.attention as { kind?: string; block_size?: number } | undefined)?.kind === "block_causal" ? ((m.attention as { block_size: number }).block_size ?? null) : null,
    noise: (m.noise as { kind?: string } | undefined)?.kind === "uniform" ? "uniform" : "absorbing",
    canvasLength: (m.attention as { kind?: string } | undefined)?.kind === "encoder_canvas" ? ((m.attention as { canvas_length?: number }).canvas_length ?? null) : null,
  };
}

function listIn(root: string, where: ModelListing["where"]): ModelListing[] {
  if (!existsSync(root)) return [];
  const out: ModelListing[] = [];
  for (const name of readdirSync(root).sort()) {
    if (name.startsWith(".")) continue; // .<name>.partial-<pid>: a conversion in progress
    const dir = join(root, name);
    if (!statSync(dir, { throwIfNoEntry: false })?.isDirectory()) continue;
    const listing = describeModelFolder(dir, where);
    if (listing) out.push(listing);
  }
  return out;
}

/** Every model folder Maskflow can find: bundled first, then the user's. */
export function listModels(): ModelListing[] {
  return [...listIn(join(PACKAGE_ROOT, "models"), "bundled"), ...listIn(userModelsDir(), "user")];
}

export function formatParameters(n: number | null): string {
  if (n === null) return "?";
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(1)}M`;
  return `${(n / 1e3).toFixed(0)}K`;
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 10).toFixed(0)} KiB`;
}
