// The graph of a model that encodes its context causally into a KV cache and denoises a whole
// canvas bidirectionally against that cache (family.ts's CanvasSpec; DiffusionGemma). One set of
// weights serves both passes, so they are one graph with an `encode` switch (two sessions would
// hold the weights twice). Written op by op, as decoder.ts is.
//
// inputs (all must be fed)
//   input_ids          int64 [B, S]     encode: the tokens to append to the cache; decode: the canvas
//   past_kv.<type>     float32 [L_t, 2, B|1, Hkv_t, P_t, D_t] per attention layer type (K after
//                      k_norm and RoPE, V after v_norm), in layer order; P_t may be shorter than the
//                      sequence so far (a sliding type needs only its last W - 1): its positions are
//                      taken to be the P_t just before position_offset
//   position_offset    int64 [1]        position of input_ids[:, 0] (the length encoded so far)
//   encode             int64 [1]        1: causal encoder pass (window masks, the encoder's
//                      layer scalars, no self-conditioning); 0: a decoder step
//   self_conditioning  float32 [B, S, hidden]  the soft embedding of the previous step
//                      (sc_embedding), zeros for none (step 1; ignored when encoding)
//   temperature        float32 [1]      divides the logits before the heads (not head_logits)
//   decide             int64 [B, K]     the rows the head projects to the vocabulary
// outputs
//   present_kv.<type>  [L_t, 2, B, Hkv_t, S, D_t]: this call's K/V (a decoder step's are not cached upstream)
//   head_logits        [B, K, V] the model's logits (after the final softcap), untempered
//   head_top_ids / head_top_logp [B, K, 8], head_entropy [B, K]: of softmax(logits / temperature)
//   sc_embedding       [B, K, hidden]: softmax(logits / temperature) @ E * embed_scale, the next
//                      step's self_conditioning input when decide covers the canvas
//
// The expert mixture runs only the experts each token is routed to, with plain ops: the (token,
// slot) assignments are sorted by expert, each expert multiplies its contiguous slice (possibly
// empty), and the results are put back in token order. onnxruntime's MoE/QMoE operators (used for
// LLaDA2's SwiGLU experts) have no gated GELU, which Gemma's experts are.
import { DataType } from "../onnx/dtypes.js";
import { attr, type GraphBuilder } from "../onnx/builder.js";
import { HEAD_TOP_K, graphHelpers } from "./decoder.js";
import type { AttentionGeometry, CanvasSpec } from "./family.js";
import type { Storage, WeightWriter } from "./weights.js";

export interface KvGroup {
  type: string;
  /** the model's layer indices of this type, in order (their slots in the group's tensor) */
  layers: number[];
  geometry: AttentionGeometry;
}

/** The attention layer types in order of first appearance, with their layers. */
export function kvGroups(spec: CanvasSpec): KvGroup[] {
  const out: KvGroup[] = [];
  for (let i = 0; i < spec.layers; i++) {
    const type = spec.layerType(i);
    let group = out.find((g) => g.type === type);
    if (!group) {
      const geometry = spec.types[type];
      if (!geometry) throw new Error(`layer ${i} has attention type "${type}", which the model does not describe`);
      group = { type, layers: [], geometry };
      out.push(group);
    }
    group.layers.push(i);
  }
  return out;
}

export const CANVAS_INPUT_NAMES = ["input_ids", "position_offset", "encode", "self_conditioning", "temperature", "decide"] as const;
export const CANVAS_OUTPUT_NAMES = ["head_logits", "head_top_ids", "head_top_logp", "head_entropy", "sc_embedding"] as const;
export const pastName = (type: string) => `past_kv.${type}`;
export const presentName = (type: string) => `present_kv.${type}`;

/** Inverse frequencies (float32): 1 / theta^(2i / D) for the first `pairs`, 0 after (those dims pass unrotated). */
export function ropeFrequencies(theta: number, headDim: number, pairs: number): Float32Array {
  const out = new Float32Array(headDim / 2);
  for (let i = 0; i < pairs; i++) out[i] = 1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / headDim)));
  return out;
}

/** Every tensor the graph reads, with its shape. */
export function canvasExpectedTensors(spec: CanvasSpec): Map<string, number[]> {
  const { hidden: d, vocab: V, intermediate: I } = spec;
  const { experts: E, intermediate: Im } = spec.moe;
  const sc = spec.selfConditioning;
  const out = new Map<string, number[]>([
    [spec.embed, [V, d]],
    [spec.finalNorm, [d]],
    [spec.head, [V, d]],
    [sc.preNorm, [d]],
    [sc.gate, [I, d]],
    [sc.up, [I, d]],
    [sc.down, [d, I]],
  ]);
  for (let i = 0; i < spec.layers; i++) {
    const t = spec.layer(i);
    const a = spec.types[spec.layerType(i)];
    for (const n of [t.attnNorm, t.postAttnNorm, t.mlpNorm, t.postMlpNorm, t.expertsNorm, t.postExpertsNorm, t.ffNorm, t.routerScale]) out.set(n, [d]);
    out.set(t.q, [a.heads * a.headDim, d]);
    out.set(t.k, [a.kvHeads * a.headDim, d]);
    if (!a.valueFromKey) out.set(t.v!, [a.kvHeads * a.headDim, d]);
    out.set(t.o, [d, a.heads * a.headDim]);
    out.set(t.qNorm, [a.headDim]);
    out.set(t.kNorm, [a.headDim]);
    out.set(t.gate, [I, d]);
    out.set(t.up, [I, d]);
    out.set(t.down, [d, I]);
    out.set(t.router, [E, d]);
    out.set(t.perExpertScale, [E]);
    out.set(t.expertsGateUp, [E, 2 * Im, d]);
    out.set(t.expertsDown, [E, d, Im]);
    out.set(t.decoderScalar, [1]);
    out.set(t.encoderScalar, [1]);
  }
  return out;
}

export interface CanvasGraphOptions {
  /** storage of the output head and of the embedding (the self-conditioning product reads E as stored when it is float) */
  head: Storage;
  embedding: Storage;
  onLayer?: (layer: number) => void;
}

export function buildCanvasGraph(g: GraphBuilder, spec: CanvasSpec, w: WeightWriter, opts: CanvasGraphOptions): void {
  const { hidden: d, vocab: V, normEps } = spec;
  const T = w.floatType;
  const { F, I64, i64, scalarI64, cast, toT, toF } = graphHelpers(g, T);
  const groups = kvGroups(spec);

  // ---- inputs
  const ids = g.input("input_ids", I64, ["batch", "sequence"]);
  const pasts = groups.map((gr) => g.input(pastName(gr.type), F, [gr.layers.length, 2, "past_batch", gr.geometry.kvHeads, `past_${gr.type}`, gr.geometry.headDim]));
  const offset = g.input("position_offset", I64, [1]);
  const encode = g.input("encode", I64, [1]);
  const scInput = g.input("self_conditioning", F, ["batch", "sequence", d]);
  const temperature = g.input("temperature", F, [1]);
  const decide = g.input("decide", I64, ["batch", "decide"]);
  const encoding = g.op1("Equal", [encode, i64([1])], {}, { stem: "encoding" });
  const byPass = (enc: string, dec: string) => g.op1("Where", [encoding, enc, dec]);

  // ---- positions; RoPE tables [S, D] per layer type (float32, as the reference computes them)
  const idsShape = g.op1("Shape", [ids]);
  const batch = g.op1("Gather", [idsShape, scalarI64(0)], { axis: attr.i(0) });
  const seq = g.op1("Gather", [idsShape, scalarI64(1)], { axis: attr.i(0) });
  const positions = g.op1("Add", [g.op1("Range", [scalarI64(0), seq, scalarI64(1)]), offset]);
  const posF = g.op1("Unsqueeze", [cast(positions, F), i64([1])]);
  const tables = new Map<string, { cos: string; sin: string }>();
  for (const { type, geometry: a } of groups) {
    const inv = g.float32(`rope.${type}.inv_freq`, [1, a.headDim / 2], ropeFrequencies(a.rope.theta, a.headDim, a.rope.pairs));
    const freqs = g.op1("Mul", [posF, inv]);
    const angles = g.op1("Concat", [freqs, freqs], { axis: attr.i(-1) });
    tables.set(type, { cos: toT(g.op1("Cos", [angles])), sin: toT(g.op1("Sin", [angles])) });
  }

  // ---- building blocks
  /** RMSNorm over the last axis in float32: x * (mean(x^2) + eps)^-0.5, times the weight when there is one. */
  const normF = (x: string): string => {
    const xf = toF(x);
    const ms = g.op1("ReduceMean", [g.op1("Pow", [xf, g.scalar(2)])], { axes: attr.ints([-1]), keepdims: attr.i(1) });
    return g.op1("Div", [xf, g.op1("Sqrt", [g.op1("Add", [ms, g.scalar(normEps)])])], {}, { stem: "rmsnorm" });
  };
  const norm = (x: string, weight: string | null): string => (weight ? g.op1("Mul", [toT(normF(x)), weight], {}, { stem: "rmsnorm" }) : toT(normF(x)));
  const act = (x: string): string => {
    // gelu_pytorch_tanh: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
    const cube = g.op1("Mul", [x, g.op1("Mul", [x, x])]);
    const inner = g.op1("Mul", [g.op1("Add", [x, g.op1("Mul", [cube, g.scalar(0.044715, T)])]), g.scalar(Math.sqrt(2 / Math.PI), T)]);
    return g.op1("Mul", [g.op1("Mul", [x, g.scalar(0.5, T)]), g.op1("Add", [g.op1("Tanh", [inner]), g.scalar(1, T)])], {}, { stem: "gelu" });
  };
  const gatedMlp = (gate: string, up: string, down: string, inter: number, x: string): string =>
    w.linear(down, d, inter).apply(g.op1("Mul", [act(w.linear(gate, inter, d).apply(x)), w.linear(up, inter, d).apply(x)], {}, { stem: "geglu" }));
  const rope = (x: string, type: string, D: number): string => {
    const { cos, sin } = tables.get(type)!;
    const [x1, x2] = g.op("Split", [x, i64([D / 2, D / 2])], { axis: attr.i(-1) }, { outputs: 2 });
    const rotated = g.op1("Concat", [g.op1("Neg", [x2]), x1], { axis: attr.i(-1) });
    return g.op1("Add", [g.op1("Mul", [x, cos]), g.op1("Mul", [rotated, sin])], {}, { stem: "rope" });
  };
  const heads = (x: string, n: number, D: number) => g.op1("Transpose", [g.op1("Reshape", [x, i64([0, 0, n, D])])], { perm: attr.ints([0, 2, 1, 3]) });

  // ---- attention masks per layer type, as additive biases [rep * S, P_t + S] for the grouped queries
  const q = g.op1("Unsqueeze", [positions, i64([1])]); // [S, 1]
  const zero = g.scalar(0, T);
  const minusInf = g.scalar(-Infinity, T);
  const biases = new Map<string, string>();
  const pastExpandShape = g.op1("Concat", [i64([1]), g.op1("Unsqueeze", [batch, i64([0])]), i64([1, 1, 1])], { axis: attr.i(0) });
  groups.forEach(({ type, geometry: a }, n) => {
    const cached = g.op1("Gather", [g.op1("Shape", [pasts[n]]), scalarI64(4)], { axis: attr.i(0) });
    const cachedPos = g.op1("Sub", [g.op1("Add", [g.op1("Range", [scalarI64(0), cached, scalarI64(1)]), offset]), cached]);
    const k = g.op1("Unsqueeze", [g.op1("Concat", [cachedPos, positions], { axis: attr.i(0) }), i64([0])]); // [1, P + S]
    // encoder: causal, and within the window (q - W, q]
    let encAllowed = g.op1("LessOrEqual", [k, q]);
    if (a.window) encAllowed = g.op1("And", [encAllowed, g.op1("Greater", [k, g.op1("Sub", [q, i64([a.window])])])]);
    const encBias = g.op1("Where", [encAllowed, zero, minusInf]);
    // decoder: every canvas key; of the cache, all (full) or the last W - 1 positions (sliding)
    const decBias = a.window ? g.op1("Where", [g.op1("Greater", [k, g.op1("Sub", [offset, i64([a.window])])]), zero, minusInf]) : zero;
    const bias = byPass(encBias, decBias);
    const rep = a.heads / a.kvHeads;
    biases.set(type, rep === 1 ? bias : g.op1("Tile", [bias, i64([rep, 1])], {}, { stem: `mask_${type}` }));
  });

  // ---- input: scaled embeddings; the decoder adds self-conditioning and normalises
  const scale = g.scalar(spec.embedScale, T);
  const e = g.op1("Mul", [w.embedding(spec.embed, V, d)(ids), scale], {}, { stem: "embed_scaled" });
  const sc = spec.selfConditioning;
  const scSignal = gatedMlp(sc.gate, sc.up, sc.down, spec.intermediate, norm(toT(scInput), w.vector(sc.preNorm, d)));
  let x = byPass(e, norm(g.op1("Add", [e, scSignal]), null));

  // ---- layers
  const presents: string[][] = groups.map(() => []);
  for (let i = 0; i < spec.layers; i++) {
    const type = spec.layerType(i);
    const n = groups.findIndex((gr) => gr.type === type);
    const slot = groups[n].layers.indexOf(i);
    const a = groups[n].geometry;
    const { heads: H, kvHeads: Hkv, headDim: D } = a;
    const t = spec.layer(i);

    // attention
    const h = norm(x, w.vector(t.attnNorm, d));
    const qs = rope(norm(heads(w.linear(t.q, H * D, d).apply(h), H, D), w.vector(t.qNorm, D)), type, D);
    const kRaw = heads(w.linear(t.k, Hkv * D, d).apply(h), Hkv, D);
    const ks = rope(norm(kRaw, w.vector(t.kNorm, D)), type, D);
    const vs = norm(a.valueFromKey ? kRaw : heads(w.linear(t.v!, Hkv * D, d).apply(h), Hkv, D), null);
    presents[n].push(g.op1("Concat", [g.op1("Unsqueeze", [ks, i64([0])]), g.op1("Unsqueeze", [vs, i64([0])])], { axis: attr.i(0) }));
    const past = toT(g.op1("Expand", [g.op1("Gather", [pasts[n], scalarI64(slot)], { axis: attr.i(0) }), pastExpandShape]));
    const kAll = g.op1("Concat", [g.op1("Gather", [past, scalarI64(0)], { axis: attr.i(0) }), ks], { axis: attr.i(2) });
    const vAll = g.op1("Concat", [g.op1("Gather", [past, scalarI64(1)], { axis: attr.i(0) }), vs], { axis: attr.i(2) });
    const qScaled = spec.attentionScale === 1 ? qs : g.op1("Mul", [qs, g.scalar(spec.attentionScale, T)]);
    const qGrouped = g.op1("Reshape", [qScaled, i64([0, Hkv, -1, D])]);
    const scores = g.op1("Add", [g.op1("MatMul", [qGrouped, g.op1("Transpose", [kAll], { perm: attr.ints([0, 1, 3, 2]) })]), biases.get(type)!], {}, { stem: "masked" });
    const probs = toT(g.op1("Softmax", [toF(scores)], { axis: attr.i(-1) }));
    const ctx = g.op1("Reshape", [g.op1("MatMul", [probs, vAll]), i64([0, H, -1, D])]);
    const merged = g.op1("Reshape", [g.op1("Transpose", [ctx], { perm: attr.ints([0, 2, 1, 3]) }), i64([0, 0, H * D])]);
    x = g.op1("Add", [x, norm(w.linear(t.o, d, H * D).apply(merged), w.vector(t.postAttnNorm, d))], {}, { stem: "resid" });

    // dense MLP and expert mixture in parallel, each between its own norms
    const r = x;
    const y1 = norm(gatedMlp(t.gate, t.up, t.down, spec.intermediate, norm(r, w.vector(t.mlpNorm, d))), w.vector(t.postMlpNorm, d));
    const y2 = norm(expertMixture(g, spec, w, i, norm(r, w.vector(t.expertsNorm, d)), normF(r), act), w.vector(t.postExpertsNorm, d));
    x = g.op1("Add", [r, norm(g.op1("Add", [y1, y2]), w.vector(t.ffNorm, d))], {}, { stem: "resid" });
    x = g.op1("Mul", [x, byPass(w.vector(t.encoderScalar, 1), w.vector(t.decoderScalar, 1))], {}, { stem: "layer_scalar" });
    opts.onLayer?.(i);
  }
  groups.forEach((gr, n) => {
    const present = g.op1("Concat", presents[n].map((p) => g.op1("Unsqueeze", [p, i64([0])])), { axis: attr.i(0) });
    g.output(presentName(gr.type), toF(present), F, [gr.layers.length, 2, "batch", gr.geometry.kvHeads, "sequence", gr.geometry.headDim]);
  });

  // ---- final norm, head, softcap; heads over the tempered distribution; the soft embedding
  const hf = norm(x, w.vector(spec.finalNorm, d));
  const rows = g.op1("GatherND", [hf, g.op1("Unsqueeze", [decide, i64([2])])], { batch_dims: attr.i(1) });
  const tied = spec.head === spec.embed;
  const headW = w.linear(spec.head, V, d, { storage: opts.head, as: tied ? `${spec.head}.as_head` : spec.head });
  const raw = toF(headW.apply(rows));
  const cap = spec.softcap;
  const logits = cap ? g.op1("Mul", [g.op1("Tanh", [g.op1("Div", [raw, g.scalar(cap)])]), g.scalar(cap)], {}, { stem: "softcap" }) : raw;
  g.output("head_logits", logits, F, ["batch", "decide", V]);
  const tempered = g.op1("Div", [logits, temperature], {}, { stem: "tempered" });
  const logp = g.op1("LogSoftmax", [tempered], { axis: attr.i(-1) });
  const [topLogp, topIds] = g.op("TopK", [logp, i64([HEAD_TOP_K])], { axis: attr.i(-1), largest: attr.i(1), sorted: attr.i(1) }, { outputs: 2 });
  g.output("head_top_ids", topIds, I64, ["batch", "decide", HEAD_TOP_K]);
  g.output("head_top_logp", topLogp, F, ["batch", "decide", HEAD_TOP_K]);
  const entropy = g.op1("Neg", [g.op1("ReduceSum", [g.op1("Mul", [g.op1("Exp", [logp]), logp]), i64([-1])], { keepdims: attr.i(0) })]);
  g.output("head_entropy", entropy, F, ["batch", "decide"]);
  const p = g.op1("Softmax", [tempered], { axis: attr.i(-1) });
  // probabilities @ E: the embedding itself when it is stored as floats, else a quantised copy of E^T
  // (weights.ts keeps an embedding whose width is not a multiple of the block size in floats)
  const soft = opts.embedding === "float" || d % w.plan.blockSize !== 0
    ? g.op1("MatMul", [toT(p), spec.embed], {}, { stem: "soft_embedding" })
    : w.transposedLinear(spec.embed, V, d, { storage: opts.embedding, as: `${spec.embed}.as_self_conditioning` }).apply(toT(p));
  g.output("sc_embedding", toF(g.op1("Mul", [soft, scale])), F, ["batch", "decide", d]);
}

/**
 * Softmax routing over all experts (float32): z = RMSNorm(r) * router.scale * hidden^-0.5,
 * p = softmax(z W^T), the top k renormalised to sum 1, times per_expert_scale; then the chosen
 * experts' gated MLPs on xe, mixed with those weights. rNormed is RMSNorm(r) without weight, float32.
 */
function expertMixture(g: GraphBuilder, spec: CanvasSpec, w: WeightWriter, layer: number, xe: string, rNormed: string, act: (x: string) => string): string {
  const { hidden: d } = spec;
  const { experts: E, topK: K, intermediate: I } = spec.moe;
  const t = spec.layer(layer);
  const F = DataType.FLOAT;
  const I64 = DataType.INT64;
  const T = w.floatType;
  const i64 = (v: number[]) => g.int64(v);
  const cast = (x: string, to: number) => g.op1("Cast", [x], { to: attr.i(to) });

  const routerT = g.float32(t.router, [d, E], transposed(w.readRaw(t.router, [E, d]), E, d));
  const routerScale = g.float32(t.routerScale, [d], w.readRaw(t.routerScale, [d]));
  const perExpert = g.float32(t.perExpertScale, [E], w.readRaw(t.perExpertScale, [E]));
  const z = g.op1("Mul", [g.op1("Mul", [g.op1("Reshape", [rNormed, i64([-1, d])]), routerScale]), g.scalar(d ** -0.5)]);
  const probs = g.op1("Softmax", [g.op1("MatMul", [z, routerT])], { axis: attr.i(-1) }, { stem: "router_probs" });
  const [topP, topIdx] = g.op("TopK", [probs, i64([K])], { axis: attr.i(-1), largest: attr.i(1), sorted: attr.i(1) }, { outputs: 2 });
  const renorm = g.op1("Div", [topP, g.op1("ReduceSum", [topP, i64([-1])], { keepdims: attr.i(1) })]);
  const weights = g.op1("Mul", [renorm, g.op1("Gather", [perExpert, topIdx], { axis: attr.i(0) })], {}, { stem: "routing_weights" }); // [N, K]

  // assignments (token, slot) sorted by expert; expert e's are rows bounds[e] .. bounds[e + 1]
  const flatIdx = g.op1("Reshape", [topIdx, i64([-1])]); // [N * K]
  const count = g.op1("Shape", [flatIdx]);
  const [, order] = g.op("TopK", [cast(flatIdx, F), count], { axis: attr.i(-1), largest: attr.i(0), sorted: attr.i(1) }, { outputs: 2 });
  const tokenOf = g.op1("Div", [order, g.int64([K], [])]);
  const sorted = g.op1("Gather", [g.op1("Reshape", [xe, i64([-1, d])]), tokenOf], { axis: attr.i(0) });
  const experts = g.int64(Array.from({ length: E + 1 }, (_, e) => e), [E + 1, 1]);
  const bounds = g.op1("ReduceSum", [cast(g.op1("Less", [g.op1("Unsqueeze", [flatIdx, i64([0])]), experts]), I64), i64([1])], { keepdims: attr.i(0) }, { stem: "expert_bounds" });
  const storage = w.storageFor("experts");
  const outs: string[] = [];
  for (let e = 0; e < E; e++) {
    const from = g.op1("Slice", [bounds, i64([e]), i64([e + 1])]);
    const to = g.op1("Slice", [bounds, i64([e + 1]), i64([e + 2])]);
    const rows = g.op1("Slice", [sorted, from, to, i64([0])], {}, { stem: `expert_${e}_rows` });
    const gateUp = w.linear(`${t.expertsGateUp}[${e}]`, 2 * I, d, { storage, as: `${t.expertsGateUp}.${e}` }).apply(rows);
    const [gate, up] = g.op("Split", [gateUp, i64([I, I])], { axis: attr.i(-1) }, { outputs: 2 });
    outs.push(w.linear(`${t.expertsDown}[${e}]`, d, I, { storage, as: `${t.expertsDown}.${e}` }).apply(g.op1("Mul", [act(gate), up])));
  }
  const sortedOut = g.op1("Concat", outs, { axis: attr.i(0) });
  const [, back] = g.op("TopK", [cast(order, F), count], { axis: attr.i(-1), largest: attr.i(0), sorted: attr.i(1) }, { outputs: 2 });
  const perSlot = g.op1("Reshape", [g.op1("Gather", [sortedOut, back], { axis: attr.i(0) }), i64([-1, K, d])]);
  const wT = T === F ? weights : cast(weights, T);
  const mixed = g.op1("ReduceSum", [g.op1("Mul", [perSlot, g.op1("Unsqueeze", [wT, i64([2])])]), i64([1])], { keepdims: attr.i(0) }, { stem: "moe_out" });
  return g.op1("Reshape", [mixed, g.op1("Shape", [xe])]);
}

function transposed(v: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(v.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = v[r * cols + c];
  return out;
}
