// Maskflow on one execution provider: session start, forward latency and generation speed.
// For a machine with a GPU (cuda, webgpu) or any other; `npm run bench` is the CPU comparison
// with the PyTorch reference, this is the per-device view.
//
//   npx tsx bench/device.ts [--device cpu|cuda|webgpu|dml|coreml] [--model models/default] [--json out.json]
//
// Forward: full logits of [batch, seq] token ids to JS (what a plain export costs) and the
// sampling head at one position per row (what greedy one-token-per-step decoding fetches).
// Generate: prompt 8 tokens, gen 128, block 32, greedy; steps 128, then threshold 0.9; then a
// batch of 8 prompts generated concurrently (joined into batched forwards). Mean of the timed repeats after one warm-up.
import { writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { DllmModel, createCanvas, generate, type SamplerOptions } from "../engine/dllm/index.js";
import { PACKAGE_ROOT } from "../engine/paths.js";
import { timedRuns } from "./figures.js";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const device = arg("device", "cpu");
const folder = resolve(arg("model", resolve(PACKAGE_ROOT, "models", "default")));
const out = arg("json", "");
// --quick: forwards and one greedy generation, for models too big to run the whole set quickly
const quick = process.argv.includes("--quick");
const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

async function timed<T>(repeats: number, fn: () => Promise<T>): Promise<{ ms: number; last: T }> {
  let last = await fn(); // warm-up
  const t0 = performance.now();
  for (let i = 0; i < repeats; i++) last = await fn();
  return { ms: (performance.now() - t0) / repeats, last };
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const model = await DllmModel.load(folder, { device: device as "cpu" });
  const loadMs = performance.now() - t0;
  const tok = model.tokenizer;
  const V = model.manifest.vocab_size;
  const MASK = model.manifest.mask_token_id;
  const rows: Record<string, unknown>[] = [];
  const report = (row: Record<string, unknown>) => {
    rows.push(row);
    process.stderr.write(JSON.stringify(row) + "\n");
  };

  for (const [batch, seq] of [[1, 136], [8, 136], [1, 256]] as const) {
    const ids = new Int32Array(batch * seq).map((_, i) => 3 + ((i * 7919) % (V - 3)));
    const full = await timed(quick ? 3 : 10, () => model.forward(ids, batch, seq));
    const head = await timed(quick ? 3 : 10, () =>
      model.run({ ids, batch, seq, rows: [seq - 1], want: "top" }),
    );
    report({ what: "forward", batch, seq, full_logits_ms: round(full.ms), head_ms: round(head.ms) });
  }

  const prompts = ["He looked at the door and", "The jury said that", "In the morning", "She smiled and said",
    "The president of the United States", "It was a cold night", "They went to the river", "After the war"];
  const promptIds = prompts.map((p) => tok.encode(p).slice(0, 8));
  const base: SamplerOptions = { schedule: { kind: "linear", steps: 128, blockLength: 32 }, temperature: 0, remasking: "low_confidence", cfgScale: 0, seed: 0 };
  const plans: [string, SamplerOptions][] = [
    ["gen 128, steps 128, greedy", base],
    ["gen 128, threshold 0.9", { ...base, schedule: { kind: "threshold", steps: 128, blockLength: 32, threshold: 0.9 } as SamplerOptions["schedule"] }],
  ];
  for (const [name, opts] of quick ? plans.slice(0, 1) : plans) {
    const r = await timedRuns(quick ? 1 : 3, () => generate(model, createCanvas(promptIds[0], 128, MASK), opts), () => model.stats);
    const { forwards, modelMs } = r;
    report({ what: "generate", name, tok_per_s: round(128 / (r.ms / 1000), 1), ms: round(r.ms), forwards, model_ms_per_step: round(modelMs / forwards), other_ms_per_step: round((r.ms - modelMs) / forwards) });
  }
  if (!quick) {
    // concurrent generations of the same shape are joined into batched forwards by the runtime
    const opts = { ...base, schedule: { kind: "linear", steps: 64, blockLength: 32 } } as SamplerOptions;
    const r = await timed(2, () => Promise.all(promptIds.map((p) => generate(model, createCanvas(p, 64, MASK), opts))));
    report({ what: "generate", name: "8 prompts, gen 64, steps 64, batched", tok_per_s: round((8 * 64) / (r.ms / 1000), 1), ms: round(r.ms) });
  }
  const result = { device, model: folder.split(/[\\/]/).slice(-2).join("/"), load_ms: round(loadMs), node: process.version, cpu: cpus()[0]?.model, cores: cpus().length, rows };
  process.stdout.write(JSON.stringify(result, null, 1) + "\n");
  if (out) writeFileSync(out, JSON.stringify(result, null, 1) + "\n");
  await model.dispose();
}

main().catch((err) => {
  process.stderr.write(`bench/device: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
