"""Maskflow's random number generator, mirrored from engine/dllm/rng.ts (vectorised with numpy).

Philox4x32-10 (Salmon et al., SC'11; Random123), counter-based:
    key     = (seed mod 2^32, seed // 2^32)                  seed: integer in [0, 2^53)
    counter = (index // 2, position, step, stream)           each a uint32
    (w0, w1, w2, w3) = Philox4x32-10(counter, key)
    even index -> (hi, lo) = (w0, w1); odd index -> (w2, w3)
    u = ((hi >> 5) * 2^26 + (lo >> 6)) / 2^53                 float64 in [0, 1), 53 bits
Every number is a function of (seed, stream, step, position, index) alone, so the TypeScript
sampler (which only touches the positions it decides) and this reference (which draws noise
for the whole [S, V] tensor like LLaDA's torch.rand_like) see the same noise.
"""
from __future__ import annotations

import numpy as np

GUMBEL, REMASK_RANDOM, POSITION_SAMPLE = 0, 1, 2
CANVAS_INITIAL, CANVAS_SAMPLE, CANVAS_RENOISE = 3, 4, 5  # uniform-noise models (diffusion_gemma_generate.py)

M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = 0x9E3779B9, 0xBB67AE85
MASK32 = np.uint64(0xFFFFFFFF)
S32 = np.uint64(32)


def philox4x32(c0, c1, c2, c3, k0: int, k1: int):
    """Philox4x32-10 over broadcastable uint32 counter arrays; returns four uint32 arrays."""
    c0, c1, c2, c3 = np.broadcast_arrays(*(np.asarray(c, dtype=np.uint64) & MASK32 for c in (c0, c1, c2, c3)))
    k0, k1 = k0 & 0xFFFFFFFF, k1 & 0xFFFFFFFF
    for r in range(10):
        if r:
            k0 = (k0 + W0) & 0xFFFFFFFF
            k1 = (k1 + W1) & 0xFFFFFFFF
        p0 = M0 * c0  # < 2^64: exact in uint64
        p1 = M1 * c2
        hi0, lo0 = p0 >> S32, p0 & MASK32
        hi1, lo1 = p1 >> S32, p1 & MASK32
        c0, c1, c2, c3 = hi1 ^ c1 ^ np.uint64(k0), lo1, hi0 ^ c3 ^ np.uint64(k1), lo0
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def _key(seed: int) -> tuple[int, int]:
    if not (0 <= seed < 2**53) or int(seed) != seed:
        raise ValueError(f"seed must be an integer in [0, 2^53), got {seed}")
    return int(seed) % 2**32, int(seed) // 2**32


def _unit(hi, lo):
    return ((hi >> np.uint32(5)).astype(np.float64) * 67108864.0 + (lo >> np.uint32(6)).astype(np.float64)) / 9007199254740992.0


def uniform(seed: int, stream: int, step, position, index) -> np.ndarray:
    """u(seed, stream, step, position, index), broadcasting step/position/index arrays."""
    k0, k1 = _key(seed)
    step, position, index = np.broadcast_arrays(np.asarray(step), np.asarray(position), np.asarray(index, dtype=np.int64))
    w0, w1, w2, w3 = philox4x32(index // 2, position, step, stream, k0, k1)
    odd = (index % 2) == 1
    return np.where(odd, _unit(w2, w3), _unit(w0, w1))


def uniform_grid(seed: int, stream: int, step: int, n_positions: int, n_index: int) -> np.ndarray:
    """[n_positions, n_index] uniforms for one step (position p, index i), like torch.rand_like."""
    return uniform(seed, stream, step, np.arange(n_positions)[:, None], np.arange(n_index)[None, :])


def noisy_logits(logits: np.ndarray, temperature: float, u: np.ndarray) -> np.ndarray:
    """LLaDA's add_gumbel_noise in log space (float64): l - T*log(-log u); u == 0 -> -inf."""
    with np.errstate(divide="ignore"):
        g = np.log(-np.log(u))
    out = logits.astype(np.float64) - temperature * g
    return np.where(u == 0, -np.inf, out)


def gumbel(u: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        g = -np.log(-np.log(u))
    return np.where(u == 0, -np.inf, g)


if __name__ == "__main__":
    kat = [
        ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
        ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
        ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
         (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
    ]
    for ctr, key, want in kat:
        got = tuple(int(w) for w in philox4x32(*ctr, *key))
        assert got == want, (ctr, key, [hex(g) for g in got])
    print("Philox4x32-10 known-answer vectors OK")
