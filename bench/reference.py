"""The PyTorch side of `npm run bench`: LLaDA's generate (models/reference/llada_generate.py,
the transcription the parity fixtures come from) on the same weights and settings as Maskflow.

    /usr/bin/python3 bench/reference.py <workloads.json>        -> one JSON object on stdout
    /usr/bin/python3 bench/reference.py --serve <model> <threads>

The first form reads {model, threads, workloads: [...]} and prints {torch, threads, blas,
peak_rss_mb, results: [...]}. The second is what bench/run.ts uses, so the two sides can take
turns workload by workload (the same machine noise for both) without reloading torch: it prints
one line {ready, torch, threads, blas, peak_rss_mb} once the model is loaded and warmed up, then
answers each workload line on stdin with one result line on stdout. Progress goes to stderr.

A workload: {name, prompt_ids: [[...]] (one list per batch row), gen_length, steps, block_length,
cfg_scale, temperature, remasking, seed, repeats}. Rows of a batch run one after another (LLaDA's
generate takes one prompt). A result: {name, ms: [wall per repeat], model_ms: [time inside the
model's forward per repeat], forwards, tokens: [[generated ids] per row], peak_rss_mb (so far)}.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "models" / "reference"))
from llada_generate import generate  # noqa: E402
from onnx_weights import load_model  # noqa: E402


class Counted(torch.nn.Module):
    """Counts forwards and the time spent in them."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.config = model.config
        self.forwards = 0
        self.seconds = 0.0

    def forward(self, x):
        t = time.perf_counter()
        out = self.model(x)
        self.seconds += time.perf_counter() - t
        self.forwards += 1
        return out


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def blas_library() -> str:
    """The BLAS torch actually calls. Debian's torch reports BLAS_INFO=generic and links
    libblas.so.3, which the alternatives system points at OpenBLAS (or the reference BLAS):
    the mapped library files say which."""
    torch.ones(64, 64) @ torch.ones(64, 64)
    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return "unknown"
    libs = sorted({line.split()[-1] for line in maps.splitlines() if "blas" in line.lower() and "/" in line})
    for lib in libs:
        if "openblas" in lib.lower():
            return f"openblas ({lib})"
    return ", ".join(libs) or "unknown"


class Runner:
    def __init__(self, folder: str, threads: int):
        torch.set_num_threads(threads)
        self.threads = threads
        model, self.manifest = load_model(Path(folder))
        self.model = Counted(model)
        with torch.no_grad():  # first-call allocations and thread pools, outside any measurement
            self.model(torch.full((1, 16), self.manifest["mask_token_id"], dtype=torch.long))

    def info(self) -> dict:
        env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "GOMP_SPINCOUNT") if k in os.environ}
        return {"torch": torch.__version__, "threads": self.threads, "blas": blas_library(), "thread_env": env,
                "peak_rss_mb": peak_rss_mb()}

    def run(self, w: dict) -> dict:
        m = self.model
        runs, model_ms, forwards, outputs = [], [], 0, []
        with torch.no_grad():
            for r in range(w["repeats"]):
                print(f"reference {w['name']}: repeat {r + 1}/{w['repeats']}", file=sys.stderr, flush=True)
                m.forwards, m.seconds = 0, 0.0
                t = time.perf_counter()
                outputs = []
                for row in w["prompt_ids"]:
                    x, _ = generate(m, torch.tensor([row]), steps=w["steps"], gen_length=w["gen_length"],
                                    block_length=w["block_length"], temperature=w["temperature"],
                                    cfg_scale=w["cfg_scale"], remasking=w["remasking"],
                                    mask_id=self.manifest["mask_token_id"], eos_id=self.manifest["eos_token_id"],
                                    seed=w["seed"])
                    outputs.append(x[0, len(row):].tolist())
                runs.append((time.perf_counter() - t) * 1000)
                model_ms.append(m.seconds * 1000)
                forwards = m.forwards
        return {"name": w["name"], "ms": runs, "model_ms": model_ms, "forwards": forwards, "tokens": outputs,
                "peak_rss_mb": peak_rss_mb()}


def serve(folder: str, threads: int) -> None:
    runner = Runner(folder, threads)
    print(json.dumps({"ready": True, **runner.info()}), flush=True)
    for line in sys.stdin:
        if not line.strip():
            continue
        w = json.loads(line)
        try:
            out = runner.run(w)
        except Exception as err:  # reported per workload; the bench goes on
            out = {"name": w.get("name"), "error": f"{type(err).__name__}: {err}"}
        print(json.dumps(out), flush=True)


def main() -> None:
    if len(sys.argv) >= 2 and sys.argv[1] == "--serve":
        serve(sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else (os.cpu_count() or 1))
        return
    spec = json.loads(Path(sys.argv[1]).read_text())
    runner = Runner(spec["model"], int(spec.get("threads", os.cpu_count() or 1)))
    results = [runner.run(w) for w in spec["workloads"]]
    print(json.dumps({**runner.info(), "results": results}))


if __name__ == "__main__":
    main()
