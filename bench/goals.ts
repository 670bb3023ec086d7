// The goals of issue 7, read off the results.
import type { Timed } from "./machine.js";
import type { Goal, Results, WorkloadResult } from "./report.js";
import { dynamicRule } from "./variants.js";
import type { VariantName } from "./workloads.js";

export function goals(results: WorkloadResult[], start: Results["startup"], withReference: boolean): Goal[] {
  const out: Goal[] = [];
  const g128 = results.filter((w) => w.gen_length === 128 && w.maskflow);
  const headline = g128.find((w) => w.name === "p8-g128-s128-b32") ?? g128[0];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (withReference) {
    const rated = g128.filter((w) => w.ratio != null);
    if (rated.length) {
      const worst = rated.reduce((a, b) => (b.ratio! < a.ratio! ? b : a));
      const mismatched = rated.filter((w) => (w.mismatch?.tokens ?? 0) > 0);
      out.push({
        goal: "CPU tokens/s ≥ 2× the PyTorch reference at identical tokens, gen_length 128",
        measured:
          `${headline?.ratio != null ? `${headline.ratio.toFixed(2)}× on ${headline.name}; ` : ""}lowest ${worst.ratio!.toFixed(2)}× (${worst.name}) over ${rated.length} workloads; ` +
          `${mismatched.length ? `tokens differ in ${mismatched.map((w) => w.name).join(", ")}` : "all tokens identical"}`,
        met: worst.ratio! >= 2 && mismatched.length === 0,
      });
    }
  }
  if (g128.length) {
    const worst = g128.reduce((a, b) => (b.maskflow!.other_share > a.maskflow!.other_share ? b : a));
    out.push({
      goal: "time outside session.run < 10% of a step, gen_length 128",
      measured: `${headline ? `${pct(headline.maskflow!.other_share)} on ${headline.name}; ` : ""}highest ${pct(worst.maskflow!.other_share)} (${worst.name})`,
      met: worst.maskflow!.other_share < 0.1,
    });
  }
  // Against one-token-per-step decoding: workloads with steps = gen_length. Fast-dLLM's τ 0.9 on
  // each; on the headline also lower τ, a larger factor and plain half steps, each with its Score.
  const perStep = results.filter((w) => w.steps === w.gen_length && w.maskflow);
  const fewer = (w: WorkloadResult) => w.variants.filter((v) => v.maskflow && (dynamicRule(v.name) || v.name === "half-steps"));
  const thr = perStep.flatMap((w) => fewer(w).filter((v) => v.name === "threshold").map((v) => ({ w, v })));
  if (thr.length) {
    const score = (w: WorkloadResult, v: WorkloadResult["variants"][number]) =>
      (v.score_delta != null ? `, Score ${v.score_delta >= 0 ? "+" : ""}${v.score_delta.toFixed(3)} (${v.score_per_token} vs ${w.score_per_token})` : "") +
      (v.eos_tokens != null && w.eos_tokens != null ? `, EOS ${v.eos_tokens} vs ${w.eos_tokens}` : "");
    const label = (name: VariantName) => {
      const r = dynamicRule(name);
      return r ? (r.kind === "threshold" ? `τ ${r.value}` : `factor f ${r.value}`) : "half steps";
    };
    const parts = thr.map(({ w, v }) => `τ 0.9 on ${w.name}: ${v.maskflow!.forwards} vs ${w.maskflow!.forwards} forwards${score(w, v)}`);
    const head = headline && perStep.includes(headline) ? headline : null;
    const others = head ? fewer(head).filter((v) => v.name !== "threshold") : [];
    if (head && others.length) parts.push(`on ${head.name}: ${others.map((v) => `${label(v.name)} ${v.maskflow!.forwards} forwards${score(head, v)}`).join("; ")}`);
    const halving = head ? fewer(head).filter((v) => v.name !== "half-steps" && v.maskflow!.forwards * 2 <= head.maskflow!.forwards) : [];
    out.push({
      goal: "threshold decoding needs at most half the forward passes of one-token-per-step decoding (Score change in nats/token)",
      measured: parts.join("; ") + (head ? `. Halving on ${head.name}: ${halving.length ? halving.map((v) => label(v.name)).join(", ") : "no threshold or factor measured"}` : ""),
      met: halving.length > 0,
    });
  }
  if (start) {
    const t = (x: Timed) =>
      x.ok ? `${(x.median_ms / 1000).toFixed(2)} s` : `failed (${x.error})`;
    out.push({
      goal: "`npx maskflow run workflows/hello.maskflow.json` under 2 s wall, start-up included",
      measured: `npx: median ${t(start.npx)}; node bin/maskflow.js: ${t(start.node)} (${start.build}${start.dist_stale ? ", stale" : ""})`,
      met: start.npx.ok ? start.npx.median_ms < 2000 : false,
    });
  }
  return out;
}

