// LLaDA (GSAI-ML/LLaDA-8B-Base, LLaDA-8B-Instruct, LLaDA 1.5): model_type "llada", OLMo-style
// config fields and module names. Facts and sources: shared reference real-models.md section 1.
// The blocks are "llama" blocks: RMSNorm -> q/k/v -> RoPE -> bidirectional attention -> attn_out;
// RMSNorm -> ff_out(silu(ff_proj(x)) * up_proj(x)). So ff_proj is the gate, up_proj the up
// projection, the block's ff_out the down projection, and model.transformer.ff_out (a second
// tensor of that name, outside the blocks) the output head.
import { tokenId, type TokenizerFiles } from "../tokenizer.js";
import { describeConfig, intField, numberField, type Family, type FamilyModel } from "../family.js";
import type { Checkpoint } from "../checkpoint.js";

/** LLaDA-8B-Instruct's own template (its tokenizer_config.json): it always ends with the assistant header. */
export const LLADA_CHAT_TEMPLATE =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + " +
  "'<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}" +
  "{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}";

/** Config values LLaDA's modeling code supports but this graph does not build: refuse them rather than convert wrongly. */
const REQUIRED: [field: string, value: unknown][] = [
  ["block_type", "llama"],
  ["layer_norm_type", "rms"],
  ["activation_type", "silu"],
  ["alibi", false],
  ["rope", true],
  ["include_bias", false],
  ["attention_layer_norm", false],
  ["scale_logits", false],
  ["input_emb_norm", false],
];

const llada: Family = {
  id: "llada",
  covers: 'LLaDA-8B-Base/-Instruct and LLaDA 1.5 (model_type "llada")',
  matches: (config) => config.model_type === "llada" || (Array.isArray(config.architectures) && config.architectures.includes("LLaDAModelLM")),

  describe(ckpt: Checkpoint, tok: TokenizerFiles): FamilyModel {
    const c = ckpt.config;
    const dir = ckpt.dir;
    for (const [field, value] of REQUIRED) {
      if (field in c && c[field] !== value) {
        throw new Error(`${dir}/config.json: "${field}" is ${JSON.stringify(c[field])}; Maskflow converts LLaDA checkpoints with ${field} ${JSON.stringify(value)} (${describeConfig(c)})`);
      }
    }
    if (c.clip_qkv != null) throw new Error(`${dir}/config.json: "clip_qkv" is ${JSON.stringify(c.clip_qkv)}; Maskflow's LLaDA graph does not clip q/k/v`);
    if (c.include_qkv_bias === true) throw new Error(`${dir}/config.json: "include_qkv_bias" is true; Maskflow's LLaDA graph has no q/k/v biases`);
    const hidden = intField(c, "d_model", dir);
    const heads = intField(c, "n_heads", dir);
    const kvHeads = intField(c, "n_kv_heads", dir, heads);
    if (hidden % heads !== 0 || heads % kvHeads !== 0) throw new Error(`${dir}/config.json: d_model ${hidden}, n_heads ${heads}, n_kv_heads ${kvHeads} do not divide evenly`);
    // Trap: mlp_hidden_size, when set, wins over mlp_ratio (LLaDA-8B: 12288, not 4 x 4096)
    const intermediate = typeof c.mlp_hidden_size === "number" ? intField(c, "mlp_hidden_size", dir) : Math.round(numberField(c, "mlp_ratio", dir) * hidden);
    const vocab = intField(c, "embedding_size", dir, intField(c, "vocab_size", dir));
    const p = "model.transformer";
    const mask = typeof c.mask_token_id === "number" ? c.mask_token_id : tokenId(tok, "<|mdm_mask|>");
    if (mask === undefined) throw new Error(`${dir}: no mask token: config.json has no "mask_token_id" and the tokenizer has no <|mdm_mask|>`);
    const eos = typeof c.eos_token_id === "number" ? c.eos_token_id : tokenId(tok, "<|endoftext|>");
    if (eos === undefined) throw new Error(`${dir}: no end-of-text token: config.json has no "eos_token_id" and the tokenizer has no <|endoftext|>`);
    const hasHeaders = tokenId(tok, "<|start_header_id|>") !== undefined && tokenId(tok, "<|eot_id|>") !== undefined;
    return {
      decoder: {
        hidden,
        layers: intField(c, "n_layers", dir),
        heads,
        kvHeads,
        headDim: hidden / heads,
        intermediate,
        vocab,
        normEps: numberField(c, "rms_norm_eps", dir, 1e-5),
        ropeTheta: numberField(c, "rope_theta", dir, 10000),
        embed: `${p}.wte.weight`,
        finalNorm: `${p}.ln_f.weight`,
        head: c.weight_tying === true ? `${p}.wte.weight` : `${p}.ff_out.weight`,
        layer: (i) => {
          const b = `${p}.blocks.${i}`;
          return {
            attnNorm: `${b}.attn_norm.weight`,
            q: `${b}.q_proj.weight`,
            k: `${b}.k_proj.weight`,
            v: `${b}.v_proj.weight`,
            o: `${b}.attn_out.weight`,
            mlpNorm: `${b}.ff_norm.weight`,
            gate: `${b}.ff_proj.weight`,
            up: `${b}.up_proj.weight`,
            down: `${b}.ff_out.weight`,
          };
        },
      },
      tokens: {
        mask,
        eos,
        eot: tokenId(tok, "<|eot_id|>"),
        pad: typeof c.pad_token_id === "number" ? c.pad_token_id : undefined,
      },
      shiftLogits: false,
      maxLength: intField(c, "max_sequence_length", dir, 4096),
      chatTemplate: hasHeaders ? LLADA_CHAT_TEMPLATE : null,
    };
  },
};

export default llada;
