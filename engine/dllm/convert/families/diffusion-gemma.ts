// DiffusionGemma (google/diffusiongemma-26B-A4B-it): model_type "diffusion_gemma", Google's
// uniform-noise block diffusion on the Gemma 4 26B-A4B MoE backbone. Facts and sources: shared
// reference diffusiongemma.md (sections 2-5, traps 1-16) and models/reference/
// diffusion_gemma_reference.py. Text only: the vision tower is skipped and said so.
//
// What differs from the masked families: no mask token (a canvas starts as uniformly random ids and
// every step re-randomises the positions it does not keep), a causal encoder pass that caches the
// context's K/V and a bidirectional decoder step over the canvas against that cache, with the same
// weights (stored once, under model.decoder.*), self-conditioning on the previous step's soft
// embedding, and Gemma 4's layers: sliding-window and full attention layers with their own head
// sizes and RoPE, full layers without v_proj, a dense MLP and a softmax top-k MoE in parallel
// between seven norms, a per-layer scalar, and a final 30 tanh(x / 30) logit softcap.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { tokenId, type TokenizerFiles } from "../tokenizer.js";
import { describeConfig, intField, type AttentionGeometry, type Family, type FamilyModel } from "../family.js";
import type { Checkpoint } from "../checkpoint.js";

/** Gemma 4's turn format (diffusiongemma.md section 6); the checkpoint's own template wins when it has one. */
export const GEMMA4_CHAT_TEMPLATE =
  "{{ bos_token }}{% for message in messages %}<|turn>{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n" +
  "{{ message['content'] | trim }}<turn|>\n{% endfor %}{% if add_generation_prompt %}<|turn>model\n<|channel>thought\n<channel|>{% endif %}";

/** Sampler defaults when generation_config.json is absent: transformers' own fallbacks (T2), the released values. */
const RELEASED = { max_new_tokens: 256, max_denoising_steps: 48, entropy_bound: 0.1, t_min: 0.4, t_max: 0.8, stability_threshold: 1, confidence_threshold: 0.005, stop: [1, 106, 50] };
const LAYER_TYPES = ["sliding_attention", "full_attention"] as const;

/** float32 -> bfloat16 -> float32, round to nearest even: what `embed_scale.to(bf16)` does to sqrt(hidden) (trap 2). */
export function bf16Round(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >>> 16) & 1)) & 0xffff0000;
  return f[0];
}

function readGenerationConfig(dir: string): Record<string, unknown> {
  const path = join(dir, "generation_config.json");
  if (!existsSync(path)) return {};
  try {
    const v = JSON.parse(readFileSync(path, "utf8")) as unknown;
    if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch (err) {
    throw new Error(`${path}: not valid JSON: ${(err as Error).message}`);
  }
  throw new Error(`${path}: not a JSON object`);
}

const diffusionGemma: Family = {
  id: "diffusion_gemma",
  covers: 'DiffusionGemma 26B-A4B (model_type "diffusion_gemma", text only)',
  matches: (config) =>
    config.model_type === "diffusion_gemma" || (Array.isArray(config.architectures) && config.architectures.includes("DiffusionGemmaForBlockDiffusion")),

  describe(ckpt: Checkpoint, tok: TokenizerFiles): FamilyModel {
    const root = ckpt.config;
    const dir = ckpt.dir;
    const file = `${dir}/config.json`;
    const tc = root.text_config as Record<string, unknown> | undefined;
    if (typeof tc !== "object" || tc === null || Array.isArray(tc)) throw new Error(`${file}: no "text_config" object (${describeConfig(root)}); DiffusionGemma keeps its text model's fields there`);
    const refuse = (field: string, what: string): never => {
      throw new Error(`${file}: text_config.${field} ${what}`);
    };
    const int = (f: string, fallback?: number): number => {
      const v = tc[f] ?? fallback;
      return typeof v === "number" && Number.isSafeInteger(v) && v > 0 ? v : refuse(f, `is ${v === undefined ? "missing" : JSON.stringify(v)}; expected a positive integer`);
    };
    const num = (f: string, fallback?: number): number => {
      const v = tc[f] ?? fallback;
      return typeof v === "number" && Number.isFinite(v) ? v : refuse(f, `is ${v === undefined ? "missing" : JSON.stringify(v)}; expected a number`);
    };
    if (tc.model_type !== undefined && tc.model_type !== "diffusion_gemma_text") refuse("model_type", `is ${JSON.stringify(tc.model_type)}; DiffusionGemma's text model is "diffusion_gemma_text"`);

    // Gemma 4 flags whose other values would be another architecture (trap 8: DiffusionGemma's
    // config omits them; its classes always take the MoE branch and full layers without v_proj)
    if (tc.enable_moe_block === false) refuse("enable_moe_block", "is false, but every DiffusionGemma layer runs the expert mixture beside its dense MLP");
    if (tc.attention_k_eq_v === false) refuse("attention_k_eq_v", "is false, but DiffusionGemma's full-attention layers have no v_proj (V is the key projection)");
    if (typeof tc.num_kv_shared_layers === "number" && tc.num_kv_shared_layers > 0) refuse("num_kv_shared_layers", `is ${tc.num_kv_shared_layers}; DiffusionGemma shares no KV cache between layers`);
    if (typeof tc.hidden_size_per_layer_input === "number" && tc.hidden_size_per_layer_input > 0) refuse("hidden_size_per_layer_input", `is ${tc.hidden_size_per_layer_input}; DiffusionGemma has no per-layer input embeddings`);
    if (tc.use_double_wide_mlp === true) refuse("use_double_wide_mlp", "is true; DiffusionGemma's MLPs are intermediate_size wide");
    if (tc.attn_logit_softcapping !== undefined && tc.attn_logit_softcapping !== null) refuse("attn_logit_softcapping", `is ${JSON.stringify(tc.attn_logit_softcapping)}; DiffusionGemma's attention has no softcap (only the final logits do)`);
    if (tc.attention_bias === true) refuse("attention_bias", "is true; DiffusionGemma's projections have no biases");
    if (tc.use_bidirectional_attention === "all") refuse("use_bidirectional_attention", 'is "all"; DiffusionGemma\'s encoder is causal for text ("vision" or absent)');
    const activation = tc.hidden_activation ?? "gelu_pytorch_tanh";
    if (activation !== "gelu_pytorch_tanh") refuse("hidden_activation", `is ${JSON.stringify(activation)}; Maskflow's graph runs DiffusionGemma's gelu_pytorch_tanh`);

    const hidden = int("hidden_size");
    const layers = int("num_hidden_layers");
    const heads = int("num_attention_heads");
    const vocab = int("vocab_size");
    const types = tc.layer_types;
    if (!Array.isArray(types) || types.length !== layers || !types.every((t) => (LAYER_TYPES as readonly unknown[]).includes(t))) {
      refuse("layer_types", `must list ${layers} entries (num_hidden_layers), each "sliding_attention" or "full_attention"; it is ${JSON.stringify(types)?.slice(0, 120)}`);
    }
    const layerTypes = types as string[];
    const rope = tc.rope_parameters as Record<string, Record<string, unknown>> | undefined;
    const geometry = (type: string): AttentionGeometry => {
      const sliding = type === "sliding_attention";
      const headDim = sliding ? int("head_dim") : int("global_head_dim", int("head_dim"));
      const kvHeads = sliding ? int("num_key_value_heads") : int("num_global_key_value_heads", int("num_key_value_heads"));
      if (heads % kvHeads !== 0) refuse(sliding ? "num_key_value_heads" : "num_global_key_value_heads", `${kvHeads} does not divide num_attention_heads ${heads}`);
      const p = rope?.[type];
      if (!p || typeof p.rope_theta !== "number") refuse(`rope_parameters.${type}`, `is ${JSON.stringify(p)}; expected an object with rope_theta`);
      const kind = p!.rope_type ?? "default";
      let pairs = headDim / 2;
      if (kind === "proportional") {
        const factor = typeof p!.partial_rotary_factor === "number" ? p!.partial_rotary_factor : 1;
        pairs = Math.floor((factor * headDim) / 2);
      } else if (kind !== "default") refuse(`rope_parameters.${type}.rope_type`, `is ${JSON.stringify(kind)}; Maskflow reads "default" and "proportional"`);
      const window = sliding ? int("sliding_window") : undefined;
      return { heads, kvHeads, headDim, rope: { theta: p!.rope_theta as number, pairs }, window, valueFromKey: !sliding };
    };
    const used = [...new Set(layerTypes)];
    const geometries = Object.fromEntries(used.map((t) => [t, geometry(t)]));

    const b = (i: number) => `model.decoder.layers.${i}`;
    // The layer scalars are buffers: a checkpoint without them would run with 1.0, silently another model.
    for (let i = 0; i < layers; i++) {
      for (const name of [`${b(i)}.layer_scalar`, `model.encoder.language_model.layers.${i}.layer_scalar`]) {
        if (!ckpt.has(name)) {
          const where = existsSync(join(dir, "model.safetensors.index.json")) ? "model.safetensors.index.json" : "the safetensors file";
          throw new Error(`${dir}: ${where} has no tensor "${name}": DiffusionGemma multiplies each layer's output by its layer_scalar (a missing one is not 1.0)`);
        }
      }
    }
    if (!ckpt.has("model.decoder.embed_tokens.weight")) throw new Error(`${dir}: the checkpoint has no model.decoder.embed_tokens.weight; DiffusionGemma stores its text weights once, under model.decoder.* (trap 7)`);
    const tied = root.tie_word_embeddings !== false && tc.tie_word_embeddings !== false;
    if (!tied && !ckpt.has("lm_head.weight")) throw new Error(`${file}: tie_word_embeddings is false but the checkpoint has no lm_head.weight`);

    const gen = readGenerationConfig(dir);
    const genNum = (f: keyof typeof RELEASED & string): number => {
      const v = gen[f] ?? RELEASED[f];
      if (typeof v !== "number" || !Number.isFinite(v)) throw new Error(`${dir}/generation_config.json: "${f}" is ${JSON.stringify(v)}; expected a number`);
      return v;
    };
    const sampler = gen.sampler_config as { _cls_name?: string; entropy_bound?: number } | undefined;
    if (sampler && sampler._cls_name !== undefined && sampler._cls_name !== "EntropyBoundSamplerConfig") {
      throw new Error(`${dir}/generation_config.json: sampler_config._cls_name is ${JSON.stringify(sampler._cls_name)}; Maskflow implements DiffusionGemma's EntropyBoundSampler`);
    }
    const eosList = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is number => Number.isSafeInteger(x)) : Number.isSafeInteger(v) ? [v as number] : null);
    const stop = eosList(gen.eos_token_id) ?? eosList(root.eos_token_id) ?? RELEASED.stop;
    const canvasLength = intField(root, "canvas_length", dir, 256);
    const pad = typeof tc.pad_token_id === "number" ? tc.pad_token_id : 0;
    const inVocab = (id: number | undefined) => (id !== undefined && id < vocab ? id : undefined);

    return {
      canvas: {
        hidden,
        layers,
        vocab,
        normEps: num("rms_norm_eps", 1e-6),
        intermediate: int("intermediate_size"),
        types: geometries,
        layerType: (i) => layerTypes[i],
        embedScale: bf16Round(Math.sqrt(hidden)),
        attentionScale: 1,
        softcap: typeof tc.final_logit_softcapping === "number" ? tc.final_logit_softcapping : null,
        activation: "gelu_tanh",
        moe: { experts: int("num_experts"), topK: int("top_k_experts"), intermediate: int("moe_intermediate_size") },
        selfConditioning: {
          preNorm: "model.decoder.self_conditioning.pre_norm.weight",
          gate: "model.decoder.self_conditioning.gate_proj.weight",
          up: "model.decoder.self_conditioning.up_proj.weight",
          down: "model.decoder.self_conditioning.down_proj.weight",
        },
        embed: "model.decoder.embed_tokens.weight",
        finalNorm: "model.decoder.norm.weight",
        head: tied ? "model.decoder.embed_tokens.weight" : "lm_head.weight",
        layer: (i) => ({
          attnNorm: `${b(i)}.input_layernorm.weight`,
          q: `${b(i)}.self_attn.q_proj.weight`,
          k: `${b(i)}.self_attn.k_proj.weight`,
          ...(layerTypes[i] === "full_attention" ? {} : { v: `${b(i)}.self_attn.v_proj.weight` }),
          o: `${b(i)}.self_attn.o_proj.weight`,
          qNorm: `${b(i)}.self_attn.q_norm.weight`,
          kNorm: `${b(i)}.self_attn.k_norm.weight`,
          postAttnNorm: `${b(i)}.post_attention_layernorm.weight`,
          mlpNorm: `${b(i)}.pre_feedforward_layernorm.weight`,
          gate: `${b(i)}.mlp.gate_proj.weight`,
          up: `${b(i)}.mlp.up_proj.weight`,
          down: `${b(i)}.mlp.down_proj.weight`,
          postMlpNorm: `${b(i)}.post_feedforward_layernorm_1.weight`,
          expertsNorm: `${b(i)}.pre_feedforward_layernorm_2.weight`,
          postExpertsNorm: `${b(i)}.post_feedforward_layernorm_2.weight`,
          expertsGateUp: `${b(i)}.experts.gate_up_proj`,
          expertsDown: `${b(i)}.experts.down_proj`,
          router: `${b(i)}.router.proj.weight`,
          routerScale: `${b(i)}.router.scale`,
          perExpertScale: `${b(i)}.router.per_expert_scale`,
          ffNorm: `${b(i)}.post_feedforward_layernorm.weight`,
          decoderScalar: `${b(i)}.layer_scalar`,
          encoderScalar: `model.encoder.language_model.layers.${i}.layer_scalar`,
        }),
      },
      noise: { kind: "uniform" },
      decoding: {
        canvasLength,
        maxDenoisingSteps: genNum("max_denoising_steps"),
        maxNewTokens: genNum("max_new_tokens"),
        entropyBound: typeof sampler?.entropy_bound === "number" ? sampler.entropy_bound : RELEASED.entropy_bound,
        tMax: genNum("t_max"),
        tMin: genNum("t_min"),
        stabilityThreshold: genNum("stability_threshold"),
        confidenceThreshold: genNum("confidence_threshold"),
        stopIds: stop,
      },
      // No mask state in this model (trap 10): mask_token_id records the tokenizer's unused <mask> (Gemma's id 4).
      tokens: { mask: tokenId(tok, "<mask>") ?? inVocab(4) ?? pad, eos: stop[0] ?? 1, eot: tokenId(tok, "<turn|>"), pad },
      maxLength: int("max_position_embeddings", 262144),
      chatTemplate: tokenId(tok, "<|turn>") !== undefined ? GEMMA4_CHAT_TEMPLATE : null,
      skipped: {
        test: (name) => name.startsWith("model.encoder.vision_tower.") || name.startsWith("model.encoder.embed_vision."),
        message: "the vision tower is not converted: Maskflow runs DiffusionGemma on text only",
      },
    };
  },
};

export default diffusionGemma;
