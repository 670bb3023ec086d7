"""LLaDA2.0 / LLaDA2.1 (inclusionAI, model_type "llada2_moe"): a reference forward and the two
generation loops, in torch float32, written from the upstream modeling code (the HF remote code
as copied in ZHZisZZ/dllm, dllm/pipelines/llada2 and llada21; shared reference real-models.md
section 7), to check the converter's graphs and the block sampler against.

Forward: pre-norm blocks; attention with a fused query_key_value split [H, K, K] heads of
head_dim, per-head RMSNorm on q and k, RoPE on the first head_dim * partial_rotary_factor dims
(half-split inside those), GQA, an additive block mask; layer < first_k_dense_replace: a dense
SwiGLU MLP; the others: a sigmoid router in float32, selection on sigmoid + expert_bias with
group-limited top-k (n_group groups scored by the sum of their top 2, topk_group kept), mixing
weights the unbiased sigmoid of the chosen experts renormalised and scaled by
routed_scaling_factor, plus the shared expert. Logits are not shifted.

Generation (both with temperature 0 as argmax; upstream's 2.0 copies without the argmax branch
sample from the softmax: trap 10):
  generate_20: blocks counted from position 0, the prompt's last partial block decoded with the
    first new tokens; per step the masked positions above `threshold` are committed, or else the
    `num_transfer_tokens[step]` most confident; stop after a block that holds EOS.
  generate_21: its own loop: one token per step when none is above the threshold, committed
    non-prompt tokens of the current block are replaced when the model now prefers another one
    with probability above editing_threshold, up to max_post_steps passes after the last mask;
    EOS ends generation only with eos_early_stop.
The block mask is applied as what training used: a key is visible when its block is not after
the query's (0 / -inf added to the scores).
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from hf_reference import rms_norm, rotate_half


def rope(positions: torch.Tensor, dim: int, theta: float):
    inv_freq = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[None, None], emb.sin()[None, None]


def block_bias(q_pos: torch.Tensor, k_pos: torch.Tensor, block: int) -> torch.Tensor:
    allowed = (k_pos[None, :] // block) <= (q_pos[:, None] // block)
    return torch.zeros(allowed.shape).masked_fill(~allowed, float("-inf"))


def swiglu(x, gate, up, down):
    return (F.silu(x @ gate.T) * (x @ up.T)) @ down.T


def moe(state: dict, cfg: dict, prefix: str, x: torch.Tensor) -> torch.Tensor:
    T, d = x.shape
    E, G, KG, K = cfg["num_experts"], cfg["n_group"], cfg["topk_group"], cfg["num_experts_per_tok"]
    logits = x.float() @ state[f"{prefix}.gate.weight"].float().T
    scores = torch.sigmoid(logits)
    biased = scores + state[f"{prefix}.gate.expert_bias"]
    group_scores = biased.view(T, G, -1).topk(2, dim=-1)[0].sum(dim=-1)
    group_idx = torch.topk(group_scores, k=KG, dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores).scatter_(1, group_idx, 1)
    score_mask = group_mask.unsqueeze(-1).expand(T, G, E // G).reshape(T, -1)
    masked = biased.masked_fill(~score_mask.bool(), float("-inf"))
    _, idx = torch.topk(masked, k=K, dim=-1)
    w = torch.gather(scores, 1, idx)
    w = w / (w.sum(dim=-1, keepdim=True) + 1e-20) * cfg["routed_scaling_factor"]
    out = torch.zeros_like(x)
    for t in range(T):
        for j in range(K):
            e = int(idx[t, j])
            p = f"{prefix}.experts.{e}"
            out[t] += w[t, j] * swiglu(x[t:t + 1], state[f"{p}.gate_proj.weight"], state[f"{p}.up_proj.weight"], state[f"{p}.down_proj.weight"])[0]
    s = f"{prefix}.shared_experts"
    return out + swiglu(x, state[f"{s}.gate_proj.weight"], state[f"{s}.up_proj.weight"], state[f"{s}.down_proj.weight"])


def forward(state: dict, cfg: dict, ids: torch.Tensor, block: int, positions: torch.Tensor | None = None) -> torch.Tensor:
    """Logits [1, S, V] for one row, with the block mask over `positions` (default 0..S-1)."""
    _, S = ids.shape
    d, H, Hkv = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or d // H
    rd = int(hd * cfg.get("partial_rotary_factor", 1.0))
    eps = cfg["rms_norm_eps"]
    pos = torch.arange(S) if positions is None else positions
    cos, sin = rope(pos, rd, cfg["rope_theta"])
    bias = block_bias(pos, pos, block)
    x = F.embedding(ids, state["model.word_embeddings.weight"])
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}"
        n = rms_norm(x, state[f"{p}.input_layernorm.weight"], eps)
        qkv = (n @ state[f"{p}.attention.query_key_value.weight"].T).view(1, S, H + 2 * Hkv, hd)
        q, k, v = qkv.split([H, Hkv, Hkv], dim=-2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        q = rms_norm(q, state[f"{p}.attention.query_layernorm.weight"], eps)
        k = rms_norm(k, state[f"{p}.attention.key_layernorm.weight"], eps)
        q = torch.cat([q[..., :rd] * cos + rotate_half(q[..., :rd]) * sin, q[..., rd:]], dim=-1)
        k = torch.cat([k[..., :rd] * cos + rotate_half(k[..., :rd]) * sin, k[..., rd:]], dim=-1)
        k = k.repeat_interleave(H // Hkv, dim=1)
        v = v.repeat_interleave(H // Hkv, dim=1)
        att = torch.softmax((q @ k.transpose(-1, -2)) * hd ** -0.5 + bias, dim=-1) @ v
        x = x + att.transpose(1, 2).reshape(1, S, H * hd) @ state[f"{p}.attention.dense.weight"].T
        n = rms_norm(x, state[f"{p}.post_attention_layernorm.weight"], eps)
        if i < cfg["first_k_dense_replace"]:
            x = x + swiglu(n[0], state[f"{p}.mlp.gate_proj.weight"], state[f"{p}.mlp.up_proj.weight"], state[f"{p}.mlp.down_proj.weight"])[None]
        else:
            x = x + moe(state, cfg, f"{p}.mlp", n[0])[None]
    x = rms_norm(x, state["model.norm.weight"], eps)
    return x @ state["lm_head.weight"].T


def num_transfer_tokens(block: int, steps: int) -> list[int]:
    base, rem = divmod(block, steps)
    return [base + (1 if i < rem else 0) for i in range(steps)]


def argmax_and_prob(logits: torch.Tensor):
    """Upstream's temperature-0 branch: argmax, and its float32 softmax probability."""
    probs = F.softmax(logits.float(), dim=-1)
    token = torch.argmax(logits, dim=-1)
    return token, torch.gather(probs, -1, token[..., None])[..., 0]


class Margins:
    """The closest call a run made: how near a confidence came to a threshold or a rival (a float32
    rounding difference between torch and onnxruntime could flip a decision that close)."""

    def __init__(self):
        self.closest = math.inf

    def see(self, values: torch.Tensor, threshold: float | None = None):
        v = values[torch.isfinite(values)].double()
        if threshold is not None and v.numel():
            self.closest = min(self.closest, float((v - threshold).abs().min()))
        if v.numel() > 1:
            s = torch.sort(v, descending=True).values
            self.closest = min(self.closest, float((s[:-1] - s[1:]).min()))


@torch.no_grad()
def generate_20(model, prompt: list[int], gen_length: int, block: int, steps: int, threshold: float, mask_id: int, eos_id: int,
                minimal_topk: int = 1, margins: Margins | None = None):
    """LLaDA2.0's generate (temperature 0). Returns (tokens after the prompt, cut after the first EOS; trace)."""
    steps = min(steps, gen_length // minimal_topk)
    P = len(prompt)
    n_blocks = (P + gen_length + block - 1) // block
    x = torch.full((1, n_blocks * block), mask_id, dtype=torch.long)
    x[0, :P] = torch.tensor(prompt)
    schedule = num_transfer_tokens(block, steps)
    trace, step_no = [], 0
    for b in range(P // block, n_blocks):
        end = (b + 1) * block
        for step in range(steps):
            active = x[0, end - block:end] == mask_id
            if active.sum() == 0:
                break
            logits = model(x[:, :end])[0, -block:]
            x0, p = argmax_and_prob(logits)
            conf = torch.where(active, p, torch.tensor(-math.inf))
            high = conf > threshold
            if margins:
                margins.see(conf, threshold)
            k = schedule[step]
            if int(high.sum()) >= k:
                chosen = high
            else:
                chosen = torch.zeros(block, dtype=torch.bool)
                chosen[torch.topk(conf, k=min(k, int(active.sum()))).indices] = True
            where = torch.nonzero(chosen).flatten().tolist()
            x[0, end - block:end][chosen] = x0[chosen]
            trace.append({"step": step_no, "block": b, "positions": [end - block + i - P for i in where],
                          "tokens": [int(x0[i]) for i in where], "confidence": [float(p[i]) for i in where]})
            step_no += 1
        if (x[0, P:end] == eos_id).any():
            break
    out = x[0, P:P + gen_length].tolist()
    return (out[:out.index(eos_id) + 1] if eos_id in out else out), trace


@torch.no_grad()
def generate_21(model, prompt: list[int], gen_length: int, block: int, threshold: float, editing_threshold: float,
                max_post_steps: int, mask_id: int, eos_id: int, eos_early_stop: bool = False, num_to_transfer: int = 1,
                margins: Margins | None = None):
    """LLaDA2.1's loop (temperature 0): mask filling plus editing of the current block's committed tokens."""
    P = len(prompt)
    n_blocks = (P + gen_length + block - 1) // block
    x = torch.full((1, n_blocks * block), mask_id, dtype=torch.long)
    x[0, :P] = torch.tensor(prompt)
    trace, step_no = [], 0
    for b in range(P // block, n_blocks):
        end = (b + 1) * block
        start = end - block
        post = 0
        in_prompt = torch.zeros(block, dtype=torch.bool)
        if start < P:
            in_prompt[:min(P - start, block)] = True
        while True:
            old = x[0, start:end].clone()
            active = old == mask_id
            if not active.any():
                post += 1
            if post > max_post_steps:
                break
            logits = model(x[:, :end])[0, -block:]
            x0, p = argmax_and_prob(logits)
            fill = torch.zeros(block, dtype=torch.bool)
            if active.any():
                conf = torch.where(active, p, torch.tensor(-math.inf))
                if margins:
                    margins.see(conf, threshold)
                high = (conf > threshold) & active
                if int(high.sum()) >= num_to_transfer:
                    fill = high
                else:
                    fill[torch.topk(conf, k=min(num_to_transfer, int(active.sum()))).indices] = True
            editable = ~active & ~in_prompt
            edit_conf = torch.where(editable, p, torch.tensor(-math.inf))
            if margins and editable.any():
                margins.see(edit_conf[editable & (x0 != old)], editing_threshold)
            edit = (edit_conf > editing_threshold) & editable & (x0 != old)
            chosen = fill | edit
            x[0, start:end][chosen] = x0[chosen]
            where = torch.nonzero(chosen).flatten().tolist()
            trace.append({"step": step_no, "block": b, "positions": [start + i - P for i in where],
                          "tokens": [int(x0[i]) for i in where], "confidence": [float(p[i]) for i in where],
                          "edited": [start + i - P for i in torch.nonzero(edit).flatten().tolist()],
                          "was": [int(old[i]) for i in torch.nonzero(edit).flatten().tolist()]})
            step_no += 1
            if not active.any() and not edit.any():
                break
        if eos_early_stop:
            part = x[0, P:end]
            if (part == mask_id).sum() == 0 and (part == eos_id).any():
                break
    out = x[0, P:P + gen_length].tolist()
    return (out[:out.index(eos_id) + 1] if eos_id in out else out), trace


class LLaDA2Reference(torch.nn.Module):
    def __init__(self, state: dict, cfg: dict, block: int):
        super().__init__()
        self.state, self.cfg, self.block = state, cfg, block

    @torch.no_grad()
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return forward(self.state, self.cfg, ids, self.block)
