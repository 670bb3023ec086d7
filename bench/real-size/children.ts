// The real-size bench's measurements, each in a child process of its own so that its peak RSS is
// its own:  tsx bench/real-size/children.ts convert <checkpoint> <out> <dtype>
//           tsx bench/real-size/children.ts steps <model folder> <repeats> <threads>
// (a uniform-noise model, DiffusionGemma, is measured per denoising step of its canvas instead)
// Each prints one JSON object on stdout.
import { convertCheckpoint, type ConvertDtype } from "../../engine/dllm/convert/index.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";

import { BLOCK, GEN, PROMPT } from "./workload.js";

const peakMiB = () => Math.round(process.resourceUsage().maxRSS / 1024);

async function convert(src: string, out: string, dtype: ConvertDtype) {
  const r = await convertCheckpoint(src, { out, dtype, force: true });
  return { seconds: r.seconds, bytes: r.bytes, parameters: r.parameters, peakRssMiB: peakMiB() };
}

/**
 * One denoising step's forward in each of the three ways Denoise runs it, for the generation
 * above: without a cache (the whole canvas, the block's 32 rows through the head), with the prefix
 * cache (the fed window runs from the block to the end: 128, 96, 64, 32 positions for the four
 * blocks) and with the dual cache (the block only, everything else cached).
 */
async function steps(dir: string, repeats: number, threads: number) {
  const t0 = performance.now();
  const model = await DllmModel.load(dir, { threads });
  const loadMs = performance.now() - t0;
  const rssAfterLoadMiB = Math.round(process.memoryUsage().rss / 2 ** 20);
  if (model.manifest.attention.kind === "block_causal") return { loadMs, rssAfterLoadMiB, ...(await blockSteps(model, repeats)) };
  if (model.manifest.attention.kind === "encoder_canvas") return { loadMs, rssAfterLoadMiB, ...(await canvasSteps(model, repeats)) };
  const S = PROMPT + GEN;
  const ids = Int32Array.from({ length: S }, (_, i) => 3 + ((i * 7919) % 3000));
  const rows = (from: number) => [...Array(BLOCK).keys()].map((i) => i + from);
  const time = async (f: () => Promise<unknown>) => {
    await f(); // warm-up
    const t = performance.now();
    for (let i = 0; i < repeats; i++) await f();
    return (performance.now() - t) / repeats;
  };
  const full = await time(() => model.run({ ids, batch: 1, seq: S, rows: rows(PROMPT), want: "top" }));
  const prefix: number[] = [];
  for (let b = 0; b < GEN / BLOCK; b++) {
    const bs = PROMPT + b * BLOCK;
    await model.run({ ids, batch: 1, seq: S, rows: rows(bs), want: "top", cache: { store: { id: "p", keep: [[0, bs]] } } });
    prefix.push(await time(() => model.run({ ids: ids.slice(bs), batch: 1, seq: S - bs, rows: rows(0), want: "top", offset: bs, cache: { use: "p" } })));
  }
  const bs = PROMPT + BLOCK; // the second block: 40 positions left of it, 96 right of it
  await model.run({ ids, batch: 1, seq: S, rows: rows(bs), want: "top", cache: { store: { id: "d", keep: [[0, bs], [bs + BLOCK, S]] } } });
  const dual = await time(() => model.run({ ids: ids.slice(bs, bs + BLOCK), batch: 1, seq: BLOCK, rows: rows(0), want: "top", offset: bs, cache: { use: "d" } }));
  await model.dispose();
  return { loadMs, rssAfterLoadMiB, peakRssMiB: peakMiB(), fullMs: full, prefixMs: prefix, dualMs: dual };
}

/**
 * Block-causal models (LLaDA2): a denoising step feeds the current block only, against the exact
 * cache of the blocks before it; measured for the four blocks the generation decodes (the prompt's
 * 8 tokens sit in the first), with 0, 32, 64 and 96 cached positions. A block's sealing forward
 * (its final K/V) costs one more of the same.
 */
async function blockSteps(model: DllmModel, repeats: number) {
  const S = Math.ceil((PROMPT + GEN) / BLOCK) * BLOCK;
  const ids = Int32Array.from({ length: S }, (_, i) => 3 + ((i * 7919) % 3000));
  const rows = [...Array(BLOCK).keys()];
  const time = async (f: () => Promise<unknown>) => {
    await f();
    const t = performance.now();
    for (let i = 0; i < repeats; i++) await f();
    return (performance.now() - t) / repeats;
  };
  const blockMs: number[] = [];
  for (let b = 0; b * BLOCK < S && b < GEN / BLOCK; b++) {
    const bs = b * BLOCK;
    const use = bs > 0 ? { use: "c" } : {};
    blockMs.push(await time(() => model.run({ ids: ids.slice(bs, bs + BLOCK), batch: 1, seq: BLOCK, rows, want: "top", offset: bs, blockSize: BLOCK, cache: Object.keys(use).length ? use : undefined })));
    await model.run({ ids: ids.slice(bs, bs + BLOCK), batch: 1, seq: BLOCK, rows: [0], want: "top", offset: bs, blockSize: BLOCK, cache: { ...use, store: { id: "c", keep: [[0, BLOCK]], append: bs > 0 } } });
  }
  await model.dispose();
  return { kind: "block" as const, peakRssMiB: peakMiB(), fullMs: blockMs[0], prefixMs: blockMs, dualMs: blockMs.reduce((a, b) => a + b, 0) / blockMs.length };
}

/**
 * Uniform-noise models (DiffusionGemma): the encoder pass over the prompt, one denoising step over
 * the whole canvas against it (every position through the head: argmax, entropy, the soft
 * embedding, and the sample drawn from the tempered logits), with the previous step's soft
 * embedding fed back as the sampler does, and the encoder pass that commits a finished canvas.
 */
async function canvasSteps(model: DllmModel, repeats: number) {
  const canvas = model.openCanvas();
  const L = canvas.canvasLength;
  const V = canvas.vocab;
  const ids = (n: number, salt: number) => Array.from({ length: n }, (_, i) => 3 + ((i * 7919 + salt * 104729) % (V - 3)));
  let t = performance.now();
  await canvas.encode(ids(PROMPT, 0));
  const encodePromptMs = performance.now() - t;
  const u = Float64Array.from({ length: L }, (_, i) => ((i * 0.618034) % 1));
  let sc: Float32Array | null = null;
  const step = async () => {
    const r = await canvas.step(Int32Array.from(ids(L, 1)), sc, 0.6, u);
    sc = r.selfConditioning;
  };
  await step(); // warm-up (and the first soft embedding)
  t = performance.now();
  for (let i = 0; i < repeats; i++) await step();
  const stepMs = (performance.now() - t) / repeats;
  t = performance.now();
  await canvas.encode(ids(L, 2));
  const encodeCanvasMs = performance.now() - t;
  await canvas.release();
  await model.dispose();
  return { kind: "canvas" as const, peakRssMiB: peakMiB(), canvasLength: L, fullMs: stepMs, prefixMs: [encodePromptMs, encodeCanvasMs], dualMs: stepMs };
}

const [what, a, b, c] = process.argv.slice(2);
const result = what === "convert" ? await convert(a, b, c as ConvertDtype) : await steps(a, Number(b), Number(c));
process.stdout.write(JSON.stringify(result) + "\n");

