// Fast-dLLM v2 (Efficient-Large-Model/Fast_dLLM_v2_1.5B and _7B, block-diffusion fine-tunes of
// Qwen2.5-1.5B/7B-Instruct): model_type "Fast_dLLM_Qwen". Facts and sources: shared reference
// real-models.md section 8 (B2) and models/reference/fast_dllm_v2_reference.py. The weights keep the
// Qwen2 layout (./qwen2.ts); what differs is how they are run: block-causal attention over blocks of
// config.json's bd_size (32), logits shifted as Dream's (position j is predicted by row j - 1, so a
// block's first token comes from the previous block's last row: the sampler's autoregressive step),
// and upstream's decoding: sub-blocks of 8 filled left to right, each step committing the most
// probable masked position and every one above 0.9 (the official chatbot's threshold), generation
// ending once the output holds <|im_end|> with nothing masked before it.
import { tokenId, type TokenizerFiles } from "../tokenizer.js";
import { describeConfig, intField, type Family, type FamilyModel } from "../family.js";
import type { Checkpoint } from "../checkpoint.js";
import { CHATML_TEMPLATE } from "./dream.js";
import { qwen2Decoder } from "./qwen2.js";

/** upstream's FAST_DLLM_MASK_ID and FAST_DLLM_STOP_TOKEN (the token ids of |<MASK>| and <|im_end|>) */
const MASK_ID = 151665;
const STOP_ID = 151645;

const fastDllmV2: Family = {
  id: "fast_dllm_v2",
  covers: 'Fast-dLLM v2 1.5B/7B (model_type "Fast_dLLM_Qwen")',
  matches: (config) =>
    config.model_type === "Fast_dLLM_Qwen" || (Array.isArray(config.architectures) && config.architectures.includes("Fast_dLLM_QwenForCausalLM")),

  describe(ckpt: Checkpoint, tok: TokenizerFiles): FamilyModel {
    const c = ckpt.config;
    const dir = ckpt.dir;
    const decoder = qwen2Decoder(ckpt, "Fast-dLLM v2");
    const blockSize = intField(c, "bd_size", dir, 32);
    const inVocab = (id: number) => (id < decoder.vocab ? id : undefined);
    const mask = (typeof c.mask_token_id === "number" ? c.mask_token_id : undefined) ?? tokenId(tok, "|<MASK>|") ?? inVocab(MASK_ID);
    if (mask === undefined) throw new Error(`${dir}: no mask token: config.json has no "mask_token_id", the tokenizer has no |<MASK>| and ${MASK_ID} is outside the vocabulary (${describeConfig(c)})`);
    // the chat model stops at the end of its turn: upstream's stop token is <|im_end|>, config.json's eos_token_id
    const eos = tokenId(tok, "<|im_end|>") ?? (typeof c.eos_token_id === "number" ? c.eos_token_id : undefined) ?? inVocab(STOP_ID);
    if (eos === undefined) throw new Error(`${dir}: no stop token: the tokenizer has no <|im_end|> and config.json no "eos_token_id"`);
    return {
      decoder: { ...decoder, blockCausal: true },
      tokens: { mask, eos, eot: eos, pad: tokenId(tok, "<|endoftext|>") },
      shiftLogits: true,
      maxLength: Math.min(intField(c, "max_position_embeddings", dir, 32768), 4096),
      chatTemplate: tokenId(tok, "<|im_start|>") !== undefined ? CHATML_TEMPLATE : null,
      // the official chatbot: block 32, small_block_size 8, threshold 0.9
      blockDecoding: { blockSize, threshold: 0.9, subBlock: Math.min(8, blockSize), stopWhenSettled: true },
    };
  },
};

export default fastDllmV2;
