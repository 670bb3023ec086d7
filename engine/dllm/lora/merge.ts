// Merging LoRA adapters into an ONNX model's initializers:
//   W' = W + sum_k strength_k * scale_k * B_k @ A_k
// The model's weights.json (written by the exporter) maps each checkpoint weight name to its
// ONNX initializer and says how it is stored: "out_in" (nn.Linear's [out, in], the graph
// multiplies by its transpose) or "in_out" (pre-transposed [in, out], e.g. after constant
// folding or a Conv1D-style layer). The adapters touching a weight become one low-rank product
// (ranks concatenated, coefficients folded into B), added to the weight once by ONNX Runtime's
// MatMul (see gemm.ts); strength 0 leaves a weight bit-identical (zero-strength terms are
// dropped and a weight with no terms is not rewritten).
import { readJsonFile } from "../../files/read.js";
import { z } from "zod";
import type { OnnxModel } from "../onnx/model.js";
import { LoraError, type LoraAdapter, type LoraModule } from "./adapter.js";
import { addLowRank } from "./gemm.js";

export const weightManifestSchema = z.object({
  format: z.literal(1),
  weights: z.array(
    z.object({
      /** Checkpoint (state_dict) name, e.g. model.transformer.blocks.0.q_proj.weight */
      name: z.string().min(1),
      /** ONNX initializer name */
      onnx: z.string().min(1),
      shape: z.array(z.number().int().nonnegative()),
      dtype: z.string().default("float32"),
      /** out_in: stored [out, in]; in_out: stored [in, out]; plain: not a linear layer's weight */
      layout: z.string().default("plain"),
    }),
  ),
});
export type WeightEntry = z.infer<typeof weightManifestSchema>["weights"][number];

export function readWeightManifest(path: string): Map<string, WeightEntry> {
  let raw: unknown;
  try {
    raw = readJsonFile(path, { what: "the weight manifest", maxBytes: 64 << 20 });
  } catch (err) {
    throw new LoraError("model", (err as Error).message);
  }
  const parsed = weightManifestSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
    throw new LoraError("model", `${path}: invalid weight manifest: ${problems}`);
  }
  return new Map(parsed.data.weights.map((w) => [w.name, w]));
}

/** One adapter in a stack, with its strength. */
export interface LoraLayer {
  adapter: LoraAdapter;
  strength: number;
}

export interface MergeTerm {
  module: LoraModule;
  /** strength * scale */
  coef: number;
}

export interface MergeTarget {
  weight: WeightEntry;
  layout: "out_in" | "in_out";
  outFeatures: number;
  inFeatures: number;
  terms: MergeTerm[];
}

function listSome(names: string[], n = 5): string {
  const shown = names.slice(0, n).join(", ");
  return names.length > n ? `${shown}, … (${names.length} in all)` : shown;
}

/**
 * Matches every adapter module to a weight of the model and checks shapes. Throws a LoraError
 * (input "path") naming the adapter for keys that match nothing, shapes that disagree, and
 * weights that are not linear layers'. Zero-strength layers are checked but contribute nothing.
 */
export function planMerge(weights: Map<string, WeightEntry>, layers: LoraLayer[], modelName: string): MergeTarget[] {
  const targets = new Map<string, MergeTarget>();
  for (const { adapter, strength } of layers) {
    const made = adapter.config.base_model_name_or_path;
    const forWhom = made ? ` The adapter was made for "${made}"; this model is "${modelName}".` : "";
    const unmatched = adapter.modules.filter((m) => !weights.has(`${m.module}.weight`)).map((m) => m.module);
    if (unmatched.length) {
      const some = [...weights.values()].filter((w) => w.layout !== "plain").slice(0, 3).map((w) => w.name.replace(/\.weight$/, ""));
      throw new LoraError(
        "path",
        `${adapter.tensorsPath}: ${unmatched.length} of ${adapter.modules.length} adapted modules match no weight of this model: ${listSome(unmatched)}.` +
          `${forWhom} Its modules are named like ${some.join(", ")}.`,
      );
    }
    for (const m of adapter.modules) {
      const w = weights.get(`${m.module}.weight`)!;
      if (w.layout === "matmulnbits" || w.layout === "gather_block_quantized") {
        throw new LoraError(
          "model",
          `this model's ${w.name} is stored quantised (${w.dtype}, ${w.layout}), and adapters merge into float weights: ` +
            `convert the checkpoint with the adapter merged before quantising (maskflow convert <checkpoint> --lora ${adapter.dir}[:strength]), ` +
            `or apply it to an fp32/fp16 conversion`,
        );
      }
      if (w.layout !== "out_in" && w.layout !== "in_out") {
        throw new LoraError("path", `${adapter.tensorsPath}: ${m.module} adapts ${w.name}, which is not a linear layer's weight (layout "${w.layout}" in weights.json)`);
      }
      if (w.shape.length !== 2) throw new LoraError("model", `weights.json: ${w.name} has shape [${w.shape}] but layout ${w.layout}`);
      const [outF, inF] = w.layout === "out_in" ? w.shape : [w.shape[1], w.shape[0]];
      if (outF !== m.outFeatures || inF !== m.inFeatures) {
        throw new LoraError(
          "path",
          `shape mismatch for ${m.module}: the adapter (${adapter.tensorsPath}) maps ${m.inFeatures} -> ${m.outFeatures} features ` +
            `(lora_A [${m.r}, ${m.inFeatures}], lora_B [${m.outFeatures}, ${m.r}]) but this model's ${w.name} maps ${inF} -> ${outF} ` +
            `(stored ${w.layout} [${w.shape}]).${forWhom || " The adapter was made for another model."}`,
        );
      }
      const target = targets.get(w.name) ?? { weight: w, layout: w.layout, outFeatures: outF, inFeatures: inF, terms: [] };
      const coef = strength * m.scale;
      if (coef !== 0) target.terms.push({ module: m, coef });
      targets.set(w.name, target);
    }
  }
  return [...targets.values()].filter((t) => t.terms.length > 0);
}

/** W (stored per `layout`) += sum of coef * B @ A, accumulated in float64 and rounded once. */
export function applyTerms(W: Float32Array, target: Pick<MergeTarget, "layout" | "outFeatures" | "inFeatures" | "terms">): void {
  const { outFeatures: O, inFeatures: I, terms } = target;
  if (W.length !== O * I) throw new Error(`weight has ${W.length} values, expected ${O} x ${I}`);
  if (target.layout === "out_in") {
    // row o of W is [in]: delta[o, :] = sum_k coef * B[o, k] * A[k, :]
    const acc = new Float64Array(I);
    for (let o = 0; o < O; o++) {
      acc.fill(0);
      for (const { module: m, coef } of terms) {
        const { A, B, r } = m;
        for (let k = 0; k < r; k++) {
          const c = coef * B[o * r + k];
          if (c === 0) continue;
          const base = k * I;
          for (let i = 0; i < I; i++) acc[i] += c * A[base + i];
        }
      }
      const row = o * I;
      for (let i = 0; i < I; i++) W[row + i] += acc[i];
    }
    return;
  }
  // in_out: row i of W is [out]: delta[i, :] = sum_k coef * A[k, i] * B[:, k]
  const Bt = terms.map(({ module: m }) => {
    const t = new Float64Array(m.r * O);
    for (let o = 0; o < O; o++) for (let k = 0; k < m.r; k++) t[k * O + o] = m.B[o * m.r + k];
    return t;
  });
  const acc = new Float64Array(O);
  for (let i = 0; i < I; i++) {
    acc.fill(0);
    terms.forEach(({ module: m, coef }, n) => {
      const bt = Bt[n];
      for (let k = 0; k < m.r; k++) {
        const c = coef * m.A[k * I + i];
        if (c === 0) continue;
        const base = k * O;
        for (let o = 0; o < O; o++) acc[o] += c * bt[base + o];
      }
    });
    const row = i * O;
    for (let o = 0; o < O; o++) W[row + o] += acc[o];
  }
}

/**
 * The update as one low-rank product: delta = L @ R in the weight's stored layout, with every
 * term's coefficient folded into the B side and the terms' ranks concatenated.
 * out_in (W [out, in]): L = [coef B_1 | coef B_2 ...] [out, R], R = [A_1; A_2 ...] [R, in].
 * in_out (W [in, out]): the transpose, L = [A_1; A_2 ...]^T [in, R], R = [coef B ...]^T [R, out].
 */
export function lowRankFactors(target: Pick<MergeTarget, "layout" | "outFeatures" | "inFeatures" | "terms">): { L: Float32Array; R: Float32Array; m: number; n: number; k: number } {
  const { outFeatures: O, inFeatures: I, terms } = target;
  const K = terms.reduce((s, t) => s + t.module.r, 0);
  const Bc = new Float32Array(O * K); // [O, K]
  const Ac = new Float32Array(K * I); // [K, I]
  let k0 = 0;
  for (const { module: m, coef } of terms) {
    for (let o = 0; o < O; o++) for (let k = 0; k < m.r; k++) Bc[o * K + k0 + k] = coef * m.B[o * m.r + k];
    Ac.set(m.A, k0 * I);
    k0 += m.r;
  }
  if (target.layout === "out_in") return { L: Bc, R: Ac, m: O, n: I, k: K };
  const L = new Float32Array(I * K);
  const R = new Float32Array(K * O);
  for (let k = 0; k < K; k++) {
    for (let i = 0; i < I; i++) L[i * K + k] = Ac[k * I + i];
    for (let o = 0; o < O; o++) R[k * O + o] = Bc[o * K + k];
  }
  return { L, R, m: I, n: O, k: K };
}

export interface MergeStats {
  weights: number;
  ms: number;
}

export interface MergeOptions {
  /** Where the new values go (default: inline raw_data in the weight's own dtype). */
  write?: (name: string, values: Float32Array) => void;
  /**
   * "onnxruntime" (default): W + L @ R by ONNX Runtime's MatMul, float32 accumulation like torch.
   * "js": float64 loops in this thread (exact to one rounding; slow for big weights).
   */
  gemm?: "onnxruntime" | "js";
  signal?: AbortSignal;
}

/**
 * A merged weight with an Infinity or NaN (a lora_alpha of 1e308, a strength of 1e40) would make
 * the model's every logit NaN, and a run would "finish" with empty text: refused instead, naming
 * the adapter's scale when that is what overflowed, else the strength.
 */
function refuseNonFinite(W: Float32Array, target: MergeTarget): void {
  let bad = -1;
  for (let i = 0; i < W.length; i++) {
    if (!Number.isFinite(W[i])) {
      bad = i;
      break;
    }
  }
  if (bad < 0) return;
  const huge = target.terms.find((t) => !Number.isFinite(t.module.scale) || Math.abs(t.module.scale) > 1e15);
  if (huge) {
    throw new LoraError(
      "path",
      `merging ${huge.module.module} gives non-finite weights (${W[bad]}) in ${target.weight.name}: the adapter's scale lora_alpha / r = ${huge.module.alpha} / ${huge.module.r} is too large`,
    );
  }
  throw new LoraError("strength", `merging with this strength gives non-finite weights (${W[bad]}) in ${target.weight.name}: use a smaller strength`);
}

/**
 * Merges the plan into `model` in place: each target weight is read (inline or external),
 * updated and written back, one weight at a time, yielding to the event loop between weights
 * (and stopping there if `signal` is aborted).
 */
export async function mergeIntoModel(model: OnnxModel, plan: MergeTarget[], options: MergeOptions = {}): Promise<MergeStats> {
  const write = options.write ?? ((name: string, values: Float32Array) => model.writeFloat32(name, values));
  const t0 = performance.now();
  for (const target of plan) {
    options.signal?.throwIfAborted();
    const name = target.weight.onnx;
    if (!model.has(name)) throw new LoraError("model", `weights.json names initializer "${name}" for ${target.weight.name}, but ${model.source} has none of that name`);
    const info = model.info(name);
    if (info.dims.join(",") !== target.weight.shape.join(",")) {
      throw new LoraError("model", `${model.source}: initializer "${name}" is [${info.dims}] but weights.json says [${target.weight.shape}]`);
    }
    let W = model.readFloat32(name);
    if (options.gemm === "js") applyTerms(W, target);
    else {
      const { L, R, m, n, k } = lowRankFactors(target);
      W = await addLowRank(W, L, R, m, n, k);
    }
    refuseNonFinite(W, target);
    write(name, W);
    await new Promise((resolve) => setImmediate(resolve));
  }
  return { weights: plan.length, ms: performance.now() - t0 };
}
