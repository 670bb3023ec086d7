"""Mask schedules, mirrored from engine/dllm/schedules.ts (see there for the definitions)."""
from __future__ import annotations

import math

import numpy as np

DEFAULT_EPS = 1e-3
f32 = np.float32


def linear_counts(m: int, n: int) -> list[int]:
    """LLaDA's get_num_transfer_tokens for one row."""
    base, rem = divmod(m, n)
    return [base + (1 if j < rem else 0) for j in range(n)]


def float32_time_grid(n: int, eps: float) -> list[np.float32]:
    """torch.linspace(1, eps, n + 1) in float32, scalar CPU kernel (first half up, second half down)."""
    start, end, N = f32(1.0), f32(eps), n + 1
    step = f32(f32(end - start) / f32(n))
    half = N // 2
    return [f32(start + f32(step * f32(i))) if i < half else f32(end - f32(step * f32(N - 1 - i))) for i in range(N)]


def loglinear_counts(m: int, n: int, eps: float = DEFAULT_EPS) -> list[int]:
    """Dream's `_sample` counts: int(num_mask * (1 - s/t)) in float32, all remaining on the last step."""
    ts = float32_time_grid(n, eps)
    out, remaining = [], m
    for i in range(n):
        if i == n - 1:
            out.append(remaining)
            break
        t, s = ts[i], ts[i + 1]
        k = int(f32(f32(remaining) * f32(f32(1.0) - f32(s / t))))
        out.append(k)
        remaining -= k
    return out


def cosine_counts(m: int, n: int, eps: float = DEFAULT_EPS) -> list[int]:
    mu = lambda t: 1.0 - math.cos(math.pi * t / 2)  # noqa: E731
    out, remaining = [], m
    for i in range(n):
        if i == n - 1:
            out.append(remaining)
            break
        t = 1 + i * (eps - 1) / n
        s = 1 + (i + 1) * (eps - 1) / n
        k = min(remaining, math.floor(remaining * (1 - mu(s) / mu(t)) + 1e-9))
        out.append(k)
        remaining -= k
    return out


def list_counts(m: int, counts: list[int]) -> list[int]:
    out, remaining = [], m
    for i, c in enumerate(counts):
        k = remaining if i == len(counts) - 1 else min(c, remaining)
        out.append(k)
        remaining -= k
    return out


def unmask_counts(schedule: dict, m: int, n: int) -> list[int]:
    kind = schedule["kind"]
    if kind == "linear":
        return linear_counts(m, n)
    if kind == "loglinear":
        return loglinear_counts(m, n, schedule.get("eps", DEFAULT_EPS))
    if kind == "cosine":
        return cosine_counts(m, n, schedule.get("eps", DEFAULT_EPS))
    if kind == "list":
        return list_counts(m, schedule["counts"])
    raise ValueError(kind)


def plan_blocks(schedule: dict, gen_length: int) -> list[tuple[int, int, int]]:
    """[(start, end, steps)] over the generated region; LLaDA's split when everything divides."""
    bl = min(schedule["blockLength"], gen_length) if schedule["blockLength"] > 0 else gen_length
    nb = max(1, -(-gen_length // bl))
    steps = [len(schedule["counts"])] * nb if schedule["kind"] == "list" else linear_counts(schedule["steps"], nb)
    if min(steps) < 1:
        raise ValueError("too few steps for the blocks")
    return [(b * bl, min((b + 1) * bl, gen_length), s) for b, s in enumerate(steps)]


def torch_dream_counts(m: int, n: int, eps: float = DEFAULT_EPS) -> list[int]:
    """The same counts computed with torch exactly as Dream does (for checking the mirror)."""
    import torch
    ts = torch.linspace(1, eps, n + 1)
    out, remaining = [], m
    for i in range(n):
        t, s = ts[i], ts[i + 1]
        num = torch.tensor(remaining) / 1
        k = int(num * (1 - s / t)) if i < n - 1 else int(num)
        out.append(k)
        remaining -= k
    return out


if __name__ == "__main__":
    assert linear_counts(32, 10) == [4, 4, 3, 3, 3, 3, 3, 3, 3, 3]
    assert loglinear_counts(16, 8) == [1, 2, 2, 2, 2, 2, 2, 3], loglinear_counts(16, 8)
    assert loglinear_counts(32, 4) == [7, 8, 8, 9], loglinear_counts(32, 4)
    c = loglinear_counts(512, 512)
    assert c[0] == 0 and sum(c) == 512, c[:5]
    bad = [(m, n) for n in range(1, 300) for m in (n // 2, n, 2 * n + 3, 512) if loglinear_counts(m, n) != torch_dream_counts(m, n)]
    print("float32 grid vs torch.linspace: mismatching (m, n):", bad[:10], "of", 299 * 4)
