// LLaDA2 (block-causal MoE): the converted graph against the Python reference forward written from
// the upstream modeling code (models/reference/llada2_reference.py; fixtures from
// make_block_fixtures.py), the exact block KV cache, and the block sampler against upstream's
// LLaDA2.0 generate and LLaDA2.1 editing loop, token for token, with and without the cache.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas } from "../../engine/dllm/canvas.js";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { generateBlocks, type BlockTraceStep } from "../../engine/dllm/samplers/blocks.js";
import { FIXTURES, compareLogits, readF32, tempDir } from "./helpers.js";

interface Fixture {
  tokens: { mask: number; eos: number; eot: number; rows: number };
  forward: { name: string; input_ids: number[][]; block_size: number; shape: number[]; logits: string }[];
  generate: {
    name: string;
    loop: "2.0" | "2.1";
    prompt_ids: number[];
    gen_length: number;
    block_size: number;
    options: { steps?: number; threshold: number; editing_threshold?: number; max_post_steps?: number };
    tokens: number[];
    trace: { step: number; block: number; positions: number[]; tokens: number[]; confidence: number[]; edited?: number[]; was?: number[] }[];
  }[];
}

const fx = JSON.parse(readFileSync(join(FIXTURES, "llada2.json"), "utf8")) as Fixture;
const CKPT = join(FIXTURES, "llada2-tiny");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("LLaDA2: fp32 conversion against the reference", () => {
  let model: DllmModel;
  beforeAll(async () => {
    const r = await convertCheckpoint(CKPT, { out: join(tmp.dir, "fp32"), dtype: "fp32" });
    expect(r.warnings).toEqual([]);
    model = await DllmModel.load(r.dir);
  });
  afterAll(() => model?.dispose());

  it("declares block-causal attention, LLaDA2's decoding defaults and the special ids", () => {
    expect(model.manifest).toMatchObject({
      family: "llada2_moe",
      attention: { kind: "block_causal", block_size: 32 },
      decoding: { threshold: 0.95, editing_threshold: 0.9, max_post_steps: 16 },
      mask_token_id: fx.tokens.mask,
      eos_token_id: fx.tokens.eos,
      eot_token_id: fx.tokens.eot,
      shift_logits: false,
    });
    expect(model.features).toEqual({ topK: 8, cfgHead: true, kvCache: true });
  });

  it("logits under the block mask within 1e-4 of the reference (fused qkv, q/k norms, partial RoPE, MoE routing)", async () => {
    const c = fx.forward[0];
    const ids = c.input_ids[0];
    const out = await model.run({ ids: Int32Array.from(ids), batch: 1, seq: ids.length, rows: [...ids.keys()], want: "logits", blockSize: c.block_size });
    const cmp = compareLogits(readF32(c.logits), out.logits!, c.shape[2]);
    expect(cmp.maxAbs).toBeLessThan(1e-4);
    // without the block mask (one block over everything) the logits are not the model's
    const wide = await model.run({ ids: Int32Array.from(ids), batch: 1, seq: ids.length, rows: [...ids.keys()], want: "logits", blockSize: 64 });
    expect(compareLogits(readF32(c.logits), wide.logits!, c.shape[2]).maxAbs).toBeGreaterThan(0.1);
  });

  it("the block KV cache is exact: a block fed against the cached earlier blocks gives the full forward's rows", async () => {
    const ids = Int32Array.from(fx.forward[0].input_ids[0]);
    const V = model.manifest.vocab_size;
    const full = await model.run({ ids, batch: 1, seq: 24, rows: [...Array(24).keys()], want: "logits", blockSize: 8 });
    // prefill blocks 0 and 1, then block 2 alone
    await model.run({ ids: ids.slice(0, 8), batch: 1, seq: 8, rows: [0], want: "top", blockSize: 8, cache: { store: { id: "b", keep: [[0, 8]] } } });
    await model.run({ ids: ids.slice(8, 16), batch: 1, seq: 8, rows: [0], want: "top", offset: 8, blockSize: 8, cache: { use: "b", store: { id: "b", keep: [[0, 8]], append: true } } });
    const block = await model.run({ ids: ids.slice(16, 24), batch: 1, seq: 8, rows: [...Array(8).keys()], want: "logits", offset: 16, blockSize: 8, cache: { use: "b" } });
    await model.dropCache("b");
    expect(compareLogits(full.logits!.slice(16 * V), block.logits!, V).maxAbs).toBeLessThan(1e-4);
  });

  for (const g of fx.generate) {
    for (const cache of [true, false]) {
      it(`${g.name}: token for token with upstream's loop, ${cache ? "with" : "without"} the block cache`, async () => {
        const out = await generateBlocks(model, createCanvas(g.prompt_ids, g.gen_length, fx.tokens.mask), {
          blockSize: g.block_size,
          steps: g.options.steps ?? g.block_size,
          threshold: g.options.threshold,
          editing: g.loop === "2.1" ? { threshold: g.options.editing_threshold!, maxPostSteps: g.options.max_post_steps! } : null,
          cache,
        });
        const shown = (t: Fixture["generate"][number]["trace"][number]) => {
          const keep = t.positions.map((p, i) => [p, t.tokens[i]] as const).filter(([p]) => p < g.gen_length);
          return { positions: keep.map(([p]) => p), tokens: keep.map(([, tok]) => tok), edited: (t.edited ?? []).filter((p) => p < g.gen_length) };
        };
        const ours = (out.trace as BlockTraceStep[]).map((t) => ({ positions: t.positions, tokens: t.tokens, edited: t.edited ?? [] }));
        expect(ours).toEqual(g.trace.map(shown));
        const end = out.tokens.indexOf(fx.tokens.eos);
        expect(end >= 0 ? out.tokens.slice(0, end + 1) : out.tokens).toEqual(g.tokens);
        if (g.loop === "2.1") expect(ours.some((t) => t.edited.length > 0)).toBe(true);
      });
    }
  }
});

describe("LLaDA2: fp16 and quantised conversions (QMoE experts) within measured bounds", () => {
  // measured on this checkpoint: relative RMS error 0.0017 (fp16), 0.043 (int8), 0.44 (int4: random
  // weights, and the routing itself flips when the attention's output moves)
  const bounds = { fp16: 0.005, int8: 0.08, int4: 0.6 } as const;
  for (const dtype of ["fp16", "int8", "int4"] as const) {
    it(dtype, async () => {
      const r = await convertCheckpoint(CKPT, { out: join(tmp.dir, dtype), dtype });
      const model = await DllmModel.load(r.dir);
      try {
        const c = fx.forward[0];
        const ids = c.input_ids[0];
        const out = await model.run({ ids: Int32Array.from(ids), batch: 1, seq: ids.length, rows: [...ids.keys()], want: "logits", blockSize: c.block_size });
        expect(compareLogits(readF32(c.logits), out.logits!, c.shape[2]).relRms).toBeLessThan(bounds[dtype]);
        const g = fx.generate[0];
        const gen = await generateBlocks(model, createCanvas(g.prompt_ids, g.gen_length, fx.tokens.mask), { blockSize: 8, steps: 8, threshold: 0.95 });
        expect(gen.tokens.slice(0, gen.tokens.indexOf(fx.tokens.eos) >>> 0)).not.toContain(fx.tokens.mask);
      } finally {
        await model.dispose();
      }
    });
  }
});

describe("LLaDA2: bad checkpoints", () => {
  it("a missing expert_bias and an unsupported router are refused with what is wrong", async () => {
    const { cpSync } = await import("node:fs");
    const dir = join(tmp.dir, "broken");
    cpSync(CKPT, dir, { recursive: true });
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, score_function: "softmax" }));
    await expect(convertCheckpoint(dir, { out: join(tmp.dir, "x1"), dtype: "fp32" })).rejects.toThrow(/"score_function" is "softmax"; Maskflow routes LLaDA2's experts with "sigmoid" only/);
    const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
    delete index.weight_map["model.layers.1.mlp.gate.expert_bias"];
    writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify(index));
    await expect(convertCheckpoint(dir, { out: join(tmp.dir, "x2"), dtype: "fp32" })).rejects.toThrow(/has no model\.layers\.1\.mlp\.gate\.expert_bias; LLaDA2 routes with it/);
  });
});
