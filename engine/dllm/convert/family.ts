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
  q: string;
  k: string;
  v: string;
  o: string;
  /** q/k/v biases (Dream/Qwen2), absent when the layers have none */
  qBias?: string;
  kBias?: string;
  vBias?: string;
  mlpNorm: string;
  /** SwiGLU: down(silu(gate(x)) * up(x)) */
  gate: string;
  up: string;
  down: string;
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

export interface FamilyModel {
  decoder: DecoderSpec;
  tokens: SpecialTokens;
  /** Dream-style: position j's prediction is the model's output row j - 1 */
  shiftLogits: boolean;
  /** longest prompt + generation the model was trained for */
  maxLength: number;
  /** the chat template to use when the checkpoint's tokenizer_config.json has none */
  chatTemplate: string | null;
  /** how to build tokenizer.json when the checkpoint has only a slow tokenizer's files */
  slowTokenizer?: "qwen2-bpe";
}

export interface Family {
  /** what maskflow.json "family" says */
  id: string;
  /** for messages: the models this family covers */
  covers: string;
  /** whether this family reads this config.json */
  matches(config: Record<string, unknown>): boolean;
  /** The architecture, token ids and defaults, from config.json, the tensors and the tokenizer. */
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
