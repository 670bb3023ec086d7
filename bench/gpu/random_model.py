"""A LLaDA-shaped model folder with random weights, for measuring speed on a device (not for text).

    python3 bench/gpu/random_model.py OUT [--d-model 1024] [--layers 12] [--heads 16] [--mlp 2816]

Same architecture, graph (sampling heads, KV cache) and tokenizer as the bundled model, only
larger. The norm weights are nudged off 1.0: left all equal, torch 2.11's TorchScript exporter
merges identical initializers into one, and the folder's weight manifest no longer matches.
"""
from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models" / "train"))
import export  # noqa: E402
from model import LLaDAConfig, LLaDAModelLM  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--d-model", type=int, default=1024)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--mlp", type=int, default=2816)
    ap.add_argument("--max-length", type=int, default=1024)
    a = ap.parse_args()
    cfg = LLaDAConfig(d_model=a.d_model, n_heads=a.heads, n_kv_heads=a.heads, n_layers=a.layers,
                      mlp_hidden_size=a.mlp, max_sequence_length=a.max_length)
    torch.manual_seed(0)
    t0 = time.time()
    model = LLaDAModelLM(cfg).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name:
                p.add_(1e-3 * torch.randn_like(p))
    params = sum(p.numel() for p in model.parameters())
    print(f"{params / 1e6:.1f}M parameters", flush=True)
    name = f"llada-shaped-d{a.d_model}-{a.layers}L-random"
    export.export(model, a.out, {"name": name}, "full")
    for f in ("tokenizer.json", "tokenizer_config.json"):
        if not (a.out / f).exists():
            shutil.copy(ROOT / "models" / "default" / f, a.out / f)
    print(f"exported {name} to {a.out} in {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
