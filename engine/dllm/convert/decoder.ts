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
import type { DecoderSpec, MoeTensors, SwiGluTensors } from "./family.js";
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

/** The small helpers both graph builders write with: int64 constants and casts to and from the weights' float type T. */
export function graphHelpers(g: GraphBuilder, T: number) {
  const F = DataType.FLOAT;
  const cast = (x: string, to: number) => g.op1("Cast", [x], { to: attr.i(to) });
  return {
    F,
    I64: DataType.INT64,
    i64: (v: number[]) => g.int64(v),
    scalarI64: (v: number) => g.int64([v], []),
    cast,
    toT: (x: string) => (T === F ? x : cast(x, T)),
    toF: (x: string) => (T === F ? x : cast(x, F)),
  };
}

export function buildDecoder(g: GraphBuilder, spec: DecoderSpec, w: WeightWriter, opts: DecoderOptions): void {
  const { hidden: d, heads: H, kvHeads: Hkv, headDim: D, layers: L, vocab: V } = spec;
  const T = w.floatType;
  const { F, I64, i64, scalarI64, cast, toT, toF } = graphHelpers(g, T);

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
  const invFreq = g.float32("rope.inv_freq", [1, (spec.rotaryDim ?? D) / 2], inverseFrequencies(spec.ropeTheta, spec.rotaryDim ?? D));
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
  const R = spec.rotaryDim ?? D;
  const halves = i64([R / 2, R / 2]);
  const rotaryAndRest = i64([R, D - R]);
  const rope = (x: string): string => {
    // partial RoPE (LLaDA2): only the first R dims of each head rotate, pairs (i, i + R/2)
    const [rot, rest] = R === D ? [x, null] : g.op("Split", [x, rotaryAndRest], { axis: attr.i(-1) }, { outputs: 2 });
    const [x1, x2] = g.op("Split", [rot, halves], { axis: attr.i(-1) }, { outputs: 2 });
    const rotated = g.op1("Concat", [g.op1("Neg", [x2]), x1], { axis: attr.i(-1) });
    const turned = g.op1("Add", [g.op1("Mul", [rot, cos]), g.op1("Mul", [rotated, sin])], {}, { stem: "rope" });
    return rest ? g.op1("Concat", [turned, rest], { axis: attr.i(-1) }) : turned;
  };
  const heads = (x: string, n: number) => g.op1("Transpose", [g.op1("Reshape", [x, i64([0, 0, n, D])])], { perm: attr.ints([0, 2, 1, 3]) });

  // ---- embedding, layers
  let x = w.embedding(spec.embed, V, d)(ids);
  const presents: string[] = [];
  const pastExpandShape = g.op1("Concat", [i64([1]), g.op1("Unsqueeze", [batch, i64([0])]), i64([1, 1, 1])], { axis: attr.i(0) });
  const scale = g.scalar(1 / Math.sqrt(D), T);
  // Block-causal models (LLaDA2): a key is visible when its block is not after the query's. The
  // block size is an input (upstream's generate takes block_length); cached keys are positions
  // 0..P-1 (the finished blocks), the fed ones follow at position_offset.
  let blockBias: string | null = null;
  if (spec.blockCausal) {
    const blockSize = g.input("block_size", I64, [1]);
    const pastLen = g.op1("Gather", [g.op1("Shape", [past]), scalarI64(4)], { axis: attr.i(0) });
    const keyPos = g.op1("Concat", [g.op1("Range", [scalarI64(0), pastLen, scalarI64(1)]), positions], { axis: attr.i(0) });
    const qBlock = g.op1("Unsqueeze", [g.op1("Div", [positions, blockSize]), i64([1])]);
    const kBlock = g.op1("Unsqueeze", [g.op1("Div", [keyPos, blockSize]), i64([0])]);
    const allowed = g.op1("LessOrEqual", [kBlock, qBlock]); // [S, T]
    const bias = g.op1("Where", [allowed, g.scalar(0, T), g.scalar(-Infinity, T)], {}, { stem: "block_bias" });
    // the scores' rows are the grouped heads' queries, rep blocks of S: the bias repeats rep times
    blockBias = H === Hkv ? bias : g.op1("Tile", [bias, i64([H / Hkv, 1])]);
  }
  if (spec.moe) g.useDomain("com.microsoft", 1);

  for (let i = 0; i < L; i++) {
    const t = spec.layer(i);
    const attnNorm = w.vector(t.attnNorm, d);
    const fused = t.qkv ? w.linear(t.qkv, (H + 2 * Hkv) * D, d) : null;
    const qW = fused ? null : w.linear(t.q!, H * D, d, { bias: t.qBias });
    const kW = fused ? null : w.linear(t.k!, Hkv * D, d, { bias: t.kBias });
    const vW = fused ? null : w.linear(t.v!, Hkv * D, d, { bias: t.vBias });
    const qNorm = t.qNorm ? w.vector(t.qNorm, D) : null;
    const kNorm = t.kNorm ? w.vector(t.kNorm, D) : null;
    const oW = w.linear(t.o, d, H * D);
    const mlpNorm = w.vector(t.mlpNorm, d);

    const h = norm(x, attnNorm);
    let qIn: string, kIn: string, vIn: string;
    if (fused) {
      [qIn, kIn, vIn] = g.op("Split", [fused.apply(h), i64([H * D, Hkv * D, Hkv * D])], { axis: attr.i(-1) }, { outputs: 3 });
    } else {
      [qIn, kIn, vIn] = [qW!.apply(h), kW!.apply(h), vW!.apply(h)];
    }
    // per-head RMSNorm over head_dim (LLaDA2's query/key layernorms), before RoPE
    const q = rope(qNorm ? norm(heads(qIn, H), qNorm) : heads(qIn, H));
    const k = rope(kNorm ? norm(heads(kIn, Hkv), kNorm) : heads(kIn, Hkv));
    const v = heads(vIn, Hkv);
    presents.push(g.op1("Concat", [g.op1("Unsqueeze", [k, i64([0])]), g.op1("Unsqueeze", [v, i64([0])])], { axis: attr.i(0) }));
    const pastI = toT(g.op1("Expand", [g.op1("Gather", [past, scalarI64(i)], { axis: attr.i(0) }), pastExpandShape]));
    const kAll = g.op1("Concat", [g.op1("Gather", [pastI, scalarI64(0)], { axis: attr.i(0) }), k], { axis: attr.i(2) });
    const vAll = g.op1("Concat", [g.op1("Gather", [pastI, scalarI64(1)], { axis: attr.i(0) }), v], { axis: attr.i(2) });
    const qGrouped = g.op1("Reshape", [g.op1("Mul", [q, scale]), i64([0, Hkv, -1, D])]);
    let scores = g.op1("MatMul", [qGrouped, g.op1("Transpose", [kAll], { perm: attr.ints([0, 1, 3, 2]) })]);
    if (blockBias) scores = g.op1("Add", [scores, blockBias], {}, { stem: "masked" });
    const probs = g.op1("Softmax", [scores], { axis: attr.i(-1) });
    const ctx = g.op1("Reshape", [g.op1("MatMul", [probs, vAll]), i64([0, H, -1, D])]);
    const merged = g.op1("Reshape", [g.op1("Transpose", [ctx], { perm: attr.ints([0, 2, 1, 3]) }), i64([0, 0, H * D])]);
    x = g.op1("Add", [x, oW.apply(merged)], {}, { stem: "resid" });

    const h2 = norm(x, mlpNorm);
    const mlp = t.moe ? moeLayer(g, spec, w, t.moe, h2, `model.layers.${i}.mlp`) : swigluLayer(g, w, { gate: t.gate!, up: t.up!, down: t.down! }, spec.intermediate, d, h2);
    x = g.op1("Add", [x, mlp], {}, { stem: "resid" });
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

/** A dense SwiGLU MLP: down(silu(gate(x)) * up(x)). */
function swigluLayer(g: GraphBuilder, w: WeightWriter, t: SwiGluTensors, inter: number, d: number, x: string): string {
  const gateW = w.linear(t.gate, inter, d);
  const upW = w.linear(t.up, inter, d);
  const downW = w.linear(t.down, d, inter);
  const gate = gateW.apply(x);
  const act = g.op1("Mul", [g.op1("Mul", [gate, g.op1("Sigmoid", [gate])]), upW.apply(x)], {}, { stem: "swiglu" });
  return downW.apply(act);
}

/**
 * LLaDA2's MoE layer, with onnxruntime's (Q)MoE running only the experts each token is routed to.
 * Routing as upstream, in float32: s = sigmoid(x Wr^T); selection on s + expert_bias, among the
 * topGroups groups whose best two scores sum highest, the topK best; weights = the chosen s
 * renormalised, times the scaling factor. (Q)MoE picks the top k of router_probs and mixes with
 * their softmax, so it is fed log(s) at the chosen experts and -inf elsewhere: it picks exactly
 * those, with weights s / sum(s); the scaling factor multiplies its output. Plus the shared expert.
 */
function moeLayer(g: GraphBuilder, spec: DecoderSpec, w: WeightWriter, t: MoeTensors, x: string, name: string): string {
  const m = spec.moe!;
  const d = spec.hidden;
  const F = DataType.FLOAT;
  const i64 = (v: number[]) => g.int64(v);
  const xf = w.floatType === F ? x : g.op1("Cast", [x], { to: attr.i(F) });
  const router = g.float32(`${t.router}`, [d, m.experts], transposeOf(w.readRaw(t.router, [m.experts, d]), m.experts, d));
  const bias = g.float32(`${t.expertBias}`, [m.experts], w.readRaw(t.expertBias, [m.experts]));
  const flat = g.op1("Reshape", [xf, i64([-1, d])]);
  const scores = g.op1("Sigmoid", [g.op1("MatMul", [flat, router])], {}, { stem: "router" }); // [T, E]
  const biased = g.op1("Add", [scores, bias]);
  // group-limited selection
  const perGroup = m.experts / m.groups;
  const [top2] = g.op("TopK", [g.op1("Reshape", [biased, i64([0, m.groups, perGroup])]), i64([2])], { axis: attr.i(-1), largest: attr.i(1), sorted: attr.i(1) }, { outputs: 2 });
  const groupScores = g.op1("ReduceSum", [top2, i64([-1])], { keepdims: attr.i(0) }); // [T, G]
  const [, groupIdx] = g.op("TopK", [groupScores, i64([m.topGroups])], { axis: attr.i(-1), largest: attr.i(1), sorted: attr.i(1) }, { outputs: 2 });
  const zerosG = g.op1("Mul", [groupScores, g.scalar(0)]);
  const onesG = g.op1("Add", [g.op1("Mul", [g.op1("Cast", [groupIdx], { to: attr.i(F) }), g.scalar(0)]), g.scalar(1)]);
  const groupMask = g.op1("ScatterElements", [zerosG, groupIdx, onesG], { axis: attr.i(1) }); // [T, G] 1/0
  const expertMask = g.op1("Reshape", [g.op1("Expand", [g.op1("Unsqueeze", [groupMask, i64([2])]), i64([1, 1, perGroup])]), i64([0, m.experts])]);
  const inGroups = g.op1("Greater", [expertMask, g.scalar(0.5)]);
  const masked = g.op1("Where", [inGroups, biased, g.scalar(-Infinity)]);
  const [, chosen] = g.op("TopK", [masked, i64([m.topK])], { axis: attr.i(-1), largest: attr.i(1), sorted: attr.i(1) }, { outputs: 2 });
  const chosenLog = g.op1("Log", [g.op1("GatherElements", [scores, chosen], { axis: attr.i(1) })]);
  const floor = g.op1("Add", [g.op1("Mul", [scores, g.scalar(0)]), g.scalar(-Infinity)]);
  const routerProbs = g.op1("ScatterElements", [floor, chosen, chosenLog], { axis: attr.i(1) }, { stem: "router_probs" });
  const experts = w.experts(Array.from({ length: m.experts }, (_, e) => t.expert(e)), m.intermediate, d, m.topK, name);
  const probsT = w.floatType === F ? routerProbs : g.op1("Cast", [routerProbs], { to: attr.i(w.floatType) });
  let y = g.op1("Mul", [experts(x, probsT), g.scalar(m.scaling, w.floatType)], {}, { stem: "moe_out" });
  if (t.shared) y = g.op1("Add", [y, swigluLayer(g, w, t.shared, m.sharedIntermediate, d, x)], {}, { stem: "shared" });
  return y;
}

function transposeOf(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
  return out;
}
