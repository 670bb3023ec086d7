// The Qwen2 decoder as Hugging Face lays it out (Qwen2ForCausalLM's names and config fields), shared
// by the families built on it: Dream (run bidirectionally) and Fast-dLLM v2 (block-causal). q/k/v
// have biases, K/V heads are grouped, RoPE is the default one on all of head_dim, and the head is
// the embedding when tie_word_embeddings is true.
import { describeConfig, intField, numberField, type DecoderSpec } from "../family.js";
import type { Checkpoint } from "../checkpoint.js";

/** The decoder of a Qwen2-layout checkpoint; refuses the config settings the graph does not implement. */
export function qwen2Decoder(ckpt: Checkpoint, family: string): DecoderSpec {
  const c = ckpt.config;
  const dir = ckpt.dir;
  const scaling = c.rope_scaling as { rope_type?: string; type?: string } | null | undefined;
  const ropeType = scaling ? (scaling.rope_type ?? scaling.type) : "default";
  if (ropeType !== "default") throw new Error(`${dir}/config.json: rope_scaling ${JSON.stringify(scaling)}; Maskflow's ${family} graph has the default RoPE only (${describeConfig(c)})`);
  const sliding = c.use_sliding_window === true || (Array.isArray(c.layer_types) && c.layer_types.some((t) => t === "sliding_attention"));
  if (sliding) throw new Error(`${dir}/config.json: sliding-window attention is on ("use_sliding_window" / "layer_types"); Maskflow's ${family} graph attends over the whole sequence`);
  if (c.hidden_act !== undefined && c.hidden_act !== "silu") throw new Error(`${dir}/config.json: "hidden_act" is ${JSON.stringify(c.hidden_act)}; expected "silu"`);
  const hidden = intField(c, "hidden_size", dir);
  const heads = intField(c, "num_attention_heads", dir);
  const kvHeads = intField(c, "num_key_value_heads", dir, heads);
  if (hidden % heads !== 0 || heads % kvHeads !== 0) throw new Error(`${dir}/config.json: hidden_size ${hidden}, heads ${heads}, key/value heads ${kvHeads} do not divide evenly`);
  return {
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
  };
}
