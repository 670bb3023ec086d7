"""Train the bundled default model with the masked-diffusion objective (LLaDA / MDLM).

    /usr/bin/python3 models/train/train.py [--hours H] [--threads N]           (CPU)
    python3 models/train/train.py --run gpu --hours 0.1 --batch 256 --cosine-wall --warmup 100 --eval-every 100
                                                                                (a CUDA machine)

The bundled model came from the second line on one H200 (bf16 autocast, ~1.3 M tokens/s; its
held-out best after 235 s). On a machine without node_modules, copy runs/<run>/data.pt (the
tokenised corpus) into the run folder first.

Resumable: state is saved to models/train/runs/<run>/ckpt.pt every few minutes and on
SIGINT/SIGTERM, and a rerun of the same command continues from it. Every eval the
exponential moving average (EMA) of the weights is scored on held-out Brown text; the best
EMA weights go to best.pt, which export.py turns into the model folder.

Objective: t ~ U(eps, 1] per sequence, each token masked with probability t, cross-entropy
on the masked tokens weighted by 1/t, divided by B*L (LLaDA's pre-training loss).
Data: consecutive Brown paragraphs joined by [EOS]; a quarter of the windows hold one or two
paragraphs followed by [EOS] padding, so the model learns to end text (variable length).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bpe  # noqa: E402
import brown  # noqa: E402
from model import LLaDAConfig, LLaDAModelLM  # noqa: E402

HERE = Path(__file__).resolve().parent
EVAL_RATIOS = (0.15, 0.5, 0.9)


def load_tokenizer(path: Path, train_paras: list[str], vocab_size: int) -> bpe.Tokenizer:
    if path.exists():
        return bpe.load(str(path))
    print(f"training BPE ({vocab_size} ids) ...", flush=True)
    tok = bpe.Tokenizer(bpe.train(train_paras, vocab_size))
    path.parent.mkdir(parents=True, exist_ok=True)
    bpe.save(tok, str(path))
    return tok


def flatten(tok: bpe.Tokenizer, paras: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """All paragraphs joined by [EOS], and the offset where each paragraph starts."""
    ids, starts = [], []
    for p in paras:
        starts.append(len(ids))
        ids.extend(tok.encode(p))
        ids.append(bpe.EOS_ID)
    return torch.tensor(ids, dtype=torch.long), torch.tensor(starts, dtype=torch.long)


def batch(flat, starts, B: int, S: int, gen: torch.Generator, padded_frac: float) -> torch.Tensor:
    out = torch.full((B, S), bpe.EOS_ID, dtype=torch.long)
    picks = torch.randint(0, len(starts) - 2, (B,), generator=gen)
    padded = torch.rand(B, generator=gen) < padded_frac
    n_paras = torch.randint(1, 3, (B,), generator=gen)
    for b in range(B):
        s = int(starts[picks[b]])
        if padded[b]:
            end = int(starts[min(int(picks[b]) + int(n_paras[b]), len(starts) - 1)])
            n = min(S, end - s)
        else:
            n = min(S, len(flat) - s)
        out[b, :n] = flat[s : s + n]
    return out


def masked_loss(model: LLaDAModelLM, x: torch.Tensor, t: torch.Tensor, gen: torch.Generator, mask_id: int):
    """LLaDA's loss: CE on masked tokens weighted by 1/t, over B*L."""
    B, S = x.shape
    mask = (torch.rand(B, S, generator=gen) < t[:, None].cpu()).to(x.device)  # drawn on the CPU: same stream on any device
    noisy = torch.where(mask, torch.full_like(x, mask_id), x)
    h = model.hidden(noisy)[mask]  # the head only runs where the loss needs it
    ce = F.cross_entropy(model.model.transformer.ff_out(h), x[mask], reduction="none")
    weights = (1.0 / t)[:, None].expand(B, S)[mask]
    return (ce * weights).sum() / (B * S), ce


@torch.no_grad()
def evaluate(model: LLaDAModelLM, windows: torch.Tensor, mask_id: int) -> dict:
    model.eval()
    device = next(model.parameters()).device
    res = {}
    for r in EVAL_RATIOS:
        gen = torch.Generator().manual_seed(1234)
        total, count = 0.0, 0
        for chunk in windows.split(32):
            mask = torch.rand(chunk.shape, generator=gen) < r
            chunk, mask = chunk.to(device), mask.to(device)
            noisy = torch.where(mask, torch.full_like(chunk, mask_id), chunk)
            logits = model(noisy)[mask].float()
            total += F.cross_entropy(logits, chunk[mask], reduction="sum").item()
            count += int(mask.sum())
        res[f"ce@{r}"] = total / count
    model.train()
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="default")
    ap.add_argument("--hours", type=float, default=1.0, help="wall-clock budget of this invocation")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--decay-start", type=int, default=10**9, help="step where the cosine decay to lr/10 begins")
    ap.add_argument("--decay-steps", type=int, default=2000)
    ap.add_argument("--cosine-wall", action="store_true",
                    help="decay the lr to lr/10 along a cosine over this invocation's wall budget (--hours), "
                         "as for a short GPU run, instead of the step-based --decay-start/--decay-steps")
    ap.add_argument("--ema", type=float, default=0.999, help="EMA decay (warmed up as min(ema, (1+step)/(10+step)))")
    ap.add_argument("--reset-ema", action="store_true", help="on resume, restart the EMA from the current weights")
    ap.add_argument("--eval-every", type=int, default=250)
    ap.add_argument("--save-minutes", type=float, default=5.0)
    ap.add_argument("--tokenizer", default=str(HERE.parent / "default" / "tokenizer.json"))
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--warm-start", metavar="MODEL_ONNX",
                    help="with no checkpoint in the run folder, start from these weights (e.g. models/default/model.onnx, "
                         "so a fresh machine continues from the committed model rather than from scratch)")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    cuda = args.device.startswith("cuda")
    if cuda:
        torch.backends.cuda.matmul.allow_tf32 = True
    run_dir = HERE / "runs" / args.run
    run_dir.mkdir(parents=True, exist_ok=True)
    cache = run_dir / "data.pt"
    if cache.exists() and Path(args.tokenizer).exists():
        # the tokenised corpus alone (a machine without node_modules, e.g. a GPU box, needs only this file)
        tok = bpe.load(args.tokenizer)
        data = torch.load(cache)
    else:
        train_paras, held_paras = brown.split()
        tok = load_tokenizer(Path(args.tokenizer), train_paras, 4096)
        data = {"train": flatten(tok, train_paras), "held": flatten(tok, held_paras)}
        torch.save(data, cache)
    flat, starts = data["train"]
    hflat, hstarts = data["held"]
    S = args.seq
    windows = torch.stack([hflat[s : s + S] for s in hstarts.tolist() if s + S <= len(hflat)][::2])
    print(f"train tokens {len(flat):,}  held-out windows {tuple(windows.shape)}", flush=True)

    cfg = LLaDAConfig(max_sequence_length=S, vocab_size=len(tok.vocab), embedding_size=len(tok.vocab),
                      mask_token_id=bpe.MASK_ID, eos_token_id=bpe.EOS_ID, pad_token_id=bpe.PAD_ID)
    torch.manual_seed(0)
    model = LLaDAModelLM(cfg).to(args.device)
    ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, betas=(0.9, 0.95), weight_decay=0.1)
    gen = torch.Generator().manual_seed(0)
    state = {"step": 0, "tokens": 0, "seconds": 0.0, "best": float("inf")}
    ckpt = run_dir / "ckpt.pt"
    if ckpt.exists():
        saved = torch.load(ckpt, map_location=args.device)
        model.load_state_dict(saved["model"])
        ema = saved["ema"]
        opt.load_state_dict(saved["opt"])
        gen.set_state(saved["gen"])
        state = saved["state"]
        if args.reset_ema:
            ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
        print(f"resumed at step {state['step']} ({state['tokens']:,} tokens, {state['seconds']/3600:.2f} h)", flush=True)
    elif args.warm_start:
        import onnx
        from onnx import numpy_helper
        inits = {i.name: torch.from_numpy(numpy_helper.to_array(i).copy()) for i in onnx.load(args.warm_start).graph.initializer}
        model.load_state_dict({k: inits[k] for k in model.state_dict()})
        ema = {k: v.detach().clone() for k, v in model.state_dict().items()}
        info = Path(args.warm_start).with_name("training.json")
        if info.exists():
            prev = json.loads(info.read_text())
            state.update(tokens=prev.get("tokens") or 0, seconds=(prev.get("hours") or 0) * 3600)
        state["step"] = args.warmup  # the weights are trained: no warm-up from zero
        print(f"warm start from {args.warm_start} ({state['tokens']:,} tokens so far)", flush=True)
    n_params = sum(p.numel() for p in model.parameters())
    hardware = (f"one {torch.cuda.get_device_name(args.device)} (torch {torch.__version__}, bf16 autocast)" if cuda
                else f"{args.threads} CPU threads (torch {torch.__version__})")
    recipe = (f"AdamW lr {args.lr:g}, batch {args.batch} x {S}, "
              + ("cosine to lr/10 over the wall budget" if args.cosine_wall else "constant lr after warm-up")
              + ", EMA of the weights exported")
    (run_dir / "config.json").write_text(json.dumps(cfg.to_hf(), indent=2))

    def save() -> None:
        tmp = run_dir / "ckpt.tmp"
        torch.save({"model": model.state_dict(), "ema": ema, "opt": opt.state_dict(), "gen": gen.get_state(),
                    "state": state, "config": cfg.to_hf(), "params": n_params}, tmp)
        os.replace(tmp, ckpt)

    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))

    def lr_at(step: int) -> float:
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        if args.cosine_wall:
            p = min(1.0, (time.time() - t_start) / (args.hours * 3600))
            return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))
        if step < args.decay_start:
            return args.lr
        p = min(1.0, (step - args.decay_start) / args.decay_steps)
        return args.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))

    log = open(run_dir / "log.jsonl", "a")
    t_start, t_saved = time.time(), time.time()
    seconds0 = state["seconds"]
    while not stop["now"] and time.time() - t_start < args.hours * 3600:
        step = state["step"]
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        x = batch(flat, starts, args.batch, S, gen, padded_frac=0.25).to(args.device)
        t = (1 - 1e-3) * torch.rand(args.batch, generator=gen) + 1e-3
        with torch.autocast(device_type="cuda", dtype=torch.bfloat16) if cuda else contextlib.nullcontext():
            loss, _ = masked_loss(model, x, t.to(args.device), gen, cfg.mask_token_id)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            decay = min(args.ema, (1 + step) / (10 + step))
            live = model.state_dict()
            torch._foreach_mul_(list(ema.values()), decay)
            torch._foreach_add_(list(ema.values()), [live[k] for k in ema], alpha=1 - decay)
        state["step"] += 1
        state["tokens"] += x.numel()
        state["seconds"] = seconds0 + time.time() - t_start
        if state["step"] % 25 == 0:
            print(f"step {state['step']} loss {loss.item():.3f} lr {lr_at(step):.2e} "
                  f"{state['tokens']/max(state['seconds'],1e-9):.0f} tok/s", flush=True)
        if state["step"] % args.eval_every == 0 or stop["now"] or time.time() - t_start >= args.hours * 3600:
            # also on the way out, so a stopped run's last weights are scored (and kept if best)
            live = {k: v.clone() for k, v in model.state_dict().items()}
            model.load_state_dict(ema)
            scores = evaluate(model, windows, cfg.mask_token_id)
            model.load_state_dict(live)
            row = {"step": state["step"], "tokens": state["tokens"], "hours": state["seconds"] / 3600,
                   "loss": loss.item(), **{f"ema_{k}": v for k, v in scores.items()}}
            log.write(json.dumps(row) + "\n")
            log.flush()
            print("eval", row, flush=True)
            if scores["ce@0.5"] < state["best"]:
                state["best"] = scores["ce@0.5"]
                torch.save({"model": {k: v.cpu() for k, v in ema.items()}, "config": cfg.to_hf(), "scores": scores, "step": state["step"],
                            "tokens": state["tokens"], "hours": state["seconds"] / 3600, "params": n_params,
                            "hardware": hardware, "recipe": recipe},
                           run_dir / "best.pt")
        if time.time() - t_saved > args.save_minutes * 60:
            save()
            t_saved = time.time()
    save()
    print(f"saved at step {state['step']}", flush=True)


if __name__ == "__main__":
    main()
