// Start-up: the CLI reads a workflow and creates its models' sessions before loading the rest of
// Maskflow, and DllmModel.load adopts them; CPU sessions start from onnxruntime's optimized copy of
// the graph, cached per model (its folder's files). Neither may show in results or errors. The
// CLI's main thread never loads onnxruntime itself.
import { spawnSync } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { modelsToPreload } from "../../engine/cli/preload.js";
import { DeviceError, DllmModel } from "../../engine/dllm/runtime/model.js";
import { preloadSession, preloadStats } from "../../engine/dllm/runtime/worker-client.js";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { MODEL_DIR, ROOT } from "./fixtures.js";

const ONNX = join(MODEL_DIR, "model.onnx");
const hello = readFileSync(join(ROOT, "workflows", "hello.maskflow.json"), "utf8");

describe("preloading a workflow's models", () => {
  it("finds each LoadModel's model file, device and threads, with --set applied", () => {
    expect(modelsToPreload(hello, [])).toEqual([{ onnxPath: ONNX, device: "cpu", threads: 0 }]);
    expect(modelsToPreload(hello, ["model.threads=1", "model.device=webgpu"])).toEqual([{ onnxPath: ONNX, device: "webgpu", threads: 1 }]);
    // Nothing to preload: another folder that does not exist, a path that is a link, unreadable JSON.
    expect(modelsToPreload(hello, ["model.path=no/such/folder"])).toEqual([]);
    const doc = JSON.parse(hello);
    doc.nodes.model.inputs.path = { from: "prompt", output: "text" };
    expect(modelsToPreload(JSON.stringify(doc), [])).toEqual([]);
    expect(modelsToPreload("{ not json", [])).toEqual([]);
    // A folder whose maskflow.json names another graph file.
    const dir = mkdtempSync(join(tmpdir(), "maskflow-preload-"));
    mkdirSync(join(dir, "m"));
    writeFileSync(join(dir, "m", "maskflow.json"), JSON.stringify({ model: "graph.onnx" }));
    copyFileSync(ONNX, join(dir, "m", "graph.onnx"));
    expect(modelsToPreload(hello, [`model.path=${JSON.stringify(join(dir, "m"))}`])).toEqual([{ onnxPath: join(dir, "m", "graph.onnx"), device: "cpu", threads: 0 }]);
    rmSync(dir, { recursive: true, force: true });
  });

  it("a load adopts the preloaded session of its file, device and threads, and computes the same logits", async () => {
    const plain = await DllmModel.load(MODEL_DIR, { threads: 1 });
    const before = { ...preloadStats };
    preloadSession(ONNX, "cpu", 1);
    preloadSession(ONNX, "cpu", 1); // idempotent
    const adopted = await DllmModel.load(MODEL_DIR, { threads: 1 });
    expect(preloadStats).toEqual({ started: before.started + 1, adopted: before.adopted + 1 });
    const ids = plain.tokenizer.encode("He looked at the door and");
    const padded = [...ids, 1, 1, 1];
    expect(await adopted.forward(padded, 1, padded.length)).toEqual(await plain.forward(padded, 1, padded.length));
    // Another thread count is another session: not adopted.
    preloadSession(ONNX, "cpu", 2);
    const other = await DllmModel.load(MODEL_DIR, { threads: 1 });
    expect(preloadStats.adopted).toBe(before.adopted + 1);
    await Promise.all([plain.dispose(), adopted.dispose(), other.dispose()]);
  });

  it("a preload that failed is not adopted: the load reports its own error as usual", async () => {
    const before = { ...preloadStats };
    preloadSession(ONNX, "dml", 0); // not in this build on Linux
    await expect(DllmModel.load(MODEL_DIR, { device: "dml" })).rejects.toBeInstanceOf(DeviceError);
    expect(preloadStats.adopted).toBe(before.adopted);

    const dir = mkdtempSync(join(tmpdir(), "maskflow-preload-"));
    for (const f of ["maskflow.json", "tokenizer.json", "tokenizer_config.json", "config.json", "weights.json"]) copyFileSync(join(MODEL_DIR, f), join(dir, f));
    writeFileSync(join(dir, "model.onnx"), "not a graph");
    preloadSession(join(dir, "model.onnx"), "cpu", 0);
    await expect(DllmModel.load(dir)).rejects.toThrow(/onnxruntime could not load it/);
    rmSync(dir, { recursive: true, force: true });
  });
});

/** DllmModel.load with MASKFLOW_CACHE_DIR set to `cache` ("off" disables it) while its worker starts: a worker copies the environment then. */
async function loadWithCache(dir: string, cache: string): Promise<DllmModel> {
  const saved = process.env.MASKFLOW_CACHE_DIR;
  process.env.MASKFLOW_CACHE_DIR = cache;
  try {
    return await DllmModel.load(dir, { threads: 1 });
  } finally {
    if (saved === undefined) delete process.env.MASKFLOW_CACHE_DIR;
    else process.env.MASKFLOW_CACHE_DIR = saved;
  }
}

describe("the optimized-graph cache", () => {
  it("writes onnxruntime's optimized copy once, loads from it with the same logits, and replaces a broken copy", async () => {
    const cache = mkdtempSync(join(tmpdir(), "maskflow-graphs-"));
    const load = (dir: string) => loadWithCache(MODEL_DIR, dir);
    const copies = () => readdirSync(join(cache, "ort-graphs"));
    const plain = await load("off");
    expect(existsSync(join(cache, "ort-graphs"))).toBe(false);
    const first = await load(cache); // writes the copy
    expect(copies()).toHaveLength(1);
    expect(copies()[0]).toMatch(/^[0-9a-f]{16}-[0-9a-f]{16}$/);
    const graph = () => join(cache, "ort-graphs", copies()[0], "model.onnx");
    expect(readdirSync(join(cache, "ort-graphs", copies()[0])).sort()).toEqual(["model.onnx", "model.onnx.data"]);
    // The weights, beside a small graph, in their own layout and prepacked for the CPU kernels
    // (so a cached load skips repacking): well over the model file's size.
    expect(statSync(`${graph()}.data`).size).toBeGreaterThan(1.5 * statSync(ONNX).size);
    const written = statSync(graph()).ino;
    const second = await load(cache); // reads it, writes nothing (a new copy would be a new file)
    expect(statSync(graph()).ino).toBe(written);
    writeFileSync(graph(), "not a graph");
    const third = await load(cache); // falls back and rewrites it
    expect(copies()).toHaveLength(1);
    expect(statSync(graph()).size).toBeGreaterThan(1000);
    expect(statSync(graph()).ino).not.toBe(written);

    // The folder keeps the 8 most recently used copies: 9 older ones (of other model files) are cut to 7.
    const dir = join(cache, "ort-graphs");
    const old = (i: number) => `${String(i).padStart(16, "0")}-${"0".repeat(16)}`;
    for (let i = 0; i < 9; i++) {
      mkdirSync(join(dir, old(i)));
      writeFileSync(join(dir, old(i), "model.onnx"), "old");
      utimesSync(join(dir, old(i)), new Date(2020, 0, 1 + i), new Date(2020, 0, 1 + i));
    }
    const ours = copies().find((n) => !n.endsWith(`-${"0".repeat(16)}`))!;
    rmSync(join(dir, ours), { recursive: true }); // so the next load writes a copy, and trims
    const fourth = await load(cache);
    expect(copies().sort()).toEqual([...[2, 3, 4, 5, 6, 7, 8].map(old), ours].sort());

    const ids = [...plain.tokenizer.encode("The jury said that"), 1, 1, 1, 1];
    const want = await plain.forward(ids, 1, ids.length);
    for (const m of [first, second, third, fourth]) expect(await m.forward(ids, 1, ids.length)).toEqual(want);
    await Promise.all([plain, first, second, third, fourth].map((m) => m.dispose()));
    rmSync(cache, { recursive: true, force: true });
  });
});

describe("the optimized-graph cache and quantised models", () => {
  it("an int8 conversion loads from its copy with the same logits (onnxruntime's prepacked MatMulNBits weights read back as NaN, so they are not saved)", async () => {
    const cache = mkdtempSync(join(tmpdir(), "maskflow-graphs-"));
    const out = join(mkdtempSync(join(tmpdir(), "maskflow-model-")), "q");
    await convertCheckpoint(join(ROOT, "test", "fixtures", "convert", "llada-tiny"), { out, dtype: "int8" });
    const plain = await loadWithCache(out, "off");
    const first = await loadWithCache(out, cache); // writes the copy
    const second = await loadWithCache(out, cache); // reads it
    expect(readdirSync(join(cache, "ort-graphs"))).toHaveLength(1);
    const ids = [5, 6, 7, 8, 9, 10, 11, 12];
    const want = await plain.forward(ids, 1, ids.length);
    expect(want.some(Number.isNaN)).toBe(false);
    for (const m of [first, second]) expect(await m.forward(ids, 1, ids.length)).toEqual(want);
    await Promise.all([plain, first, second].map((m) => m.dispose()));
    rmSync(cache, { recursive: true, force: true });
    rmSync(dirname(out), { recursive: true, force: true });
  });
});

describe("the optimized-graph cache and the files beside a model", () => {
  it("a change to any of them (external data) makes a new copy; a folder over 512 MB gets none", async () => {
    const cache = mkdtempSync(join(tmpdir(), "maskflow-graphs-"));
    const model = join(mkdtempSync(join(tmpdir(), "maskflow-model-")), "m");
    cpSync(MODEL_DIR, model, { recursive: true });
    const load = () => loadWithCache(model, cache);
    const copies = () => readdirSync(join(cache, "ort-graphs"));
    const first = await load();
    const [one] = copies();
    writeFileSync(join(model, "model.onnx.data"), "weights that changed"); // the graph file itself untouched
    const second = await load();
    expect(copies()).toHaveLength(1); // the stale copy is replaced, not reused
    const [two] = copies();
    expect(two).not.toBe(one);
    writeFileSync(join(model, "big.bin"), "");
    truncateSync(join(model, "big.bin"), 600 * 2 ** 20); // sparse: 600 MB beside the graph, no disk used
    const third = await load();
    expect(copies()).toEqual([two]); // nothing written for it

    const ids = [...first.tokenizer.encode("The jury said that"), 1, 1, 1, 1];
    const want = await first.forward(ids, 1, ids.length);
    for (const m of [second, third]) expect(await m.forward(ids, 1, ids.length)).toEqual(want);
    await Promise.all([first, second, third].map((m) => m.dispose()));
    rmSync(cache, { recursive: true, force: true });
    rmSync(dirname(model), { recursive: true, force: true });
  });
});

describe("what the CLI loads on its main thread", () => {
  it("not onnxruntime-node: only model workers load it (Apply LoRA loads it when it runs)", () => {
    const script = [
      `await import(${JSON.stringify(join(ROOT, "engine", "cli", "main.ts"))});`,
      `const { createRequire } = await import("node:module");`,
      `const cache = Object.keys(createRequire(import.meta.url).cache);`,
      `console.log(JSON.stringify({ modules: cache.length, ort: cache.filter((k) => k.includes("onnxruntime")) }));`,
    ].join("\n");
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: ROOT, timeout: 60_000, encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
    const loaded = JSON.parse(r.stdout) as { modules: number; ort: string[] };
    expect(loaded.modules).toBeGreaterThan(0); // CommonJS packages (commander) do show here
    expect(loaded.ort).toEqual([]);
  });
});
