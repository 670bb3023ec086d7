"""Dream's `_sample` loop (HKUNLP/Dream generation_utils.py, read as vendored in NVlabs/Fast-dLLM),
transcribed in torch for parity fixtures: algs maskgit_plus, topk_margin, entropy, with
temperature, top_p, top_k, alg_temp and shifted logits. Batch 1, no padding ("full" attention).

Deliberate changes, shared with the TypeScript sampler:
  [rng] token sampling is Gumbel-max on Maskflow's counter-based noise (rng.py) instead of
        torch.distributions.Categorical; alg_temp's torch.multinomial without replacement is
        Gumbel-top-k on the same generator (the same distributions, reproducible across languages)
  [tie] topk ranks rank_key(confidence) (bf16 precision); ties go to the lower position
  [f64] sample_tokens runs in float64
The time grid is Dream's own: torch.linspace(1, eps, steps + 1) in float32.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import rng
from llada_generate import rank_key, sample_tokens, stable_topk


@torch.no_grad()
def dream_sample(model, input_ids, max_length, mask_token_id, steps=512, eps=1e-3, alg='maskgit_plus',
                 alg_temp=None, temperature=0.0, top_p=None, top_k=None, seed=0, shift_logits=True, margins=None):
    V = model.config.vocab_size
    x = F.pad(input_ids, (0, max_length - input_ids.shape[1]), value=mask_token_id)
    timesteps = torch.linspace(1, eps, steps + 1)
    trace = []
    for i in range(steps):
        mask_index = (x == mask_token_id)
        logits = model(x)
        if shift_logits:
            logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        rows = torch.nonzero(mask_index[0]).squeeze(-1)
        mask_logits = logits[mask_index].double()  # [f64]
        t = timesteps[i]
        s = timesteps[i + 1]
        u = rng.uniform(seed, rng.GUMBEL, i, rows.numpy()[:, None], np.arange(V)[None, :]) if temperature > 0 else None  # [rng]
        if alg in ('maskgit_plus', 'topk_margin', 'entropy'):
            confidence, x0 = sample_tokens(mask_logits, temperature, top_p, top_k, u, rule=alg, margins=margins)
        else:
            raise RuntimeError(f"Unknown alg: {alg}")
        prob = torch.gather(F.softmax(mask_logits, dim=-1), -1, x0[:, None]).squeeze(-1)
        num_mask_token = mask_index.sum() / mask_index.shape[0]
        number_transfer_tokens = int(num_mask_token * (1 - s / t)) if i < steps - 1 else int(num_mask_token)
        full_confidence = torch.full_like(x, -torch.inf, dtype=torch.float64)
        full_confidence[mask_index] = confidence
        committed = []
        if number_transfer_tokens > 0:
            if alg_temp is None or alg_temp == 0:
                ranked = full_confidence[0]
                transfer_index = stable_topk(rank_key(ranked), number_transfer_tokens)  # [tie]
            else:  # [rng] Gumbel-top-k == multinomial(softmax(conf / alg_temp)) without replacement
                g = torch.from_numpy(rng.gumbel(rng.uniform(seed, rng.POSITION_SAMPLE, i, np.arange(x.shape[1]), 0)))
                ranked = full_confidence[0] / alg_temp + g
                transfer_index = stable_topk(rank_key(ranked), number_transfer_tokens)  # [tie]
            if margins is not None:
                masked = mask_index[0]
                margins.check_ranks(ranked[masked], margins.last_sens, number_transfer_tokens, alg_temp)
            x_ = torch.zeros_like(x, dtype=torch.long) + mask_token_id
            x_[mask_index] = x0.clone()
            x[0, transfer_index] = x_[0, transfer_index]
            where = {int(r): j for j, r in enumerate(rows)}
            committed = [(int(p) - input_ids.shape[1], int(x_[0, p]), float(prob[where[int(p)]])) for p in transfer_index]
        trace.append((i, committed))
    return x, trace
