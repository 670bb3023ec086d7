// The results object (bench/results.json) and its markdown table (bench/results.md).
import type { SideFigures } from "./figures.js";
import type { Machine, Startup } from "./machine.js";
import type { VariantName } from "./workloads.js";

export interface VariantResult {
  name: VariantName;
  available: boolean;
  /** Why it did not run (not in this checkout, or it failed). */
  reason?: string;
  /** How it was switched on. */
  via?: string;
  maskflow?: SideFigures;
  /** Output tokens that differ from the exact (one-token-per-step schedule) Maskflow run. */
  differ_from_exact?: { tokens: number; rows: number; of: number };
  /** tokens/s relative to the exact Maskflow run. */
  speedup_vs_exact?: number;
  /** Score (per-token ELBO) of this variant's outputs, and minus the exact run's. */
  score_per_token?: number;
  score_delta?: number;
  /** EOS tokens per output, mean over the rows (the Score counts them: an output that ends sooner scores higher). */
  eos_tokens?: number;
}

export interface WorkloadResult {
  name: string;
  prompt: string;
  batch: number;
  prompt_tokens: number;
  gen_length: number;
  steps: number;
  block_length: number;
  cfg_scale: number;
  temperature: number;
  remasking: string;
  seed: number;
  repeats: number;
  /** prompt + gen_length is over the model's max_length (the graph runs it; the model never trained on it). */
  over_max_length?: boolean;
  maskflow: SideFigures | null;
  maskflow_error?: string;
  /** Every repeat produced the same tokens (the determinism contract). */
  maskflow_deterministic?: boolean;
  /** Row 0's answer text, for people reading the results. */
  sample_text?: string;
  reference: SideFigures | null;
  reference_error?: string;
  /** Maskflow tokens/s over the reference's. */
  ratio: number | null;
  /** Generated tokens that differ between Maskflow and the reference (null without a reference). */
  mismatch: { tokens: number; rows: number; of: number; first?: { row: number; position: number; maskflow: number | null; reference: number | null } } | null;
  variants: VariantResult[];
  /** Score (per-token ELBO, nats) of the exact run's outputs, where variants changed outputs. */
  score_per_token?: number;
  /** EOS tokens per output of the exact run, mean over the rows (where variants were run). */
  eos_tokens?: number;
}

export interface Goal {
  goal: string;
  measured: string;
  met: boolean | null;
}

export interface Results {
  schema: 1;
  created: string;
  mode: "full" | "quick" | "smoke";
  duration_s: number;
  machine: Machine;
  settings: {
    model: { dir: string; name: string; onnx_sha256: string; onnx_mb: number; max_length: number; graph_inputs: string[]; graph_outputs: string[] };
    threads: { maskflow: number; torch: number | null };
    reference: { python: string; torch: string; blas: string; threads: number; thread_env: Record<string, string> } | null;
    reference_error?: string;
    /** How outputs were scored (null: variants skipped). */
    score: { via: string; samples: number; seed: number; cfg_scale: number; unit: string } | { unavailable: string } | null;
    repeats: string;
    filter?: string;
    notes: string[];
  };
  workloads: WorkloadResult[];
  startup: Startup | null;
  goals: Goal[];
}

const num = (x: number | null | undefined, digits = 1) => (x == null || !Number.isFinite(x) ? "–" : x.toFixed(digits));

function step(f: SideFigures | null): string {
  if (!f) return "–";
  return `${num(f.ms_per_forward)} (${num(f.model_ms_per_forward)} + ${num(f.other_ms_per_forward)})`;
}

function shape(w: WorkloadResult): string {
  const parts = [`${w.batch > 1 ? `${w.batch}×` : ""}P${w.prompt_tokens}`, `G${w.gen_length}`, `steps ${w.steps}`, `block ${w.block_length}`];
  if (w.cfg_scale > 0) parts.push(`cfg ${w.cfg_scale}`);
  if (w.temperature > 0) parts.push(`T ${w.temperature}`);
  return parts.join(", ") + (w.over_max_length ? " †" : "");
}

export function markdown(r: Results): string {
  const m = r.machine;
  const L: string[] = [];
  L.push(`# Maskflow benchmark (${r.mode})`);
  L.push("");
  L.push(
    `${r.created} · ${m.cpu}, ${m.cores} cores, ${m.ram_gb} GiB · ${m.os} · Node ${m.node} · onnxruntime-node ${m.onnxruntime_node}` +
      (r.settings.reference ? ` · torch ${r.settings.reference.torch} with ${r.settings.reference.blas}` : "") +
      ` · threads: Maskflow ${r.settings.threads.maskflow}, torch ${r.settings.threads.torch ?? "–"}` +
      ` · load average ${m.load_avg_start.join("/")} at start, ${m.load_avg_end?.join("/") ?? "?"} at end` +
      (m.git ? ` · commit ${m.git.commit.slice(0, 10)}${m.git.dirty ? " + uncommitted changes" : ""}` : ""),
  );
  L.push("");
  L.push(
    `Model \`${r.settings.model.dir}\` (${r.settings.model.name}, ${r.settings.model.onnx_mb} MB, sha256 ${r.settings.model.onnx_sha256.slice(0, 12)}). ` +
      `${r.settings.repeats}. Took ${Math.round(r.duration_s)} s.`,
  );
  if (r.settings.reference_error) L.push("", `**Reference not run:** ${r.settings.reference_error}`);
  for (const n of r.settings.notes) L.push("", n);
  L.push("");

  if (r.goals.length) {
    L.push("## Goals (issue 7)", "", "| goal | measured | met |", "|---|---|---|");
    for (const g of r.goals) L.push(`| ${g.goal} | ${g.measured} | ${g.met == null ? "–" : g.met ? "yes" : "**no**"} |`);
    L.push("");
  }

  L.push("## Maskflow vs the PyTorch reference");
  L.push("");
  L.push("ms per step = wall time per forward pass (model + everything else). Tokens/s = generated tokens / median wall time.");
  L.push("");
  L.push("| workload | shape | Maskflow tok/s | reference tok/s | ratio | forwards (M / R) | Maskflow ms/step (model + other) | reference ms/step (model + other) | Maskflow other % | tokens differing | peak RSS MiB (M / R) |");
  L.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const w of r.workloads) {
    const M = w.maskflow;
    const R = w.reference;
    const mism = w.mismatch ? `${w.mismatch.tokens} / ${w.mismatch.of}${w.mismatch.tokens ? " **≠**" : ""}` : "–";
    L.push(
      `| ${w.name} | ${shape(w)} | ${M ? num(M.tokens_per_s) : `error`} | ${R ? num(R.tokens_per_s) : "–"} | ${w.ratio == null ? "–" : `${num(w.ratio, 2)}×`} | ` +
        `${M?.forwards ?? "–"} / ${R?.forwards ?? "–"} | ${step(M)} | ${step(R)} | ${M ? num(M.other_share * 100) : "–"} | ${mism} | ${M?.peak_rss_mb ?? "–"} / ${R?.peak_rss_mb ?? "–"} |`,
    );
  }
  if (r.workloads.some((w) => w.over_max_length)) L.push("", "† prompt + gen_length is over the model's max_length: it runs, but the model never trained at that length.");
  const errors = r.workloads.flatMap((w) => [
    ...(w.maskflow_error ? [`- ${w.name}, Maskflow: ${w.maskflow_error}`] : []),
    ...(w.reference_error ? [`- ${w.name}, reference: ${w.reference_error}`] : []),
    ...(w.maskflow_deterministic === false ? [`- ${w.name}: Maskflow's repeats produced different tokens`] : []),
  ]);
  if (errors.length) L.push("", "Errors:", "", ...errors);
  L.push("");

  const variants = r.workloads.flatMap((w) => w.variants.map((v) => ({ w, v })));
  if (variants.length) {
    L.push("## Maskflow variants");
    L.push("");
    L.push("Compared with the exact Maskflow run of the same workload (first row of each group). Threshold and cache variants change outputs by design.");
    const sc = r.settings.score;
    if (sc && "via" in sc) L.push(`Score = ${sc.unit}, ${sc.samples} samples, seed ${sc.seed}, by ${sc.via}.`);
    else if (sc) L.push(`No Score: ${sc.unavailable}.`);
    L.push("");
    L.push("Score counts every generated token, EOS included: an output that ends sooner (more EOS) scores higher without being better text, so each row gives its EOS count.");
    L.push("");
    L.push("| workload | variant | tok/s | vs exact | forwards | ms/step (model + other) | tokens differing from exact | EOS / output | Score (Δ) | how |");
    L.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    const seen = new Set<string>();
    for (const { w, v } of variants) {
      if (!seen.has(w.name) && w.maskflow) {
        seen.add(w.name);
        L.push(`| ${w.name} | exact | ${num(w.maskflow.tokens_per_s)} | 1.00× | ${w.maskflow.forwards} | ${step(w.maskflow)} | – | ${num(w.eos_tokens, 1)} | ${num(w.score_per_token, 3)} | |`);
      }
      if (!v.available || !v.maskflow) {
        L.push(`| ${w.name} | ${v.name} | – | – | – | – | – | – | – | not run: ${v.reason ?? "?"} |`);
        continue;
      }
      const d = v.differ_from_exact;
      L.push(
        `| ${w.name} | ${v.name} | ${num(v.maskflow.tokens_per_s)} | ${num(v.speedup_vs_exact, 2)}× | ${v.maskflow.forwards} | ${step(v.maskflow)} | ` +
          `${d ? `${d.tokens} / ${d.of}` : "–"} | ${num(v.eos_tokens, 1)} | ${v.score_per_token == null ? "–" : `${num(v.score_per_token, 3)} (${v.score_delta! >= 0 ? "+" : ""}${num(v.score_delta, 3)})`} | ${v.via ?? ""} |`,
      );
    }
    L.push("");
  }

  if (r.startup) {
    const s = r.startup;
    L.push("## Start-up");
    L.push("");
    L.push(`\`maskflow run workflows/hello.maskflow.json\`, spawned, wall time with start-up (runs ${s.build}${s.dist_stale ? ", older than the sources" : ""}):`);
    L.push("");
    for (const t of [s.node, s.npx]) {
      L.push(t.ok ? `- \`${t.command}\`: median ${num(t.median_ms / 1000, 2)} s (${t.ms.map((x) => num(x / 1000, 2)).join(", ")} s)` : `- \`${t.command}\` failed: ${t.error}`);
    }
    L.push("");
  }
  return L.join("\n");
}
