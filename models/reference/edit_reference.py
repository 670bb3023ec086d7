"""References for the editing features, transcribed in torch for parity fixtures
(make_edit_fixtures.py -> test/fixtures/edit/*.json).

get_log_likelihood: LLaDA's Monte Carlo ELBO (ML-GSAI/LLaDA get_log_likelihood.py), as
    engine/dllm/samplers/score.ts computes it. Deliberate changes, each marked:
  [rng]  k and the masked subsets come from Maskflow's counter-based generator (rng.py):
         k = 1 + floor(u * L), u at (SCORE_LEVEL, group, 0, 0); sample i masks the m_i scored
         positions with the smallest u at (SCORE_ORDER, group, i, j), ties by j (a uniform random
         subset, as randperm gives)
  [f64]  the stratified levels k + i*L/b are float64, rounded half to even (torch.round);
         cross-entropy in float64 from the float32 logits
  [ctx]  scored tokens: the generated region minus fixed tokens; the prompt and fixed tokens
         are context (and are masked in the CFG unconditional branch)
  [mean] the estimate is the mean of -loss over all samples (upstream: mean of group means,
         the same when all groups are full)

generate_remdm: LLaDA's generate with ReMDM remasking as engine/dllm/samplers/remdm.ts and
    extended.ts adapt it (low_confidence remasking, no CFG); see remdm.ts for the rules.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

import rng
from llada_generate import rank_key, sample_tokens, stable_topk
from schedules import plan_blocks, unmask_counts

SCORE_LEVEL, SCORE_ORDER = 18, 19  # engine/dllm/samplers/streams.ts
REMDM = 17


# ------------------------------------------------------------------ ELBO

def forward_process(seq_len: int, P: int, scored: list[int], b: int, group: int, seed: int, mask_id: int, batch: torch.Tensor):
    L = len(scored)
    k = 1 + math.floor(float(rng.uniform(seed, SCORE_LEVEL, group, 0, 0)) * L)  # [rng]
    x = np.round(np.array([k + (i * L) / b for i in range(b)], dtype=np.float64)).astype(np.int64)  # [f64] half to even
    x = ((x - 1) % L) + 1
    assert x.min() >= 1 and x.max() <= L
    noisy = batch.clone()
    for i in range(b):
        keys = rng.uniform(seed, SCORE_ORDER, group, i, np.arange(L))  # [rng]
        order = np.lexsort((np.arange(L), keys))  # keys ascending, ties by index
        for j in order[: x[i]]:
            noisy[i, scored[j]] = mask_id
    return noisy, x / L


@torch.no_grad()
def get_log_likelihood(model, prompt: list[int], answer: list[int], fixed: list[bool] | None = None, mc_num=128,
                       batch_size=16, cfg_scale=0., mask_id=126336, seed=0):
    """-> (estimate, per-sample -loss list)"""
    P = len(prompt)
    fixed = fixed or [False] * len(answer)
    seq = torch.tensor([prompt + answer], dtype=torch.long)
    scored = [P + g for g in range(len(answer)) if not fixed[g]]  # [ctx]
    context = torch.tensor([p < P or fixed[p - P] for p in range(seq.shape[1])])
    L = len(scored)
    per_sample = []
    groups = (mc_num + batch_size - 1) // batch_size
    for group in range(groups):
        b = min(batch_size, mc_num - group * batch_size)
        batch = seq.repeat((b, 1))
        perturbed, p_mask = forward_process(seq.shape[1], P, scored, b, group, seed, mask_id, batch)
        mask_index = perturbed == mask_id
        if cfg_scale > 0.:
            un = perturbed.clone()
            un[:, context] = mask_id  # [ctx]
            logits, un_logits = torch.chunk(model(torch.cat([perturbed, un])), 2, dim=0)
            logits = un_logits + (cfg_scale + 1) * (logits - un_logits)
        else:
            logits = model(perturbed)
        for i in range(b):
            idx = torch.nonzero(mask_index[i]).squeeze(-1)
            ce = F.cross_entropy(logits[i, idx].double(), seq[0, idx], reduction='none')  # [f64]
            per_sample.append(-float((ce / float(p_mask[i])).sum()))
    return sum(per_sample) / len(per_sample), per_sample  # [mean]


# ------------------------------------------------------------------ ReMDM

LOOP_DEFAULTS = {"t_on": 0.55, "t_off": 0.05, "alpha_on": 0.9}


def sigma_max(alpha_t: float, alpha_s: float) -> float:
    return min(1.0, (1 - alpha_s) / alpha_t) if alpha_t > 0 else 1.0


def loop_alpha(t: float, o: dict) -> float:
    t_on, t_off, a_on = (o.get(k, LOOP_DEFAULTS[k]) for k in ("t_on", "t_off", "alpha_on"))
    if t > t_on:
        return ((1 - t) * a_on) / (1 - t_on)
    if t > t_off:
        return a_on
    return 1 - (t * (1 - a_on)) / t_off if t_off > 0 else 1.0


def decode_targets(o: dict | None, counts: list[int], m: int) -> list[int]:
    n = len(counts)
    if o and o["strategy"] == "loop":
        return [m if i == n - 1 else min(m, math.floor(loop_alpha((n - i - 1) / n, o) * m + 0.5)) for i in range(n)]
    return list(np.cumsum(counts)) if counts else []


def remdm_sigmas(o: dict, i: int, n: int, confidence: list[float]) -> list[float]:
    d = len(confidence)
    if d == 0:
        return []
    if i >= n - 1:  # the last step of a block ends it fully decoded
        return [0.0] * d
    a_t, a_s = i / n, (i + 1) / n
    s = o["strategy"]
    if s == "cap":
        return [min(o["eta"], sigma_max(a_t, a_s))] * d
    if s == "rescale":
        return [o["eta"] * sigma_max(a_t, a_s)] * d
    if s == "conf":
        sm = sigma_max(a_t, a_s)
        mx = max(-p for p in confidence)
        w = [math.exp(-p - mx) for p in confidence]
        total = 0.0
        for v in w:
            total += v
        return [(v / total) * sm for v in w]
    t = (n - i) / n
    t_on, t_off = o.get("t_on", LOOP_DEFAULTS["t_on"]), o.get("t_off", LOOP_DEFAULTS["t_off"])
    return [o["eta"] if t_off < t <= t_on else 0.0] * d


@torch.no_grad()
def generate_remdm(model, prompt: list[int], gen_length: int, steps: int, block_length: int, temperature: float,
                   mask_id: int, seed: int, remdm: dict, margins=None):
    """-> (generated tokens, trace [(step, [(pos, token, prob)], remasked)], remask margin)
    remask margin: the smallest |u - sigma| of a remask decision (conf's sigma depends on logits)."""
    P = len(prompt)
    V = model.config.vocab_size
    x = torch.tensor([prompt + [mask_id] * gen_length], dtype=torch.long)
    owned = [True] * gen_length
    conf = [0.0] * gen_length
    schedule = {"kind": "linear", "steps": steps, "blockLength": block_length}
    trace, step, closest = [], 0, math.inf
    for (bs, be, bn) in plan_blocks(schedule, gen_length):
        owned_blk = [g for g in range(bs, be) if owned[g]]
        m = sum(1 for g in owned_blk if int(x[0, P + g]) == mask_id)
        targets = decode_targets(remdm, unmask_counts(schedule, m, bn), m)
        for i in range(bn):
            decoded = [g for g in owned_blk if int(x[0, P + g]) != mask_id]
            sig = remdm_sigmas(remdm, i, bn, [conf[g] for g in decoded])
            remask = []
            for g, s in zip(decoded, sig):
                if s > 0:
                    u = float(rng.uniform(seed, REMDM, step, P + g, 0))
                    closest = min(closest, abs(u - s))
                    if u < s:
                        remask.append(g)
            cands = [P + g for g in range(bs, be) if int(x[0, P + g]) == mask_id]
            k = max(0, min(len(cands), int(targets[i]) - (len(decoded) - len(remask))))
            commits = []
            if k > 0:
                logits = model(x)
                rows = torch.tensor(cands)
                l64 = logits[0, rows].double()
                u = rng.uniform(seed, rng.GUMBEL, step, rows.numpy()[:, None], np.arange(V)[None, :]) if temperature > 0 else None
                x0_p, x0 = sample_tokens(l64, temperature, None, None, u, rule='llada', margins=margins)
                sel = stable_topk(rank_key(x0_p), k)
                if margins is not None:
                    margins.check_ranks(x0_p, margins.last_sens, k)
                for j in sel.tolist():
                    pos = cands[j]
                    x[0, pos] = x0[j]
                    conf[pos - P] = float(x0_p[j])
                    commits.append((pos - P, int(x0[j]), float(x0_p[j])))
            for g in remask:
                x[0, P + g] = mask_id
                conf[g] = 0.0
            trace.append((step, commits, remask))
            step += 1
    return x[0, P:].tolist(), trace, closest
