// PEFT adapters with the upstream target module names on converted models: Apply LoRA on an fp32
// conversion equals merging at conversion time (`convert --lora`); a quantised conversion refuses
// Apply LoRA and says to merge at conversion time, which it does before quantising.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { loadAdapter } from "../../engine/dllm/lora/adapter.js";
import { applyLora } from "../../engine/dllm/lora/apply.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { maxAbsDiff, randomModules, writeAdapter } from "../lora/helpers.js";
import { checkpointDir, compareLogits, familyFixture, tempDir, type FamilyId } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** The modules PEFT targets in each family, by their upstream names: [module, in, out] for layers 0 and 1. */
function targets(family: FamilyId): [string, number, number][] {
  const out: [string, number, number][] = [];
  for (let i = 0; i < 2; i++) {
    if (family === "llada") {
      const b = `model.transformer.blocks.${i}`;
      out.push([`${b}.q_proj`, 64, 64], [`${b}.k_proj`, 64, 64], [`${b}.v_proj`, 64, 64], [`${b}.attn_out`, 64, 64], [`${b}.ff_proj`, 64, 160], [`${b}.up_proj`, 64, 160], [`${b}.ff_out`, 160, 64]);
    } else {
      const b = `model.layers.${i}`;
      out.push(
        [`${b}.self_attn.q_proj`, 64, 64], [`${b}.self_attn.k_proj`, 64, 32], [`${b}.self_attn.v_proj`, 64, 32], [`${b}.self_attn.o_proj`, 64, 64],
        [`${b}.mlp.gate_proj`, 64, 144], [`${b}.mlp.up_proj`, 64, 144], [`${b}.mlp.down_proj`, 144, 64],
      );
    }
  }
  return out;
}

const TARGET_NAMES = { llada: ["q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"], dream: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] };

for (const family of ["llada", "dream"] as const) {
  describe(`${family}: LoRA on converted models`, () => {
    const fx = familyFixture(family);
    const ids = fx.forward[0].input_ids;
    const V = fx.tokens.rows;
    const adapterDir = writeAdapter(join(tmp.dir, `${family}-adapter`), randomModules(targets(family), 4, family === "llada" ? 3 : 5, 0.3), {
      r: 4,
      lora_alpha: 8,
      target_modules: TARGET_NAMES[family],
    });
    const logits = async (dir: string, adapt?: number) => {
      const base = await DllmModel.load(dir);
      const model = adapt === undefined ? base : (await applyLora(base, loadAdapter(adapterDir), adapt)).model;
      try {
        return await model.forward(ids.flat(), ids.length, ids[0].length);
      } finally {
        if (model !== base) await model.dispose();
        await base.dispose();
      }
    };

    it("Apply LoRA on the fp32 conversion equals merging with convert --lora, and changes the logits", async () => {
      const plain = await convertCheckpoint(checkpointDir(family), { out: join(tmp.dir, `${family}-fp32`), dtype: "fp32" });
      const merged = await convertCheckpoint(checkpointDir(family), { out: join(tmp.dir, `${family}-fp32-lora`), dtype: "fp32", loras: [{ path: adapterDir, strength: 0.75 }] });
      const applied = await logits(plain.dir, 0.75);
      const atConvert = await logits(merged.dir);
      expect(maxAbsDiff(applied, atConvert)).toBeLessThan(1e-4);
      expect(maxAbsDiff(applied, await logits(plain.dir))).toBeGreaterThan(0.05);
    });

    it("a quantised conversion refuses Apply LoRA with what to do instead, and merges before quantising with convert --lora", async () => {
      const q = await convertCheckpoint(checkpointDir(family), { out: join(tmp.dir, `${family}-int8`), dtype: "int8" });
      const base = await DllmModel.load(q.dir);
      try {
        await expect(applyLora(base, loadAdapter(adapterDir), 1)).rejects.toThrow(/stored quantised \(uint8, matmulnbits\).*maskflow convert <checkpoint> --lora/);
      } finally {
        await base.dispose();
      }
      const merged = await convertCheckpoint(checkpointDir(family), { out: join(tmp.dir, `${family}-int8-lora`), dtype: "int8", loras: [{ path: adapterDir, strength: 0.75 }] });
      const exact = await logits(join(tmp.dir, `${family}-fp32-lora`));
      const quantMerged = compareLogits(exact, await logits(merged.dir), V);
      const quantPlain = compareLogits(exact, await logits(q.dir), V);
      expect(quantMerged.relRms).toBeLessThan(0.05); // int8's bound (convert.test.ts)
      expect(quantMerged.relRms).toBeLessThan(quantPlain.relRms / 2); // the adapter is in there
    });
  });
}
