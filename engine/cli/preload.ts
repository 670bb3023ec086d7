// Start-up overlap for `maskflow run` and `maskflow batch`: before the CLI loads the rest of
// Maskflow (node catalog, schemas, samplers: a few hundred milliseconds of module loading), read the
// workflow file and start creating the ONNX Runtime session of every LoadModel whose path is
// written in it, each in its own worker thread. LoadModel's DllmModel.load then adopts the session
// instead of starting one (worker-client.ts). Nothing here validates or reports: a workflow this
// cannot read, a link in place of a path, a missing folder or a failed session are simply not
// preloaded, and the run proper says what is wrong, exactly as without a preload.
// Light imports only: this runs before everything else.
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { readSmallFile } from "../files/read.js";
import { resolveResource } from "../paths.js";
import { parseSetFlag } from "../workflow/overrides.js";
import { preloadSession, prewarmWorker } from "../dllm/runtime/worker-client.js";

/** The model files, devices and thread counts a workflow's LoadModel nodes will ask for, as far as the file says. */
export function modelsToPreload(workflowText: string, sets: string[]): { onnxPath: string; device: string; threads: number }[] {
  let doc: { nodes?: Record<string, { type?: unknown; inputs?: Record<string, unknown> }> };
  try {
    doc = JSON.parse(workflowText);
  } catch {
    return [];
  }
  const overrides = new Map<string, unknown>();
  for (const s of sets) {
    try {
      const [key, value] = parseSetFlag(s);
      overrides.set(key, value);
    } catch {
      // a bad flag is the CLI's to report
    }
  }
  const out: { onnxPath: string; device: string; threads: number }[] = [];
  for (const [id, node] of Object.entries(doc?.nodes ?? {})) {
    if (node?.type !== "LoadModel") continue;
    const input = (name: string, fallback: unknown) => (overrides.has(`${id}.${name}`) ? overrides.get(`${id}.${name}`) : (node.inputs?.[name] ?? fallback));
    const path = input("path", undefined);
    const device = input("device", "cpu");
    const threads = input("threads", 0);
    if (typeof path !== "string" || typeof device !== "string" || typeof threads !== "number") continue;
    const dir = resolveResource(path);
    let file = "model.onnx";
    try {
      // Bounded and non-blocking: a FIFO named maskflow.json must not hang the CLI before it has even parsed its flags.
      const manifest = JSON.parse(readSmallFile(join(dir, "maskflow.json"), { what: "the model manifest", maxBytes: 1 << 20 }));
      if (typeof manifest?.model === "string" && manifest.model) file = manifest.model;
    } catch {
      continue;
    }
    const onnxPath = join(dir, file);
    // Regular files only: onnxruntime would wait on a FIFO for ever (the load proper refuses one).
    if (statSync(onnxPath, { throwIfNoEntry: false })?.isFile()) out.push({ onnxPath, device, threads });
  }
  return out;
}

/** Options of `run`/`batch` that take a value (the value is not the workflow file). */
const VALUE_OPTIONS = new Set(["--inputs", "--out", "--concurrency"]);

/** Call first thing with the CLI's arguments: preloads what `run`/`batch` will load; `serve` gets a prewarmed worker. */
export function startEarly(argv: string[]): void {
  const [command, ...rest] = argv;
  if (command === "serve" || command === "worker" || command === "sweep") return prewarmWorker();
  if (command !== "run" && command !== "batch") return;
  // `batch --redis` runs nothing itself: the workers load the models.
  if (rest.some((a) => a === "--redis" || a.startsWith("--redis="))) return;
  const sets: string[] = [];
  let file: string | undefined;
  for (let i = 0; i < rest.length; i++) {
    const a = rest[i];
    if (a === "--set") sets.push(rest[++i] ?? "");
    else if (a.startsWith("--set=")) sets.push(a.slice(6));
    else if (VALUE_OPTIONS.has(a)) i++;
    else if (!a.startsWith("-")) file ??= a;
  }
  let text: string;
  try {
    text = readFileSync(file ?? "", "utf8");
  } catch {
    return prewarmWorker();
  }
  const models = modelsToPreload(text, sets);
  for (const m of models) preloadSession(m.onnxPath, m.device, m.threads);
  if (models.length === 0) prewarmWorker();
}
