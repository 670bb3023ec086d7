// Dream (Dream-org/Dream-v0-Base-7B, Dream-v0-Instruct-7B, and Dream-architecture models such as
// DiffuCoder): a Qwen2 decoder run without a causal mask. model_type "Dream". Facts and sources:
// shared reference real-models.md section 4. Differences from LLaDA that matter here: q/k/v have
// biases, K/V heads are grouped (GQA, 7 query heads per K/V head at 7B), RMSNorm eps 1e-6, rope
// theta 1e6, and the logits are shifted: position j is predicted by output row j - 1 (done by the
// sampler, maskflow.json shift_logits, not in the graph). The tokenizer ships as a slow
// Qwen2-style BPE (vocab.json + merges.txt), so tokenizer.json is built from it.
import { tokenId, type TokenizerFiles } from "../tokenizer.js";
import { describeConfig, intField, numberField, type Family, type FamilyModel } from "../family.js";
import type { Checkpoint } from "../checkpoint.js";

/** ChatML with Qwen2's default system message, as Dream's demos render it. */
export const CHATML_TEMPLATE =
  "{%- for message in messages %}{%- if loop.first and message['role'] != 'system' %}" +
  "{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}" +
  "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{%- endfor %}" +
  "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}";

/** Dream's README: prompt + output of up to 2048 tokens, whatever max_position_embeddings (131072) says. */
const DREAM_CONTEXT = 2048;

const dream: Family = {
  id: "dream",
  covers: 'Dream-v0-Base-7B/-Instruct-7B and Dream-architecture models (model_type "Dream")',
  matches: (config) => config.model_type === "Dream" || (Array.isArray(config.architectures) && config.architectures.includes("DreamModel")),

  describe(ckpt: Checkpoint, tok: TokenizerFiles): FamilyModel {
    const c = ckpt.config;
    const dir = ckpt.dir;
    const scaling = c.rope_scaling as { rope_type?: string; type?: string } | null | undefined;
    const ropeType = scaling ? (scaling.rope_type ?? scaling.type) : "default";
    if (ropeType !== "default") throw new Error(`${dir}/config.json: rope_scaling ${JSON.stringify(scaling)}; Maskflow's Dream graph has the default RoPE only (${describeConfig(c)})`);
    if (c.use_sliding_window === true) throw new Error(`${dir}/config.json: "use_sliding_window" is true; Maskflow's Dream graph attends over the whole sequence`);
    if (c.hidden_act !== undefined && c.hidden_act !== "silu") throw new Error(`${dir}/config.json: "hidden_act" is ${JSON.stringify(c.hidden_act)}; expected "silu"`);
    const hidden = intField(c, "hidden_size", dir);
    const heads = intField(c, "num_attention_heads", dir);
    const kvHeads = intField(c, "num_key_value_heads", dir, heads);
    if (hidden % heads !== 0 || heads % kvHeads !== 0) throw new Error(`${dir}/config.json: hidden_size ${hidden}, heads ${heads}, key/value heads ${kvHeads} do not divide evenly`);
    const mask = typeof c.mask_token_id === "number" ? c.mask_token_id : tokenId(tok, "<|mask|>");
    if (mask === undefined) throw new Error(`${dir}: no mask token: config.json has no "mask_token_id" and the tokenizer has no <|mask|>`);
    const eos = typeof c.eos_token_id === "number" ? c.eos_token_id : tokenId(tok, "<|endoftext|>");
    if (eos === undefined) throw new Error(`${dir}: no end-of-text token: config.json has no "eos_token_id" and the tokenizer has no <|endoftext|>`);
    const maxPositions = intField(c, "max_position_embeddings", dir, DREAM_CONTEXT);
    return {
      decoder: {
        hidden,
        layers: intField(c, "num_hidden_layers", dir),
        heads,
        kvHeads,
        headDim: hidden / heads,
        intermediate: intField(c, "intermediate_size", dir),
        vocab: intField(c, "vocab_size", dir),
        normEps: numberField(c, "rms_norm_eps", dir, 1e-6),
        ropeTheta: numberField(c, "rope_theta", dir, 10000),
        embed: "model.embed_tokens.weight",
        finalNorm: "model.norm.weight",
        head: c.tie_word_embeddings === true ? "model.embed_tokens.weight" : "lm_head.weight",
        layer: (i) => {
          const b = `model.layers.${i}`;
          return {
            attnNorm: `${b}.input_layernorm.weight`,
            q: `${b}.self_attn.q_proj.weight`,
            k: `${b}.self_attn.k_proj.weight`,
            v: `${b}.self_attn.v_proj.weight`,
            o: `${b}.self_attn.o_proj.weight`,
            qBias: `${b}.self_attn.q_proj.bias`,
            kBias: `${b}.self_attn.k_proj.bias`,
            vBias: `${b}.self_attn.v_proj.bias`,
            mlpNorm: `${b}.post_attention_layernorm.weight`,
            gate: `${b}.mlp.gate_proj.weight`,
            up: `${b}.mlp.up_proj.weight`,
            down: `${b}.mlp.down_proj.weight`,
          };
        },
      },
      tokens: {
        mask,
        eos,
        eot: tokenId(tok, "<|im_end|>"),
        pad: typeof c.pad_token_id === "number" ? c.pad_token_id : undefined,
      },
      shiftLogits: true,
      maxLength: Math.min(maxPositions, DREAM_CONTEXT),
      chatTemplate: tokenId(tok, "<|im_start|>") !== undefined ? CHATML_TEMPLATE : null,
      slowTokenizer: "qwen2-bpe",
    };
  },
};

export default dream;
