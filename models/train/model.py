"""A small bidirectional transformer with LLaDA's architecture and parameter names.

Module names follow the LLaDA-8B checkpoint (`model.transformer.wte`,
`model.transformer.blocks.{i}.q_proj ... ff_out`, `model.transformer.ln_f`,
`model.transformer.ff_out`) and the config uses LLaDA's `config.json` fields, so the
exporter and the LoRA merger address this model and real LLaDA checkpoints the same way.
Block = pre-norm (RMSNorm) attention with RoPE, then a SwiGLU MLP: ff_proj is the gate,
up_proj the up projection, ff_out the down projection. No biases, untied output head.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LLaDAConfig:
    d_model: int = 256
    n_heads: int = 4
    n_kv_heads: int = 4
    n_layers: int = 6
    mlp_hidden_size: int = 688
    vocab_size: int = 4096
    embedding_size: int = 4096
    max_sequence_length: int = 256
    rope_theta: float = 10000.0
    rms_norm_eps: float = 1e-5
    mask_token_id: int = 1
    eos_token_id: int = 2
    pad_token_id: int = 0

    def to_hf(self) -> dict:
        """LLaDA's config.json, with the fields the LLaDA-8B checkpoint uses."""
        d = asdict(self)
        d.update(
            architectures=["LLaDAModelLM"],
            model_type="llada",
            activation_type="silu",
            block_type="llama",
            layer_norm_type="rms",
            layer_norm_with_affine=True,
            include_bias=False,
            include_qkv_bias=False,
            bias_for_layer_norm=False,
            weight_tying=False,
            rope=True,
            rope_full_precision=True,
            alibi=False,
            scale_logits=False,
            attention_layer_norm=False,
            input_emb_norm=False,
            mlp_ratio=self.mlp_hidden_size / self.d_model,
            embedding_dropout=0.0,
            attention_dropout=0.0,
            residual_dropout=0.0,
            use_cache=False,
        )
        return d


class RMSLayerNorm(nn.Module):
    def __init__(self, d: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class LLaDABlock(nn.Module):
    def __init__(self, cfg: LLaDAConfig):
        super().__init__()
        d, hd = cfg.d_model, cfg.d_model // cfg.n_heads
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, hd
        self.attn_norm = RMSLayerNorm(d, cfg.rms_norm_eps)
        self.ff_norm = RMSLayerNorm(d, cfg.rms_norm_eps)
        self.q_proj = nn.Linear(d, cfg.n_heads * hd, bias=False)
        self.k_proj = nn.Linear(d, cfg.n_kv_heads * hd, bias=False)
        self.v_proj = nn.Linear(d, cfg.n_kv_heads * hd, bias=False)
        self.attn_out = nn.Linear(cfg.n_heads * hd, d, bias=False)
        self.ff_proj = nn.Linear(d, cfg.mlp_hidden_size, bias=False)
        self.up_proj = nn.Linear(d, cfg.mlp_hidden_size, bias=False)
        self.ff_out = nn.Linear(cfg.mlp_hidden_size, d, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        B, S, _ = x.shape
        h = self.attn_norm(x)
        q = self.q_proj(h).view(B, S, self.n_heads, self.head_dim).transpose(1, 2)
        k = self.k_proj(h).view(B, S, self.n_kv_heads, self.head_dim).transpose(1, 2)
        v = self.v_proj(h).view(B, S, self.n_kv_heads, self.head_dim).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if self.n_kv_heads != self.n_heads:
            rep = self.n_heads // self.n_kv_heads
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        att = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(self.head_dim), dim=-1)  # bidirectional
        x = x + self.attn_out((att @ v).transpose(1, 2).reshape(B, S, -1))
        h = self.ff_norm(x)
        return x + self.ff_out(F.silu(self.ff_proj(h)) * self.up_proj(h))


class Transformer(nn.Module):
    def __init__(self, cfg: LLaDAConfig):
        super().__init__()
        self.wte = nn.Embedding(cfg.embedding_size, cfg.d_model)
        self.blocks = nn.ModuleList(LLaDABlock(cfg) for _ in range(cfg.n_layers))
        self.ln_f = RMSLayerNorm(cfg.d_model, cfg.rms_norm_eps)
        self.ff_out = nn.Linear(cfg.d_model, cfg.embedding_size, bias=False)


class LLaDAInner(nn.Module):
    def __init__(self, cfg: LLaDAConfig):
        super().__init__()
        self.transformer = Transformer(cfg)


class LLaDAModelLM(nn.Module):
    def __init__(self, cfg: LLaDAConfig):
        super().__init__()
        self.config = cfg
        self.model = LLaDAInner(cfg)
        hd = cfg.d_model // cfg.n_heads
        inv_freq = 1.0 / (cfg.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        for name, p in self.named_parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)
                if name.endswith("attn_out.weight") or name.endswith("blocks." + name.split("blocks.")[-1].split(".")[0] + ".ff_out.weight"):
                    nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    def rope(self, S: int, device) -> tuple[torch.Tensor, torch.Tensor]:
        pos = torch.arange(S, device=device, dtype=torch.float32)
        freqs = torch.outer(pos, self.inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        return emb.cos()[None, None], emb.sin()[None, None]

    def hidden(self, input_ids: torch.Tensor) -> torch.Tensor:
        t = self.model.transformer
        x = t.wte(input_ids)
        cos, sin = self.rope(input_ids.shape[1], input_ids.device)
        for block in t.blocks:
            x = block(x, cos, sin)
        return t.ln_f(x)

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """logits [B, S, V]"""
        return self.model.transformer.ff_out(self.hidden(input_ids))
