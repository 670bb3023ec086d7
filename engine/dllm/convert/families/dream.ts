// Dream (Dream-org/Dream-v0-Base-7B, Dream-v0-Instruct-7B, and Dream-architecture models such as
// DiffuCoder): a Qwen2 decoder (./qwen2.ts) run without a causal mask. model_type "Dream". Facts and sources:
// shared reference real-models.md section 4. Differences from LLaDA that matter here: q/k/v have
// biases, K/V heads are grouped (GQA, 7 query heads per K/V head at 7B), RMSNorm eps 1e-6, rope
// theta 1e6, and the logits are shifted: position j is predicted by output row j - 1 (done by the
// sampler, maskflow.json shift_logits, not in the graph). The tokenizer ships as a slow
// Qwen2-style BPE (vocab.json + merges.txt), so tokenizer.json is built from it.
import { tokenId, type TokenizerFiles } from "../tokenizer.js";
import { intField, type Family, type FamilyModel } from "../family.js";
import { qwen2Decoder } from "./qwen2.js";
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
    const decoder = qwen2Decoder(ckpt, "Dream");
    const mask = typeof c.mask_token_id === "number" ? c.mask_token_id : tokenId(tok, "<|mask|>");
    if (mask === undefined) throw new Error(`${dir}: no mask token: config.json has no "mask_token_id" and the tokenizer has no <|mask|>`);
    const eos = typeof c.eos_token_id === "number" ? c.eos_token_id : tokenId(tok, "<|endoftext|>");
    if (eos === undefined) throw new Error(`${dir}: no end-of-text token: config.json has no "eos_token_id" and the tokenizer has no <|endoftext|>`);
    const maxPositions = intField(c, "max_position_embeddings", dir, DREAM_CONTEXT);
    return {
      decoder,
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
