"""LLaDA's `generate` (ML-GSAI/LLaDA generate.py), transcribed in torch for parity fixtures.

Structure and names follow upstream so the two read side by side. The deliberate changes are
the ones the TypeScript sampler (engine/dllm/samplers/generate.ts) makes, and each is marked:
  [rng]    random numbers come from Maskflow's counter-based generator (rng.py), not torch.rand
  [tie]    top-k selection ranks rank_key(confidence) (bf16 precision, engine/dllm/samplers/rank.ts)
           with a stable sort: key desc, then position asc
  [eos]    confidence_eos_eot_inf as intended (positions predicting EOS/EoT get -inf confidence),
           not upstream's no-op (ML-GSAI/LLaDA#137)
  [blocks] blocks and steps need not divide evenly (schedules.plan_blocks); counts come from
           the chosen schedule (linear = get_num_transfer_tokens)
  [rules]  besides low_confidence/random, Dream's confidence rules (maskgit_plus, topk_margin,
           entropy) and top_p/top_k filtering, via sample_tokens below (Dream's function)
  [canvas] x may start partly decoded (fixed tokens, like app.py's constraints)
  [f64]    softmax, Gumbel noise and confidence are float64
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

import rng
from schedules import plan_blocks, unmask_counts


def add_gumbel_noise(logits: torch.Tensor, temperature: float, u: np.ndarray) -> torch.Tensor:
    """Upstream: exp(l) / (-log u)^T in float64. Here the same in log space: l - T*log(-log u). [rng]"""
    if temperature == 0:
        return logits
    return torch.from_numpy(rng.noisy_logits(logits.double().numpy(), temperature, u))


def top_p_logits(z: torch.Tensor, top_p: float) -> torch.Tensor:
    """Dream's top_p_logits in float64 with -inf for removed tokens; stable sort (ties by id). [tie]"""
    sorted_z, sorted_idx = torch.sort(z, dim=-1, descending=True, stable=True)
    cumulative = torch.cumsum(F.softmax(sorted_z, dim=-1), dim=-1)
    remove = cumulative > top_p
    remove[..., 1:] = remove[..., :-1].clone()
    remove[..., 0] = False
    mask = torch.zeros_like(z, dtype=torch.bool).scatter_(-1, sorted_idx, remove)
    return z.masked_fill(mask, -torch.inf)


def top_k_logits(z: torch.Tensor, top_k: int) -> torch.Tensor:
    top_k = min(top_k, z.size(-1))
    return z.masked_fill(z < torch.topk(z, top_k)[0][..., -1, None], -torch.inf)


class Margins:
    """The closest calls a run made, so make_fixtures.py can avoid cases where float32 rounding
    differences between torch and onnxruntime (measured up to ~5e-6 in a logit) could flip a
    decision. logit_tol: the assumed bound on a logit's error (times 1 + cfg_scale)."""

    def __init__(self, logit_tol: float = 0.0):
        self.logit_tol = logit_tol
        self.token = np.inf    # smallest best-minus-second-best decision value, in logit units
        self.rank_flips = 0    # scores within their error bound of a rounding boundary that changes the commit
        self.filter_flips = 0  # tokens within tolerance of a top_p/top_k boundary that change a decision
        self.last_sens = None  # per row of the last sample_tokens call: |d score / d logit|_1 bound

    def check_ranks(self, raw: torch.Tensor, sens: torch.Tensor, k: int, alg_temp=None) -> None:
        """Would moving any ranking value by its error bound change the committed set?"""
        if self.logit_tol == 0 or k == 0 or k >= raw.numel():
            return
        delta = self.logit_tol * sens / (alg_temp or 1.0)
        keys = rank_key(raw)
        base = set(stable_topk(keys, k).tolist())
        lo, hi = rank_key(raw - delta), rank_key(raw + delta)
        for i in torch.nonzero((lo != hi) & torch.isfinite(raw)).flatten().tolist():
            for alt in (lo[i], hi[i]):
                moved = keys.clone()
                moved[i] = alt
                if set(stable_topk(moved, k).tolist()) != base:
                    self.rank_flips += 1
                    break


RANK_BITS = 8  # bf16 precision


def rank_key(x: torch.Tensor) -> torch.Tensor:
    """x rounded to RANK_BITS significant bits (half up on the scaled mantissa), like rankKey in
    engine/dllm/samplers/rank.ts; 0 and +-inf unchanged. [tie]"""
    a = x.double().numpy()
    out = a.copy()
    ok = np.isfinite(a) & (a != 0)
    _, e = np.frexp(np.abs(a[ok]))  # |x| = m * 2^e, m in [0.5, 1)
    scale = np.ldexp(1.0, RANK_BITS - e)
    vals = np.floor(a[ok] * scale + 0.5) / scale
    vals = np.where(e - 1 < -1000, a[ok], vals)
    out[ok] = vals
    return torch.from_numpy(out)


def filter_logits(z, top_p, top_k):
    """Dream's top_p then top_k filters (removed tokens -> -inf)."""
    if top_p is not None and top_p < 1:
        z = top_p_logits(z, top_p)
    if top_k:
        z = top_k_logits(z, top_k)
    return z


def uncertain_filter_tokens(z, top_p, top_k, tol):
    """(row, token) pairs whose keep/drop by the filters could flip under rounding: top_p drops the
    token at sorted rank r when the mass before it exceeds top_p; top_k drops z below the k-th."""
    out = []
    if top_p is not None and top_p < 1:
        sorted_z, sorted_idx = torch.sort(z, dim=-1, descending=True, stable=True)
        cum = torch.cumsum(F.softmax(sorted_z, dim=-1), dim=-1)
        near = (cum[:, :-1] - top_p).abs() < tol
        for r, j in torch.nonzero(near).tolist():
            out.append((r, int(sorted_idx[r, j + 1])))
    if top_k:
        kth = torch.topk(filter_logits(z, top_p, None), min(top_k, z.size(-1)))[0][..., -1, None]
        for r, t in torch.nonzero(((z - kth).abs() < tol) & (z != kth)).tolist():
            out.append((r, t))
    return out


def decide_rows(logits, z, kept, temperature, u, rule):
    """Token and score of each row (float64). rule: 'llada' (untempered softmax of the chosen
    token), or Dream's 'maskgit_plus' / 'topk_margin' / 'entropy' (tempered, filtered probs).
    Also returns the decision values and a bound on |d score / d logit|_1 per row (sensitivity)."""
    values = add_gumbel_noise(logits, temperature, u).masked_fill(~kept, -torch.inf)
    x0 = torch.argmax(values, dim=-1)  # [rng] Gumbel-max == Categorical(probs) over the kept tokens
    if rule == 'llada':
        p = F.softmax(logits, dim=-1)  # [f64]
        px = torch.gather(p, -1, x0.unsqueeze(-1)).squeeze(-1)
        return px, x0, values, 2 * px * (1 - px)
    probs = torch.softmax(z.masked_fill(~kept, -torch.inf), dim=-1)
    confidence = torch.gather(probs, -1, x0.unsqueeze(-1)).squeeze(-1)
    sens = 2 * confidence * (1 - confidence)
    if rule == 'topk_margin':
        sorted_probs, _ = torch.sort(probs, dim=-1, descending=True)
        p1, p2 = sorted_probs[:, 0], sorted_probs[:, 1]
        confidence = p1 - p2
        sens = 2 * p1 * (1 - p1) + 2 * p2 * (1 - p2)
    if rule == 'entropy':
        logp = torch.log(probs + 1e-10)
        confidence = torch.sum(probs * logp, dim=-1)
        # d(sum p log p)/dz_v = p_v (log p_v - sum p log p), up to the 1e-10 guard
        sens = torch.sum(probs * (logp - confidence[:, None]).abs(), dim=-1) + 1e-9
    if temperature > 0:
        sens = sens / temperature  # z = logits / T
    return confidence, x0, values, sens


def sample_tokens(logits, temperature, top_p, top_k, u, rule='maskgit_plus', margins=None):
    """Dream's sample_tokens (generation_utils.py), float64, also serving LLaDA's rule ('llada').
    Categorical sampling is Gumbel-max on the shared noise [rng]. Returns (confidence, x0)."""
    z = logits / temperature if temperature > 0 else logits
    kept = filter_logits(z, top_p, top_k) > -torch.inf
    confidence, x0, values, sens = decide_rows(logits, z, kept, temperature, u, rule)
    if margins is not None and margins.logit_tol:
        margins.last_sens = sens
        if values.shape[-1] > 1:
            top2 = torch.topk(values, 2, dim=-1).values
            gap = (top2[:, 0] - top2[:, 1])[torch.isfinite(top2[:, 1])]
            if gap.numel():
                margins.token = min(margins.token, float(gap.min()))
        z_tol = 2 * margins.logit_tol / (temperature if temperature > 0 else 1.0)
        for r, t in uncertain_filter_tokens(z, top_p, top_k, z_tol):
            k2 = kept[r:r + 1].clone()
            k2[0, t] = ~k2[0, t]
            c2, x2, _, _ = decide_rows(logits[r:r + 1], z[r:r + 1], k2, temperature, None if u is None else u[r:r + 1], rule)
            if int(x2) != int(x0[r]) or float(rank_key(c2)) != float(rank_key(confidence[r:r + 1])):
                margins.filter_flips += 1
    return confidence, x0


def stable_topk(keys: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k largest keys, ties by index ascending. [tie]"""
    order = torch.sort(keys, descending=True, stable=True).indices
    return order[:k]


@torch.no_grad()
def generate(model, prompt, gen=None, steps=128, gen_length=128, block_length=128, temperature=0.,
             cfg_scale=0., remasking='low_confidence', mask_id=126336, logits_eos_inf=False,
             confidence_eos_eot_inf=False, eos_id=126081, eot_id=None, seed=0, schedule_kind='linear',
             counts=None, eps=1e-3, top_p=None, top_k=None, alg_temp=None, shift_logits=False, margins=None):
    '''
    prompt: LongTensor (1, L). gen: optional initial generated region (gen_length ids, mask_id where
    masked) [canvas]. Returns x (1, L + gen_length) and the trace [(step, [(pos, token, prob)])].
    margins: an optional Margins that records the closest decisions.
    '''
    x = torch.full((1, prompt.shape[1] + gen_length), mask_id, dtype=torch.long)
    x[:, :prompt.shape[1]] = prompt.clone()
    if gen is not None:
        x[:, prompt.shape[1]:] = torch.tensor(gen, dtype=torch.long)  # [canvas]
    P = prompt.shape[1]
    V = model.config.vocab_size

    prompt_index = (x != mask_id)

    schedule = {"kind": schedule_kind, "steps": steps, "blockLength": block_length, "counts": counts, "eps": eps}
    blocks = plan_blocks(schedule, gen_length)  # [blocks]
    stop_ids = [eos_id] + ([eot_id] if eot_id is not None else [])
    trace = []
    step = 0
    for (b_start, b_end, b_steps) in blocks:
        block_mask_index = (x[:, P + b_start: P + b_end] == mask_id)
        num_transfer_tokens = unmask_counts(schedule, int(block_mask_index.sum()), b_steps)  # [blocks]
        for i in range(b_steps):
            mask_index = (x == mask_id)
            if num_transfer_tokens[i] == 0:  # nothing to commit: the forward would change nothing
                trace.append((step, []))
                step += 1
                continue
            if cfg_scale > 0.:
                un_x = x.clone()
                un_x[prompt_index] = mask_id
                x_ = torch.cat([x, un_x], dim=0)
                logits = model(x_)
                logits, un_logits = torch.chunk(logits, 2, dim=0)
                logits = un_logits + (cfg_scale + 1) * (logits - un_logits)
            else:
                logits = model(x)
            if shift_logits:  # Dream: position j reads output j-1
                logits = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)

            if logits_eos_inf:
                logits[:, :, eos_id] = -torch.inf

            # Only masked rows matter; noise for them is the same as for the full tensor. [rng]
            rows = torch.nonzero(mask_index[0]).squeeze(-1)
            l64 = logits[0, rows].double()
            u = rng.uniform(seed, rng.GUMBEL, step, rows.numpy()[:, None], np.arange(V)[None, :]) if temperature > 0 else None
            rule = 'llada' if remasking in ('low_confidence', 'random') else remasking  # [rules]
            x0_p_rows, x0_rows = sample_tokens(l64, temperature, top_p, top_k, u, rule=rule, margins=margins)
            if remasking == 'random':
                x0_p_rows = torch.from_numpy(rng.uniform(seed, rng.REMASK_RANDOM, step, rows.numpy(), 0))  # [rng]
            prob_rows = torch.gather(F.softmax(l64, dim=-1), -1, x0_rows[:, None]).squeeze(-1)
            if confidence_eos_eot_inf:  # [eos]
                x0_p_rows = x0_p_rows.masked_fill(torch.isin(x0_rows, torch.tensor(stop_ids)), -torch.inf)

            x0 = x.clone()[0]
            x0[rows] = x0_rows
            x0_p = torch.full((x.shape[1],), -np.inf, dtype=torch.float64)
            x0_p[rows] = x0_p_rows
            prob = torch.zeros(x.shape[1], dtype=torch.float64)
            prob[rows] = prob_rows

            x0_p[P + b_end:] = -np.inf
            x0_p[:P + b_start] = -np.inf  # [blocks] only the current block (left of it nothing is masked)

            confidence = torch.where(mask_index[0], x0_p, torch.tensor(-np.inf, dtype=torch.float64))
            if alg_temp:  # Dream's alg_temp: multinomial without replacement == Gumbel-top-k [rng]
                g = torch.from_numpy(rng.gumbel(rng.uniform(seed, rng.POSITION_SAMPLE, step, np.arange(x.shape[1]), 0)))
                confidence = confidence / alg_temp + g
            # Choose among the block's masked positions only: upstream's topk over the whole row can
            # pick a -inf position outside the block when the block's own are -inf too. [eos]
            candidates = torch.nonzero(mask_index[0]).squeeze(-1)
            in_block = (candidates >= P + b_start) & (candidates < P + b_end)
            candidates = candidates[in_block]
            select_index = candidates[stable_topk(rank_key(confidence[candidates]), num_transfer_tokens[i])]  # [tie]
            if margins is not None and (remasking != 'random' or alg_temp):  # random scores do not depend on the model
                sens = margins.last_sens[in_block] if remasking != 'random' else torch.zeros(int(in_block.sum()))
                margins.check_ranks(confidence[candidates], sens, num_transfer_tokens[i], alg_temp)
            x[0, select_index] = x0[select_index]
            trace.append((step, [(int(j) - P, int(x0[j]), float(prob[j])) for j in select_index]))
            step += 1
    return x, trace
