"""Reference forwards of the Hugging Face checkpoints `maskflow convert` reads, in torch (float32),
written from the upstream modeling code, to check the converter's graphs against:

  llada_forward: GSAI-ML LLaDA's modeling_llada.py (OLMo-derived), "llama" blocks:
      x += attn_out(attn(rope(q_proj(n)), rope(k_proj(n)), v_proj(n))),  n = attn_norm(x)
      x += ff_out(silu(ff_proj(n)) * up_proj(n)),                       n = ff_norm(x)
      logits = transformer.ff_out(ln_f(x))          (weight_tying: wte instead)
    RMSNorm in float32 (x * rsqrt(mean(x^2) + eps), then * weight), RoPE with the rotate-half
    pairing (LLaDA views the head as [2, hs/2] and rotates the halves), SDPA with is_causal False
    and no mask, GQA by repeat_interleave.
  dream_forward: Dream's modeling_dream.py, a Qwen2 decoder with is_causal False: q/k/v biases,
    repeat_kv for GQA, RMSNorm eps 1e-6, default RoPE, untied lm_head; logits unshifted (the
    sampler shifts them).

Also the pieces a checkpoint folder needs without transformers or safetensors installed: a
safetensors reader/writer (numpy), and Qwen2's slow byte-level BPE (tokenization_qwen2.py's
algorithm: NFC, the split regex, GPT-2's byte-to-unicode map, merges by rank) for golden encodings.
"""
from __future__ import annotations

import json
import math
import struct
import unicodedata
from pathlib import Path

import numpy as np
import regex
import torch
import torch.nn.functional as F

# ---------------------------------------------------------------- safetensors

DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2)}


def write_safetensors(path: Path, tensors: dict[str, torch.Tensor], dtype: str = "BF16") -> None:
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if dtype == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        elif dtype == "F16":
            raw = t.to(torch.float16).numpy().tobytes()
        else:
            raw = t.to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    header["__metadata__"] = {"format": "pt"}
    js = json.dumps(header).encode()
    js += b" " * ((8 - len(js) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(js)))
        f.write(js)
        for b in blobs:
            f.write(b)


def read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    data = path.read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        raw = data[8 + n + a: 8 + n + b]
        if e["dtype"] == "BF16":
            t = torch.from_numpy(np.frombuffer(raw, dtype=np.int16).copy()).view(torch.bfloat16).float()
        else:
            t = torch.from_numpy(np.frombuffer(raw, dtype=DTYPES[e["dtype"]][0]).astype(np.float32))
        out[name] = t.reshape(e["shape"])
    return out


def read_checkpoint(folder: Path) -> dict[str, torch.Tensor]:
    index = folder / "model.safetensors.index.json"
    files = sorted(set(json.loads(index.read_text())["weight_map"].values())) if index.exists() else ["model.safetensors"]
    state = {}
    for f in files:
        state.update(read_safetensors(folder / f))
    return state


# ---------------------------------------------------------------- forwards

def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float) -> torch.Tensor:
    x32 = x.float()
    return weight * (x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps))


def rope_tables(positions: torch.Tensor, head_dim: int, theta: float):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.int64).float() / head_dim))
    freqs = positions.float()[:, None] * inv_freq[None, :]
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos()[None, None], emb.sin()[None, None]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def attention(q, k, v, n_heads, n_kv):
    if n_kv != n_heads:
        k = k.repeat_interleave(n_heads // n_kv, dim=1)
        v = v.repeat_interleave(n_heads // n_kv, dim=1)
    w = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    return torch.softmax(w.float(), dim=-1) @ v


def llada_forward(state: dict, cfg: dict, ids: torch.Tensor) -> torch.Tensor:
    p = "model.transformer"
    B, S = ids.shape
    d, H = cfg["d_model"], cfg["n_heads"]
    Hkv = cfg.get("n_kv_heads") or H
    hd = d // H
    eps = cfg.get("rms_norm_eps", 1e-5)
    cos, sin = rope_tables(torch.arange(S), hd, cfg["rope_theta"])
    x = F.embedding(ids, state[f"{p}.wte.weight"])
    for i in range(cfg["n_layers"]):
        b = f"{p}.blocks.{i}"
        n = rms_norm(x, state[f"{b}.attn_norm.weight"], eps)
        q = (n @ state[f"{b}.q_proj.weight"].T).view(B, S, H, hd).transpose(1, 2)
        k = (n @ state[f"{b}.k_proj.weight"].T).view(B, S, Hkv, hd).transpose(1, 2)
        v = (n @ state[f"{b}.v_proj.weight"].T).view(B, S, Hkv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        att = attention(q, k, v, H, Hkv).transpose(1, 2).reshape(B, S, d)
        x = x + att @ state[f"{b}.attn_out.weight"].T
        n = rms_norm(x, state[f"{b}.ff_norm.weight"], eps)
        g, u = n @ state[f"{b}.ff_proj.weight"].T, n @ state[f"{b}.up_proj.weight"].T
        x = x + (F.silu(g) * u) @ state[f"{b}.ff_out.weight"].T
    x = rms_norm(x, state[f"{p}.ln_f.weight"], eps)
    head = state[f"{p}.wte.weight"] if cfg.get("weight_tying") else state[f"{p}.ff_out.weight"]
    return x @ head.T


def dream_forward(state: dict, cfg: dict, ids: torch.Tensor) -> torch.Tensor:
    B, S = ids.shape
    d, H = cfg["hidden_size"], cfg["num_attention_heads"]
    Hkv = cfg["num_key_value_heads"]
    hd = d // H
    eps = cfg["rms_norm_eps"]
    cos, sin = rope_tables(torch.arange(S), hd, cfg["rope_theta"])
    x = F.embedding(ids, state["model.embed_tokens.weight"])
    for i in range(cfg["num_hidden_layers"]):
        b = f"model.layers.{i}"
        n = rms_norm(x, state[f"{b}.input_layernorm.weight"], eps)
        lin = lambda name: n @ state[f"{b}.self_attn.{name}.weight"].T + state[f"{b}.self_attn.{name}.bias"]  # noqa: E731
        q = lin("q_proj").view(B, S, H, hd).transpose(1, 2)
        k = lin("k_proj").view(B, S, Hkv, hd).transpose(1, 2)
        v = lin("v_proj").view(B, S, Hkv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        att = attention(q, k, v, H, Hkv).transpose(1, 2).reshape(B, S, d)
        x = x + att @ state[f"{b}.self_attn.o_proj.weight"].T
        n = rms_norm(x, state[f"{b}.post_attention_layernorm.weight"], eps)
        g, u = n @ state[f"{b}.mlp.gate_proj.weight"].T, n @ state[f"{b}.mlp.up_proj.weight"].T
        x = x + (F.silu(g) * u) @ state[f"{b}.mlp.down_proj.weight"].T
    x = rms_norm(x, state["model.norm.weight"], eps)
    head = state["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings") else state["lm_head.weight"]
    return x @ head.T


class ReferenceModel(torch.nn.Module):
    """What the reference samplers (llada_generate.py, dream_generate.py) call: model(x) -> logits."""

    def __init__(self, folder: Path, family: str):
        super().__init__()
        self.cfg = json.loads((folder / "config.json").read_text())
        self.state = read_checkpoint(folder)
        self.fn = llada_forward if family == "llada" else dream_forward
        vocab = self.cfg.get("embedding_size") or self.cfg["vocab_size"]
        self.config = type("Config", (), {"vocab_size": vocab})()

    @torch.no_grad()
    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.fn(self.state, self.cfg, ids)


# ---------------------------------------------------------------- Qwen2's slow BPE

QWEN2_SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Qwen2BPE:
    def __init__(self, vocab: dict[str, int], merges: list[str], added: dict[str, int]):
        self.vocab = vocab
        self.ranks = {tuple(m.split(" ")): i for i, m in enumerate(merges)}
        self.added = added
        self.byte_encoder = bytes_to_unicode()
        self.pat = regex.compile(QWEN2_SPLIT)
        self.special = regex.compile("(" + "|".join(regex.escape(t) for t in sorted(added, key=len, reverse=True)) + ")") if added else None

    def bpe(self, token: str) -> list[str]:
        word = list(token)
        while len(word) > 1:
            pairs = [(self.ranks.get((a, b), math.inf), i) for i, (a, b) in enumerate(zip(word, word[1:]))]
            rank, i = min(pairs)
            if rank == math.inf:
                break
            first, second = word[i], word[i + 1]
            out, j = [], 0
            while j < len(word):
                if j < len(word) - 1 and word[j] == first and word[j + 1] == second:
                    out.append(first + second)
                    j += 2
                else:
                    out.append(word[j])
                    j += 1
            word = out
        return word

    def encode(self, text: str) -> list[int]:
        ids = []
        parts = self.special.split(text) if self.special else [text]
        for part in parts:
            if not part:
                continue
            if part in self.added:
                ids.append(self.added[part])
                continue
            for piece in self.pat.findall(unicodedata.normalize("NFC", part)):
                mapped = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
                ids.extend(self.vocab[t] for t in self.bpe(mapped))
        return ids
