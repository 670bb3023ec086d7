"""The graph Maskflow exports: LLaDA's forward plus what the runtime needs to waste nothing.

Inputs (all but input_ids have defaults baked in as overridable initializers, so a caller that
feeds only input_ids gets plain LLaDA logits, as any other runtime would):
  input_ids        int64 [B, S]
  past_kv          float [L, 2, B|1, H, P, hd]  K/V (RoPE applied) of P positions that are not fed
                   again: Fast-dLLM's block-wise approximate cache. Default: P = 0, no cache.
  position_offset  int64 [1]  position of input_ids[:, 0] (a cached prefix/ block start). Default 0.
  decide           int64 [B, K]  positions (indices into input_ids) whose sampling head is wanted.
  cfg_scale        float [1]  classifier-free guidance weight for the cfg_* outputs. Default 0.
Outputs (onnxruntime runs every node whatever is fetched, so `logits` costs a whole-canvas
vocabulary projection at every step; `maskflow convert`'s graphs drop it, see decoder.ts):
  logits           [B, S, V]   the full logits
  present_kv       [L, 2, B, H, S, hd]  K/V of the fed positions, to build a cache from
  head_logits      [B, K, V]   logits rows at `decide` (for Gumbel sampling, top-p, ...)
  head_top_ids     [B, K, 8]   the 8 most likely token ids at `decide`, best first
  head_top_logp    [B, K, 8]   their log-probabilities (log-softmax of the untempered logits)
  head_entropy     [B, K]      entropy of the distribution at `decide`
  cfg_*            the same four over B/2 rows, for a batch whose first half is the conditional and
                   second half the unconditional pass: l = u + (cfg_scale + 1) (c - u) (LLaDA's CFG)
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from model import LLaDAModelLM, rotate_half

INPUTS = ["input_ids", "past_kv", "position_offset", "decide", "cfg_scale"]
TOP_K = 8  # candidates per decided position: enough for beam widths up to 8 and top-k margins
OUTPUTS = ["logits", "present_kv", "head_logits", "head_top_ids", "head_top_logp", "head_entropy",
           "cfg_logits", "cfg_top_ids", "cfg_top_logp", "cfg_entropy"]


def gather_rows(h: torch.Tensor, decide: torch.Tensor) -> torch.Tensor:
    """h[b, decide[b, k]] -> [B, K, D]"""
    return torch.gather(h, 1, decide[..., None].expand(-1, -1, h.shape[-1]))


def head(rows: torch.Tensor):
    logp = torch.log_softmax(rows, dim=-1)
    top_logp, top_ids = torch.topk(logp, TOP_K, dim=-1)
    entropy = -(logp.exp() * logp).sum(-1)
    return top_ids, top_logp, entropy


class ExportGraph(nn.Module):
    def __init__(self, model: LLaDAModelLM):
        super().__init__()
        # Held as `model` so the exported initializers keep LLaDA's names (model.transformer....).
        self.model = model.model
        self.register_buffer("inv_freq", model.inv_freq, persistent=False)

    def forward(self, input_ids, past_kv, position_offset, decide, cfg_scale):
        t = self.model.transformer
        B, S = input_ids.shape
        pos = torch.arange(S, dtype=torch.float32) + position_offset.to(torch.float32)
        freqs = pos[:, None] * self.inv_freq[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        x = t.wte(input_ids)
        presents = []
        for i, blk in enumerate(t.blocks):
            h = blk.attn_norm(x)
            q = blk.q_proj(h).view(B, S, blk.n_heads, blk.head_dim).transpose(1, 2)
            k = blk.k_proj(h).view(B, S, blk.n_kv_heads, blk.head_dim).transpose(1, 2)
            v = blk.v_proj(h).view(B, S, blk.n_kv_heads, blk.head_dim).transpose(1, 2)
            q = q * cos + rotate_half(q) * sin
            k = k * cos + rotate_half(k) * sin
            presents.append(torch.stack([k, v]))
            past = past_kv[i].expand(2, B, -1, -1, -1)  # [2, B, H, P, hd]; batch 1 broadcasts
            k_all = torch.cat([past[0], k], dim=2)
            v_all = torch.cat([past[1], v], dim=2)
            att = torch.softmax((q @ k_all.transpose(-1, -2)) / math.sqrt(blk.head_dim), dim=-1)
            x = x + blk.attn_out((att @ v_all).transpose(1, 2).reshape(B, S, -1))
            h = blk.ff_norm(x)
            x = x + blk.ff_out(torch.nn.functional.silu(blk.ff_proj(h)) * blk.up_proj(h))
        h = t.ln_f(x)
        logits = t.ff_out(h)  # computed at every run, fetched or not (see the docstring)
        present_kv = torch.stack(presents)
        # The heads project only the positions being decided to the vocabulary.
        rows = t.ff_out(gather_rows(h, decide))
        # For an even batch: first half conditional, second half unconditional. (B + 1) // 2 and
        # B - half keep both halves non-empty for B = 1, where an empty broadcast crashes onnxruntime.
        half = (B + 1) // 2
        cond, uncond = rows[:half], rows[B - half:]
        cfg_rows = uncond + (cfg_scale + 1.0) * (cond - uncond)
        return (logits, present_kv, rows, *head(rows), cfg_rows, *head(cfg_rows))


def default_inputs(cfg) -> dict[str, torch.Tensor]:
    hd = cfg.d_model // cfg.n_heads
    return {
        "past_kv": torch.zeros(cfg.n_layers, 2, 1, cfg.n_kv_heads, 0, hd),
        "position_offset": torch.zeros(1, dtype=torch.long),
        "decide": torch.zeros(1, 1, dtype=torch.long),
        "cfg_scale": torch.zeros(1),
    }
