// The graph of a bidirectional decoder (family.ts's DecoderSpec), written op by op, with the
// contract the runtime expects of every Maskflow model graph (models/train/graph.py wrote the same
// for the bundled model):
//
// inputs (every one must be fed; the runtime gives the ones a step does not use neutral values:
// P = 0, offset 0, decide [[0] * B], cfg_scale 0)
//   input_ids        int64 [B, S]
//   past_kv          float32 [L, 2, B|1, Hkv, P, D]  K/V (RoPE applied) of P earlier positions not
//                    fed again: Fast-dLLM's block cache
//   position_offset  int64 [1]  position of input_ids[:, 0]
//   decide           int64 [B, K]  the positions whose sampling head is wanted
//   cfg_scale        float32 [1]  classifier-free guidance weight for cfg_*
// outputs
//   present_kv [L, 2, B, Hkv, S, D];
//   head_logits [B, K, V], head_top_ids / head_top_logp [B, K, 8], head_entropy [B, K]: the head
//   projects only the `decide` rows to the vocabulary. There is no separate [B, S, V] logits
//   output: onnxruntime runs every node of a graph whatever is fetched (measured: fetching only
//   present_kv takes as long as fetching the logits), so one would cost a whole-canvas vocabulary
//   projection at every step (~1 s of a step at LLaDA-8B's 126k vocabulary on 2 cores). Full
//   logits are the head over decide = 0..S-1 (maskflow.json "logits_from_decide");
//   cfg_* the same over B/2 rows, for a batch of conditional then unconditional rows:
//   u + (cfg_scale + 1)(c - u), LLaDA's guidance.
//
// Attention is not masked: every row of a batch has the same length (LLaDA and Dream pad with
// EOS / feed whole canvases). Grouped K/V heads are used without copying them: the H query heads
// are regrouped as [B, Hkv, rep * S, D] against K/V [B, Hkv, T, D], which is repeat_kv's
// pairing (query head h reads K/V head h / rep).
import { DataType } from "../onnx/dtypes.js";
import { attr, type GraphBuilder } from "../onnx/builder.js";
import type { DecoderSpec } from "./family.js";
import type { Storage, WeightWriter } from "./weights.js";

export const HEAD_TOP_K = 8;
export const INPUT_NAMES = ["input_ids", "past_kv", "position_offset", "decide", "cfg_scale"] as const;
export const OUTPUT_NAMES = [
  "present_kv", "head_logits", "head_top_ids", "head_top_logp", "head_entropy",
  "cfg_logits", "cfg_top_ids", "cfg_top_logp", "cfg_entropy",
] as const;

export interface DecoderOptions {
  /** write RMSNorm as onnxruntime's SimplifiedLayerNormalization instead of plain ops */
  fusedNorm: boolean;
  /** storage of the output head (the embedding's is in the writer's plan) */
  head: Storage;
  /** called after each layer's weights are written */
  onLayer?: (layer: number) => void;
}

/** RoPE inverse frequencies as Hugging Face computes them (float32): 1 / theta^(2i / D). */
export function inverseFrequencies(theta: number, headDim: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < out.length; i++) out[i] = 1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim)));
  return out;
}

export function buildDecoder(g: GraphBuilder, spec: DecoderSpec, w: WeightWriter, opts: DecoderOptions): void {
  const { hidden: d, heads: H, kvHeads: Hkv, headDim: D, layers: L, vocab: V } = spec;
  const T = w.floatType;
  const F = DataType.FLOAT;
  const I64 = DataType.INT64;
  const i64 = (v: number[]) => g.int64(v);
  const scalarI64 = (v: number) => g.int64([v], []);
  const cast = (x: string, to: number) => g.op1("Cast", [x], { to: attr.i(to) });
  const toT = (x: string) => (T === F ? x : cast(x, T));
  const toF = (x: string) => (T === F ? x : cast(x, F));

  // ---- inputs and their defaults
  const ids = g.input("input_ids", I64, ["batch", "sequence"]);
  const past = g.input("past_kv", F, [L, 2, "past_batch", Hkv, "past", D]);
  const offset = g.input("position_offset", I64, [1]);
  const decide = g.input("decide", I64, ["batch", "decide"]);
  const cfgScale = g.input("cfg_scale", F, [1]);

  // ---- positions and RoPE tables [S, D] (float32, as the reference computes them)
  const idsShape = g.op1("Shape", [ids]);
  const batch = g.op1("Gather", [idsShape, scalarI64(0)], { axis: attr.i(0) });
  const seq = g.op1("Gather", [idsShape, scalarI64(1)], { axis: attr.i(0) });
  const positions = g.op1("Add", [g.op1("Range", [scalarI64(0), seq, scalarI64(1)]), offset]);
  const posF = g.op1("Unsqueeze", [cast(positions, F), i64([1])]);
  const invFreq = g.float32("rope.inv_freq", [1, D / 2], inverseFrequencies(spec.ropeTheta, D));
  const freqs = g.op1("Mul", [posF, invFreq]);
  const angles = g.op1("Concat", [freqs, freqs], { axis: attr.i(-1) });
  const cos = toT(g.op1("Cos", [angles]));
  const sin = toT(g.op1("Sin", [angles]));

  const norm = (x: string, weight: string): string => {
    if (opts.fusedNorm) {
      return g.op1("SimplifiedLayerNormalization", [x, weight], { axis: attr.i(-1), epsilon: attr.f(spec.normEps), stash_type: attr.i(1) }, { stem: "rmsnorm" });
    }
    // x * rsqrt(mean(x^2) + eps) * weight, in float32 (the pattern onnxruntime fuses)
    const xf = toF(x);
    const ms = g.op1("ReduceMean", [g.op1("Pow", [xf, g.scalar(2)])], { axes: attr.ints([-1]), keepdims: attr.i(1) });
    const normed = g.op1("Div", [xf, g.op1("Sqrt", [g.op1("Add", [ms, g.scalar(spec.normEps)])])]);
    return g.op1("Mul", [toT(normed), weight], {}, { stem: "rmsnorm" });
  };
  const halfD = i64([D / 2, D / 2]);
  const rope = (x: string): string => {
    const [x1, x2] = g.op("Split", [x, halfD], { axis: attr.i(-1) }, { outputs: 2 });
    const rotated = g.op1("Concat", [g.op1("Neg", [x2]), x1], { axis: attr.i(-1) });
    return g.op1("Add", [g.op1("Mul", [x, cos]), g.op1("Mul", [rotated, sin])], {}, { stem: "rope" });
  };
  const heads = (x: string, n: number) => g.op1("Transpose", [g.op1("Reshape", [x, i64([0, 0, n, D])])], { perm: attr.ints([0, 2, 1, 3]) });

  // ---- embedding, layers
  let x = w.embedding(spec.embed, V, d)(ids);
  const presents: string[] = [];
  const pastExpandShape = g.op1("Concat", [i64([1]), g.op1("Unsqueeze", [batch, i64([0])]), i64([1, 1, 1])], { axis: attr.i(0) });
  const scale = g.scalar(1 / Math.sqrt(D), T);
  for (let i = 0; i < L; i++) {
    const t = spec.layer(i);
    const attnNorm = w.vector(t.attnNorm, d);
    const qW = w.linear(t.q, H * D, d, { bias: t.qBias });
    const kW = w.linear(t.k, Hkv * D, d, { bias: t.kBias });
    const vW = w.linear(t.v, Hkv * D, d, { bias: t.vBias });
    const oW = w.linear(t.o, d, H * D);
    const mlpNorm = w.vector(t.mlpNorm, d);
    const gateW = w.linear(t.gate, spec.intermediate, d);
    const upW = w.linear(t.up, spec.intermediate, d);
    const downW = w.linear(t.down, d, spec.intermediate);

    const h = norm(x, attnNorm);
    const q = rope(heads(qW.apply(h), H));
    const k = rope(heads(kW.apply(h), Hkv));
    const v = heads(vW.apply(h), Hkv);
    presents.push(g.op1("Concat", [g.op1("Unsqueeze", [k, i64([0])]), g.op1("Unsqueeze", [v, i64([0])])], { axis: attr.i(0) }));
    const pastI = toT(g.op1("Expand", [g.op1("Gather", [past, scalarI64(i)], { axis: attr.i(0) }), pastExpandShape]));
    const kAll = g.op1("Concat", [g.op1("Gather", [pastI, scalarI64(0)], { axis: attr.i(0) }), k], { axis: attr.i(2) });
    const vAll = g.op1("Concat", [g.op1("Gather", [pastI, scalarI64(1)], { axis: attr.i(0) }), v], { axis: attr.i(2) });
    const qGrouped = g.op1("Reshape", [g.op1("Mul", [q, scale]), i64([0, Hkv, -1, D])]);
    const scores = g.op1("MatMul", [qGrouped, g.op1("Transpose", [kAll], { perm: attr.ints([0, 1, 3, 2]) })]);
    const probs = g.op1("Softmax", [scores], { axis: attr.i(-1) });
    const ctx = g.op1("Reshape", [g.op1("MatMul", [probs, vAll]), i64([0, H, -1, D])]);
    const merged = g.op1("Reshape", [g.op1("Transpose", [ctx], { perm: attr.ints([0, 2, 1, 3]) }), i64([0, 0, H * D])]);
    x = g.op1("Add", [x, oW.apply(merged)], {}, { stem: "resid" });

    const h2 = norm(x, mlpNorm);
    const gate = gateW.apply(h2);
    const act = g.op1("Mul", [g.op1("Mul", [gate, g.op1("Sigmoid", [gate])]), upW.apply(h2)], {}, { stem: "swiglu" });
    x = g.op1("Add", [x, downW.apply(act)], {}, { stem: "resid" });
    opts.onLayer?.(i);
  }

  // ---- final norm, output head, sampling heads
  const finalNorm = w.vector(spec.finalNorm, d);
  const tied = spec.head === spec.embed;
  const headW = w.linear(spec.head, V, d, { storage: opts.head, as: tied ? `${spec.head}.as_head` : spec.head });
  const hf = norm(x, finalNorm);
  const present = g.op1("Concat", presents.map((p) => g.op1("Unsqueeze", [p, i64([0])])), { axis: attr.i(0) });
  g.output("present_kv", toF(present), F, [L, 2, "batch", Hkv, "sequence", D]);

  const rows = g.op1("GatherND", [hf, g.op1("Unsqueeze", [decide, i64([2])])], { batch_dims: attr.i(1) });
  const rowLogits = toF(headW.apply(rows));
  const samplingHead = (logits: string, prefix: "head" | "cfg", rowsDim: string) => {
    g.output(`${prefix}_logits`, logits, F, [rowsDim, "decide", V]);
    const logp = g.op1("LogSoftmax", [logits], { axis: attr.i(-1) });
    const [topLogp, topIds] = g.op("TopK", [logp, i64([HEAD_TOP_K])], { axis: attr.i(-1), largest: attr.i(1), sorted: attr.i(1) }, { outputs: 2 });
    g.output(`${prefix}_top_ids`, topIds, I64, [rowsDim, "decide", HEAD_TOP_K]);
    g.output(`${prefix}_top_logp`, topLogp, F, [rowsDim, "decide", HEAD_TOP_K]);
    const entropy = g.op1("Neg", [g.op1("ReduceSum", [g.op1("Mul", [g.op1("Exp", [logp]), logp]), i64([-1])], { keepdims: attr.i(0) })]);
    g.output(`${prefix}_entropy`, entropy, F, [rowsDim, "decide"]);
  };
  samplingHead(rowLogits, "head", "batch");
  // First half conditional, second half unconditional. (B + 1) / 2 and B - half keep both halves
  // non-empty for B = 1 (an empty broadcast crashes onnxruntime).
  const rowsBatch = g.op1("Unsqueeze", [g.op1("Gather", [g.op1("Shape", [rowLogits]), scalarI64(0)], { axis: attr.i(0) }), i64([0])]);
  const half = g.op1("Div", [g.op1("Add", [rowsBatch, i64([1])]), i64([2])]);
  const cond = g.op1("Slice", [rowLogits, i64([0]), half, i64([0])]);
  const uncond = g.op1("Slice", [rowLogits, g.op1("Sub", [rowsBatch, half]), rowsBatch, i64([0])]);
  const guided = g.op1("Add", [uncond, g.op1("Mul", [g.op1("Add", [cfgScale, g.scalar(1)]), g.op1("Sub", [cond, uncond])])]);
  samplingHead(guided, "cfg", "half_batch");
}
