// DiffusionGemma (uniform-noise block diffusion, Gemma 4 MoE): the converted graph against the
// float32 transcription of transformers' forward (models/reference/diffusion_gemma_reference.py;
// fixtures from make_diffusion_gemma_fixtures.py, committed: CI runs no Python). The encoder's K/V
// (in one call and extended in two), one decoder step from a pinned canvas without
// self-conditioning and one with it (fed the graph's own soft embedding of step 1), the quantised
// conversions within measured bounds, and the errors a wrong checkpoint gets.
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint, type ConvertDtype } from "../../engine/dllm/convert/index.js";
import { describeModelFolder } from "../../engine/dllm/convert/models.js";
import { readModelFolder } from "../../engine/dllm/model-folder.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { FIXTURES, ROOT, compareLogits, readF32, tempDir } from "./helpers.js";

interface Saved {
  file: string;
  shape: number[];
}
interface Fixture {
  rows: number;
  temperature: number;
  prompt_ids: number[];
  split_at: number;
  encoder: Record<"sliding_attention" | "full_attention", Saved>;
  steps: { name: string; canvas: number[]; self_conditioning: Saved | null; logits: Saved; entropy: number[] }[];
}

const fx = JSON.parse(readFileSync(join(FIXTURES, "diffusion-gemma.json"), "utf8")) as Fixture;
const CKPT = join(FIXTURES, "diffusion-gemma-tiny");
const TYPES = ["sliding_attention", "full_attention"] as const;
const HIDDEN = 32;
const WINDOW = 4;
const tmp = tempDir();
afterAll(() => tmp.cleanup());

const load = (s: Saved) => readF32(s.file);
const maxAbs = (a: Float32Array, b: Float32Array) => {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

type Cache = Record<(typeof TYPES)[number], ort.Tensor>;

/** The graph's two passes, fed as maskflow.json's contract says (the stage-2 sampler will do this in the worker). */
class CanvasGraph {
  private constructor(private readonly session: ort.InferenceSession, readonly groups: { type: (typeof TYPES)[number]; layers: number[]; heads: number; head_dim: number }[]) {}

  static async open(dir: string): Promise<CanvasGraph> {
    const m = JSON.parse(readFileSync(join(dir, "maskflow.json"), "utf8"));
    return new CanvasGraph(await ort.InferenceSession.create(join(dir, "model.onnx"), { intraOpNumThreads: 1 }), m.kv_cache.groups);
  }

  empty(): Cache {
    return Object.fromEntries(this.groups.map((g) => [g.type, new ort.Tensor("float32", new Float32Array(0), [g.layers.length, 2, 1, g.heads, 0, g.head_dim])])) as Cache;
  }

  fromFixture(): Cache {
    return Object.fromEntries(TYPES.map((t) => [t, new ort.Tensor("float32", load(fx.encoder[t]), fx.encoder[t].shape)])) as Cache;
  }

  async run(ids: number[], cache: Cache, offset: number, encode: boolean, sc: Float32Array | null, temperature = fx.temperature) {
    const S = ids.length;
    const feeds: Record<string, ort.Tensor> = {
      input_ids: new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, S]),
      position_offset: new ort.Tensor("int64", BigInt64Array.of(BigInt(offset)), [1]),
      encode: new ort.Tensor("int64", BigInt64Array.of(encode ? 1n : 0n), [1]),
      self_conditioning: new ort.Tensor("float32", sc ?? new Float32Array(S * HIDDEN), [1, S, HIDDEN]),
      temperature: new ort.Tensor("float32", Float32Array.of(temperature), [1]),
      decide: new ort.Tensor("int64", BigInt64Array.from(ids.map((_, i) => BigInt(i))), [1, S]),
    };
    for (const t of TYPES) feeds[`past_kv.${t}`] = cache[t];
    const out = await this.session.run(feeds);
    const f = (n: string) => out[n].data as Float32Array;
    return {
      logits: f("head_logits"),
      entropy: f("head_entropy"),
      topIds: out.head_top_ids.data as BigInt64Array,
      soft: f("sc_embedding"),
      present: Object.fromEntries(TYPES.map((t) => [t, out[`present_kv.${t}`]])) as Cache,
    };
  }

  release() {
    return this.session.release();
  }
}

/** [L, 2, 1, H, P, D] caches concatenated along P. */
function concatCache(a: ort.Tensor, b: ort.Tensor): Float32Array {
  const [L, two, , H, Pa, D] = a.dims as number[];
  const Pb = b.dims[4] as number;
  const out = new Float32Array(L * two * H * (Pa + Pb) * D);
  const x = a.data as Float32Array;
  const y = b.data as Float32Array;
  let o = 0;
  for (let r = 0; r < L * two * H; r++) {
    out.set(x.subarray(r * Pa * D, (r + 1) * Pa * D), o);
    o += Pa * D;
    out.set(y.subarray(r * Pb * D, (r + 1) * Pb * D), o);
    o += Pb * D;
  }
  return out;
}

/** The last n positions of a [L, 2, 1, H, P, D] cache. */
function lastPositions(t: ort.Tensor, n: number): ort.Tensor {
  const [L, two, B, H, P, D] = t.dims as number[];
  const x = t.data as Float32Array;
  const out = new Float32Array(L * two * B * H * n * D);
  for (let r = 0; r < L * two * B * H; r++) out.set(x.subarray(r * P * D + (P - n) * D, (r + 1) * P * D), r * n * D);
  return new ort.Tensor("float32", out, [L, two, B, H, n, D]);
}

async function convert(dtype: ConvertDtype) {
  return convertCheckpoint(CKPT, { out: join(tmp.dir, dtype), dtype });
}

describe("DiffusionGemma: fp32 conversion against the transformers reference", () => {
  let dir: string;
  let warnings: string[];
  let graph: CanvasGraph;
  beforeAll(async () => {
    const r = await convert("fp32");
    dir = r.dir;
    warnings = r.warnings;
    graph = await CanvasGraph.open(dir);
  });
  afterAll(() => graph?.release());

  it("skips the vision tower and says so; declares uniform noise, the two caches and the released sampler's settings", () => {
    expect(warnings).toEqual(["the vision tower is not converted: Maskflow runs DiffusionGemma on text only (3 tensor(s) skipped)"]);
    const m = readModelFolder(dir).manifest;
    expect(m).toMatchObject({
      family: "diffusion_gemma",
      noise: { kind: "uniform" },
      attention: { kind: "encoder_canvas", canvas_length: 8 },
      decoding: { rule: "entropy_bound", entropy_bound: 0.1, max_denoising_steps: 48, t_max: 0.8, t_min: 0.4, stability_threshold: 1, confidence_threshold: 0.005, stop_token_ids: [1, 106, 50] },
      eos_token_id: 1,
      pad_token_id: 0,
    });
    expect(m.kv_cache).toEqual({
      layout: "per_layer_type",
      groups: [
        { type: "sliding_attention", input: "past_kv.sliding_attention", output: "present_kv.sliding_attention", layers: [0, 1, 3], heads: 2, head_dim: 16, window: WINDOW },
        { type: "full_attention", input: "past_kv.full_attention", output: "present_kv.full_attention", layers: [2], heads: 1, head_dim: 32 },
      ],
    });
  });

  it("the encoder's K/V for the prompt within 1e-4 (causal, sliding window 4 over 10 positions, the encoder's layer scalars)", async () => {
    const out = await graph.run(fx.prompt_ids, graph.empty(), 0, true, null);
    for (const t of TYPES) {
      expect(out.present[t].dims).toEqual(fx.encoder[t].shape);
      expect(maxAbs(out.present[t].data as Float32Array, load(fx.encoder[t]))).toBeLessThan(1e-4);
    }
  });

  it("extending the cache: the prompt encoded in two calls gives the same K/V", async () => {
    const k = fx.split_at;
    const first = await graph.run(fx.prompt_ids.slice(0, k), graph.empty(), 0, true, null);
    const second = await graph.run(fx.prompt_ids.slice(k), first.present, k, true, null);
    for (const t of TYPES) expect(maxAbs(concatCache(first.present[t], second.present[t]), load(fx.encoder[t]))).toBeLessThan(1e-4);
  });

  it("decoder step 1 from a pinned canvas, no self-conditioning: softcapped logits and tempered entropies within 1e-4", async () => {
    const s = fx.steps[0];
    const out = await graph.run(s.canvas, graph.fromFixture(), fx.prompt_ids.length, false, null);
    const cmp = compareLogits(load(s.logits), out.logits, fx.rows);
    expect(cmp.maxAbs).toBeLessThan(1e-4);
    expect(maxAbs(out.entropy, Float32Array.from(s.entropy))).toBeLessThan(1e-4);
    // the softcap bends these logits: without it they would reach ~49 (fixture's softcap_raw_max)
    expect(Math.max(...out.logits.map(Math.abs))).toBeGreaterThan(25);
    expect(Math.max(...out.logits.map(Math.abs))).toBeLessThan(30);
  });

  it("decoder step 2 with self-conditioning: the graph's soft embedding of step 1 and the logits it leads to within 1e-4", async () => {
    const cache = graph.fromFixture();
    const P = fx.prompt_ids.length;
    const step1 = await graph.run(fx.steps[0].canvas, cache, P, false, null);
    const s = fx.steps[1];
    expect(maxAbs(step1.soft, load(s.self_conditioning!))).toBeLessThan(1e-4);
    // fed the reference's soft embedding, step 2 is within 1e-4 (measured 2.6e-5); fed the graph's
    // own (4e-5 away, of values ~6), float32 rounding through the self-conditioning MLP, whose
    // signal moves these logits by up to 21, leaves it within 2e-4 (measured 6e-5)
    const out = await graph.run(s.canvas, cache, P, false, load(s.self_conditioning!));
    expect(compareLogits(load(s.logits), out.logits, fx.rows).maxAbs).toBeLessThan(1e-4);
    const chained = await graph.run(s.canvas, cache, P, false, step1.soft);
    expect(compareLogits(load(s.logits), chained.logits, fx.rows).maxAbs).toBeLessThan(2e-4);
    expect(maxAbs(out.entropy, Float32Array.from(s.entropy))).toBeLessThan(1e-4);
    // the same canvas without self-conditioning is another prediction
    const without = await graph.run(s.canvas, cache, P, false, null);
    expect(compareLogits(load(s.logits), without.logits, fx.rows).maxAbs).toBeGreaterThan(1);
  });

  it("a decoder step reads only the last W - 1 cached positions on sliding layers: a trimmed sliding cache gives the same logits", async () => {
    const cache = graph.fromFixture();
    const P = fx.prompt_ids.length;
    const s = fx.steps[0];
    const trimmed = await graph.run(s.canvas, { ...cache, sliding_attention: lastPositions(cache.sliding_attention, WINDOW - 1) }, P, false, null);
    expect(compareLogits(load(s.logits), trimmed.logits, fx.rows).maxAbs).toBeLessThan(1e-4);
    // one position fewer is not the same model
    const short = await graph.run(s.canvas, { ...cache, sliding_attention: lastPositions(cache.sliding_attention, WINDOW - 2) }, P, false, null);
    expect(compareLogits(load(s.logits), short.logits, fx.rows).maxAbs).toBeGreaterThan(1e-3);
  });

  it("loads as a Maskflow model folder, and `maskflow models` lists its noise and canvas length", async () => {
    const model = await DllmModel.load(dir);
    try {
      expect(model.manifest.noise).toEqual({ kind: "uniform" });
    } finally {
      await model.dispose();
    }
    expect(describeModelFolder(dir, "user")).toMatchObject({ family: "diffusion_gemma", noise: "uniform", canvasLength: 8, dtype: "fp32" });
  });

  it("Denoise refuses a uniform-noise model with a clear error on its model input (the entropy-bound sampler is stage 2)", () => {
    const r = spawnSync(process.execPath, [join(ROOT, "bin", "maskflow.js"), "run", join(ROOT, "workflows", "hello.maskflow.json"), "--set", `model.path=${dir}`, "--json"], {
      cwd: tmp.dir,
      encoding: "utf8",
      env: { ...process.env, FORCE_COLOR: "0" },
      timeout: 120_000,
    });
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe("failed");
    expect(out.error).toMatchObject({ nodeId: "denoise", input: "model" });
    expect(out.error.message).toMatch(/diffusion-gemma-tiny is a uniform-noise model \(maskflow.json noise "uniform", family diffusion_gemma\): Denoise's and Beam's sampling unmasks mask tokens/);
  });
});

describe("DiffusionGemma: fp16 and quantised conversions within measured bounds", () => {
  // measured on this checkpoint (step 1's logits: relative RMS error, largest |difference|, rows
  // keeping their argmax; the encoder's K/V: largest |difference|):
  //   fp16  0.0012, 0.072, 8/8;  0.0027
  //   int8  0.065,  8.3,   8/8;  0.065   (MatMulNBits blocks of 32, int8 products)
  //   int4  0.47,   24,    4/8;  0.94    (random weights at width 32: every row is one block, and
  //                                       routing among 16 experts flips as the residual moves)
  const bounds = { fp16: { logits: 0.003, kv: 0.01 }, int8: { logits: 0.1, kv: 0.1 }, int4: { logits: 0.7, kv: 1.5 } } as const;
  for (const dtype of ["fp16", "int8", "int4"] as const) {
    it(dtype, async () => {
      const r = await convert(dtype);
      const graph = await CanvasGraph.open(r.dir);
      try {
        const enc = await graph.run(fx.prompt_ids, graph.empty(), 0, true, null);
        const kv = Math.max(...TYPES.map((t) => maxAbs(enc.present[t].data as Float32Array, load(fx.encoder[t]))));
        const step = await graph.run(fx.steps[0].canvas, graph.fromFixture(), fx.prompt_ids.length, false, null);
        const cmp = compareLogits(load(fx.steps[0].logits), step.logits, fx.rows);
        console.log(`${dtype}: step-1 logits relative RMS ${cmp.relRms.toFixed(4)}, max |d| ${cmp.maxAbs.toFixed(3)}, argmax agrees ${cmp.argmaxAgree}/${cmp.rows}; encoder K/V max |d| ${kv.toFixed(4)}`);
        expect(cmp.relRms).toBeLessThan(bounds[dtype].logits);
        expect(kv).toBeLessThan(bounds[dtype].kv);
      } finally {
        await graph.release();
      }
    });
  }
});

describe("DiffusionGemma: checkpoints that are not this model", () => {
  const broken = (edit: (cfg: Record<string, any>) => void) => {
    const d = join(tmp.dir, `broken-${Math.random().toString(36).slice(2)}`);
    cpSync(CKPT, d, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(d, "config.json"), "utf8"));
    edit(cfg);
    writeFileSync(join(d, "config.json"), JSON.stringify(cfg));
    return d;
  };

  it("Gemma 4 flags that contradict the family are refused, naming the file and the field", async () => {
    const noMoe = broken((c) => (c.text_config.enable_moe_block = false));
    await expect(convertCheckpoint(noMoe, { out: join(tmp.dir, "x1"), dtype: "fp32" })).rejects.toThrow(
      new RegExp(`${noMoe}/config.json: text_config.enable_moe_block is false, but every DiffusionGemma layer runs the expert mixture`),
    );
    const kv = broken((c) => (c.text_config.attention_k_eq_v = false));
    await expect(convertCheckpoint(kv, { out: join(tmp.dir, "x2"), dtype: "fp32" })).rejects.toThrow(/config\.json: text_config\.attention_k_eq_v is false, but DiffusionGemma's full-attention layers have no v_proj/);
    const act = broken((c) => (c.text_config.hidden_activation = "silu"));
    await expect(convertCheckpoint(act, { out: join(tmp.dir, "x3"), dtype: "fp32" })).rejects.toThrow(/text_config\.hidden_activation is "silu"/);
    const types = broken((c) => (c.text_config.layer_types = ["sliding_attention", "full_attention"]));
    await expect(convertCheckpoint(types, { out: join(tmp.dir, "x4"), dtype: "fp32" })).rejects.toThrow(/text_config\.layer_types must list 4 entries/);
  });

  it("a missing layer_scalar is an error naming the index file and the tensor", async () => {
    const d = broken(() => {});
    const index = JSON.parse(readFileSync(join(d, "model.safetensors.index.json"), "utf8"));
    delete index.weight_map["model.encoder.language_model.layers.2.layer_scalar"];
    writeFileSync(join(d, "model.safetensors.index.json"), JSON.stringify(index));
    await expect(convertCheckpoint(d, { out: join(tmp.dir, "x5"), dtype: "fp32" })).rejects.toThrow(
      /model\.safetensors\.index\.json has no tensor "model\.encoder\.language_model\.layers\.2\.layer_scalar": DiffusionGemma multiplies each layer's output by its layer_scalar/,
    );
  });
});
