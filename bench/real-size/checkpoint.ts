// Random checkpoints with the real shapes of LLaDA-8B, Dream-7B, LLaDA2.0-mini, Fast-dLLM v2 1.5B and DiffusionGemma 26B-A4B (widths, heads, vocabulary, MLP,
// names, bf16 shards with an index, the tokenizer kinds), any number of layers: random weights of
// the real shapes cost what real ones do, without a 16 GB download. The tokenizer comes from the
// tiny fixtures (it has fewer ids than the model's rows, as the real ones do).
import { closeSync, copyFileSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "..", "..");
const FIXTURES = join(ROOT, "test", "fixtures", "convert");

interface Shape {
  family: "llada" | "dream" | "llada2" | "fast-dllm-v2" | "diffusion-gemma";
  hidden: number;
  heads: number;
  kvHeads: number;
  intermediate: number;
  vocab: number;
  layers: number;
  experts?: number;
  moeIntermediate?: number;
  headDim?: number;
  /** DiffusionGemma's full-attention layers: their head size and K/V heads (they have no v_proj) */
  globalHeadDim?: number;
  globalKvHeads?: number;
}

export const SHAPES: Record<string, Shape> = {
  /** GSAI-ML/LLaDA-8B-Instruct's config.json (shared reference real-models.md section 1) */
  llada8b: { family: "llada", hidden: 4096, heads: 32, kvHeads: 32, intermediate: 12288, vocab: 126464, layers: 32 },
  /** Dream-v0-Instruct-7B's shape (real-models.md section 4: 7,615,616,512 parameters) */
  dream7b: { family: "dream", hidden: 3584, heads: 28, kvHeads: 4, intermediate: 18944, vocab: 152064, layers: 28 },
  /** inclusionAI/LLaDA2.0-mini (real-models.md section 7: 16.26B parameters, 1.43B active) */
  llada2mini: { family: "llada2", hidden: 2048, heads: 16, kvHeads: 4, intermediate: 5120, vocab: 157184, layers: 20, experts: 256, moeIntermediate: 512, headDim: 128 },
  /** Efficient-Large-Model/Fast_dLLM_v2_1.5B: Qwen2.5-1.5B-Instruct's shape (tied embeddings), block 32 */
  fastdllm15b: { family: "fast-dllm-v2", hidden: 1536, heads: 12, kvHeads: 2, intermediate: 8960, vocab: 151936, layers: 28 },
  /**
   * google/diffusiongemma-26B-A4B-it's text model (shared reference diffusiongemma.md section 2):
   * 30 layers (5 sliding, 1 full, repeated), 128 experts of width 704 with 8 routed, a dense MLP of
   * 2112 beside them, canvas 256, tied head. The bench's shallow depths are sliding layers.
   */
  diffusiongemma26b: { family: "diffusion-gemma", hidden: 2816, heads: 16, kvHeads: 8, intermediate: 2112, vocab: 262144, layers: 30, experts: 128, moeIntermediate: 704, headDim: 256, globalHeadDim: 512, globalKvHeads: 2 },
  /** for the bench's smoke test: seconds, measures nothing useful */
  tiny: { family: "llada", hidden: 64, heads: 4, kvHeads: 4, intermediate: 160, vocab: 4160, layers: 4 },
};
export type ShapeName = string;

/** xorshift128+ -> roughly normal values (sum of three uniforms), fast enough for billions. */
class Noise {
  private s0 = 0x9e3779b9;
  private s1 = 0x7f4a7c15;
  constructor(seed: number) {
    this.s0 ^= seed;
    this.s1 ^= seed * 31;
  }
  fill(out: Float32Array, std: number, mean = 0): void {
    let a = this.s0 | 0;
    let b = this.s1 | 0;
    const k = (std * 2) / 2 ** 32; // three uniforms on [-0.5, 0.5): variance 1/4
    for (let i = 0; i < out.length; i++) {
      let t = a;
      a = b;
      t ^= t << 11;
      t ^= t >>> 8;
      b = t ^ b ^ (b >>> 19);
      const u1 = a >>> 0;
      const u2 = b >>> 0;
      const u3 = (a ^ (b << 7)) >>> 0;
      out[i] = mean + (u1 + u2 + u3 - 1.5 * 2 ** 32) * k;
    }
    this.s0 = a;
    this.s1 = b;
  }
}

function toBf16(values: Float32Array): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < bits.length; i++) {
    const x = bits[i];
    out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
  }
  return new Uint8Array(out.buffer);
}

interface TensorSpec {
  name: string;
  shape: number[];
  std: number;
  mean?: number;
}

function tensors(shape: ShapeName, layers: number): TensorSpec[] {
  const s = SHAPES[shape];
  const d = s.hidden;
  const hd = d / s.heads;
  const lin = (name: string, out: number, inp: number): TensorSpec => ({ name, shape: [out, inp], std: inp ** -0.5 });
  const norm = (name: string): TensorSpec => ({ name, shape: [d], std: 0.1, mean: 1 });
  const out: TensorSpec[] = [];
  if (s.family === "llada") {
    const p = "model.transformer";
    out.push({ name: `${p}.wte.weight`, shape: [s.vocab, d], std: 1 });
    for (let i = 0; i < layers; i++) {
      const b = `${p}.blocks.${i}`;
      out.push(norm(`${b}.attn_norm.weight`), lin(`${b}.q_proj.weight`, d, d), lin(`${b}.k_proj.weight`, s.kvHeads * hd, d), lin(`${b}.v_proj.weight`, s.kvHeads * hd, d));
      out.push(lin(`${b}.attn_out.weight`, d, d), norm(`${b}.ff_norm.weight`), lin(`${b}.ff_proj.weight`, s.intermediate, d), lin(`${b}.up_proj.weight`, s.intermediate, d), lin(`${b}.ff_out.weight`, d, s.intermediate));
    }
    out.push(norm(`${p}.ln_f.weight`), { name: `${p}.ff_out.weight`, shape: [s.vocab, d], std: 2 * d ** -0.5 });
  } else if (s.family === "llada2") {
    const hd2 = s.headDim!;
    out.push({ name: "model.word_embeddings.weight", shape: [s.vocab, d], std: 1 });
    for (let i = 0; i < layers; i++) {
      const b = `model.layers.${i}`;
      out.push(norm(`${b}.input_layernorm.weight`), lin(`${b}.attention.query_key_value.weight`, (s.heads + 2 * s.kvHeads) * hd2, d));
      out.push({ name: `${b}.attention.query_layernorm.weight`, shape: [hd2], std: 0.1, mean: 1 }, { name: `${b}.attention.key_layernorm.weight`, shape: [hd2], std: 0.1, mean: 1 });
      out.push(lin(`${b}.attention.dense.weight`, d, s.heads * hd2), norm(`${b}.post_attention_layernorm.weight`));
      if (i === 0) {
        out.push(lin(`${b}.mlp.gate_proj.weight`, s.intermediate, d), lin(`${b}.mlp.up_proj.weight`, s.intermediate, d), lin(`${b}.mlp.down_proj.weight`, d, s.intermediate));
        continue;
      }
      out.push(lin(`${b}.mlp.gate.weight`, s.experts!, d), { name: `${b}.mlp.gate.expert_bias`, shape: [s.experts!], std: 0.05 });
      for (let e = 0; e < s.experts!; e++) {
        const x = `${b}.mlp.experts.${e}`;
        out.push(lin(`${x}.gate_proj.weight`, s.moeIntermediate!, d), lin(`${x}.up_proj.weight`, s.moeIntermediate!, d), lin(`${x}.down_proj.weight`, d, s.moeIntermediate!));
      }
      const x = `${b}.mlp.shared_experts`;
      out.push(lin(`${x}.gate_proj.weight`, s.moeIntermediate!, d), lin(`${x}.up_proj.weight`, s.moeIntermediate!, d), lin(`${x}.down_proj.weight`, d, s.moeIntermediate!));
    }
    out.push(norm("model.norm.weight"), { name: "lm_head.weight", shape: [s.vocab, d], std: 2 * d ** -0.5 });
  } else if (s.family === "diffusion-gemma") {
    const p = "model.decoder";
    out.push({ name: `${p}.embed_tokens.weight`, shape: [s.vocab, d], std: 0.03 });
    const types = dgLayerTypes(layers);
    for (let i = 0; i < layers; i++) {
      const b = `${p}.layers.${i}`;
      const full = types[i] === "full_attention";
      const hd2 = full ? s.globalHeadDim! : s.headDim!;
      const kv = full ? s.globalKvHeads! : s.kvHeads;
      out.push(lin(`${b}.self_attn.q_proj.weight`, s.heads * hd2, d), lin(`${b}.self_attn.k_proj.weight`, kv * hd2, d));
      if (!full) out.push(lin(`${b}.self_attn.v_proj.weight`, kv * hd2, d));
      out.push(lin(`${b}.self_attn.o_proj.weight`, d, s.heads * hd2));
      for (const n of ["q_norm", "k_norm"]) out.push({ name: `${b}.self_attn.${n}.weight`, shape: [hd2], std: 0.1, mean: 1 });
      for (const n of ["input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm", "post_feedforward_layernorm_1", "pre_feedforward_layernorm_2", "post_feedforward_layernorm_2"]) out.push(norm(`${b}.${n}.weight`));
      out.push(lin(`${b}.mlp.gate_proj.weight`, s.intermediate, d), lin(`${b}.mlp.up_proj.weight`, s.intermediate, d), lin(`${b}.mlp.down_proj.weight`, d, s.intermediate));
      out.push(lin(`${b}.router.proj.weight`, s.experts!, d), norm(`${b}.router.scale`), { name: `${b}.router.per_expert_scale`, shape: [s.experts!], std: 0.1, mean: 1 });
      out.push({ name: `${b}.experts.gate_up_proj`, shape: [s.experts!, 2 * s.moeIntermediate!, d], std: d ** -0.5 }, { name: `${b}.experts.down_proj`, shape: [s.experts!, d, s.moeIntermediate!], std: s.moeIntermediate! ** -0.5 });
      out.push({ name: `${b}.layer_scalar`, shape: [1], std: 0.05, mean: 1 }, { name: `model.encoder.language_model.layers.${i}.layer_scalar`, shape: [1], std: 0.05, mean: 1 });
    }
    out.push(norm(`${p}.norm.weight`), norm(`${p}.self_conditioning.pre_norm.weight`));
    out.push(lin(`${p}.self_conditioning.gate_proj.weight`, s.intermediate, d), lin(`${p}.self_conditioning.up_proj.weight`, s.intermediate, d), lin(`${p}.self_conditioning.down_proj.weight`, d, s.intermediate));
  } else {
    out.push({ name: "model.embed_tokens.weight", shape: [s.vocab, d], std: 1 });
    for (let i = 0; i < layers; i++) {
      const b = `model.layers.${i}`;
      out.push(norm(`${b}.input_layernorm.weight`));
      for (const [n, o] of [["q_proj", d], ["k_proj", s.kvHeads * hd], ["v_proj", s.kvHeads * hd]] as const) {
        out.push(lin(`${b}.self_attn.${n}.weight`, o, d), { name: `${b}.self_attn.${n}.bias`, shape: [o], std: 0.1 });
      }
      out.push(lin(`${b}.self_attn.o_proj.weight`, d, d), norm(`${b}.post_attention_layernorm.weight`));
      out.push(lin(`${b}.mlp.gate_proj.weight`, s.intermediate, d), lin(`${b}.mlp.up_proj.weight`, s.intermediate, d), lin(`${b}.mlp.down_proj.weight`, d, s.intermediate));
    }
    out.push(norm("model.norm.weight"));
    // Fast-dLLM v2 1.5B ties its head to the embedding, as Qwen2.5-1.5B does
    if (s.family !== "fast-dllm-v2") out.push({ name: "lm_head.weight", shape: [s.vocab, d], std: 2 * d ** -0.5 });
  }
  return out;
}

/** DiffusionGemma's layer pattern (5 sliding, then 1 full), cut to `layers`. */
function dgLayerTypes(layers: number): string[] {
  return Array.from({ length: layers }, (_, i) => (i % 6 === 5 ? "full_attention" : "sliding_attention"));
}

function config(shape: ShapeName, layers: number): Record<string, unknown> {
  const s = SHAPES[shape];
  const base = JSON.parse(readFileSync(join(FIXTURES, `${s.family}-tiny`, "config.json"), "utf8")) as Record<string, unknown>;
  if (s.family === "diffusion-gemma") {
    const text = base.text_config as Record<string, unknown>;
    return {
      ...base,
      canvas_length: 256,
      text_config: { ...text, hidden_size: s.hidden, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, num_global_key_value_heads: s.globalKvHeads, head_dim: s.headDim, global_head_dim: s.globalHeadDim, intermediate_size: s.intermediate, moe_intermediate_size: s.moeIntermediate, num_experts: s.experts, top_k_experts: 8, num_hidden_layers: layers, layer_types: dgLayerTypes(layers), sliding_window: 1024, vocab_size: s.vocab, max_position_embeddings: 262144 },
    };
  }
  if (s.family === "llada") {
    const ids = s.vocab > 126336 ? { mask_token_id: 126336, eos_token_id: 126081, pad_token_id: 126081 } : {};
    return { ...base, d_model: s.hidden, n_heads: s.heads, n_kv_heads: s.kvHeads, n_layers: layers, mlp_hidden_size: s.intermediate, embedding_size: s.vocab, vocab_size: s.vocab, ...ids, max_sequence_length: 4096 };
  }
  if (s.family === "llada2") {
    return { ...base, hidden_size: s.hidden, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, head_dim: s.headDim, num_hidden_layers: layers, intermediate_size: s.intermediate, moe_intermediate_size: s.moeIntermediate, num_experts: s.experts, num_experts_per_tok: 8, n_group: 8, topk_group: 4, vocab_size: s.vocab, pad_token_id: 156892, max_position_embeddings: 16384 };
  }
  if (s.family === "fast-dllm-v2") {
    return { ...base, hidden_size: s.hidden, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, num_hidden_layers: layers, intermediate_size: s.intermediate, vocab_size: s.vocab, bd_size: 32, layer_types: Array(layers).fill("full_attention") };
  }
  return { ...base, hidden_size: s.hidden, num_attention_heads: s.heads, num_key_value_heads: s.kvHeads, num_hidden_layers: layers, intermediate_size: s.intermediate, vocab_size: s.vocab, mask_token_id: 151666, eos_token_id: 151643, pad_token_id: 151643 };
}

/** Writes the checkpoint (once: an existing complete one is reused); returns its folder and size. */
export function makeCheckpoint(shape: ShapeName, layers: number, dir: string, log: (line: string) => void = () => undefined): { dir: string; bytes: number; parameters: number } {
  const specs = tensors(shape, layers);
  const parameters = specs.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
  const done = join(dir, ".complete");
  if (existsSync(done)) return { dir, bytes: parameters * 2, parameters };
  mkdirSync(dir, { recursive: true });
  // shards of up to 4 GiB, in order (the converter follows weight_map either way)
  const shards: TensorSpec[][] = [[]];
  let size = 0;
  for (const t of specs) {
    const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
    if (size + bytes > 4 * 2 ** 30 && shards.at(-1)!.length) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(t);
    size += bytes;
  }
  const names = shards.map((_, i) => `model-${String(i + 1).padStart(5, "0")}-of-${String(shards.length).padStart(5, "0")}.safetensors`);
  const noise = new Noise(shape.length * 7919 + layers);
  const weightMap: Record<string, string> = {};
  shards.forEach((list, i) => {
    const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
    let offset = 0;
    for (const t of list) {
      const bytes = t.shape.reduce((a, b) => a * b, 1) * 2;
      header[t.name] = { dtype: "BF16", shape: t.shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
      weightMap[t.name] = names[i];
    }
    let json = JSON.stringify(header);
    json += " ".repeat((8 - (json.length % 8)) % 8);
    const fd = openSync(join(dir, names[i]), "w");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    const chunk = new Float32Array(1 << 24);
    for (const t of list) {
      let left = t.shape.reduce((a, b) => a * b, 1);
      while (left > 0) {
        const n = Math.min(left, chunk.length);
        const part = chunk.subarray(0, n);
        noise.fill(part, t.std, t.mean ?? 0);
        writeSync(fd, toBf16(part));
        left -= n;
      }
    }
    closeSync(fd);
    log(`  wrote ${names[i]}`);
  });
  writeFileSync(join(dir, "model.safetensors.index.json"), JSON.stringify({ metadata: { total_size: parameters * 2 }, weight_map: weightMap }, null, 1));
  writeFileSync(join(dir, "config.json"), JSON.stringify(config(shape, layers), null, 2));
  const family = SHAPES[shape].family;
  const tokenizerFiles = family === "dream" ? ["vocab.json", "merges.txt", "tokenizer_config.json"] : family === "diffusion-gemma" ? ["tokenizer.json", "tokenizer_config.json", "generation_config.json"] : ["tokenizer.json", "tokenizer_config.json"];
  for (const f of tokenizerFiles) copyFileSync(join(FIXTURES, `${family}-tiny`, f), join(dir, f));
  writeFileSync(done, "");
  return { dir, bytes: parameters * 2, parameters };
}
