// Measures what beam width and ReMDM do to the Score (LLaDA's Monte Carlo ELBO) of the outputs,
// on several prompts with the same seeds, and prints markdown tables.
//
//   npx tsx test/edit/quality.ts [--model models/default] [--samples 128] [--length 24]
//
// Beam: greedy low_confidence (width 1) against widths 2 and 4, one token per step. ReMDM:
// twice as many steps as tokens, plain (eta 0) against ReMDM strategies, sampled at temperature
// 0.8, at temperature 1 with top_p 0.9 (ReMDM's own setting), two seeds per prompt, and greedy. Every output is scored with the same Score seed, so equal
// lengths share the same Monte Carlo masks. Score is in nats per generated token (higher =
// likelier under the model); the ELBO of a finished canvas counts EOS padding too.
import { parseArgs } from "node:util";
import { join } from "node:path";
import { DllmModel, createCanvas, type Canvas, type SamplerOptions } from "../../engine/dllm/index.js";
import { beamSearch } from "../../engine/dllm/samplers/beam.js";
import { generateExtended } from "../../engine/dllm/samplers/extended.js";
import type { RemdmOptions } from "../../engine/dllm/samplers/remdm.js";
import { elboScore } from "../../engine/dllm/samplers/score.js";
import { sha256 } from "../dllm/fixtures.js";
import { PROMPTS, ROOT } from "./helpers.js";

const { values } = parseArgs({
  options: {
    model: { type: "string", default: join(ROOT, "models", "default") },
    samples: { type: "string", default: "128" },
    length: { type: "string", default: "24" },
  },
});
const SAMPLES = Number(values.samples);
const G = Number(values.length);
const prompts = [...PROMPTS, "It was a long time before he", "According to the report, the new school"];

const model = await DllmModel.load(values.model!);
const tok = model.tokenizer;
const score = async (c: Canvas) => (await elboScore(model, c, { samples: SAMPLES, seed: 0 })).perToken;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const fmt = (x: number) => x.toFixed(3);
const t0 = Date.now();

// ---------------------------------------------------------------- beam width
const widths = [1, 2, 4];
const beamRows: string[] = [];
const beamScores: number[][] = widths.map(() => []);
const beamPaths: number[][] = widths.map(() => []);
for (const prompt of prompts) {
  const start = createCanvas(tok.encode(prompt), G, model.manifest.mask_token_id);
  const cells: string[] = [];
  for (const [i, width] of widths.entries()) {
    const [best] = await beamSearch(model, start, { schedule: { kind: "linear", steps: G, blockLength: 0 }, width });
    const s = await score(best);
    beamScores[i].push(s);
    beamPaths[i].push(best.score / G);
    cells.push(`${fmt(s)} (${fmt(best.score / G)})`);
  }
  beamRows.push(`| ${prompt} | ${cells.join(" | ")} |`);
}

// ---------------------------------------------------------------- ReMDM
const configs: [string, RemdmOptions | null][] = [
  ["plain (eta 0)", null],
  ["cap 0.02", { strategy: "cap", eta: 0.02 }],
  ["cap 0.05", { strategy: "cap", eta: 0.05 }],
  ["rescale 0.1", { strategy: "rescale", eta: 0.1 }],
  ["rescale 0.3", { strategy: "rescale", eta: 0.3 }],
  ["conf", { strategy: "conf", eta: 0 }],
  ["loop 0.05", { strategy: "loop", eta: 0.05 }],
];
const seeds = [1, 2];
const settings: [string, Partial<SamplerOptions>][] = [
  ["temperature 0.8", { temperature: 0.8 }],
  ["temperature 1, top_p 0.9 (ReMDM's sampling)", { temperature: 1, topP: 0.9 }],
  ["greedy (temperature 0)", { temperature: 0 }],
];
const remdmTables: { label: string; scores: number[][]; remasked: number[][] }[] = [];
for (const [label, over] of settings) {
  const scores: number[][] = configs.map(() => []);
  const remasked: number[][] = configs.map(() => []);
  for (const prompt of prompts) {
    for (const seed of over.temperature === 0 ? [0] : seeds) {
      const start = createCanvas(tok.encode(prompt), G, model.manifest.mask_token_id);
      const opts: SamplerOptions = { schedule: { kind: "linear", steps: 2 * G, blockLength: 0 }, temperature: 0.8, remasking: "low_confidence", cfgScale: 0, seed, ...over };
      for (const [i, [, remdm]] of configs.entries()) {
        const out = await generateExtended(model, start, opts, { remdm: remdm ?? { strategy: "cap", eta: 0 } });
        scores[i].push(await score(out));
        remasked[i].push(out.trace.reduce((n, s) => n + (s.remasked?.length ?? 0), 0));
      }
    }
  }
  remdmTables.push({ label, scores, remasked });
}

const name = model.manifest.name ?? values.model;
console.log(`Model ${name} (model.onnx sha256 ${sha256(join(values.model!, "model.onnx")).slice(0, 12)}); ${G} tokens; Score = ELBO per token, ${SAMPLES} samples, seed 0; ${((Date.now() - t0) / 1000).toFixed(0)} s.\n`);
console.log("Beam width (one token per step; cells: Score (beam path log-prob per token)):\n");
console.log(`| prompt | ${widths.map((w) => `width ${w}`).join(" | ")} |`);
console.log(`|---|${widths.map(() => "---:").join("|")}|`);
for (const r of beamRows) console.log(r);
console.log(`| **mean** | ${widths.map((_, i) => `**${fmt(mean(beamScores[i]))}** (${fmt(mean(beamPaths[i]))})`).join(" | ")} |`);
for (const { label, scores, remasked } of remdmTables) {
  console.log(`\nReMDM, ${label}: ${2 * G} steps for ${G} tokens, ${prompts.length} prompts x ${scores[0].length / prompts.length} seed(s):\n`);
  console.log("| sampler | mean Score | vs plain | better than plain | tokens remasked per run |");
  console.log("|---|---:|---:|---:|---:|");
  for (const [i, [name]] of configs.entries()) {
    const d = mean(scores[i]) - mean(scores[0]);
    const better = scores[i].filter((s, j) => s > scores[0][j]).length;
    console.log(`| ${name} | ${fmt(mean(scores[i]))} | ${i === 0 ? "" : (d >= 0 ? "+" : "") + fmt(d)} | ${i === 0 ? "" : `${better}/${scores[i].length}`} | ${mean(remasked[i]).toFixed(1)} |`);
  }
}
await model.dispose();
