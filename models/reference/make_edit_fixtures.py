"""Write the editing fixtures the TypeScript tests compare against (test/fixtures/edit/*.json).

    /usr/bin/python3 models/reference/make_edit_fixtures.py [--model models/default]

Rerun it whenever models/default/model.onnx changes (the fixtures record the model's sha256 and
the tests report stale fixtures instead of failing). Needs torch, onnx and numpy; well under a
minute on two cores.

Files:
  score.json  LLaDA's Monte Carlo ELBO (edit_reference.get_log_likelihood) of fixed texts
  remdm.json  LLaDA generate with ReMDM remasking (edit_reference.generate_remdm), eta > 0

Texts are fixed strings, never generated ones, so the cases stay meaningful as the default model
keeps training. ReMDM cases whose decisions are too close to call under torch-vs-onnxruntime
rounding (see make_fixtures.py) are redrawn with the next seed.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "models" / "train"))

from edit_reference import generate_remdm, get_log_likelihood  # noqa: E402
from llada_generate import Margins  # noqa: E402
from onnx_weights import load_model, sha256  # noqa: E402

OUT = ROOT / "test" / "fixtures" / "edit"
REGENERATE = "/usr/bin/python3 models/reference/make_edit_fixtures.py"
LOGIT_TOL = 5e-6
ATTEMPTS = 12

SCORE_CASES = [
    dict(name="continuation", prompt="The man opened the door and", answer=" walked into the room.", samples=32, batch=16, seed=0),
    dict(name="partial last group", prompt="She said that the city council would", answer=" meet again on Monday.", samples=20, batch=8, seed=5),
    dict(name="fixed tokens are context", prompt="", answer="The old house stood at the end of the street.", fixed=[0, 1, 2, 8, 9], samples=16, batch=16, seed=2),
    dict(name="cfg 1.0", prompt="In the morning, the children", answer=" went to school.", samples=16, batch=16, seed=7, cfg=1.0),
    dict(name="single token", prompt="He looked at her and said,", answer=" yes", samples=8, batch=4, seed=3),
]

REMDM_CASES = [
    dict(name="cap greedy", prompt="The man opened the door and", gen_length=24, steps=24, block_length=24, temperature=0.0, remdm={"strategy": "cap", "eta": 0.1}, seed=1),
    dict(name="rescale sampled blocks", prompt="She said that the city council would", gen_length=24, steps=24, block_length=8, temperature=0.7, remdm={"strategy": "rescale", "eta": 0.3}, seed=2),
    dict(name="conf sampled", prompt="In the morning, the children", gen_length=16, steps=16, block_length=16, temperature=0.5, remdm={"strategy": "conf", "eta": 0}, seed=3),
    dict(name="loop more steps than tokens", prompt="It was a long time before he", gen_length=16, steps=32, block_length=16, temperature=0.8, remdm={"strategy": "loop", "eta": 0.2}, seed=4),
    dict(name="loop one token per step", prompt="According to the report, the new school", gen_length=20, steps=20, block_length=20, temperature=0.7, remdm={"strategy": "loop", "eta": 0.3}, seed=6),
    dict(name="cap two per step", prompt="The President told reporters that", gen_length=24, steps=12, block_length=24, temperature=0.6, remdm={"strategy": "cap", "eta": 0.15}, seed=5),
]


def write(name: str, doc: dict) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / name
    path.write_text(json.dumps(doc, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")


def score_fixture(model, man, tok) -> list[dict]:
    out = []
    for case in SCORE_CASES:
        prompt = tok.encode(case["prompt"]) if case["prompt"] else []
        answer = tok.encode(case["answer"])
        fixed = [False] * len(answer)
        for g in case.get("fixed", []):
            fixed[g] = True
        est, per_sample = get_log_likelihood(model, prompt, answer, fixed, mc_num=case["samples"], batch_size=case["batch"],
                                             cfg_scale=case.get("cfg", 0.0), mask_id=man["mask_token_id"], seed=case["seed"])
        out.append({"name": case["name"], "prompt_ids": prompt, "tokens": answer, "fixed": fixed,
                    "options": {"samples": case["samples"], "batchSize": case["batch"], "seed": case["seed"], "cfgScale": case.get("cfg", 0.0)},
                    "log_likelihood": est, "per_sample": per_sample})
        print(f"  score {case['name']}: {est:.4f}", flush=True)
    return out


def remdm_fixture(model, man, tok) -> list[dict]:
    out = []
    for case in REMDM_CASES:
        prompt = tok.encode(case["prompt"])
        best = None
        for attempt in range(ATTEMPTS):
            seed = case["seed"] + attempt
            margins = Margins(LOGIT_TOL)
            tokens, trace, closest = generate_remdm(model, prompt, case["gen_length"], case["steps"], case["block_length"],
                                                    case["temperature"], man["mask_token_id"], seed, case["remdm"], margins=margins)
            risks = margins.rank_flips + int(margins.token < margins.logit_tol) + int(closest < 1e-4)
            remasked = sum(len(r) for _, _, r in trace)
            if remasked == 0:
                risks += 100  # a case that remasks nothing tests nothing
            if best is None or risks < best[0]:
                best = (risks, seed, tokens, trace, remasked)
            if risks == 0:
                break
            print(f"  remdm {case['name']!r} seed {seed}: {risks} risks, redrawing", flush=True)
        risks, seed, tokens, trace, remasked = best
        out.append({
            "name": case["name"], "prompt_ids": prompt, "gen_length": case["gen_length"],
            "options": {"schedule": {"kind": "linear", "steps": case["steps"], "blockLength": case["block_length"]},
                        "temperature": case["temperature"], "remasking": "low_confidence", "cfgScale": 0, "seed": seed},
            "remdm": {"strategy": case["remdm"]["strategy"], "eta": case["remdm"]["eta"]},
            "tokens": tokens,
            "trace": [{"step": s, "positions": [p for p, _, _ in c], "tokens": [t for _, t, _ in c],
                       "confidence": [round(pr, 12) for _, _, pr in c], "remasked": r} for s, c, r in trace],
            "remasked": remasked, "robust": risks == 0,
        })
        print(f"  remdm {case['name']}: seed {seed}, {remasked} remasked{'' if risks == 0 else f', {risks} RISKS'}", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=str(ROOT / "models" / "default"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    import bpe
    folder = Path(args.model).resolve()
    model, man = load_model(folder)
    tok = bpe.load(str(folder / "tokenizer.json"))
    meta = {"generated_by": REGENERATE,
            "model": {"path": str(folder.relative_to(ROOT)) if folder.is_relative_to(ROOT) else str(folder),
                      "onnx_sha256": sha256(folder / man.get("model", "model.onnx"))}}
    write("score.json", {**meta, "cases": score_fixture(model, man, tok)})
    write("remdm.json", {**meta, "logit_tolerance": LOGIT_TOL, "cases": remdm_fixture(model, man, tok)})
    print(f"done in {time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
