// What the figures were measured on, and the CLI start-up figure.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import os from "node:os";
import { dirname, join } from "node:path";
import { median, round2 } from "./figures.js";

export const ROOT = join(dirname(new URL(import.meta.url).pathname), "..");

export interface Machine {
  cpu: string;
  cores: number;
  ram_gb: number;
  os: string;
  node: string;
  onnxruntime_node: string;
  /** 1/5/15-minute load averages when the run started and ended: a busy machine makes every figure slower and noisier. */
  load_avg_start: number[];
  load_avg_end?: number[];
  git: { commit: string; dirty: boolean } | null;
}

function osName(): string {
  try {
    const rel = readFileSync("/etc/os-release", "utf8");
    const pretty = /^PRETTY_NAME="?([^"\n]*)"?/m.exec(rel)?.[1];
    if (pretty) return `${pretty} (${os.type()} ${os.release()} ${os.arch()})`;
  } catch {
    // not Linux
  }
  return `${os.type()} ${os.release()} ${os.arch()}`;
}

function ortVersion(): string {
  try {
    const require = createRequire(import.meta.url);
    const pkg = join(dirname(require.resolve("onnxruntime-node")), "..", "package.json");
    return (JSON.parse(readFileSync(pkg, "utf8")) as { version: string }).version;
  } catch {
    return "unknown";
  }
}

function git(): Machine["git"] {
  const head = spawnSync("git", ["rev-parse", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (head.status !== 0) return null;
  // The bench's own earlier results do not make the code it measures dirty.
  const status = spawnSync("git", ["status", "--porcelain", "--untracked-files=no", "--", ".", ":!bench/results.json", ":!bench/results.md"], { cwd: ROOT, encoding: "utf8" });
  return { commit: head.stdout.trim(), dirty: status.stdout.trim().length > 0 };
}

export const loadAvg = () => os.loadavg().map(round2);

export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? "unknown",
    cores: os.availableParallelism(),
    ram_gb: round2(os.totalmem() / 2 ** 30),
    os: osName(),
    node: process.version,
    onnxruntime_node: ortVersion(),
    load_avg_start: loadAvg(),
    git: git(),
  };
}

export function sha256(path: string): string {
  return createHash("sha256").update(readFileSync(path)).digest("hex");
}

export const peakRssMb = () => process.resourceUsage().maxRSS / 1024; // KiB

export interface Timed {
  command: string;
  ms: number[];
  median_ms: number;
  ok: boolean;
  error?: string;
}

export interface Startup {
  /** bin/maskflow.js runs dist/ when it is built, else the sources through tsx. */
  build: "dist" | "source";
  /** dist/ is older than the newest engine source file (a stale build was timed). */
  dist_stale?: boolean;
  /** `node bin/maskflow.js run workflows/hello.maskflow.json`. */
  node: Timed;
  /** The same through `npx --no-install maskflow` (how issue 7 states the goal; npm's own start-up included). */
  npx: Timed;
}

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (/\.(ts|mjs|js)$/.test(entry.name)) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

function timeOnce(cmd: string, args: string[]): Promise<{ ms: number; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, FORCE_COLOR: "0" } });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    child.on("error", (err) => resolve({ ms: NaN, code: -1, stderr: err.message }));
    child.on("close", (code) => resolve({ ms: performance.now() - t0, code, stderr }));
  });
}

async function timeCommand(cmd: string, args: string[], label: string, times: number): Promise<Timed> {
  const out: Timed = { command: `${label} ${args.join(" ")}`, ms: [], median_ms: NaN, ok: true };
  for (let i = 0; i < times; i++) {
    const r = await timeOnce(cmd, args);
    if (r.code !== 0) {
      out.ok = false;
      out.error = `exit ${r.code}: ${r.stderr.trim().split("\n").slice(-3).join(" | ")}`;
      break;
    }
    out.ms.push(round2(r.ms));
  }
  out.median_ms = round2(median(out.ms));
  return out;
}

/** Wall time of `maskflow run workflows/hello.maskflow.json`, start-up included (issue 7: under 2 s), median of `times`. */
export async function startup(times: number): Promise<Startup> {
  const run = ["run", "workflows/hello.maskflow.json"];
  const built = join(ROOT, "dist", "engine", "cli", "main.js");
  const build = existsSync(built) && !process.env.MASKFLOW_FROM_SOURCE ? "dist" : "source";
  const node = await timeCommand(process.execPath, ["bin/maskflow.js", ...run], "node", times);
  const npx = await timeCommand(process.platform === "win32" ? "npx.cmd" : "npx", ["--no-install", "maskflow", ...run], "npx", times);
  return { build, ...(build === "dist" ? { dist_stale: statSync(built).mtimeMs < newestMtime(join(ROOT, "engine")) } : {}), node, npx };
}
