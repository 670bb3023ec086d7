"""Fast-dLLM v2 (Efficient-Large-Model/Fast_dLLM_v2_1.5B and _7B, model_type "Fast_dLLM_Qwen"): a
reference forward and generate(), in torch float32, written from the upstream remote code
(modeling.py's Fast_dLLM_QwenForCausalLM as published with the checkpoints; shared reference
real-models.md section 8), to check the converter's graph and the block sampler against.

Forward: Qwen2 unchanged (q/k/v biases, GQA, default RoPE at absolute positions, RMSNorm, SwiGLU),
with eval_block_diff_mask at inference: a key is visible when its block is not after the query's
(blocks of bd_size counted from position 0). Logits are shifted: position j is predicted by row j-1.

generate() (temperature 0, use_block_cache False, steps None: upstream's defaults):
  prompt longer than one block: prefill its whole blocks; if it ends on a block boundary, the
    prefill's last row gives the next block's first token (argmax)
  for each of max_new_tokens // block blocks (stop once the output holds the stop token):
    x = x + masks up to the next block boundary
    until the block has no masks: for each sub-block of small_block_size, left to right, until it
      has no masks: logits of the block's rows, shifted (row 0 stays row 0: cat(l[:1], l[:-1])),
      commit the most probable masked position of the sub-block and every one above threshold;
      before every forward: stop when the generated part holds the stop token with no mask before it
    a block without masks gets one forward (it writes the prefix cache upstream); its last row's
    argmax is the next block's first token
  output cut after the first stop token
Upstream prefills only when the prompt is longer than one block, so a prompt of exactly one block is
never seen (the first block is then denoised without it, at positions 0..B-1); generate() refuses
that length rather than reproduce it, and Maskflow prefills it (trap noted in models/README.md).
The prefix cache upstream keeps is exact under this mask, so recomputing the prefix here gives the
same rows.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hf_reference import attention, rms_norm, rotate_half
from llada2_reference import Margins, argmax_and_prob, block_bias, rope


def forward(state: dict, cfg: dict, ids: torch.Tensor, block: int) -> torch.Tensor:
    """Logits [1, S, V] of one row under the block mask."""
    _, S = ids.shape
    d, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = d // H
    eps = cfg["rms_norm_eps"]
    pos = torch.arange(S)
    cos, sin = rope(pos, hd, cfg["rope_theta"])
    bias = block_bias(pos, pos, block)
    x = F.embedding(ids, state["model.embed_tokens.weight"])
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}"
        n = rms_norm(x, state[f"{b}.input_layernorm.weight"], eps)
        lin = lambda name: n @ state[f"{b}.self_attn.{name}.weight"].T + state[f"{b}.self_attn.{name}.bias"]  # noqa: E731
        q = lin("q_proj").view(1, S, H, hd).transpose(1, 2)
        k = lin("k_proj").view(1, S, Hkv, hd).transpose(1, 2)
        v = lin("v_proj").view(1, S, Hkv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        att = torch.softmax((q @ k.transpose(-1, -2)) * hd ** -0.5 + bias, dim=-1) @ v
        x = x + att.transpose(1, 2).reshape(1, S, d) @ state[f"{b}.self_attn.o_proj.weight"].T
        n = rms_norm(x, state[f"{b}.post_attention_layernorm.weight"], eps)
        x = x + (F.silu(n @ state[f"{b}.mlp.gate_proj.weight"].T) * (n @ state[f"{b}.mlp.up_proj.weight"].T)) @ state[f"{b}.mlp.down_proj.weight"].T
    x = rms_norm(x, state["model.norm.weight"], eps)
    head = state["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else state["lm_head.weight"]
    return x @ head.T


class MaskPredicted(ValueError):
    pass


@torch.no_grad()
def generate(model, prompt: list[int], max_new_tokens: int, block: int, small_block: int, threshold: float,
             mask_id: int, stop_id: int, margins: Margins | None = None):
    """Upstream's generate() at temperature 0. Returns (tokens after the prompt, cut after the first stop token; trace)."""
    if len(prompt) == block:
        raise ValueError("upstream ignores a prompt of exactly one block (see the module docstring)")
    P = len(prompt)
    x = list(prompt)
    trace, step_no = [], 0

    def record(positions, tokens, probs):
        nonlocal step_no
        trace.append({"step": step_no, "block": positions[0] // block, "positions": [p - P for p in positions],
                      "tokens": tokens, "confidence": probs})
        step_no += 1

    def ar_token(logits_last):
        token, p = argmax_and_prob(logits_last)
        if margins:
            top2 = torch.topk(logits_last.float(), 2).values
            margins.see(top2)
        x.append(int(token))
        record([len(x) - 1], [int(token)], [float(p)])

    if P > block and P % block == 0:
        ar_token(model(torch.tensor([x]))[0, -1])
    num_blocks = max_new_tokens // block
    for _ in range(num_blocks):
        if stop_id in x[P:]:
            break
        start_len = len(x)
        x = x + [mask_id] * (block - start_len % block)

        def stopped():
            part = x[start_len:]
            return stop_id in part and mask_id not in part[:part.index(stop_id)]

        done = False
        while not done:
            if stopped():
                break
            bs = len(x) - block
            if mask_id not in x[bs:]:
                ar_token(model(torch.tensor([x]))[0, -1])
                break
            for sb in range(block // small_block):
                lo, hi = sb * small_block, (sb + 1) * small_block
                while True:
                    masked = torch.tensor([t == mask_id for t in x[bs:]])
                    if not masked[lo:hi].any():
                        break
                    if stopped():
                        done = True
                        break
                    logits = model(torch.tensor([x]))[0, -block:]
                    logits = torch.cat([logits[:1], logits[:-1]], dim=0)[lo:hi]
                    x1, p = argmax_and_prob(logits)
                    conf = torch.where(masked[lo:hi], p, torch.tensor(-math.inf))
                    unmask = conf > threshold
                    unmask[int(conf.argmax())] = True
                    unmask &= masked[lo:hi]
                    where = torch.nonzero(unmask).flatten().tolist()
                    if margins:
                        # what decides: each masked probability against the threshold, the two most
                        # probable positions when none clears it, and the committed rows' top two logits
                        finite = conf[torch.isfinite(conf)].double()
                        margins.closest = min(margins.closest, float((finite - threshold).abs().min()))
                        if float(finite.max()) <= threshold and finite.numel() > 1:
                            margins.see(finite)
                        for r in where:
                            margins.see(torch.topk(logits[r].float(), 2).values)
                    if any(int(x1[r]) == mask_id for r in where):
                        # upstream writes the mask back and loops forever; real checkpoints never predict it
                        raise MaskPredicted(f"the model predicted the mask token at step {step_no}")
                    for r in where:
                        x[bs + lo + r] = int(x1[r])
                    record([bs + lo + r for r in where], [int(x1[r]) for r in where], [float(p[r]) for r in where])
                if done:
                    break
    out = x[P:]
    return (out[:out.index(stop_id) + 1] if stop_id in out else out), trace


class FastDllmV2Reference(torch.nn.Module):
    def __init__(self, state: dict, cfg: dict, block: int):
        super().__init__()
        self.state, self.cfg, self.block = state, cfg, block

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return forward(self.state, self.cfg, ids, self.block)
