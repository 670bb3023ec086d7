// ApplyLora on the bundled default model, through the real runtime (DllmModel: ONNX Runtime in
// a worker thread) and the real executor. Adapters are random (seeded) PEFT folders written
// here, sized from the model's config.json, so nothing depends on the default model's training.
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NodeRegistry } from "../../engine/registry.js";
import { Executor } from "../../engine/run/executor.js";
import type { NodeDefinition, NodeInputs } from "../../engine/types.js";
import { LoraError, loadAdapter } from "../../engine/dllm/lora/adapter.js";
import { applyLora, loraStack } from "../../engine/dllm/lora/apply.js";
import { encodeSafetensors } from "../../engine/dllm/lora/safetensors.js";
import { OnnxModel } from "../../engine/dllm/onnx/index.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { NodeInputError } from "../../engine/run/errors.js";
import ApplyLora from "../../nodes/apply-lora.js";
import { DEFAULT_MODEL, FIXTURES, maxAbsDiff, randomModules, tempDir, writeAdapter, type TestModule } from "./helpers.js";
import { nodeFiles, unrestrictedFiles } from "../../engine/files/access.js";

const tmp = tempDir();
const cfg = JSON.parse(readFileSync(join(DEFAULT_MODEL, "config.json"), "utf8")) as { d_model: number; mlp_hidden_size: number; n_layers: number; vocab_size: number };
const D = cfg.d_model;
const H = cfg.mlp_hidden_size;
const block = (i: number, m: string) => `model.transformer.blocks.${i}.${m}`;
const IDS = [5, 17, 40, 300, 1, 1, 1, 1, 9, 2, 2, 2].map((i) => i % cfg.vocab_size);
const SEQ = IDS.length;

let base: DllmModel;
let baseLogits: Float32Array;
const made: DllmModel[] = [];
let adapterA: string;
let adapterB: string;
let modulesA: TestModule[];
let modulesB: TestModule[];

function keep(m: DllmModel): DllmModel {
  made.push(m);
  return m;
}

beforeAll(async () => {
  base = await DllmModel.load(DEFAULT_MODEL, { threads: 1 });
  baseLogits = await base.forward(IDS, 1, SEQ);
  const layers = Array.from({ length: cfg.n_layers }, (_, i) => i);
  modulesA = randomModules(
    layers.flatMap((i) => [[block(i, "q_proj"), D, D], [block(i, "v_proj"), D, D], [block(i, "up_proj"), D, H]] as [string, number, number][]),
    4,
    1,
  );
  modulesB = randomModules(
    layers.flatMap((i) => [[block(i, "q_proj"), D, D], [block(i, "ff_out"), H, D]] as [string, number, number][]),
    2,
    2,
  );
  adapterA = writeAdapter(join(tmp.dir, "a"), modulesA, { r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj", "up_proj"] });
  adapterB = writeAdapter(join(tmp.dir, "b"), modulesB, { r: 2, lora_alpha: 4, use_rslora: true, target_modules: ["q_proj", "ff_out"] }, "BF16");
});

afterAll(async () => {
  for (const m of made) await m.dispose();
  await base?.dispose();
  tmp.cleanup();
});

async function forward(m: DllmModel): Promise<Float32Array> {
  return m.forward(IDS, 1, SEQ);
}

describe("applyLora on the default model", () => {
  it("strength 0 gives exactly the base model's outputs", async () => {
    const { model, stats } = await applyLora(base, loadAdapter(adapterA), 0);
    keep(model);
    expect(stats.weights).toBe(0);
    expect(await forward(model)).toEqual(baseLogits);
    expect(model.key).not.toBe(base.key);
  });

  it("strength 1 changes the outputs; the base model is untouched", async () => {
    const { model, stats } = await applyLora(base, loadAdapter(adapterA), 1);
    keep(model);
    expect(stats.weights).toBe(modulesA.length);
    expect(stats.strategy).toBe("bytes");
    expect(maxAbsDiff(await forward(model), baseLogits)).toBeGreaterThan(1e-3);
    expect(await forward(base)).toEqual(baseLogits);
    expect(loraStack(model)).toEqual({ base, adapters: [{ dir: adapterA, strength: 1 }] });
  });

  it("two stacked adapters equal one adapter holding their sum", async () => {
    const [sa, sb] = [0.5, -1.25];
    const a = await applyLora(base, loadAdapter(adapterA), sa);
    const ab = await applyLora(keep(a.model), loadAdapter(adapterB), sb);
    keep(ab.model);
    expect(loraStack(ab.model).adapters.map((x) => x.strength)).toEqual([sa, sb]);
    expect(loraStack(ab.model).base).toBe(base);

    // The sum as one adapter: per module, A = [A_a; A_b] and B = [sa*scale_a*B_a, sb*scale_b*B_b], scale 1.
    const scaleA = 8 / 4;
    const scaleB = 4 / Math.sqrt(2);
    const parts = new Map<string, { m: TestModule; coef: number }[]>();
    for (const m of modulesA) parts.set(m.module, [...(parts.get(m.module) ?? []), { m, coef: sa * scaleA }]);
    // B was stored as BF16: use the values as the adapter holds them
    const b = loadAdapter(adapterB);
    for (const m of b.modules) {
      const tm: TestModule = { module: m.module, A: m.A, B: m.B, r: m.r, inF: m.inFeatures, outF: m.outFeatures };
      parts.set(m.module, [...(parts.get(m.module) ?? []), { m: tm, coef: sb * scaleB }]);
    }
    const tensors: Parameters<typeof encodeSafetensors>[0] = {};
    const ranks: Record<string, number> = {};
    for (const [module, list] of parts) {
      const r = list.reduce((s, p) => s + p.m.r, 0);
      const { inF, outF } = list[0].m;
      const A = new Float32Array(r * inF);
      const B = new Float32Array(outF * r);
      let k0 = 0;
      for (const { m, coef } of list) {
        A.set(m.A, k0 * inF);
        for (let o = 0; o < outF; o++) for (let k = 0; k < m.r; k++) B[o * r + k0 + k] = coef * m.B[o * m.r + k];
        k0 += m.r;
      }
      ranks[module.replace(/\./g, "\\.")] = r;
      tensors[`base_model.model.${module}.lora_A.weight`] = { dtype: "F32", shape: [r, inF], data: A };
      tensors[`base_model.model.${module}.lora_B.weight`] = { dtype: "F32", shape: [outF, r], data: B };
    }
    const sumDir = writeAdapter(join(tmp.dir, "sum"), [], { r: 1, lora_alpha: 1, rank_pattern: ranks, alpha_pattern: ranks });
    writeFileSync(join(sumDir, "adapter_model.safetensors"), encodeSafetensors(tensors));
    const sum = await applyLora(base, loadAdapter(sumDir), 1);
    keep(sum.model);
    const [stacked, summed] = [await forward(ab.model), await forward(sum.model)];
    expect(maxAbsDiff(stacked, summed)).toBeLessThan(1e-4);
    expect(maxAbsDiff(stacked, baseLogits)).toBeGreaterThan(1e-3);
  });

  it("models with external data: merged in memory or through a temporary folder, same outputs", async () => {
    const dir = join(tmp.dir, "external-model");
    const onnx = OnnxModel.read(join(DEFAULT_MODEL, "model.onnx"));
    onnx.save(join(dir, "model.onnx"), { externalData: { location: "model.onnx.data" } });
    for (const f of readdirSync(DEFAULT_MODEL)) if (!f.startsWith("model.onnx")) copyFileSync(join(DEFAULT_MODEL, f), join(dir, f));
    const ext = await DllmModel.load(dir, { threads: 1 });
    made.push(ext);
    expect(await forward(ext)).toEqual(baseLogits);

    const inline = keep((await applyLora(base, loadAdapter(adapterA), 0.75)).model);
    const expected = await forward(inline);
    const viaBytes = await applyLora(ext, loadAdapter(adapterA), 0.75, { strategy: "bytes" });
    keep(viaBytes.model);
    expect(viaBytes.stats.strategy).toBe("bytes");
    expect(await forward(viaBytes.model)).toEqual(expected);

    const scratch = join(tmp.dir, "scratch");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(scratch);
    const viaFolder = await applyLora(ext, loadAdapter(adapterA), 0.75, { strategy: "folder", tempDir: scratch });
    keep(viaFolder.model);
    expect(viaFolder.stats.strategy).toBe("folder");
    expect(await forward(viaFolder.model)).toEqual(expected);
    expect(readdirSync(scratch)).toEqual([]); // the temporary folder is gone once the session holds the weights
    // stacking on a folder-built model still merges from the original base
    const again = await applyLora(viaFolder.model, loadAdapter(adapterA), 0.25, { strategy: "folder", tempDir: scratch });
    keep(again.model);
    expect(loraStack(again.model).base).toBe(ext);
    expect(maxAbsDiff(await forward(again.model), await forward(keep((await applyLora(base, loadAdapter(adapterA), 1)).model)))).toBeLessThan(1e-4);
  });

  it("the shipped example adapter applies to the default model", async () => {
    const dir = join(DEFAULT_MODEL, "..", "loras", "romance");
    expect(existsSync(join(dir, "adapter_model.safetensors"))).toBe(true); // trained by models/train/train_lora.py
    const { model, warnings } = await applyLora(base, loadAdapter(dir), 1);
    keep(model);
    expect(warnings.filter((w) => !w.includes("another version"))).toEqual([]);
    expect(maxAbsDiff(await forward(model), baseLogits)).toBeGreaterThan(1e-4);
  });
});

// ------------------------------------------------------------------ the node, in the executor

describe("ApplyLora node", () => {
  const ctx = (nodeId = "lora") => ({
    nodeId,
    signal: new AbortController().signal,
    progress: () => undefined,
    log: { info: () => undefined, warn: () => undefined },
    files: nodeFiles(unrestrictedFiles),
    fail: (input: string | null, message: string): never => {
      throw new NodeInputError(input, message);
    },
  });

  async function failure(inputs: NodeInputs): Promise<NodeInputError> {
    try {
      const out = await ApplyLora.execute(inputs, ctx());
      made.push((out as { model: DllmModel }).model);
    } catch (err) {
      expect(err).toBeInstanceOf(NodeInputError);
      return err as NodeInputError;
    }
    throw new Error("expected ApplyLora to fail");
  }

  it("names the input at fault", async () => {
    const other = await failure({ model: base, path: join(FIXTURES, "adapter-a"), strength: 1 });
    expect(other.input).toBe("path");
    expect(other.message).toMatch(/shape mismatch .* made for "tiny-llada"; this model is "maskflow-tiny-llada"/);
    expect((await failure({ model: base, path: join(tmp.dir, "nothing-here"), strength: 1 })).input).toBe("path");
    expect((await failure({ model: base, path: adapterA, strength: Number.NaN })).input).toBe("strength");
    expect((await failure({ model: "not a model", path: adapterA, strength: 1 })).input).toBe("model");
  });

  it("caches by (base, adapter content, strength) and rebuilds only what changed", async () => {
    let loads = 0;
    // A stand-in for LoadModel (helper 1's node) that counts loads; it uses the real runtime.
    const Load: NodeDefinition = {
      type: "TestLoadModel",
      version: 1,
      title: "Load",
      category: "test",
      description: "DllmModel.load",
      inputs: { path: { kind: "string", file: true } },
      outputs: { model: { socket: "MODEL" } },
      execute: async ({ path }) => {
        loads++;
        return { model: await DllmModel.load(path as string, { threads: 1 }) };
      },
    };
    const Probe: NodeDefinition = {
      type: "TestLogits",
      version: 1,
      title: "Logits",
      category: "test",
      description: "One forward; returns the first logits",
      output: true,
      inputs: { model: { socket: "MODEL" } },
      outputs: {},
      execute: async ({ model }) => ({ first: [...(await (model as DllmModel).forward(IDS, 1, SEQ)).subarray(0, 8)] }),
    };
    const executor = new Executor(new NodeRegistry([Load, ApplyLora, Probe]));
    const adapter = join(tmp.dir, "cached");
    writeAdapter(adapter, modulesA, { r: 4, lora_alpha: 8, target_modules: ["q_proj", "v_proj", "up_proj"] });
    const doc = (strength: number) => ({
      version: 1 as const,
      name: "lora cache",
      nodes: {
        load: { type: "TestLoadModel", inputs: { path: DEFAULT_MODEL } },
        lora: { type: "ApplyLora", inputs: { model: { from: "load", output: "model" }, path: adapter, strength } },
        lora2: { type: "ApplyLora", inputs: { model: { from: "lora", output: "model" }, path: adapterB, strength: 0 } },
        probe: { type: "TestLogits", inputs: { model: { from: "lora2", output: "model" } } },
      },
    });
    try {
      const first = await executor.run(doc(1));
      expect(first.status).toBe("finished");
      const again = await executor.run(doc(1));
      expect(again.stats.cached).toBe(4);
      const moved = await executor.run(doc(0.5));
      expect(moved.stats.nodes.load.cached).toBe(true);
      expect(moved.stats.nodes.lora.cached).toBe(false);
      expect(moved.outputs.probe).not.toEqual(first.outputs.probe);
      // new adapter content at the same path: ApplyLora runs again
      writeAdapter(adapter, modulesB.map((m) => ({ ...m })), { r: 2, lora_alpha: 4, target_modules: ["q_proj", "ff_out"] });
      const edited = await executor.run(doc(0.5));
      expect(edited.stats.nodes.lora.cached).toBe(false);
      expect(loads).toBe(1);
      const bad = await executor.run({ ...doc(1), nodes: { ...doc(1).nodes, lora: { ...doc(1).nodes.lora, inputs: { ...doc(1).nodes.lora.inputs, path: join(FIXTURES, "adapter-b") } } } });
      expect(bad.status).toBe("failed");
      expect(bad.error).toMatchObject({ nodeId: "lora", input: "path" });
      expect(bad.error!.message).toMatch(/shape mismatch/);
    } finally {
      executor.clearCache();
    }
  });
});
