// The merge against the torch reference (models/train/lora_merge_reference.py wrote the
// fixtures), and every way an adapter can be refused.
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import { LoraError, isTargeted, loadAdapter, patternValue } from "../../engine/dllm/lora/adapter.js";
import { mergeIntoModel, planMerge, readWeightManifest, type LoraLayer } from "../../engine/dllm/lora/merge.js";
import { SafetensorsFile, encodeSafetensors } from "../../engine/dllm/lora/safetensors.js";
import { DataType, OnnxModel } from "../../engine/dllm/onnx/index.js";
import { FIXTURES, maxAbsDiff, randomModules, tempDir, writeAdapter } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const TINY = join(FIXTURES, "tiny");
const expected = SafetensorsFile.open(join(FIXTURES, "expected.safetensors"));
const cases = JSON.parse(expected.metadata.cases) as Record<string, [string, number][]>;

async function mergeTiny(layers: LoraLayer[], gemm: "onnxruntime" | "js" = "onnxruntime"): Promise<OnnxModel> {
  const model = OnnxModel.read(join(TINY, "model.onnx"));
  const plan = planMerge(readWeightManifest(join(TINY, "weights.json")), layers, "tiny-llada");
  await mergeIntoModel(model, plan, { gemm });
  return model;
}

function refusal(fn: () => unknown): LoraError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LoraError);
    return err as LoraError;
  }
  throw new Error("expected a LoraError");
}

async function refusalAsync(fn: () => Promise<unknown>): Promise<LoraError> {
  try {
    await fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LoraError);
    return err as LoraError;
  }
  throw new Error("expected a LoraError");
}

const gemms = ["onnxruntime", "js"] as const;
const caseList = Object.entries(cases).flatMap(([name, layers]) => gemms.map((g) => [`${name} (${g})`, name, layers, g] as const));

describe("merge matches the torch reference", () => {
  it.each(caseList)("%s", async (_title, name, layers, gemm) => {
    const model = await mergeTiny(
      layers.map(([dir, strength]) => ({ adapter: loadAdapter(join(FIXTURES, dir)), strength })),
      gemm,
    );
    const weights = expected.names().filter((n) => n.startsWith(`${name}/`));
    expect(weights.length).toBeGreaterThan(0);
    for (const key of weights) {
      const onnxName = key.slice(name.length + 1);
      expect(maxAbsDiff(model.readFloat32(onnxName), expected.readFloat32(key)), onnxName).toBeLessThan(1e-5);
    }
    // and nothing else changed
    const base = OnnxModel.read(join(TINY, "model.onnx"));
    const touched = new Set(weights.map((k) => k.slice(name.length + 1)));
    for (const n of base.initializerNames()) if (!touched.has(n)) expect(model.readFloat32(n)).toEqual(base.readFloat32(n));
  });

  it.each(gemms)("in_out (pre-transposed) and out_in weights: merged weights and the graph's outputs match torch (%s)", async (gemm) => {
    const dir = join(FIXTURES, "inout");
    const ref = SafetensorsFile.open(join(dir, "expected.safetensors"));
    const strength = Number(ref.metadata.strength);
    const model = OnnxModel.read(join(dir, "model.onnx"));
    const plan = planMerge(readWeightManifest(join(dir, "weights.json")), [{ adapter: loadAdapter(join(dir, "adapter")), strength }], "in-out");
    expect(plan.map((t) => t.layout).sort()).toEqual(["in_out", "out_in"]);
    await mergeIntoModel(model, plan, { gemm });
    for (const w of ["lin.weight", "lin2.weight"]) expect(maxAbsDiff(model.readFloat32(w), ref.readFloat32(w))).toBeLessThan(1e-5);
    const session = await ort.InferenceSession.create(model.encode());
    const out = await session.run({ x: new ort.Tensor("float32", ref.readFloat32("x"), [3, 16]) });
    expect(maxAbsDiff(out.y1.data as Float32Array, ref.readFloat32("y1"))).toBeLessThan(1e-5);
    expect(maxAbsDiff(out.y2.data as Float32Array, ref.readFloat32("y2"))).toBeLessThan(1e-5);
    await session.release();
  });

  it.each([
    ["FLOAT16", DataType.FLOAT16, 2 ** -11],
    ["BFLOAT16", DataType.BFLOAT16, 2 ** -8],
  ] as const)("%s base weights are merged in float32 and rounded back to their type", async (_name, type, rel) => {
    const model = OnnxModel.read(join(TINY, "model.onnx"));
    const q = "model.transformer.blocks.0.q_proj.weight";
    const t = model.tensor(q);
    const values = model.readFloat32(q);
    t.dataType = type;
    model.writeFloat32(q, values); // now stored as 16-bit floats
    const rounded = model.readFloat32(q);
    const plan = planMerge(readWeightManifest(join(TINY, "weights.json")), [{ adapter: loadAdapter(join(FIXTURES, "adapter-a")), strength: 1 }], "tiny-llada");
    await mergeIntoModel(model, plan);
    expect(model.info(q).dtype).toBe(_name);
    const got = model.readFloat32(q);
    const want = expected.readFloat32(`a@1/${q}`);
    // the torch merge of the rounded base, rounded once more to the 16-bit type (half an ulp)
    for (let i = 0; i < want.length; i++) {
      const exact = rounded[i] + (want[i] - values[i]);
      expect(Math.abs(got[i] - exact)).toBeLessThanOrEqual(Math.abs(exact) * rel + 1e-6);
    }
  });

  it("strength 0 leaves every weight bit-identical", async () => {
    const model = await mergeTiny([{ adapter: loadAdapter(join(FIXTURES, "adapter-c")), strength: 0 }]);
    const base = OnnxModel.read(join(TINY, "model.onnx"));
    for (const n of base.initializerNames()) expect(model.readFloat32(n)).toEqual(base.readFloat32(n));
  });

  it("a stack of two adapters equals one adapter holding their sum (ranks concatenated)", async () => {
    const a = loadAdapter(join(FIXTURES, "adapter-a"));
    const c = loadAdapter(join(FIXTURES, "adapter-c"));
    const [sa, sc] = [0.8, -0.6];
    const stacked = await mergeTiny([
      { adapter: a, strength: sa },
      { adapter: c, strength: sc },
    ]);
    // One adapter, rank r_a + r_c, scale 1: A = [A_a; A_c], B = [sa*scale_a*B_a, sc*scale_c*B_c]
    const modules = new Map<string, { A: number[][]; B: number[][]; inF: number; outF: number }>();
    for (const [ad, s] of [[a, sa], [c, sc]] as const) {
      for (const m of ad.modules) {
        const e = modules.get(m.module) ?? { A: [], B: [], inF: m.inFeatures, outF: m.outFeatures };
        for (let k = 0; k < m.r; k++) e.A.push([...m.A.subarray(k * m.inFeatures, (k + 1) * m.inFeatures)]);
        for (let o = 0; o < m.outFeatures; o++) {
          e.B[o] ??= [];
          for (let k = 0; k < m.r; k++) e.B[o].push(s * m.scale * m.B[o * m.r + k]);
        }
        modules.set(m.module, e);
      }
    }
    const sumDir = join(tmp.dir, "sum");
    const tensors: Parameters<typeof encodeSafetensors>[0] = {};
    const rankPattern: Record<string, number> = {};
    for (const [module, e] of modules) {
      const r = e.A.length;
      rankPattern[module.replace(/\./g, "\\.")] = r;
      tensors[`base_model.model.${module}.lora_A.weight`] = { dtype: "F32", shape: [r, e.inF], data: e.A.flat() };
      tensors[`base_model.model.${module}.lora_B.weight`] = { dtype: "F32", shape: [e.outF, r], data: e.B.flat() };
    }
    cpSync(join(FIXTURES, "adapter-c"), sumDir, { recursive: true });
    writeFileSync(join(sumDir, "adapter_model.safetensors"), encodeSafetensors(tensors));
    const cfg = JSON.parse(readFileSync(join(sumDir, "adapter_config.json"), "utf8"));
    // scale alpha / r must be 1 for every module: alpha_pattern mirrors rank_pattern
    writeFileSync(join(sumDir, "adapter_config.json"), JSON.stringify({ ...cfg, r: 1, lora_alpha: 1, rank_pattern: rankPattern, alpha_pattern: rankPattern }));
    const summed = await mergeTiny([{ adapter: loadAdapter(sumDir), strength: 1 }]);
    for (const n of summed.initializerNames()) expect(maxAbsDiff(stacked.readFloat32(n), summed.readFloat32(n)), n).toBeLessThan(1e-6);
  });
});

describe("PEFT config semantics", () => {
  it("rank_pattern / alpha_pattern keys match the end of the module name", () => {
    expect(patternValue({ "blocks.1.k_proj": 3 }, "model.transformer.blocks.1.k_proj", 2)).toBe(3);
    expect(patternValue({ "blocks.1.k_proj": 3 }, "model.transformer.blocks.11.k_proj", 2)).toBe(2);
    expect(patternValue({ ff_out: 5 }, "model.transformer.blocks.0.ff_out", 3)).toBe(5);
    expect(patternValue({ out: 5 }, "model.transformer.blocks.0.ff_out", 3)).toBe(3);
  });

  it("target_modules: a list matches names or dotted suffixes, a string is a full-match regex", () => {
    expect(isTargeted(["q_proj"], "model.transformer.blocks.0.q_proj")).toBe(true);
    expect(isTargeted(["proj"], "model.transformer.blocks.0.q_proj")).toBe(false);
    expect(isTargeted(".*\\.(k_proj|ff_out)", "model.transformer.blocks.0.ff_out")).toBe(true);
    expect(isTargeted(".*\\.(k_proj|ff_out)", "model.transformer.blocks.0.ff_out2")).toBe(false);
  });

  it("uses alpha/sqrt(r) with use_rslora, and the per-module rank and alpha", () => {
    const b = loadAdapter(join(FIXTURES, "adapter-b"));
    const k1 = b.modules.find((m) => m.module.endsWith("blocks.1.k_proj"))!;
    expect(k1.r).toBe(3);
    expect(k1.scale).toBeCloseTo(3 / Math.sqrt(3), 12);
    const ffOut = b.modules.find((m) => m.module.endsWith("blocks.0.ff_out"))!;
    expect(ffOut.scale).toBeCloseTo(5 / Math.sqrt(2), 12);
  });
});

describe("refusals name the problem", () => {
  const weights = readWeightManifest(join(TINY, "weights.json"));
  const q = (i: number) => `model.transformer.blocks.${i}.q_proj`;

  it("adapter keys that match no weight: how many, and a few of them", () => {
    const dir = writeAdapter(
      join(tmp.dir, "nomatch"),
      randomModules([[q(0), 16, 16], ...Array.from({ length: 7 }, (_, i) => [`model.layers.${i}.self_attn.q_proj`, 16, 16] as [string, number, number])], 2, 1),
      { r: 2, target_modules: ["q_proj"], base_model_name_or_path: "Dream-org/Dream-v0-Base-7B" },
    );
    const err = refusal(() => planMerge(weights, [{ adapter: loadAdapter(dir), strength: 1 }], "tiny-llada"));
    expect(err.input).toBe("path");
    expect(err.message).toMatch(/7 of 8 adapted modules match no weight of this model: model\.layers\.0\.self_attn\.q_proj, .*… \(7 in all\)/);
    expect(err.message).toMatch(/made for "Dream-org\/Dream-v0-Base-7B"; this model is "tiny-llada"/);
    expect(err.message).toMatch(/named like model\.transformer\.blocks\.0\.q_proj/);
  });

  it("an adapter made for another model: shapes disagree", () => {
    const dir = writeAdapter(join(tmp.dir, "othermodel"), randomModules([[q(0), 256, 256]], 4, 2), {
      r: 4,
      target_modules: ["q_proj"],
      base_model_name_or_path: "maskflow-tiny-llada",
    });
    const err = refusal(() => planMerge(weights, [{ adapter: loadAdapter(dir), strength: 1 }], "tiny-llada"));
    expect(err.message).toMatch(/shape mismatch for model\.transformer\.blocks\.0\.q_proj: .* maps 256 -> 256 features .* this model's .* maps 16 -> 16/);
    expect(err.message).toMatch(/made for "maskflow-tiny-llada"; this model is "tiny-llada"/);
  });

  it("rank mismatch between adapter_config.json and the tensors", () => {
    const dir = writeAdapter(join(tmp.dir, "rank"), randomModules([[q(0), 16, 16]], 4, 3), { r: 8, target_modules: ["q_proj"] });
    expect(refusal(() => loadAdapter(dir)).message).toMatch(/rank mismatch in model\.transformer\.blocks\.0\.q_proj: .* says r=8 but .* has rank 4/);
  });

  it("rank mismatch between lora_A and lora_B", () => {
    const [m] = randomModules([[q(0), 16, 16]], 4, 4);
    const dir = writeAdapter(join(tmp.dir, "ab"), [], { r: 4 }, "F32", {
      [`base_model.model.${q(0)}.lora_A.weight`]: { dtype: "F32", shape: [4, 16], data: m.A },
      [`base_model.model.${q(0)}.lora_B.weight`]: { dtype: "F32", shape: [8, 2], data: m.B.subarray(0, 16) },
    });
    expect(refusal(() => loadAdapter(dir)).message).toMatch(/rank mismatch in .*q_proj: lora_A is \[4,16\] \(rank 4\) but lora_B is \[8,2\] \(rank 2\)/);
  });

  it("unsupported dtype", () => {
    const dir = writeAdapter(join(tmp.dir, "dtype"), randomModules([[q(0), 16, 16]], 2, 5), { r: 2 });
    // rewrite the A tensor's dtype: F32 [2,16] is 128 bytes, I64 [2,8] is too
    const bytes = readFileSync(join(dir, "adapter_model.safetensors"));
    const text = bytes.toString("latin1").replace(/"dtype":"F32","shape":\[2,16\]/, '"dtype":"I64","shape":[2, 8]');
    writeFileSync(join(dir, "adapter_model.safetensors"), Buffer.from(text, "latin1"));
    expect(refusal(() => loadAdapter(dir)).message).toMatch(/lora_A\.weight" has unsupported dtype I64 \(LoRA weights must be F32, F16, BF16\)/);
  });

  it("truncated safetensors", () => {
    const dir = writeAdapter(join(tmp.dir, "trunc"), randomModules([[q(0), 16, 16]], 2, 6), { r: 2 });
    const file = join(dir, "adapter_model.safetensors");
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    const err = refusal(() => loadAdapter(dir));
    expect(err.input).toBe("path");
    expect(err.message).toMatch(/adapter_model\.safetensors: (truncated|corrupt)/);
  });

  it("corrupt safetensors (garbage)", () => {
    const dir = writeAdapter(join(tmp.dir, "garbage"), randomModules([[q(0), 16, 16]], 2, 7), { r: 2 });
    writeFileSync(join(dir, "adapter_model.safetensors"), Buffer.from("PK\u0003\u0004 this is a zip, not safetensors"));
    expect(refusal(() => loadAdapter(dir)).message).toMatch(/corrupt safetensors file/);
  });

  it("tensors that are not LoRA weights, and half pairs", () => {
    const [m] = randomModules([[q(0), 16, 16]], 2, 8);
    const emb = writeAdapter(join(tmp.dir, "emb"), [m], { r: 2 }, "F32", {
      "base_model.model.model.transformer.wte.lora_embedding_A": { dtype: "F32", shape: [2, 4], data: new Float32Array(8) },
    });
    expect(refusal(() => loadAdapter(emb)).message).toMatch(/1 tensor\(s\) are not LoRA weights .*lora_embedding_A/);
    const half = writeAdapter(join(tmp.dir, "half"), [], { r: 2 }, "F32", {
      [`base_model.model.${q(0)}.lora_A.weight`]: { dtype: "F32", shape: [2, 16], data: m.A },
    });
    expect(refusal(() => loadAdapter(half)).message).toMatch(/q_proj has lora_A but no lora_B/);
  });

  it("the adapter folder itself: missing files, other PEFT types, DoRA, a weight that is not a linear layer's", () => {
    expect(refusal(() => loadAdapter(join(tmp.dir, "absent"))).message).toMatch(/adapter not found/);
    const dir = writeAdapter(join(tmp.dir, "kinds"), randomModules([[q(0), 16, 16]], 2, 9), { r: 2 });
    writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ peft_type: "IA3", r: 2 }));
    expect(refusal(() => loadAdapter(dir)).message).toMatch(/peft_type is "IA3"; ApplyLora reads LoRA adapters only/);
    writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ peft_type: "LORA", r: 2, use_dora: true }));
    expect(refusal(() => loadAdapter(dir)).message).toMatch(/DoRA/);
    writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ r: "two" }));
    expect(refusal(() => loadAdapter(dir)).message).toMatch(/invalid adapter config: r:/);
    writeFileSync(join(dir, "adapter_config.json"), "{");
    expect(refusal(() => loadAdapter(dir)).message).toMatch(/adapter_config\.json is not valid JSON/);

    const noConfig = writeAdapter(join(tmp.dir, "noconfig"), randomModules([[q(0), 16, 16]], 2, 10), { r: 2 });
    writeFileSync(join(noConfig, "adapter_config.json"), "{}");
    cpSync(join(noConfig, "adapter_model.safetensors"), join(tmp.dir, "lonely", "adapter_model.safetensors"), { recursive: true });
    expect(refusal(() => loadAdapter(join(tmp.dir, "lonely"))).message).toMatch(/has no adapter_config\.json/);

    const bin = join(tmp.dir, "bin");
    cpSync(join(FIXTURES, "adapter-a", "adapter_config.json"), join(bin, "adapter_config.json"), { recursive: true });
    writeFileSync(join(bin, "adapter_model.bin"), "pickle");
    expect(refusal(() => loadAdapter(bin)).message).toMatch(/adapter_model\.bin .* save the adapter with safetensors/);

    const wte = writeAdapter(join(tmp.dir, "wte"), randomModules([["model.transformer.wte", 16, 40]], 2, 11), { r: 2 });
    expect(refusal(() => planMerge(weights, [{ adapter: loadAdapter(wte), strength: 1 }], "tiny-llada")).message).toMatch(
      /adapts model\.transformer\.wte\.weight, which is not a linear layer's weight \(layout "plain"/,
    );
  });

  it("a weight manifest that lies about the ONNX file", async () => {
    const dir = join(tmp.dir, "liar");
    cpSync(TINY, dir, { recursive: true });
    const manifest = JSON.parse(readFileSync(join(dir, "weights.json"), "utf8"));
    manifest.weights.find((w: { name: string }) => w.name === `${q(0)}.weight`).onnx = "renamed";
    writeFileSync(join(dir, "weights.json"), JSON.stringify(manifest));
    const plan = planMerge(readWeightManifest(join(dir, "weights.json")), [{ adapter: loadAdapter(join(FIXTURES, "adapter-a")), strength: 1 }], "tiny-llada");
    const err = await refusalAsync(() => mergeIntoModel(OnnxModel.read(join(dir, "model.onnx")), plan));
    expect(err.input).toBe("model");
    expect(err.message).toMatch(/weights\.json names initializer "renamed" .* has none of that name/);
  });
});
