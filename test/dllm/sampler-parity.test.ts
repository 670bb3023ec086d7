// The TypeScript sampler against the Python reference (models/reference/: LLaDA's generate and
// Dream's _sample transcribed in torch, on the same weights), token for token.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas } from "../../engine/dllm/canvas.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { generate, type SamplerOptions } from "../../engine/dllm/samplers/index.js";
import { MODEL_DIR, REGENERATE, fixture, sha256 } from "./fixtures.js";

interface Case {
  name: string;
  reference: string;
  prompt: string;
  prompt_ids: number[];
  gen_length: number;
  init_tokens: number[] | null;
  options: SamplerOptions;
  tokens: number[];
  trace: { step: number; positions: number[]; tokens: number[]; confidence: number[] }[];
  robust: boolean;
}

const doc = fixture<{ model: { onnx_sha256: string }; cases: Case[] }>("sampler.json");
const stale = sha256(join(MODEL_DIR, "model.onnx")) !== doc.model.onnx_sha256;

describe("sampler parity with the Python reference", () => {
  let model: DllmModel;
  beforeAll(async () => {
    model = await DllmModel.load(MODEL_DIR);
  });
  afterAll(() => model?.dispose());

  it("fixtures were made from the current model.onnx", () => {
    expect(stale, `test/fixtures/dllm/sampler.json was made from another models/default/model.onnx: the fixtures are stale, rerun ${REGENERATE}`).toBe(false);
  });

  it("has at least 20 cases covering both references", () => {
    expect(doc.cases.length).toBeGreaterThanOrEqual(20);
    expect(new Set(doc.cases.map((c) => c.reference))).toEqual(new Set(["llada_generate", "dream_sample"]));
  });

  for (const c of doc.cases) {
    it.skipIf(stale)(`${c.reference}: ${c.name}`, async () => {
      const start = createCanvas(c.prompt_ids, c.gen_length, model.manifest.mask_token_id);
      if (c.init_tokens) {
        start.tokens = [...c.init_tokens];
        start.fixed = c.init_tokens.map((t) => t !== start.maskId);
      }
      const out = await generate(model, start, c.options, { decoder: model.tokenizer });
      const note = c.robust ? "" : " (this case was kept with near-ties: see its margins in sampler.json)";
      expect(out.trace.length, "steps").toBe(c.trace.length);
      for (let i = 0; i < c.trace.length; i++) {
        const want = c.trace[i];
        const got = out.trace[i];
        expect({ step: got.step, positions: got.positions, tokens: got.tokens }, `step ${i}${note}`).toEqual({
          step: want.step,
          positions: want.positions,
          tokens: want.tokens,
        });
        got.confidence.forEach((p, j) => expect(p).toBeCloseTo(want.confidence[j], 4));
      }
      expect(out.tokens).toEqual(c.tokens);
    });
  }
});
