// Fast-dLLM v2 (block-causal Qwen2 with shifted logits): the converted graph against the Python
// reference forward written from the upstream modeling code (models/reference/fast_dllm_v2_reference.py;
// fixtures from make_block_fixtures.py), and the block sampler's sub-blocks, autoregressive first
// token per block and stop rule against upstream's generate(), token for token, with and without
// the exact block cache.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas } from "../../engine/dllm/canvas.js";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { generateBlocks, type BlockTraceStep } from "../../engine/dllm/samplers/blocks.js";
import { FIXTURES, ROOT, compareLogits, readF32, tempDir } from "./helpers.js";

interface Fixture {
  tokens: { mask: number; eos: number; eot: number; rows: number };
  forward: { name: string; input_ids: number[][]; block_size: number; shape: number[]; logits: string }[];
  generate: {
    name: string;
    prompt_ids: number[];
    gen_length: number;
    block_size: number;
    small_block_size: number;
    threshold: number;
    tokens: number[];
    trace: { step: number; block: number; positions: number[]; tokens: number[]; confidence: number[] }[];
  }[];
}

const fx = JSON.parse(readFileSync(join(FIXTURES, "fast-dllm-v2.json"), "utf8")) as Fixture;
const CKPT = join(FIXTURES, "fast-dllm-v2-tiny");
const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe("Fast-dLLM v2: fp32 conversion against the reference", () => {
  let model: DllmModel;
  /** Maskflow's block decoder with a case's settings, as upstream's generate() runs them */
  const decode = (g: Fixture["generate"][number], cache: boolean) =>
    generateBlocks(model, createCanvas(g.prompt_ids, g.gen_length, fx.tokens.mask), {
      blockSize: g.block_size,
      steps: g.block_size,
      threshold: g.threshold,
      subBlock: g.small_block_size,
      stopWhenSettled: true,
      cache,
    });
  beforeAll(async () => {
    const r = await convertCheckpoint(CKPT, { out: join(tmp.dir, "fp32"), dtype: "fp32" });
    expect(r.warnings).toEqual([]);
    model = await DllmModel.load(r.dir);
  });
  afterAll(() => model?.dispose());

  it("declares block-causal attention over config.json's bd_size, shifted logits, upstream's decoding and ids", () => {
    expect(model.manifest).toMatchObject({
      family: "fast_dllm_v2",
      attention: { kind: "block_causal", block_size: 8 },
      decoding: { threshold: 0.9, sub_block: 8, stop_when_settled: true },
      mask_token_id: fx.tokens.mask,
      eos_token_id: fx.tokens.eos,
      shift_logits: true,
    });
  });

  it("logits under the block mask within 1e-4 of the reference (q/k/v biases, tied head)", async () => {
    const c = fx.forward[0];
    const ids = c.input_ids[0];
    const out = await model.run({ ids: Int32Array.from(ids), batch: 1, seq: ids.length, rows: [...ids.keys()], want: "logits", blockSize: c.block_size });
    expect(compareLogits(readF32(c.logits), out.logits!, c.shape[2]).maxAbs).toBeLessThan(1e-4);
  });

  for (const g of fx.generate) {
    for (const cache of [true, false]) {
      it(`${g.name}: token for token with upstream's generate(), ${cache ? "with" : "without"} the block cache`, async () => {
        const out = await decode(g, cache);
        const shown = (t: Fixture["generate"][number]["trace"][number]) => {
          const keep = [...t.positions.keys()].filter((i) => t.positions[i] < g.gen_length);
          return { block: t.block, positions: keep.map((i) => t.positions[i]), tokens: keep.map((i) => t.tokens[i]), confidence: keep.map((i) => t.confidence[i]) };
        };
        const expected = g.trace.map(shown).filter((t) => t.positions.length > 0);
        const trace = out.trace as BlockTraceStep[];
        expect(trace.map((t) => ({ block: t.block, positions: t.positions, tokens: t.tokens }))).toEqual(expected.map(({ confidence: _, ...t }) => t));
        trace.forEach((t, i) => t.confidence.forEach((p, j) => expect(p).toBeCloseTo(expected[i].confidence[j], 4)));
        const end = out.tokens.indexOf(fx.tokens.eos);
        expect(end >= 0 ? out.tokens.slice(0, end + 1) : out.tokens).toEqual(g.tokens.slice(0, g.gen_length));
      });
    }
  }

  it("the first token of a block comes from the previous block's last row (the autoregressive step)", async () => {
    const g = fx.generate.find((c) => c.prompt_ids.length % c.block_size === 0)!;
    const B = g.block_size;
    const trace = (await decode(g, true)).trace as BlockTraceStep[];
    // a prompt that ends on a block boundary: the prefill's last row gives the first new token, alone
    expect(trace[0].positions).toEqual([0]);
    // and every later block starts with a step of its own, at its first position
    const firsts = trace.filter((t) => t.positions.length === 1 && (t.positions[0] + g.prompt_ids.length) % B === 0);
    expect(firsts.length).toBe(Math.ceil(g.gen_length / B));
  });

  it("stops once the output holds the stop token with nothing masked before it, leaving the rest masked", async () => {
    const g = fx.generate.find((c) => c.name.includes("stops early"))!;
    const out = await decode(g, true);
    const end = out.tokens.indexOf(fx.tokens.eos);
    expect(end).toBeGreaterThanOrEqual(0);
    expect(out.tokens.slice(0, end)).not.toContain(fx.tokens.mask);
    expect(out.tokens.slice(end + 1)).toContain(fx.tokens.mask);
  });

  it("runs through Denoise from the CLI at the model's block, and a sub_block larger than it is an error on that input", () => {
    const run = (...set: string[]) => {
      const args = ["run", join(ROOT, "workflows", "hello.maskflow.json"), "--json", "--set", `model.path=${join(tmp.dir, "fp32")}`, "--set", "denoise.temperature=0", "--set", "schedule.block_length=0", ...set.flatMap((x) => ["--set", x])];
      const r = spawnSync(process.execPath, [join(ROOT, "bin", "maskflow.js"), ...args], { encoding: "utf8", timeout: 60_000, env: { ...process.env, FORCE_COLOR: "0" } });
      return { code: r.status, out: JSON.parse(r.stdout) as { status: string; error?: { nodeId: string; input: string; message: string } } };
    };
    expect(run("denoise.gen_length=16").out.status).toBe("finished");
    const bad = run("denoise.sub_block=16");
    expect(bad.code).toBe(1);
    expect(bad.out.error).toMatchObject({ nodeId: "denoise", input: "sub_block", message: "a sub-block of 16 tokens does not fit in the block of 8" });
  });
});
