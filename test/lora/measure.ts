// Timings for models/README-lora.md (not a test):  npx tsx test/lora/measure.ts [adapter-dir]
// Loads the default model, applies an adapter (default: models/loras/romance) both ways, and
// times the merge arithmetic on one LLaDA-8B-sized weight to extrapolate to big models.
import { copyFileSync, existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { loadAdapter } from "../../engine/dllm/lora/adapter.js";
import { applyLora } from "../../engine/dllm/lora/apply.js";
import { addLowRank } from "../../engine/dllm/lora/gemm.js";
import { applyTerms, lowRankFactors } from "../../engine/dllm/lora/merge.js";
import { OnnxModel } from "../../engine/dllm/onnx/index.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { DEFAULT_MODEL, noise, tempDir } from "./helpers.js";

const adapterDir = process.argv[2] ?? join(DEFAULT_MODEL, "..", "loras", "romance");
if (!existsSync(adapterDir)) throw new Error(`${adapterDir} not found: train it with models/train/train_lora.py or pass an adapter folder`);
const tmp = tempDir();
const ms = (t: number) => `${Math.round(performance.now() - t)} ms`;

let t = performance.now();
const base = await DllmModel.load(DEFAULT_MODEL, { threads: 1 });
console.log(`base load (DllmModel.load): ${ms(t)}`);
t = performance.now();
const adapter = loadAdapter(adapterDir);
console.log(`adapter load: ${ms(t)} (${adapter.modules.length} modules)`);

for (let i = 0; i < 3; i++) {
  const { model, stats } = await applyLora(base, adapter, 1);
  console.log(`bytes strategy: read+merge+encode ${Math.round(stats.mergeMs)} ms, session ${Math.round(stats.sessionMs)} ms (${stats.weights} weights)`);
  await model.dispose();
}
t = performance.now();
const onnx = OnnxModel.read(join(DEFAULT_MODEL, "model.onnx"));
console.log(`  of which decode: ${ms(t)}`);
t = performance.now();
onnx.encode();
console.log(`  of which encode: ${ms(t)}`);

const dir = join(tmp.dir, "ext");
onnx.save(join(dir, "model.onnx"), { externalData: { location: "model.onnx.data" } });
for (const f of readdirSync(DEFAULT_MODEL)) if (!f.startsWith("model.onnx")) copyFileSync(join(DEFAULT_MODEL, f), join(dir, f));
const ext = await DllmModel.load(dir, { threads: 1 });
for (const strategy of ["bytes", "folder"] as const) {
  const { model, stats } = await applyLora(ext, adapter, 1, { strategy, tempDir: tmp.dir });
  console.log(`external-data model, ${strategy}: merge ${Math.round(stats.mergeMs)} ms, session ${Math.round(stats.sessionMs)} ms`);
  await model.dispose();
}

// One 4096 x 4096 weight (LLaDA-8B's q_proj), rank 16: the merge arithmetic alone.
const O = 4096;
const I = 4096;
const r = 16;
const W = new Float32Array(O * I);
const module = { module: "q", A: noise(r * I, 1), B: noise(O * r, 2), r, inFeatures: I, outFeatures: O, alpha: 32, scale: 2 };
const target = { layout: "out_in" as const, outFeatures: O, inFeatures: I, terms: [{ module, coef: 2 }] };
for (let i = 0; i < 2; i++) {
  t = performance.now();
  applyTerms(W, target);
  let dt = performance.now() - t;
  console.log(`4096x4096 r=16, JS float64 loops: ${Math.round(dt)} ms (${((O * I * r) / dt / 1e6).toFixed(2)} GMAC/s)`);
  t = performance.now();
  const { L, R, m, n, k } = lowRankFactors(target);
  await addLowRank(W, L, R, m, n, k);
  dt = performance.now() - t;
  console.log(`4096x4096 r=16, onnxruntime MatMul: ${Math.round(dt)} ms (${((O * I * r) / dt / 1e6).toFixed(2)} GMAC/s)`);
}

await ext.dispose();
await base.dispose();
tmp.cleanup();
