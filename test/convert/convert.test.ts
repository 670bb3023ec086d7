// `maskflow convert` on tiny random checkpoints in the exact upstream layouts (LLaDA, Dream),
// checked against the Python reference forward written from the upstream modeling code
// (models/reference/hf_reference.py; fixtures made by make_convert_fixtures.py): fp32 logits to
// 1e-4, greedy generations token for token through the TypeScript sampler, and the lossy dtypes
// within the bounds measured for them.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas } from "../../engine/dllm/canvas.js";
import { convertCheckpoint, type ConvertDtype } from "../../engine/dllm/convert/index.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { generate } from "../../engine/dllm/samplers/index.js";
import { DllmTokenizer } from "../../engine/dllm/tokenizer.js";
import { FAMILIES, checkpointDir, compareLogits, familyFixture, referenceLogits, tempDir, type FamilyId } from "./helpers.js";

/**
 * Bounds on the relative RMS error of the logits against the reference, per dtype, and the share
 * of rows whose argmax must agree. Measured on these checkpoints (block 32, accuracy_level 4,
 * embedding and head 8-bit): fp16 0.0008 (LLaDA and Dream), int8 0.024 / 0.026 with 39 and 37 of
 * 40 argmaxes kept, int4 0.226 / 0.205 with 25 and 22 of 40. Random Gaussian weights are the
 * hard case for round-to-nearest 4-bit blocks (about 0.08 of a weight's spread per value, and
 * nothing for the error to hide in); a LLaDA-8B-shaped 2-layer model measures 0.12 (bench).
 */
const BOUNDS: Record<Exclude<ConvertDtype, "fp32">, { relRms: number; argmax: number }> = {
  fp16: { relRms: 0.005, argmax: 1 },
  int8: { relRms: 0.05, argmax: 0.85 },
  int4: { relRms: 0.4, argmax: 0.4 },
};

const tmp = tempDir();
afterAll(() => tmp.cleanup());

async function logitsOf(model: DllmModel, ids: number[][]): Promise<Float32Array> {
  return model.forward(ids.flat(), ids.length, ids[0].length);
}

for (const family of FAMILIES) {
  describe(`${family}: fp32 conversion against the reference`, () => {
    const fx = familyFixture(family);
    let model: DllmModel;
    beforeAll(async () => {
      const r = await convertCheckpoint(checkpointDir(family), { out: join(tmp.dir, `${family}-fp32`), dtype: "fp32" });
      expect(r.warnings).toEqual([]);
      model = await DllmModel.load(r.dir);
    });
    afterAll(() => model?.dispose());

    it("writes the manifest from the checkpoint: family, token ids, shift, cache shape", () => {
      const m = model.manifest;
      expect(m.family).toBe(family);
      expect(m.mask_token_id).toBe(fx.tokens.mask);
      expect(m.eos_token_id).toBe(fx.tokens.eos);
      expect(m.eot_token_id).toBe(fx.tokens.eot);
      expect(m.vocab_size).toBe(fx.tokens.rows);
      expect(m.shift_logits).toBe(family === "dream");
      expect(m.kv_cache).toEqual({ layers: 2, heads: family === "dream" ? 2 : 4, head_dim: 16, layout: "L,2,B,H,P,D" });
      expect(model.features).toEqual({ topK: 8, cfgHead: true, kvCache: true });
    });

    for (const c of fx.forward) {
      it(`logits within 1e-4 of the reference: ${c.name}`, async () => {
        const got = await logitsOf(model, c.input_ids);
        const cmp = compareLogits(referenceLogits(c), got, c.shape[2]);
        expect(cmp.maxAbs).toBeLessThan(1e-4);
        expect(cmp.argmaxAgree).toBe(cmp.rows);
      });
    }

    for (const c of fx.generate) {
      it(`greedy generation token for token: ${c.name}`, async () => {
        const out = await generate(model, createCanvas(c.prompt_ids, c.gen_length, model.manifest.mask_token_id), c.options, { decoder: model.tokenizer });
        expect(out.trace.map((s) => ({ step: s.step, positions: s.positions, tokens: s.tokens }))).toEqual(
          c.trace.map((s) => ({ step: s.step, positions: s.positions, tokens: s.tokens })),
        );
        expect(out.tokens).toEqual(c.tokens);
      });
    }

    it("the KV cache is exact when it holds a full pass's keys: suffix rows match the full forward", async () => {
      const ids = fx.forward[0].input_ids[0];
      const S = ids.length;
      const P = 9;
      const all = [...Array(S).keys()];
      const full = await model.run({ ids: Int32Array.from(ids), batch: 1, seq: S, rows: all, want: "logits", cache: { store: { id: "t", keep: [[0, P]] } } });
      const tail = await model.run({ ids: Int32Array.from(ids.slice(P)), batch: 1, seq: S - P, rows: [...Array(S - P).keys()], want: "logits", offset: P, cache: { use: "t" } });
      await model.dropCache("t");
      const V = model.manifest.vocab_size;
      const cmp = compareLogits(full.logits!.slice(P * V), tail.logits!, V);
      expect(cmp.maxAbs).toBeLessThan(1e-4);
      // and a wrong offset is visibly wrong: RoPE positions matter
      const shifted = await model.run({ ids: Int32Array.from(ids.slice(P)), batch: 1, seq: S - P, rows: [...Array(S - P).keys()], want: "logits", offset: 0 });
      expect(compareLogits(full.logits!.slice(P * V), shifted.logits!, V).maxAbs).toBeGreaterThan(1e-2);
    });

    it("the sampling head's top-k and CFG rows agree with the full logits", async () => {
      const ids = fx.forward[0].input_ids[0];
      const S = ids.length;
      const rows = [2, 5, S - 1];
      const logits = await logitsOf(model, [ids]);
      const top = await model.run({ ids: Int32Array.from(ids), batch: 1, seq: S, rows, want: "top" });
      const V = model.manifest.vocab_size;
      rows.forEach((r, j) => {
        const row = logits.subarray(r * V, (r + 1) * V);
        const best = row.indexOf(Math.max(...row));
        expect(top.topIds![j * top.k!]).toBe(best);
      });
      // CFG with scale 0 is the conditional row: [cond; uncond] of different prompts
      const other = [...ids].reverse();
      const cfg = await model.run({ ids: Int32Array.from([...ids, ...other]), batch: 2, seq: S, rows, want: "top", cfgScale: 0 });
      expect([...cfg.topIds!]).toEqual([...top.topIds!]);
    });
  });
}

describe("quantised and half-precision conversions stay within their measured bounds", () => {
  for (const family of FAMILIES) {
    for (const dtype of ["fp16", "int8", "int4"] as const) {
      it(`${family} ${dtype}`, async () => {
        const fx = familyFixture(family);
        const r = await convertCheckpoint(checkpointDir(family), { out: join(tmp.dir, `${family}-${dtype}`), dtype });
        const model = await DllmModel.load(r.dir);
        try {
          let rel = 0;
          let agree = 0;
          let rows = 0;
          for (const c of fx.forward) {
            const cmp = compareLogits(referenceLogits(c), await logitsOf(model, c.input_ids), c.shape[2]);
            rel += cmp.relRms * cmp.rows;
            agree += cmp.argmaxAgree;
            rows += cmp.rows;
          }
          expect(rel / rows).toBeLessThan(BOUNDS[dtype].relRms);
          expect(agree / rows).toBeGreaterThanOrEqual(BOUNDS[dtype].argmax);
          // every sampler path runs on it: a greedy generation completes with no mask left
          const c = fx.generate[0];
          const out = await generate(model, createCanvas(c.prompt_ids, c.gen_length, model.manifest.mask_token_id), c.options, { decoder: model.tokenizer });
          expect(out.tokens).not.toContain(model.manifest.mask_token_id);
        } finally {
          await model.dispose();
        }
        const size = r.bytes;
        const fp32 = readFileSync(join(tmp.dir, `${family}-fp32`, "model.onnx.data")).byteLength;
        expect(size).toBeLessThan(dtype === "fp16" ? fp32 * 0.55 : fp32 * 0.4);
      });
    }
  }
});

describe("Dream's tokenizer.json, built from vocab.json + merges.txt", () => {
  it("encodes like Qwen2's slow BPE (golden ids from the Python algorithm)", () => {
    const fx = familyFixture("dream");
    const dir = join(tmp.dir, "dream-fp32");
    const tok = new DllmTokenizer(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")), JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")));
    for (const g of fx.tokenizer!) expect(tok.encode(g.text), JSON.stringify(g.text)).toEqual(g.ids);
    expect(tok.decode(fx.tokenizer![1].ids)).toBe(fx.tokenizer![1].text);
  });

  it("renders the chat templates: LLaDA's own (assistant header always), ChatML for Dream", () => {
    const read = (f: FamilyId) => {
      const dir = join(tmp.dir, `${f}-fp32`);
      return new DllmTokenizer(JSON.parse(readFileSync(join(dir, "tokenizer.json"), "utf8")), JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8")));
    };
    expect(read("llada").applyChatTemplate([{ role: "user", content: " Hi there " }], { addGenerationPrompt: false })).toBe(
      "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    expect(read("dream").applyChatTemplate([{ role: "user", content: "Hi" }])).toBe(
      "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
    );
  });
});
