"""Train a LoRA adapter for a Maskflow model folder on one register of the Brown corpus.

    /usr/bin/python3 models/train/train_lora.py            # romance fiction -> models/loras/romance
    /usr/bin/python3 models/train/train_lora.py --register ca --name press

Reads the base weights from <base>/model.onnx (through weights.json), so rerun it whenever the
base model is re-exported: the adapter is only meaningful on the weights it was trained on.
Only the LoRA parameters train (PEFT layout: A [r, in], B [out, r], scale alpha/r), with the
same masked-diffusion loss as the base model (train.masked_loss). Deterministic for a given
base, seed and thread count. Writes <out>/adapter_config.json, adapter_model.safetensors and
README.md with the held-out masked-token cross-entropy with and without the adapter.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bpe  # noqa: E402
import brown  # noqa: E402
from lora_common import inject, load_base, load_safetensors, peft_config, peft_state, save_safetensors  # noqa: E402
from train import batch, flatten, masked_loss  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REGISTERS = {"ca": "press: reportage", "cb": "press: editorial", "cf": "popular lore", "cg": "belles lettres",
             "cj": "learned", "ck": "general fiction", "cl": "mystery and detective fiction",
             "cn": "adventure and western fiction", "cp": "romance and love story", "cr": "humor"}
EVAL_RATIOS = (0.15, 0.5, 0.9)
EVAL_SEEDS = 2


def windows(flat: torch.Tensor, S: int) -> torch.Tensor:
    """Non-overlapping [n, S] windows of a token stream (the tail that does not fill one is dropped)."""
    n = len(flat) // S
    return flat[: n * S].view(n, S)


@torch.no_grad()
def masked_ce(model, wins: torch.Tensor, mask_id: int) -> dict:
    """Mean CE on masked tokens at fixed mask ratios, averaged over a few fixed masks."""
    model.eval()
    res = {}
    for r in EVAL_RATIOS:
        total, count = 0.0, 0
        for seed in range(EVAL_SEEDS):
            gen = torch.Generator().manual_seed(1000 + seed)
            for chunk in wins.split(32):
                mask = torch.rand(chunk.shape, generator=gen) < r
                noisy = torch.where(mask, torch.full_like(chunk, mask_id), chunk)
                logits = model(noisy)[mask]
                total += F.cross_entropy(logits, chunk[mask], reduction="sum").item()
                count += int(mask.sum())
        res[f"{r}"] = total / count
    res["mean"] = sum(res[f"{r}"] for r in EVAL_RATIOS) / len(EVAL_RATIOS)
    return res


def set_lora(layers, state: dict[str, torch.Tensor]) -> None:
    for name, layer in layers.items():
        layer.lora_A.weight.data.copy_(state[f"base_model.model.{name}.lora_A.weight"].float())
        layer.lora_B.weight.data.copy_(state[f"base_model.model.{name}.lora_B.weight"].float())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default=str(ROOT / "default"), help="Maskflow model folder (model.onnx, weights.json, config.json)")
    ap.add_argument("--register", default="cp", help="Brown register prefix: " + ", ".join(f"{k} {v}" for k, v in REGISTERS.items()))
    ap.add_argument("--name", default=None, help="adapter folder name under models/loras (default: from the register)")
    ap.add_argument("--out", default=None, help="output folder (default models/loras/<name>)")
    ap.add_argument("--targets", default="q_proj,k_proj,v_proj,attn_out,ff_proj,up_proj,ff_out")
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--alpha", type=float, default=16.0)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--lr", type=float, default=5e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--dtype", default="F16", choices=["F32", "F16", "BF16"], help="tensor dtype in the safetensors file")
    args = ap.parse_args()

    default_names = {"cp": "romance", "ca": "press", "cn": "western", "cl": "mystery", "cr": "humor"}
    name = args.name or default_names.get(args.register, args.register)
    out = Path(args.out) if args.out else ROOT / "loras" / name
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.time()

    base = Path(args.base)
    model, manifest = load_base(base)
    tok = bpe.load(str(base / "tokenizer.json"))
    mask_id = manifest["mask_token_id"]
    train_paras, held_paras = brown.register(args.register)
    if not train_paras or not held_paras:
        raise SystemExit(f"register {args.register!r} has no paragraphs (train {len(train_paras)}, held-out {len(held_paras)})")
    flat, starts = flatten(tok, train_paras)
    held = windows(flatten(tok, held_paras)[0], args.seq)
    # Text from the other registers' held-out files: what the adapter should not be tuned for.
    other_paras = [p for n in sorted(brown.HELD_OUT) if not n.startswith(args.register) for p in brown.paragraphs(n)]
    other = windows(flatten(tok, other_paras)[0], args.seq)[:32]
    print(f"register {args.register} ({REGISTERS.get(args.register, '?')}): {len(flat):,} train tokens, "
          f"{held.numel():,} held-out tokens; other registers {other.numel():,}", flush=True)

    before = {"register": masked_ce(model, held, mask_id), "other": masked_ce(model, other, mask_id)}
    print("base      ", json.dumps(before), flush=True)

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    layers = inject(model, targets, args.rank, args.alpha)
    params = [p for layer in layers.values() for p in (layer.lora_A.weight, layer.lora_B.weight)]
    n_params = sum(p.numel() for p in params)
    print(f"{len(layers)} LoRA layers, {n_params:,} trainable parameters", flush=True)
    opt = torch.optim.AdamW(params, lr=args.lr, betas=(0.9, 0.99), weight_decay=0.0)
    gen = torch.Generator().manual_seed(args.seed)
    warmup = max(1, args.steps // 20)
    model.train()
    for step in range(args.steps):
        lr = args.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        x = batch(flat, starts, args.batch, args.seq, gen, padded_frac=0.25)
        t = (1 - 1e-3) * torch.rand(args.batch, generator=gen) + 1e-3
        loss, _ = masked_loss(model, x, t, gen, mask_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        if (step + 1) % 25 == 0:
            print(f"step {step + 1}/{args.steps} loss {loss.item():.3f} lr {lr:.1e} {time.time() - t0:.0f}s", flush=True)

    # Save in the file's dtype, then score the adapter as saved (after rounding to that dtype).
    out.mkdir(parents=True, exist_ok=True)
    state = peft_state(layers)
    onnx_sha = hashlib.sha256((base / "model.onnx").read_bytes()).hexdigest()
    # A regex rather than the bare names: PEFT matches a list entry against any module's last name,
    # so ["ff_out"] would also take in the LM head (model.transformer.ff_out), which is not adapted here.
    target_regex = rf".*\.blocks\.\d+\.({'|'.join(targets)})"
    config = peft_config(manifest.get("name", base.name), args.rank, args.alpha, target_regex)
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_safetensors(out / "adapter_model.safetensors", state, args.dtype,
                     {"format": "pt", "maskflow.base_model_sha256": onnx_sha,
                      "maskflow.register": args.register})
    set_lora(layers, load_safetensors(out / "adapter_model.safetensors"))
    after = {"register": masked_ce(model, held, mask_id), "other": masked_ce(model, other, mask_id)}
    print("with LoRA ", json.dumps(after), flush=True)
    seconds = time.time() - t0

    base_training = {}
    if (base / "training.json").exists():
        base_training = {k: v for k, v in json.loads((base / "training.json").read_text()).items() if k in ("step", "tokens", "hours")}
    report = {
        "base_training": base_training,
        "register": args.register, "register_name": REGISTERS.get(args.register, args.register),
        "base": str(base.relative_to(ROOT.parent)) if base.resolve().is_relative_to(ROOT.parent) else str(base),
        "base_model_sha256": onnx_sha, "targets": targets, "rank": args.rank, "alpha": args.alpha,
        "steps": args.steps, "batch": args.batch, "seq": args.seq, "lr": args.lr, "seed": args.seed,
        "threads": args.threads, "dtype": args.dtype, "trainable_params": n_params,
        "train_tokens": len(flat), "held_out_tokens": held.numel(), "other_tokens": other.numel(),
        "ce_without": before, "ce_with": after, "seconds": round(seconds, 1),
    }
    (out / "training.json").write_text(json.dumps(report, indent=2) + "\n")
    write_readme(out, name, report)
    print(f"wrote {out} in {seconds:.0f} s", flush=True)


def write_readme(out: Path, name: str, r: dict) -> None:
    def row(label: str, key: str) -> str:
        b, a = r["ce_without"][key], r["ce_with"][key]
        cells = " | ".join(f"{b[f'{x}']:.3f} → {a[f'{x}']:.3f}" for x in EVAL_RATIOS)
        return f"| {label} | {cells} | {b['mean']:.3f} → {a['mean']:.3f} ({a['mean'] - b['mean']:+.3f}) |"

    ratios = " | ".join(f"{int(x * 100)}% masked" for x in EVAL_RATIOS)
    bt = r.get("base_training") or {}
    base_note = f", base trained for {bt['step']} steps" if bt.get("step") else ""
    text = f"""# `{name}`: a LoRA for the default model, trained on Brown {r['register']} ({r['register_name']})

Made by `/usr/bin/python3 models/train/train_lora.py --register {r['register']} --name {name}`
({r['steps']} steps of batch {r['batch']} x {r['seq']} tokens, {r['threads']} thread(s), {r['seconds']:.0f} s).
Rerun that command whenever `{r['base']}` is re-exported: an adapter only fits the weights it was
trained on (this one: model.onnx sha256 `{r['base_model_sha256'][:16]}…`{base_note}).

- PEFT layout: `adapter_config.json` + `adapter_model.safetensors` ({r['dtype']}), r={r['rank']}, lora_alpha={r['alpha']:g}
  (scale {r['alpha'] / r['rank']:g}), targets {', '.join(r['targets'])}: {r['trainable_params']:,} parameters.
- Objective: the base model's masked-diffusion loss (train.masked_loss) on the register's
  training texts ({r['train_tokens']:,} tokens); the base weights are frozen.

## Held-out masked-token cross-entropy (nats per token; without → with the adapter)

Held-out text is the register's held-out Brown file(s) ({r['held_out_tokens']:,} tokens, never trained on by the
base model or the adapter), in windows of {r['seq']} tokens, {EVAL_SEEDS} fixed masks per ratio. "Other registers" is
{r['other_tokens']:,} tokens from the held-out files of the other registers.

| text | {ratios} | mean |
|---|---|---|---|---|
{row(f"Brown {r['register']} held-out", "register")}
{row("other registers", "other")}

Use it with the `ApplyLora` node (`workflows/lora.maskflow.json`); `strength` scales the
adapter (0 = the base model, negative values push away from the register's style).
"""
    (out / "README.md").write_text(text)


if __name__ == "__main__":
    main()
