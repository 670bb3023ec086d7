// The real-size section of `npm run bench` (issue 13): LLaDA-8B- and Dream-7B-shaped checkpoints
// (real widths, heads, MLP and vocabulary; random weights, which cost what real ones do) with few
// layers, converted by `maskflow convert` at int4/int8, measured per denoising step without a
// cache and with Fast-dLLM's prefix and dual caches, and projected to the full depth from two
// depths (time and memory are a fixed part plus a per-layer part). Each conversion and each
// measurement runs in a child process, so its peak RSS is its own.
//
//   npx tsx bench/real-size/run.ts [--shapes llada8b,dream7b] [--dtypes int4,int8] [--layers 2,4]
//                                  [--full llada8b:int4] [--repeats 3] [--threads N] [--work DIR]
// Writes bench/real-size.json and bench/real-size.md.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadAvg, machine, ROOT } from "../machine.js";
import { makeCheckpoint, SHAPES, type ShapeName } from "./checkpoint.js";
import { BLOCK, GEN, PROMPT } from "./workload.js";

interface Steps {
  /**
   * "block": a block-causal model (prefixMs holds the four blocks' step times, see children.ts);
   * "canvas": a uniform-noise model (fullMs = dualMs: one denoising step of the canvas; prefixMs:
   * the encoder pass over the prompt, then over a committed canvas)
   */
  kind?: "block" | "canvas";
  canvasLength?: number;
  loadMs: number;
  rssAfterLoadMiB: number;
  peakRssMiB: number;
  fullMs: number;
  prefixMs: number[];
  dualMs: number;
}
interface Converted {
  seconds: number;
  bytes: number;
  parameters: number;
  peakRssMiB: number;
}
interface Point {
  layers: number;
  convert: Converted;
  steps: Steps;
}
export interface RealSizeRow {
  shape: ShapeName;
  dtype: string;
  points: Point[];
  fullDepth: number;
  projected: {
    parameters: number;
    diskGiB: number;
    convertPeakRssGiB: number;
    convertSeconds: number;
    loadSeconds: number;
    loadRssGiB: number;
    stepMs: { none: number; prefix: number; dual: number };
    tokensPerSecond: { none: number; prefix: number; dual: number };
  };
  /** the full-depth model itself, when it was converted and measured too */
  measured?: Point;
  /** when this row was measured, and how busy the machine was */
  measured_on?: { date: string; load_avg_start: number[]; load_avg_end: number[] };
}

function child(args: string[]): unknown {
  const r = spawnSync(process.execPath, ["--import", "tsx", join(ROOT, "bench", "real-size", "children.ts"), ...args], { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 24, env: { ...process.env, MASKFLOW_CACHE_DIR: "off" } });
  if (r.status !== 0) throw new Error(`bench child ${args.join(" ")} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!);
}

/**
 * y = a + b * layers through two points, evaluated at `at`. A layer cannot cost less than
 * nothing: when timing noise makes the deeper point measure faster (tiny shapes), the slope is
 * taken as 0 and the deeper point's figure stands.
 */
export function project(x0: number, y0: number, x1: number, y1: number, at: number): number {
  const b = Math.max(0, (y1 - y0) / (x1 - x0));
  return y1 + b * (at - x1);
}

/** Block-causal: each block's 32 steps and its sealing forward, one token per step. */
function blockGenerationMs(blockMs: number[]) {
  const t = blockMs.reduce((s, ms) => s + (BLOCK + 1) * ms, 0);
  return { none: t, prefix: t, dual: t };
}

/**
 * Uniform-noise models: the released sampler's worst case per canvas, all 48 steps (it stops
 * earlier once the canvas is stable and confident), plus the encoder pass that commits it; the
 * figures are scaled so that tokens / time gives the canvas's tokens per second.
 */
export const CANVAS_STEPS = 48;
function canvasGenerationMs(s: { full: number; prefix: number[] }, canvasLength: number) {
  const perCanvas = CANVAS_STEPS * s.full + s.prefix[1];
  const t = (perCanvas * GEN) / canvasLength;
  return { none: t, prefix: t, dual: t };
}

/** Generation time for gen 128, block 32, one token per step, from one step's forward times. */
function generationMs(s: { full: number; prefix: number[]; dual: number }) {
  const blocks = GEN / BLOCK;
  const perBlock = BLOCK; // steps per block
  // each block's first step is a full forward that also stores the cache
  const prefix = s.prefix.reduce((t, p) => t + s.full + (perBlock - 1) * p, 0);
  return { none: GEN * s.full, prefix, dual: blocks * (s.full + (perBlock - 1) * s.dual) };
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

/** The full-depth figures, from the two shallow points (rows read back are projected again with this). */
export function projectRow(points: Point[], depth: number): RealSizeRow["projected"] {
  const [p0, p1] = points;
  const at = (f: (p: Point) => number) => project(p0.layers, f(p0), p1.layers, f(p1), depth);
  const stepMs = {
    full: at((p) => p.steps.fullMs),
    prefix: p0.steps.prefixMs.map((_, i) => at((p) => p.steps.prefixMs[i])),
    dual: at((p) => p.steps.dualMs),
  };
  const gen = p0.steps.kind === "block" ? blockGenerationMs(stepMs.prefix) : p0.steps.kind === "canvas" ? canvasGenerationMs(stepMs, p0.steps.canvasLength ?? 256) : generationMs(stepMs);
  return {
    parameters: Math.round(at((p) => p.convert.parameters)),
    diskGiB: round(at((p) => p.convert.bytes) / 2 ** 30, 2),
    // streaming: the peak is the largest tensor's, whatever the depth
    convertPeakRssGiB: round(Math.max(p0.convert.peakRssMiB, p1.convert.peakRssMiB) / 1024, 2),
    convertSeconds: round(at((p) => p.convert.seconds), 0),
    loadSeconds: round(at((p) => p.steps.loadMs) / 1000, 1),
    loadRssGiB: round(at((p) => p.steps.peakRssMiB) / 1024, 2),
    stepMs: { none: round(stepMs.full, 0), prefix: round(stepMs.prefix.reduce((a, b) => a + b, 0) / stepMs.prefix.length, 0), dual: round(stepMs.dual, 0) },
    tokensPerSecond: { none: round((GEN / gen.none) * 1000, 3), prefix: round((GEN / gen.prefix) * 1000, 3), dual: round((GEN / gen.dual) * 1000, 3) },
  };
}

export async function runRealSize(options: { shapes: ShapeName[]; dtypes: string[]; layers: [number, number]; full: string[]; repeats: number; threads: number; work: string; log: (s: string) => void }): Promise<RealSizeRow[]> {
  const rows: RealSizeRow[] = [];
  const [L0, L1] = options.layers;
  for (const shape of options.shapes) {
    const depth = SHAPES[shape].layers;
    for (const dtype of options.dtypes) {
      const points: Point[] = [];
      const measureAt = (layers: number): Point => {
        const ckpt = makeCheckpoint(shape, layers, join(options.work, "checkpoints", `${shape}-L${layers}`), options.log);
        const out = join(options.work, "models", `${shape}-L${layers}-${dtype}`);
        options.log(`${shape}, ${layers} layers, ${dtype}: converting`);
        const convert = child(["convert", ckpt.dir, out, dtype]) as Converted;
        options.log(`  ${round(convert.seconds)} s, peak RSS ${convert.peakRssMiB} MiB; measuring steps`);
        const steps = child(["steps", out, String(options.repeats), String(options.threads)]) as Steps;
        options.log(`  load ${round(steps.loadMs / 1000)} s, full step ${round(steps.fullMs)} ms, dual ${round(steps.dualMs)} ms`);
        rmSync(out, { recursive: true, force: true });
        return { layers, convert, steps };
      };
      points.push(measureAt(L0), measureAt(L1));
      const row: RealSizeRow = { shape, dtype, points, fullDepth: depth, projected: projectRow(points, depth) };
      if (options.full.includes(`${shape}:${dtype}`)) row.measured = measureAt(depth);
      rows.push(row);
    }
  }
  return rows;
}

export function realSizeMarkdown(rows: RealSizeRow[], m: ReturnType<typeof machine>, settings: string): string {
  const gib = (mib: number) => (mib / 1024).toFixed(2);
  const lines = [
    "# Real-size bench: LLaDA-8B-, Dream-7B-, LLaDA2.0-mini-, Fast-dLLM-v2- and DiffusionGemma-shaped models on this machine",
    "",
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.ram_gb} GiB, ${m.os}; Node ${m.node}, onnxruntime-node ${m.onnxruntime_node}. Rows come from the runs that measured them (real-size.json: measured_on, with the load averages; other work on the machine ran at the lowest priority during these runs).`,
    `Settings: ${settings}. Generation: prompt ${PROMPT}, gen ${GEN}, block ${BLOCK}, one token per step (steps = gen): without a cache every step is a full forward over ${PROMPT + GEN} positions; with Fast-dLLM's prefix cache a block's first step is a full forward and the others feed the block and what follows it; with the dual cache, the block only. Every forward sends the block's ${BLOCK} rows through the in-graph head (top-k), as Denoise does.`,
    "Checkpoints: random weights with the real widths, heads, MLP and vocabulary (bench/real-size/checkpoint.ts), bf16, converted by `maskflow convert`. Full-depth figures are projected from two depths: each is a fixed part (embedding, head, overhead) plus a part per layer.",
    "",
    "| model | dtype | params | disk | convert: time, peak RSS | load: time, RSS | ms/step, no cache | prefix | dual | tok/s, no cache | prefix | dual |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
  ];
  for (const r of rows.filter((r) => r.points[0].steps.kind === undefined)) {
    const p = r.projected;
    lines.push(
      `| ${r.shape} (${r.fullDepth} layers, projected) | ${r.dtype} | ${(p.parameters / 1e9).toFixed(2)}B | ${p.diskGiB} GiB | ${p.convertSeconds} s, ${p.convertPeakRssGiB} GiB | ${p.loadSeconds} s, ${p.loadRssGiB} GiB | ${p.stepMs.none} | ${p.stepMs.prefix} | ${p.stepMs.dual} | ${p.tokensPerSecond.none} | ${p.tokensPerSecond.prefix} | ${p.tokensPerSecond.dual} |`,
    );
    if (r.measured) {
      const s = r.measured.steps;
      const g = generationMs({ full: s.fullMs, prefix: s.prefixMs, dual: s.dualMs });
      lines.push(
        `| ${r.shape} (${r.fullDepth} layers, **measured**) | ${r.dtype} | ${(r.measured.convert.parameters / 1e9).toFixed(2)}B | ${(r.measured.convert.bytes / 2 ** 30).toFixed(2)} GiB | ${Math.round(r.measured.convert.seconds)} s, ${gib(r.measured.convert.peakRssMiB)} GiB | ${(s.loadMs / 1000).toFixed(1)} s, ${gib(s.peakRssMiB)} GiB | ${Math.round(s.fullMs)} | ${Math.round(s.prefixMs.reduce((a, b) => a + b, 0) / s.prefixMs.length)} | ${Math.round(s.dualMs)} | ${round((GEN / g.none) * 1000, 3)} | ${round((GEN / g.prefix) * 1000, 3)} | ${round((GEN / g.dual) * 1000, 3)} |`,
      );
    }
  }
  const blockRows = rows.filter((r) => r.points[0].steps.kind === "block");
  if (blockRows.length) {
    lines.push(
      "",
      "Block-causal models (LLaDA2, Fast-dLLM v2): each step feeds the current block of 32 against the exact cache of the blocks before it (0, 32, 64, 96 cached positions for the four blocks of prompt 8 + gen 128); a finished block gets one more forward that writes its final K/V. Tokens/s at one token per step (32 steps a block; a threshold rule commits more per step where the model is confident).",
      "",
      "| model | dtype | params | disk | convert: time, peak RSS | load: time, RSS | ms/step, blocks 1-4 | tok/s |",
      "|---|---|---:|---:|---:|---:|---|---:|",
    );
    for (const r of blockRows) {
      const p = r.projected;
      const at = (i: number) => Math.round(project(r.points[0].layers, r.points[0].steps.prefixMs[i], r.points[1].layers, r.points[1].steps.prefixMs[i], r.fullDepth));
      lines.push(`| ${r.shape} (${r.fullDepth} layers, projected) | ${r.dtype} | ${(p.parameters / 1e9).toFixed(2)}B | ${p.diskGiB} GiB | ${p.convertSeconds} s, ${p.convertPeakRssGiB} GiB | ${p.loadSeconds} s, ${p.loadRssGiB} GiB | ${r.points[0].steps.prefixMs.map((_, i) => at(i)).join(", ")} | ${p.tokensPerSecond.prefix} |`);
      const f = r.measured;
      if (f) {
        const tps = round((GEN / blockGenerationMs(f.steps.prefixMs).prefix) * 1000, 3);
        lines.push(`| ${r.shape} (${r.fullDepth} layers, **measured**) | ${r.dtype} | ${(f.convert.parameters / 1e9).toFixed(2)}B | ${round(f.convert.bytes / 2 ** 30, 2)} GiB | ${round(f.convert.seconds, 0)} s, ${round(f.convert.peakRssMiB / 1024, 2)} GiB | ${round(f.steps.loadMs / 1000)} s, ${round(f.steps.peakRssMiB / 1024, 2)} GiB | ${f.steps.prefixMs.map((x) => Math.round(x)).join(", ")} | ${tps} |`);
      }
    }
  }
  const canvasRows = rows.filter((r) => r.points[0].steps.kind === "canvas");
  if (canvasRows.length) {
    lines.push(
      "",
      `Uniform-noise models (DiffusionGemma): a denoising step runs the whole canvas (${canvasRows[0].points[0].steps.canvasLength} positions) through every layer and the head (argmax, entropy, the soft embedding over the full vocabulary, the sample drawn from the tempered logits), against the prompt's cache; a canvas takes at most ${CANVAS_STEPS} steps (the released setting; the sampler stops earlier once it is stable and confident), then one encoder pass commits it. The shallow depths measured are sliding-window layers; the real model has 5 full-attention layers among its 30 (wider heads, no v_proj), counted here as sliding ones.`,
      "",
      "| model | dtype | params | disk | convert: time, peak RSS | load: time, RSS | encoder pass, 8-token prompt ms | ms/denoising step | commit a canvas ms | s per canvas (48 steps) | tok/s |",
      "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    for (const r of canvasRows) {
      const p = r.projected;
      const at = (f: (s: Steps) => number) => Math.round(project(r.points[0].layers, f(r.points[0].steps), r.points[1].layers, f(r.points[1].steps), r.fullDepth));
      const step = at((s) => s.fullMs);
      const commit = at((s) => s.prefixMs[1]);
      lines.push(`| ${r.shape} (${r.fullDepth} layers, projected) | ${r.dtype} | ${(p.parameters / 1e9).toFixed(2)}B | ${p.diskGiB} GiB | ${p.convertSeconds} s, ${p.convertPeakRssGiB} GiB | ${p.loadSeconds} s, ${p.loadRssGiB} GiB | ${at((s) => s.prefixMs[0])} | ${step} | ${commit} | ${round((CANVAS_STEPS * step + commit) / 1000, 0)} | ${p.tokensPerSecond.none} |`);
    }
  }
  lines.push("", "Measured points (what the projections come from):", "", "| model | layers | dtype | convert s | convert peak RSS MiB | load s | RSS after load MiB | full step ms | prefix step ms (blocks 1-4) | dual step ms |", "|---|---:|---|---:|---:|---:|---:|---:|---|---:|");
  for (const r of rows) {
    for (const p of [...r.points, ...(r.measured ? [r.measured] : [])]) {
      lines.push(`| ${r.shape} | ${p.layers} | ${r.dtype} | ${round(p.convert.seconds)} | ${p.convert.peakRssMiB} | ${round(p.steps.loadMs / 1000)} | ${p.steps.rssAfterLoadMiB} | ${round(p.steps.fullMs)} | ${p.steps.prefixMs.map((x) => Math.round(x)).join(", ")} | ${round(p.steps.dualMs)} |`);
    }
  }
  return lines.join("\n") + "\n";
}

export interface RealSizeOptions {
  shapes: ShapeName[];
  dtypes: string[];
  layers: [number, number];
  full: string[];
  repeats: number;
  threads: number;
  /** where the random checkpoints (kept for the next run) and the conversions (deleted) go */
  work: string;
  /** where real-size.json and real-size.md are written */
  out: string;
  log: (line: string) => void;
}

/** Runs the section and writes real-size.json and real-size.md. */
export async function realSizeSection(o: RealSizeOptions): Promise<RealSizeRow[]> {
  const m = machine();
  mkdirSync(o.work, { recursive: true });
  const fresh = (await runRealSize(o)).map((r) => ({ ...r, measured_on: { date: new Date().toISOString(), load_avg_start: m.load_avg_start, load_avg_end: loadAvg() } }));
  m.load_avg_end = loadAvg();
  // rows of shapes this run did not measure are kept from the last run (each says when it was measured)
  const file = join(o.out, "real-size.json");
  const earlier = (existsSync(file) ? ((JSON.parse(readFileSync(file, "utf8")) as { rows: RealSizeRow[] }).rows ?? []) : []).map((r) => ({ ...r, projected: projectRow(r.points, r.fullDepth) }));
  const same = (a: RealSizeRow, b: RealSizeRow) => a.shape === b.shape && a.dtype === b.dtype;
  const rows = [...earlier.map((r) => fresh.find((f) => same(f, r)) ?? r), ...fresh.filter((f) => !earlier.some((r) => same(f, r)))];
  const settings = `${o.threads} threads, ${o.repeats} timed forwards per figure after a warm-up, MatMulNBits block 32, accuracy_level 4, embedding and head 8-bit`;
  mkdirSync(o.out, { recursive: true });
  writeFileSync(join(o.out, "real-size.json"), JSON.stringify({ machine: m, settings, rows }, null, 1) + "\n");
  writeFileSync(join(o.out, "real-size.md"), realSizeMarkdown(rows, m, settings));
  if (existsSync(join(o.work, "checkpoints"))) o.log(`the random checkpoints stay in ${join(o.work, "checkpoints")} for the next run (delete it to free the disk)`);
  o.log(`wrote ${join(o.out, "real-size.md")}`);
  return rows;
}

async function main() {
  const { values } = parseArgs({
    options: {
      shapes: { type: "string", default: "llada8b,dream7b" },
      dtypes: { type: "string", default: "int4,int8" },
      layers: { type: "string", default: "2,8" },
      full: { type: "string", default: "" },
      repeats: { type: "string", default: "3" },
      threads: { type: "string", default: String(os.availableParallelism()) },
      work: { type: "string", default: join(ROOT, "bench", "results", "real-size") },
      out: { type: "string", default: join(ROOT, "bench") },
    },
  });
  const shapes = values.shapes!.split(",") as ShapeName[];
  for (const s of shapes) if (!SHAPES[s]) throw new Error(`--shapes: unknown shape ${s} (${Object.keys(SHAPES).join(", ")})`);
  await realSizeSection({
    shapes,
    dtypes: values.dtypes!.split(","),
    layers: values.layers!.split(",").map(Number) as [number, number],
    full: values.full ? values.full.split(",") : [],
    repeats: Number(values.repeats),
    threads: Number(values.threads),
    work: values.work!,
    out: values.out!,
    log: (s) => process.stderr.write(s + "\n"),
  });
}

if (import.meta.url === `file://${process.argv[1]}`) await main();
