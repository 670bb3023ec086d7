// What a model family module tells the converter. A family owns everything about one
// architecture: which configs it recognises, the config fields it reads, the checkpoint's tensor
// names, its special token ids, its chat template and decoding defaults. The graph builder
// (decoder.ts) and the samplers know no family by name: adding a family is one new file in
// families/ and a line in families/index.ts.
import type { Checkpoint } from "./checkpoint.js";
import type { TokenizerFiles } from "./tokenizer.js";

/** Tensor names of one transformer layer (nn.Linear weights are [out, in]). */
export interface LayerTensors {
  attnNorm: string;
  /** the q, k, v projections, or one fused [q; k; v] weight (qkv) */
  q?: string;
  k?: string;
  v?: string;
  qkv?: string;
  o: string;
  /** q/k/v biases (Dream/Qwen2), absent when the layers have none */
  qBias?: string;
  kBias?: string;
  vBias?: string;
  /** per-head RMSNorm weights [head_dim] on q and k before RoPE (LLaDA2) */
  qNorm?: string;
  kNorm?: string;
  mlpNorm: string;
  /** a dense SwiGLU MLP: down(silu(gate(x)) * up(x)) */
  gate?: string;
  up?: string;
  down?: string;
  /** or a mixture of SwiGLU experts (DecoderSpec.moe gives its shape) */
  moe?: MoeTensors;
}

export interface SwiGluTensors {
  gate: string;
  up: string;
  down: string;
}

export interface MoeTensors {
  /** the router's weight [experts, hidden] */
  router: string;
  /** added to the router's sigmoid scores for selection only */
  expertBias: string;
  expert(e: number): SwiGluTensors;
  shared?: SwiGluTensors;
}

/** DeepSeek-style routing (LLaDA2): sigmoid scores, group-limited top-k on score + bias, renormalised weights. */
export interface MoeSpec {
  experts: number;
  topK: number;
  groups: number;
  topGroups: number;
  /** routed_scaling_factor */
  scaling: number;
  intermediate: number;
  sharedIntermediate: number;
}

/**
 * A pre-norm transformer run without a causal mask: RMSNorm, attention with RoPE (half-split
 * rotation) and grouped K/V heads, a SwiGLU MLP, a final RMSNorm and an output projection.
 */
export interface DecoderSpec {
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  /** rows of the embedding and of the output head (may exceed the tokenizer's ids) */
  vocab: number;
  normEps: number;
  ropeTheta: number;
  /** RoPE on the first rotaryDim dims of each head only (default: all of head_dim) */
  rotaryDim?: number;
  /** block-causal attention (LLaDA2, Fast-dLLM v2): a key is seen when its block is not after the query's; the block size is a graph input */
  blockCausal?: boolean;
  moe?: MoeSpec;
  embed: string;
  finalNorm: string;
  /** the output projection's weight; the embedding's name when they are tied */
  head: string;
  layer(i: number): LayerTensors;
}

export interface SpecialTokens {
  mask: number;
  eos: number;
  /** end of turn, for chat models */
  eot?: number;
  pad?: number;
}

/**
 * One attention layer type of a model that mixes several (Gemma 4: sliding-window layers and
 * full layers, with their own head counts, head size and RoPE).
 */
export interface AttentionGeometry {
  heads: number;
  kvHeads: number;
  headDim: number;
  /**
   * RoPE (half-split rotation) with inverse frequencies 1 / theta^(2i / headDim) for the first
   * `pairs` frequency pairs and 0 for the others, which then pass unrotated ("proportional" RoPE:
   * pairs = partial_rotary_factor * headDim / 2; the exponent's denominator stays headDim).
   */
  rope: { theta: number; pairs: number };
  /** sliding window W: an encoder query sees the W positions up to itself, a canvas query the last W - 1 cached ones (and the whole canvas) */
  window?: number;
  /** no v_proj: V is the k_proj output before k_norm and RoPE (Gemma 4's full layers) */
  valueFromKey: boolean;
}

/** Tensor names of one sandwich-norm layer with a dense MLP and an expert mixture in parallel (Gemma 4 MoE). */
export interface CanvasLayerTensors {
  attnNorm: string;
  q: string;
  k: string;
  /** absent when the layer type's valueFromKey */
  v?: string;
  o: string;
  qNorm: string;
  kNorm: string;
  postAttnNorm: string;
  /** dense MLP: pre-norm, gated weights, post-norm */
  mlpNorm: string;
  gate: string;
  up: string;
  down: string;
  postMlpNorm: string;
  /** experts: pre-norm, post-norm; [experts, 2 * inter, hidden] (gate rows first) and [experts, hidden, inter] stacks */
  expertsNorm: string;
  postExpertsNorm: string;
  expertsGateUp: string;
  expertsDown: string;
  /** the router: proj [experts, hidden], scale [hidden] (on a no-weight RMSNorm of the residual), per_expert_scale [experts] */
  router: string;
  routerScale: string;
  perExpertScale: string;
  /** the norm of the two branches' sum, before the residual add */
  ffNorm: string;
  /** [1]: multiplies the whole residual stream after the layer, one per pass */
  decoderScalar: string;
  encoderScalar: string;
}

/**
 * A model that encodes its context causally into a KV cache and denoises a whole canvas
 * bidirectionally against that cache (DiffusionGemma): one set of weights, two passes, chosen by
 * the graph's `encode` input. See canvas-graph.ts.
 */
export interface CanvasSpec {
  hidden: number;
  layers: number;
  vocab: number;
  normEps: number;
  /** dense MLP and self-conditioning width */
  intermediate: number;
  /** attention layer types by name (config.json layer_types' values) */
  types: Record<string, AttentionGeometry>;
  layerType(i: number): string;
  /** token embeddings are multiplied by this (Gemma: sqrt(hidden) rounded to bf16) */
  embedScale: number;
  /** the attention scores' scale (Gemma 4: 1.0, the q/k norms do the scaling) */
  attentionScale: number;
  /** final logits become softcap * tanh(logits / softcap) */
  softcap: number | null;
  activation: "gelu_tanh";
  /** softmax routing over all experts, top-k renormalised, times per_expert_scale */
  moe: { experts: number; topK: number; intermediate: number };
  /** the decoder's input: no-weight RMSNorm(embed + down(act(gate(n)) * up(n))), n = preNorm(soft embedding) */
  selfConditioning: { preNorm: string; gate: string; up: string; down: string };
  embed: string;
  finalNorm: string;
  /** the output head; the embedding's name when tied */
  head: string;
  layer(i: number): CanvasLayerTensors;
}

/** How a model's canvas is noised: absorbing (a mask token, LLaDA/Dream/LLaDA2) or uniform over the vocabulary (DiffusionGemma). */
export type Noise = { kind: "absorbing" } | { kind: "uniform" };

/** DiffusionGemma's released sampler settings (generation_config.json: EntropyBoundSampler). */
export interface EntropyBoundDecoding {
  canvasLength: number;
  maxDenoisingSteps: number;
  maxNewTokens: number;
  entropyBound: number;
  tMax: number;
  tMin: number;
  stabilityThreshold: number;
  confidenceThreshold: number;
  stopIds: number[];
}

export interface CanvasFamilyModel {
  canvas: CanvasSpec;
  decoder?: undefined;
  noise: Noise;
  decoding: EntropyBoundDecoding;
  tokens: SpecialTokens;
  maxLength: number;
  chatTemplate: string | null;
  slowTokenizer?: undefined;
  /** checkpoint tensors the converter leaves out on purpose, and the message that says so */
  skipped?: { test: (name: string) => boolean; message: string };
}

export type FamilyModel = DecoderFamilyModel | CanvasFamilyModel;

export interface DecoderFamilyModel {
  decoder: DecoderSpec;
  canvas?: undefined;
  tokens: SpecialTokens;
  /** Dream-style: position j's prediction is the model's output row j - 1 */
  shiftLogits: boolean;
  /** longest prompt + generation the model was trained for */
  maxLength: number;
  /** the chat template to use when the checkpoint's tokenizer_config.json has none */
  chatTemplate: string | null;
  /** how to build tokenizer.json when the checkpoint has only a slow tokenizer's files */
  slowTokenizer?: "qwen2-bpe";
  /** block-causal models: the block size they were trained with, and the decoding rule's defaults */
  blockDecoding?: {
    blockSize: number;
    threshold: number;
    editing?: { threshold: number; maxPostSteps: number };
    /** Fast-dLLM v2: the block is filled in sub-blocks of this size, left to right */
    subBlock?: number;
    /** Fast-dLLM v2: generation ends once the output holds EOS with nothing masked before it */
    stopWhenSettled?: boolean;
  };
}

export interface Family {
  /** what maskflow.json "family" says */
  id: string;
  /** for messages: the models this family covers */
  covers: string;
  /** whether this family reads this config.json */
  matches(config: Record<string, unknown>): boolean;
  /** The architecture, token ids and defaults, from config.json (and generation_config.json), the tensors and the tokenizer. */
  describe(ckpt: Checkpoint, tokenizer: TokenizerFiles): FamilyModel;
}

/** A config field that must be a positive integer; the error names the file and field. */
export function intField(config: Record<string, unknown>, field: string, dir: string, fallback?: number): number {
  const v = config[field] ?? fallback;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v <= 0) {
    throw new Error(`${dir}/config.json: "${field}" is ${v === undefined ? "missing" : JSON.stringify(v)}; expected a positive integer`);
  }
  return v;
}

export function numberField(config: Record<string, unknown>, field: string, dir: string, fallback?: number): number {
  const v = config[field] ?? fallback;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new Error(`${dir}/config.json: "${field}" is ${v === undefined ? "missing" : JSON.stringify(v)}; expected a number`);
  }
  return v;
}

/** The config's architecture, as people name it: model_type and architectures. */
export function describeConfig(config: Record<string, unknown>): string {
  const type = typeof config.model_type === "string" ? `model_type "${config.model_type}"` : "no model_type";
  const arch = Array.isArray(config.architectures) ? `architectures [${config.architectures.map((a) => JSON.stringify(a)).join(", ")}]` : "no architectures";
  return `${type}, ${arch}`;
}
