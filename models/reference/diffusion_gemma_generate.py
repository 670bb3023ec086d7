"""DiffusionGemma's released sampler (transformers' generation_diffusion_gemma.py: the generate loop,
EntropyBoundSampler, LinearTemperatureScheduleLogitsProcessor, StableAndConfidentStoppingCriteria;
shared reference diffusiongemma.md section 5, source T2), transcribed for one batch row, with its
random draws taken from a `draws` object instead of torch's global generator (trap 17: torch's
RNG cannot be matched from TypeScript). Written from reading that code, not copied.

Per canvas c (at most ceil(max_new_tokens / canvas_length)):
  1. encode the prompt (first canvas) or the previous committed canvas into the cache
  2. canvas = draws.initial(c): canvas_length ids uniform over the whole vocabulary; no SC
  3. for cur_step = N, N-1, ..., 1 (N = max_denoising_steps), g counting steps over the run:
       logits = decode(canvas, cache, sc);  T = t_min + (t_max - t_min) * cur_step / N
       processed = logits / T
       sampled[i] = categorical(softmax(processed[i])) by inverse CDF of draws.sample(g)[i]
       argmax = argmax(processed); H = entropy(softmax(processed)) per position
       accept rank j of the ascending entropies iff cumsum_j - H_j <= entropy_bound
       canvas = accepted ? sampled : draws.renoise(g)[i]   (nothing is frozen: every step decides anew)
       stable = argmax equals each of the last stability_threshold steps' (history starts at -1)
       confident = mean(H) < confidence_threshold; stop after this step when both hold
       sc = processed
  4. commit the last step's argmax canvas (not the sampled one); if it holds a stop id, ids after
     the first stop id become pad and generation ends.
The last committed canvas is not encoded (the cache upstream returns lacks it).

Sampling: upstream calls torch.multinomial; here the same distribution is sampled by inverse CDF
in float64 (first id whose cumulative probability exceeds u), which the TypeScript sampler does too.
"""
from __future__ import annotations

import json
import math

import numpy as np
import torch

import diffusion_gemma_reference as ref
import rng

INITIAL, SAMPLE, RENOISE = rng.CANVAS_INITIAL, rng.CANVAS_SAMPLE, rng.CANVAS_RENOISE


class SeededDraws:
    """Maskflow's counter-based generator: each draw is a function of (seed, stream, step, position)."""

    def __init__(self, seed: int, vocab: int):
        self.seed, self.vocab = seed, vocab
        self.log = []

    def _ids(self, stream, step, n):
        u = rng.uniform(self.seed, stream, step, np.arange(n), 0)
        return np.floor(u * self.vocab).astype(np.int64)

    def initial(self, canvas: int, n: int):
        ids = self._ids(INITIAL, canvas, n)
        self.log.append({"kind": "initial", "ids": ids.tolist()})
        return ids

    def sample(self, step: int, n: int):
        u = rng.uniform(self.seed, SAMPLE, step, np.arange(n), 0)
        self.log.append({"kind": "sample", "u": u.tolist()})
        return u

    def renoise(self, step: int, n: int):
        ids = self._ids(RENOISE, step, n)
        self.log.append({"kind": "renoise", "ids": ids.tolist()})
        return ids


def inverse_cdf(processed: torch.Tensor, u: np.ndarray):
    """Per row: the first id whose cumulative probability (float64, from float32 logits) exceeds u; and how close u came to a boundary."""
    x = processed.double().numpy()
    p = np.exp(x - x.max(-1, keepdims=True))
    cdf = np.cumsum(p, -1) / p.sum(-1, keepdims=True)
    ids = np.array([min(int(np.searchsorted(cdf[i], u[i], side="right")), cdf.shape[1] - 1) for i in range(len(u))])
    margin = min(float(np.min(np.abs(cdf[i] - u[i]))) for i in range(len(u)))
    return ids, margin


@torch.no_grad()
def generate(state: dict, cfg: dict, prompt: list[int], gen: dict, draws, margins: dict | None = None):
    """Returns (sequence after the prompt, whole canvases with pad after the first stop id; trace)."""
    tc = cfg["text_config"]
    V, L = tc["vocab_size"], cfg["canvas_length"]
    N = gen["max_denoising_steps"]
    bound, t_min, t_max = gen["entropy_bound"], gen["t_min"], gen["t_max"]
    stop_ids, pad = set(gen["stop_token_ids"]), gen["pad_token_id"]
    canvases = math.ceil(gen["max_new_tokens"] / L)
    margins = margins if margins is not None else {}
    margins.setdefault("sample", math.inf)
    margins.setdefault("accept", math.inf)
    margins.setdefault("confidence", math.inf)

    cache = None
    pending = torch.tensor([prompt])
    out, trace, g = [], [], 0
    for c in range(canvases):
        cache = ref.encode(state, cfg, pending, cache)
        canvas = torch.from_numpy(draws.initial(c, L))[None]
        sc = None
        history = [torch.full((L,), -1, dtype=torch.long) for _ in range(gen["stability_threshold"])]
        steps = []
        for cur_step in range(N, 0, -1):
            logits = ref.decode(state, cfg, canvas, cache, sc)
            temperature = t_min + (t_max - t_min) * (cur_step / N)
            processed = logits[0] / temperature
            sampled, m = inverse_cdf(processed, draws.sample(g, L))
            margins["sample"] = min(margins["sample"], m)
            argmax = processed.argmax(-1)
            H = ref.entropy(processed)
            order = torch.sort(H, stable=True).indices
            sh = H[order]
            before = torch.cumsum(sh.double(), 0).float() - sh  # float64 accumulation, float32 results
            margins["accept"] = min(margins["accept"], float((before - bound).abs().min()))
            top2 = torch.topk(processed, 2, dim=-1).values
            margins["argmax"] = min(margins.get("argmax", math.inf), float((top2[:, 0] - top2[:, 1]).min()))
            accept = torch.zeros(L, dtype=torch.bool)
            accept[order] = before <= bound
            renoise = torch.from_numpy(draws.renoise(g, L))
            canvas = torch.where(accept, torch.from_numpy(sampled), renoise)[None]
            stable = all(bool((h == argmax).all()) for h in history)  # threshold 0: always stable
            history = history[1:] + [argmax.clone()] if history else history
            mean_h = float(H.mean())
            margins["confidence"] = min(margins["confidence"], abs(mean_h - gen["confidence_threshold"]))
            confident = mean_h < gen["confidence_threshold"]
            steps.append({"step": g, "temperature": temperature, "accepted": torch.nonzero(accept).flatten().tolist(),
                          "argmax": argmax.tolist(), "canvas": canvas[0].tolist(), "mean_entropy": mean_h, "stable": stable, "confident": confident})
            sc = processed[None]
            g += 1
            if stable and confident:
                break
        committed = argmax.tolist()
        finished = False
        for i, t in enumerate(committed):
            if t in stop_ids:
                committed = committed[:i + 1] + [pad] * (L - i - 1)
                finished = True
                break
        out += committed
        trace.append({"canvas": c, "steps": steps, "committed": committed, "finished": finished})
        if finished:
            break
        pending = torch.tensor([committed])
    return out, trace


def write_draws(path, draws: SeededDraws) -> None:
    with open(path, "w") as f:
        json.dump({"format": 1, "kind": "maskflow-canvas-draws", "vocab_size": draws.vocab, "draws": draws.log}, f)
