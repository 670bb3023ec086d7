"""DiffusionGemma (google/diffusiongemma-26B-A4B-it, model_type "diffusion_gemma"): a float32 torch
transcription of the text forward of Hugging Face transformers' models/diffusion_gemma/
modeling_diffusion_gemma.py (shared reference diffusiongemma.md section 4, source T1), to check
the converter's graph against. Written from reading that code, not copied.

Two passes share one set of weights (stored once, under model.decoder.*):
  encode(ids, cache)  the causal encoder: scaled embeddings straight into the layers; full layers
                      causal, sliding layers see keys in (q - W, q]; each layer's K (k_norm, RoPE)
                      and V (v_norm) are appended to the cache. Encoder layers multiply the stream
                      by model.encoder.language_model.layers.L.layer_scalar.
  decode(canvas, cache, sc_logits)  one denoising step: e = embed(canvas) * bf16(sqrt(hidden));
                      s = softmax(sc_logits) @ E * the same scale (zero without sc_logits);
                      input = no-scale RMSNorm(e + down(gelu(gate(pre_norm(s))) * up(pre_norm(s))));
                      bidirectional over the canvas; full layers read every cached position, sliding
                      layers only the last W - 1 (DynamicCache's sliding layers keep W - 1 tokens);
                      the cache is not written; logits = final norm -> tied head -> 30 tanh(x / 30).

Each layer (T1 DiffusionGemma{Encoder,Decoder}TextLayer):
  a = o_proj(attn(input_layernorm(x))); x = x + post_attention_layernorm(a)
  attention: q = RoPE(q_norm(q_proj)), k = RoPE(k_norm(k_proj)), v = v_norm(v_proj) (no-scale),
             and on full layers v = v_norm(raw k_proj output) (there is no v_proj); scale 1.0
  r = x
  y1 = post_feedforward_layernorm_1(mlp(pre_feedforward_layernorm(r)))         dense GeGLU
  router: softmax(proj(no-scale-norm(r) * router.scale * hidden^-0.5)) in fp32, top-k,
          renormalised, times per_expert_scale[chosen]
  y2 = post_feedforward_layernorm_2(sum_k w_k * expert_k(pre_feedforward_layernorm_2(r)))
  x = (r + post_feedforward_layernorm(y1 + y2)) * layer_scalar
RMSNorm: x * (mean(x^2) + eps)^-0.5 * w (the weight as stored, not 1 + w). RoPE per layer type:
sliding "default" over head_dim; full "proportional" over global_head_dim, only
partial_rotary_factor * D / 2 frequency pairs rotate (exponent denominator D), the rest have
inverse frequency 0. Activations gelu_pytorch_tanh.

Precision: float32 throughout (the checkpoint's bf16 values read as float32); where HF rounds
activations to bf16 (the model's dtype) this transcription does not.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def text_config(cfg: dict) -> dict:
    return cfg["text_config"]


def rms(x: torch.Tensor, w: torch.Tensor | None, eps: float) -> torch.Tensor:
    x = x.float()
    y = x * torch.pow(x.pow(2).mean(-1, keepdim=True) + eps, -0.5)
    return y * w.float() if w is not None else y


def gelu(x: torch.Tensor) -> torch.Tensor:
    return F.gelu(x, approximate="tanh")


def embed_scale(tc: dict) -> float:
    # sqrt(hidden) cast to the weights' dtype (bf16): 53.0 for 2816, not 53.066 (trap 2)
    return float(torch.tensor(tc["hidden_size"] ** 0.5).to(torch.bfloat16).float())


def geometry(tc: dict, layer_type: str) -> dict:
    if layer_type == "sliding_attention":
        return {"heads": tc["num_attention_heads"], "kv": tc["num_key_value_heads"], "dim": tc["head_dim"], "window": tc["sliding_window"]}
    return {"heads": tc["num_attention_heads"], "kv": tc["num_global_key_value_heads"], "dim": tc.get("global_head_dim") or tc["head_dim"], "window": None}


def inv_freq(tc: dict, layer_type: str) -> torch.Tensor:
    p = tc["rope_parameters"][layer_type]
    base = p["rope_theta"]
    if p.get("rope_type", "default") == "default":
        dim = tc["head_dim"]
        return 1.0 / (base ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    assert p["rope_type"] == "proportional", p
    dim = tc["global_head_dim"]
    pairs = int(p.get("partial_rotary_factor", 1.0) * dim // 2)
    rotated = 1.0 / (base ** (torch.arange(0, 2 * pairs, 2, dtype=torch.int64).float() / dim))
    return torch.cat([rotated, torch.zeros(dim // 2 - pairs)])


def rope(x: torch.Tensor, positions: torch.Tensor, freq: torch.Tensor) -> torch.Tensor:
    """x [B, S, H, D] (HF applies RoPE before the transpose), positions [S]."""
    f = positions.float()[:, None] * freq[None, :]
    emb = torch.cat([f, f], dim=-1)
    cos, sin = emb.cos()[None, :, None, :], emb.sin()[None, :, None, :]
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


def attention_block(state, tc, i, x, positions, past, allowed):
    """One layer's attention. past: (K, V) [B, Hkv, T, D] or None; allowed: bool [S, T + S]. Returns (out, k, v)."""
    p = f"model.decoder.layers.{i}.self_attn"
    lt = tc["layer_types"][i]
    g = geometry(tc, lt)
    eps = tc["rms_norm_eps"]
    B, S, _ = x.shape
    D = g["dim"]
    q = (x @ state[f"{p}.q_proj.weight"].T).view(B, S, -1, D)
    q = rope(rms(q, state[f"{p}.q_norm.weight"], eps), positions, inv_freq(tc, lt)).transpose(1, 2)
    k_raw = (x @ state[f"{p}.k_proj.weight"].T).view(B, S, -1, D)
    v_raw = (x @ state[f"{p}.v_proj.weight"].T).view(B, S, -1, D) if f"{p}.v_proj.weight" in state else k_raw
    k = rope(rms(k_raw, state[f"{p}.k_norm.weight"], eps), positions, inv_freq(tc, lt)).transpose(1, 2)
    v = rms(v_raw, None, eps).transpose(1, 2)
    k_all = torch.cat([past[0], k], dim=2) if past is not None else k
    v_all = torch.cat([past[1], v], dim=2) if past is not None else v
    rep = g["heads"] // g["kv"]
    kr, vr = k_all.repeat_interleave(rep, dim=1), v_all.repeat_interleave(rep, dim=1)
    scores = q @ kr.transpose(-1, -2) * 1.0  # scaling 1.0: q/k norms do the scaling (trap 3)
    scores = scores.masked_fill(~allowed[None, None], float("-inf"))
    out = torch.softmax(scores.float(), dim=-1) @ vr
    out = out.transpose(1, 2).reshape(B, S, -1) @ state[f"{p}.o_proj.weight"].T
    return out, k, v


def feed_forward(state, tc, i, r):
    p = f"model.decoder.layers.{i}"
    eps = tc["rms_norm_eps"]
    n = rms(r, state[f"{p}.pre_feedforward_layernorm.weight"], eps)
    y1 = (gelu(n @ state[f"{p}.mlp.gate_proj.weight"].T) * (n @ state[f"{p}.mlp.up_proj.weight"].T)) @ state[f"{p}.mlp.down_proj.weight"].T
    y1 = rms(y1, state[f"{p}.post_feedforward_layernorm_1.weight"], eps)

    flat = r.reshape(-1, r.shape[-1])
    d = flat.shape[-1]
    z = rms(flat, None, eps) * state[f"{p}.router.scale"] * d ** -0.5
    probs = torch.softmax((z @ state[f"{p}.router.proj.weight"].T).float(), dim=-1)
    w, idx = torch.topk(probs, k=tc["top_k_experts"], dim=-1)
    w = w / w.sum(dim=-1, keepdim=True)
    w = w * state[f"{p}.router.per_expert_scale"][idx]
    xe = rms(flat, state[f"{p}.pre_feedforward_layernorm_2.weight"], eps)
    gate_up, down = state[f"{p}.experts.gate_up_proj"], state[f"{p}.experts.down_proj"]
    I = tc["moe_intermediate_size"]
    y2 = torch.zeros_like(flat)
    for t in range(flat.shape[0]):
        for j in range(idx.shape[1]):
            e = int(idx[t, j])
            h = gate_up[e] @ xe[t]  # rows 0..I-1 gate, I..2I-1 up
            y2[t] += w[t, j] * (down[e] @ (gelu(h[:I]) * h[I:]))
    y2 = rms(y2.reshape(r.shape), state[f"{p}.post_feedforward_layernorm_2.weight"], eps)
    return rms(y1 + y2, state[f"{p}.post_feedforward_layernorm.weight"], eps)


def layer(state, tc, i, x, positions, past, allowed, scalar):
    p = f"model.decoder.layers.{i}"
    eps = tc["rms_norm_eps"]
    a, k, v = attention_block(state, tc, i, rms(x, state[f"{p}.input_layernorm.weight"], eps), positions, past, allowed)
    x = x + rms(a, state[f"{p}.post_attention_layernorm.weight"], eps)
    x = x + feed_forward(state, tc, i, x)
    return x * scalar, k, v


def embed(state, tc, ids):
    return F.embedding(ids, state["model.decoder.embed_tokens.weight"]) * embed_scale(tc)


@torch.no_grad()
def encode(state: dict, cfg: dict, ids: torch.Tensor, cache: list | None = None) -> list:
    """Appends ids [B, S] to the cache (a list of (K, V) per layer, all positions kept). Returns the new cache."""
    tc = text_config(cfg)
    P = cache[0][0].shape[2] if cache else 0
    S = ids.shape[1]
    pos = torch.arange(P, P + S)
    keys = torch.arange(P + S)
    x = embed(state, tc, ids)
    out = []
    for i, lt in enumerate(tc["layer_types"]):
        allowed = keys[None, :] <= pos[:, None]
        if lt == "sliding_attention":
            allowed &= keys[None, :] > pos[:, None] - tc["sliding_window"]
        past = cache[i] if cache else None
        x, k, v = layer(state, tc, i, x, pos, past, allowed, state[f"model.encoder.language_model.layers.{i}.layer_scalar"])
        out.append((torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)) if past is not None else (k, v))
    return out


def soft_embedding(state: dict, cfg: dict, sc_logits: torch.Tensor) -> torch.Tensor:
    """The self-conditioning input: softmax(sc_logits) @ E * bf16(sqrt(hidden)) [B, S, hidden]."""
    tc = text_config(cfg)
    return torch.softmax(sc_logits.float(), dim=-1) @ state["model.decoder.embed_tokens.weight"] * embed_scale(tc)


@torch.no_grad()
def decode(state: dict, cfg: dict, canvas: torch.Tensor, cache: list, sc_logits: torch.Tensor | None = None) -> torch.Tensor:
    """One decoder step: softcapped logits [B, S, V] for the canvas, reading (not writing) the cache."""
    tc = text_config(cfg)
    eps = tc["rms_norm_eps"]
    P = cache[0][0].shape[2]
    S = canvas.shape[1]
    e = embed(state, tc, canvas)
    s = soft_embedding(state, cfg, sc_logits) if sc_logits is not None else torch.zeros_like(e)
    sc = "model.decoder.self_conditioning"
    n = rms(s, state[f"{sc}.pre_norm.weight"], eps)
    signal = (gelu(n @ state[f"{sc}.gate_proj.weight"].T) * (n @ state[f"{sc}.up_proj.weight"].T)) @ state[f"{sc}.down_proj.weight"].T
    x = rms(e + signal, None, eps)  # post_norm has no weight; still applied at step 1 (trap 9)
    pos = torch.arange(P, P + S)
    W = tc["sliding_window"]
    for i, lt in enumerate(tc["layer_types"]):
        K, V = cache[i]
        if lt == "sliding_attention" and P > W - 1:
            K, V = K[:, :, P - (W - 1):], V[:, :, P - (W - 1):]  # the sliding cache keeps W - 1 positions
        allowed = torch.ones(S, K.shape[2] + S, dtype=torch.bool)
        x, _, _ = layer(state, tc, i, x, pos, (K, V), allowed, state[f"model.decoder.layers.{i}.layer_scalar"])
    x = rms(x, state["model.decoder.norm.weight"], eps)
    logits = (x @ state["model.decoder.embed_tokens.weight"].T).float()
    cap = tc["final_logit_softcapping"]
    return cap * torch.tanh(logits / cap)


def kv_groups(tc: dict, cache: list) -> dict:
    """The cache as the converted graph lays it out: one [L_g, 2, B, Hkv, P, D] tensor per layer type."""
    out = {}
    for lt in ("sliding_attention", "full_attention"):
        layers = [i for i, t in enumerate(tc["layer_types"]) if t == lt]
        if layers:
            out[lt] = torch.stack([torch.stack([cache[i][0], cache[i][1]]) for i in layers])
    return out


def entropy(logits: torch.Tensor) -> torch.Tensor:
    logp = torch.log_softmax(logits.float(), dim=-1)
    return -(logp.exp() * logp).sum(-1)


__all__ = ["encode", "decode", "soft_embedding", "kv_groups", "entropy", "embed_scale", "inv_freq", "math"]
