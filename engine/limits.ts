// The bounds on everything a workflow, an override or a request controls: how big a value may be,
// how many nodes a graph may have, how much the executor may keep loaded. One table, so the CLI
// (`--limit name=value`, MASKFLOW_LIMITS), the server (`startServer({ limits })`) and the README's
// Security section name the same things. Every refusal says which limit it hit and how to raise it.
import { totalmem } from "node:os";

export interface Limits {
  /** Longest text (or other value) a node may take as a constant or give as an output, in bytes. */
  maxValueBytes: number;
  /** All output nodes' results of one run together, in bytes. */
  maxRunOutputBytes: number;
  /** What the server keeps of finished runs (their outputs and event logs) together, in bytes. */
  maxHistoryBytes: number;
  /** A request body (the server) or a workflow file (the CLI), in bytes. */
  maxBodyBytes: number;
  /** Runs waiting in the server's queue (each holds its workflow); more are refused with 429. */
  maxQueuedRuns: number;
  /** Nodes in one workflow. */
  maxNodes: number;
  /** Nesting of any JSON value in a workflow (constants, `ui`). */
  maxJsonDepth: number;
  /** Issues reported for one workflow; the rest are counted. */
  maxIssues: number;
  /** What the executor's cache may hold (outputs, and models by the size of their weights), in bytes. */
  maxCacheBytes: number;
  /** Models (ONNX sessions, each in its own worker thread) loaded at once. */
  maxModels: number;
  /** Files a fingerprint (the cache key of a model or adapter folder) may visit. */
  maxFingerprintFiles: number;
  /** Folder depth a fingerprint may descend. */
  maxFingerprintDepth: number;
  /** Bytes of file content a fingerprint may hash (bigger files are keyed by size and time). */
  maxFingerprintBytes: number;
}

export type LimitName = keyof Limits;

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxValueBytes: 8 * MiB,
  maxRunOutputBytes: 32 * MiB,
  maxHistoryBytes: 256 * MiB,
  maxBodyBytes: 8 * MiB,
  maxQueuedRuns: 100,
  maxNodes: 1000,
  maxJsonDepth: 64,
  maxIssues: 100,
  // A quarter of the machine's memory, at most 4 GiB: room for a few models besides the runs.
  maxCacheBytes: Math.min(4 * GiB, Math.floor(totalmem() / 4)),
  maxModels: 4,
  maxFingerprintFiles: 10_000,
  maxFingerprintDepth: 16,
  maxFingerprintBytes: 256 * MiB,
});

export const LIMIT_NAMES = Object.keys(DEFAULT_LIMITS) as LimitName[];

/** Limits named in a message: "maxValueBytes (8 MiB; raise it with --limit maxValueBytes=... or MASKFLOW_LIMITS)". */
export function limitHint<N extends LimitName>(name: N, limits: Pick<Limits, N>): string {
  const value = name.endsWith("Bytes") ? formatBytes(limits[name]) : String(limits[name]);
  return `limit ${name} = ${value}; raise it with --limit ${name}=<value>, MASKFLOW_LIMITS or the server's limits option`;
}

export function formatBytes(n: number): string {
  if (n >= GiB && n % GiB === 0) return `${n / GiB} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

const UNITS: Record<string, number> = { "": 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: MiB, g: 1e9, gb: 1e9, gib: GiB };

/** "8MiB", "512k", "2000": a whole, non-negative number with an optional unit. */
export function parseLimitValue(name: string, text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = m ? UNITS[m[2].toLowerCase()] : undefined;
  const value = m && unit !== undefined ? Math.round(Number(m[1]) * unit) : NaN;
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new Error(`limit ${name}: "${text}" is not a whole number (units k, M, G, KiB, MiB, GiB are understood)`);
  }
  return value;
}

/** One `name=value` setting, checked against the known names. */
export function parseLimitSetting(setting: string): [LimitName, number] {
  const eq = setting.indexOf("=");
  const name = (eq < 0 ? setting : setting.slice(0, eq)).trim();
  if (!(LIMIT_NAMES as string[]).includes(name)) {
    throw new Error(`unknown limit "${name}" (limits: ${LIMIT_NAMES.join(", ")})`);
  }
  if (eq < 0) throw new Error(`--limit expects <name>=<value>, got "${setting}"`);
  return [name as LimitName, parseLimitValue(name, setting.slice(eq + 1))];
}

/**
 * The limits in force: defaults, then MASKFLOW_LIMITS ("name=value,name=value"), then explicit
 * settings (CLI flags or server options), later ones winning. Throws on an unknown name or a bad value.
 */
export function resolveLimits(overrides: Partial<Limits> | string[] = {}, env: string | undefined = process.env.MASKFLOW_LIMITS): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  const settings = (env ?? "").split(",").filter((s) => s.trim() !== "");
  for (const s of settings) {
    const [name, value] = parseLimitSetting(s);
    limits[name] = value;
  }
  if (Array.isArray(overrides)) {
    for (const s of overrides) {
      const [name, value] = parseLimitSetting(s);
      limits[name] = value;
    }
  } else {
    for (const [name, value] of Object.entries(overrides)) {
      if (value === undefined) continue;
      if (!(LIMIT_NAMES as string[]).includes(name)) throw new Error(`unknown limit "${name}" (limits: ${LIMIT_NAMES.join(", ")})`);
      if (!Number.isSafeInteger(value) || value < 0) throw new Error(`limit ${name} must be a whole number >= 0, got ${value}`);
      limits[name as LimitName] = value;
    }
  }
  return limits;
}
