// LLaDA2.0 / LLaDA2.1 (inclusionAI/LLaDA2.0-mini, -flash, their previews, LLaDA2.1-mini/-flash):
// model_type "llada2_moe", a BailingMoE-derived block-diffusion MoE. Facts and sources: shared
// reference real-models.md section 7 and its traps 9-18. What the graph does differently from
// LLaDA/Dream: a fused query_key_value split [H, K, K] heads, per-head RMSNorm on q and k, RoPE on
// the first head_dim * partial_rotary_factor dims, block-causal attention (the block size is a
// graph input; training and upstream decoding use 32), a dense SwiGLU layer 0 and MoE layers
// routed as DeepSeek's noaux_tc (sigmoid, expert_bias for selection only, group-limited top-k,
// renormalised weights times routed_scaling_factor) plus one shared expert.
import { tokenId, type TokenizerFiles } from "../tokenizer.js";
import { describeConfig, intField, numberField, type Family, type FamilyModel } from "../family.js";
import type { Checkpoint } from "../checkpoint.js";

/** The prompt format dInfer's tests and SGLang's example build (the checkpoint's own template wins when it has one). */
export const LLADA2_CHAT_TEMPLATE =
  "{% for message in messages %}<role>{{ 'HUMAN' if message['role'] == 'user' else message['role'] | upper }}</role>" +
  "{{ message['content'] }}<|role_end|>{% endfor %}{% if add_generation_prompt %}<role>ASSISTANT</role>{% endif %}";

/** generate()'s defaults upstream (mask and EOS are in neither config.json: trap 8) */
const MASK_ID = 156895;
const EOS_ID = 156892;

const llada2: Family = {
  id: "llada2_moe",
  covers: 'LLaDA2.0-mini/-flash and LLaDA2.1-mini/-flash (model_type "llada2_moe")',
  matches: (config) => config.model_type === "llada2_moe" || (Array.isArray(config.architectures) && config.architectures.includes("LLaDA2MoeModelLM")),

  describe(ckpt: Checkpoint, tok: TokenizerFiles): FamilyModel {
    const c = ckpt.config;
    const dir = ckpt.dir;
    const refuse = (what: string) => {
      throw new Error(`${dir}/config.json: ${what} (${describeConfig(c)})`);
    };
    if (c.score_function !== undefined && c.score_function !== "sigmoid") refuse(`"score_function" is ${JSON.stringify(c.score_function)}; Maskflow routes LLaDA2's experts with "sigmoid" only`);
    if (c.moe_router_enable_expert_bias === false) refuse('"moe_router_enable_expert_bias" is false; Maskflow\'s router adds the expert bias for selection, as LLaDA2 does');
    if (c.use_qkv_bias === true || c.use_bias === true) refuse("the attention has biases (use_qkv_bias / use_bias); LLaDA2's have none and neither does Maskflow's graph");
    const scaling = c.rope_scaling as { rope_type?: string; type?: string } | null | undefined;
    if (scaling && (scaling.rope_type ?? scaling.type) !== "default") refuse(`rope_scaling ${JSON.stringify(scaling)} is not supported`);
    const hidden = intField(c, "hidden_size", dir);
    const heads = intField(c, "num_attention_heads", dir);
    const kvHeads = intField(c, "num_key_value_heads", dir, heads);
    const headDim = intField(c, "head_dim", dir, Math.floor(hidden / heads));
    const layers = intField(c, "num_hidden_layers", dir);
    const experts = intField(c, "num_experts", dir);
    const groups = intField(c, "n_group", dir, 1);
    const topGroups = intField(c, "topk_group", dir, groups);
    const topK = intField(c, "num_experts_per_tok", dir);
    const firstDense = typeof c.first_k_dense_replace === "number" ? c.first_k_dense_replace : 0;
    if (experts % groups !== 0) refuse(`num_experts ${experts} is not a multiple of n_group ${groups}`);
    if (topK > (experts / groups) * topGroups) refuse(`num_experts_per_tok ${topK} is more than the ${(experts / groups) * topGroups} experts in topk_group ${topGroups} groups`);
    if (heads % kvHeads !== 0) refuse(`num_attention_heads ${heads} is not a multiple of num_key_value_heads ${kvHeads}`);
    // Trap 18: rotary_dim in config.json is never read; the width is head_dim * partial_rotary_factor.
    const rotaryDim = Math.floor(headDim * numberField(c, "partial_rotary_factor", dir, 1));
    if (rotaryDim % 2 !== 0 || rotaryDim > headDim) refuse(`a rotary width of ${rotaryDim} does not fit head_dim ${headDim}`);
    const moeInter = intField(c, "moe_intermediate_size", dir);
    const shared = typeof c.num_shared_experts === "number" && c.num_shared_experts > 0 ? c.num_shared_experts : 0;
    // Trap 12: whether q/k are normalised is decided by the tensors, not use_qk_norm (its default differs between copies).
    const qkNorm = ckpt.has("model.layers.0.attention.query_layernorm.weight");
    // Trap 14: a missing (zero) expert_bias silently changes routing.
    if (layers > firstDense && !ckpt.has(`model.layers.${firstDense}.mlp.gate.expert_bias`)) {
      throw new Error(`${dir}: the checkpoint has no model.layers.${firstDense}.mlp.gate.expert_bias; LLaDA2 routes with it (a zero bias would change which experts run)`);
    }
    const vocab = intField(c, "vocab_size", dir);
    const inVocab = (id: number | undefined) => (id !== undefined && id < vocab ? id : undefined);
    const mask = (typeof c.mask_token_id === "number" ? c.mask_token_id : undefined) ?? tokenId(tok, "<|mask|>") ?? inVocab(MASK_ID);
    if (mask === undefined) throw new Error(`${dir}: no mask token: config.json has no "mask_token_id", the tokenizer has no <|mask|>, and ${MASK_ID} is outside the vocabulary`);
    const eos = (typeof c.eos_token_id === "number" ? c.eos_token_id : undefined) ?? (typeof c.pad_token_id === "number" ? c.pad_token_id : undefined) ?? tokenId(tok, "<|endoftext|>") ?? inVocab(EOS_ID);
    if (eos === undefined) throw new Error(`${dir}: no end-of-text token in config.json (eos_token_id, pad_token_id) or the tokenizer`);
    return {
      decoder: {
        hidden,
        layers,
        heads,
        kvHeads,
        headDim,
        intermediate: intField(c, "intermediate_size", dir),
        vocab,
        normEps: numberField(c, "rms_norm_eps", dir, 1e-6),
        ropeTheta: numberField(c, "rope_theta", dir, 10000),
        rotaryDim,
        blockCausal: true,
        moe: { experts, topK, groups, topGroups, scaling: numberField(c, "routed_scaling_factor", dir, 1), intermediate: moeInter, sharedIntermediate: moeInter * shared },
        embed: "model.word_embeddings.weight",
        finalNorm: "model.norm.weight",
        head: c.tie_word_embeddings === true ? "model.word_embeddings.weight" : "lm_head.weight",
        layer: (i) => {
          const b = `model.layers.${i}`;
          const attention = {
            attnNorm: `${b}.input_layernorm.weight`,
            qkv: `${b}.attention.query_key_value.weight`,
            o: `${b}.attention.dense.weight`,
            ...(qkNorm ? { qNorm: `${b}.attention.query_layernorm.weight`, kNorm: `${b}.attention.key_layernorm.weight` } : {}),
            mlpNorm: `${b}.post_attention_layernorm.weight`,
          };
          if (i < firstDense) return { ...attention, gate: `${b}.mlp.gate_proj.weight`, up: `${b}.mlp.up_proj.weight`, down: `${b}.mlp.down_proj.weight` };
          const e = (n: number) => ({ gate: `${b}.mlp.experts.${n}.gate_proj.weight`, up: `${b}.mlp.experts.${n}.up_proj.weight`, down: `${b}.mlp.experts.${n}.down_proj.weight` });
          const s = { gate: `${b}.mlp.shared_experts.gate_proj.weight`, up: `${b}.mlp.shared_experts.up_proj.weight`, down: `${b}.mlp.shared_experts.down_proj.weight` };
          return { ...attention, moe: { router: `${b}.mlp.gate.weight`, expertBias: `${b}.mlp.gate.expert_bias`, expert: e, ...(shared ? { shared: s } : {}) } };
        },
      },
      tokens: { mask, eos, eot: tokenId(tok, "<|role_end|>"), pad: typeof c.pad_token_id === "number" ? c.pad_token_id : undefined },
      shiftLogits: false,
      maxLength: intField(c, "max_position_embeddings", dir, 4096),
      chatTemplate: tokenId(tok, "<role>") !== undefined ? LLADA2_CHAT_TEMPLATE : null,
      // upstream generate(): block_length 32, threshold 0.95; LLaDA2.1: editing_threshold 0.9, max_post_steps 16
      blockDecoding: { blockSize: 32, threshold: 0.95, editing: { threshold: 0.9, maxPostSteps: 16 } },
    };
  },
};

export default llada2;
