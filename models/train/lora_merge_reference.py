"""The reference LoRA merge, in torch, and the test fixtures made with it.

    # merged weights of a model folder + adapters (PEFT layout), written as safetensors (F32):
    /usr/bin/python3 models/train/lora_merge_reference.py merge --model models/default \\
        --adapter models/loras/romance:1.0 [--adapter other:0.5 ...] --out /tmp/merged.safetensors

    # regenerate test/fixtures/lora (a tiny random LLaDA model, adapters, expected merges):
    /usr/bin/python3 models/train/lora_merge_reference.py fixtures

The merge is PEFT's: W' = W + strength * scale * (B @ A), in float32, with scale = lora_alpha / r
(lora_alpha / sqrt(r) with use_rslora) and per-module r / alpha from rank_pattern / alpha_pattern.
Weights stored "in_out" (pre-transposed) get the transposed delta. The engine's TypeScript merge
(engine/dllm/lora/merge.ts) is tested against the fixtures this writes (CI has no torch).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lora_common import lora_delta, load_safetensors, peft_config, save_safetensors  # noqa: E402

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
FIXTURES = ROOT / "test" / "fixtures" / "lora"


def read_weights(folder: Path) -> tuple[dict[str, torch.Tensor], dict[str, dict]]:
    """Initializers named in weights.json, as stored (layout untouched), and the manifest entries."""
    manifest = {w["name"]: w for w in json.loads((folder / "weights.json").read_text())["weights"]}
    proto = onnx.load(str(folder / "model.onnx"))
    inits = {t.name: t for t in proto.graph.initializer}
    stored = {name: torch.from_numpy(numpy_helper.to_array(inits[w["onnx"]]).astype(np.float32).copy()) for name, w in manifest.items()}
    return stored, manifest


def merge(folder: Path, adapters: list[tuple[Path, float]]) -> dict[str, torch.Tensor]:
    """{weight name: merged weight as stored} for every weight an adapter touches."""
    stored, manifest = read_weights(folder)
    out: dict[str, torch.Tensor] = {}
    for adapter_dir, strength in adapters:
        config = json.loads((adapter_dir / "adapter_config.json").read_text())
        tensors = load_safetensors(adapter_dir / "adapter_model.safetensors")
        modules = sorted({k[len("base_model.model."):].rsplit(".lora_", 1)[0] for k in tensors})
        for module in modules:
            name = f"{module}.weight"
            w = manifest[name]
            delta = lora_delta(config, tensors, module) * strength  # [out, in]
            if w["layout"] == "in_out":
                delta = delta.T
            out[name] = (out[name] if name in out else stored[name].clone()) + delta
    return out


# ---------------------------------------------------------------- fixtures

def random_adapter(out: Path, modules: dict[str, tuple[int, int]], config: dict, dtype: str, seed: int) -> None:
    """An adapter with random A and B (B non-zero, unlike a fresh PEFT init) for the given modules {name: (in, out)}."""
    g = torch.Generator().manual_seed(seed)
    tensors = {}
    for module, (fin, fout) in modules.items():
        r = config["r"]
        for key, value in (config.get("rank_pattern") or {}).items():
            import re
            if re.match(rf"(.*\.)?({key})$", module):
                r = value
                break
        tensors[f"base_model.model.{module}.lora_A.weight"] = torch.randn(r, fin, generator=g) * 0.3
        tensors[f"base_model.model.{module}.lora_B.weight"] = torch.randn(fout, r, generator=g) * 0.3
    out.mkdir(parents=True, exist_ok=True)
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    save_safetensors(out / "adapter_model.safetensors", tensors, dtype, {"format": "pt"})


def tiny_model(out: Path) -> dict[str, tuple[int, int]]:
    """A 2-layer random LLaDA (d_model 16) exported like the default model; returns {module: (in, out)}."""
    from export import export
    from model import LLaDAConfig, LLaDAModelLM

    torch.manual_seed(7)
    cfg = LLaDAConfig(d_model=16, n_heads=2, n_kv_heads=2, n_layers=2, mlp_hidden_size=24, vocab_size=40,
                      embedding_size=40, max_sequence_length=32, mask_token_id=1, eos_token_id=2, pad_token_id=0)
    model = LLaDAModelLM(cfg)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:  # RMSNorm weights start equal, and the exporter would merge equal initializers
                p.copy_(1 + 0.1 * torch.randn_like(p))
    model.eval()
    if out.exists():
        shutil.rmtree(out)
    export(model, out, {"name": "tiny-llada"}, graph="plain")
    manifest = json.loads((out / "maskflow.json").read_text())
    manifest["name"] = "tiny-llada"
    (out / "maskflow.json").write_text(json.dumps(manifest, indent=2) + "\n")
    (out / "tokenizer_config.json").unlink()
    modules = {}
    for name, mod in model.named_modules():
        if isinstance(mod, torch.nn.Linear) and ".blocks." in name:
            modules[name] = (mod.in_features, mod.out_features)
    return modules


def in_out_model(out: Path) -> dict[str, tuple[int, int]]:
    """A two-layer graph: y1 = x @ lin.weight (stored [in, out]), y2 = x @ lin2.weight^T (stored [out, in])."""
    g = torch.Generator().manual_seed(11)
    w1 = torch.randn(16, 12, generator=g) * 0.2  # in_out: [in, out]
    w2 = torch.randn(12, 16, generator=g) * 0.2  # out_in: [out, in]
    nodes = [
        helper.make_node("MatMul", ["x", "lin.weight"], ["y1"]),
        helper.make_node("Transpose", ["lin2.weight"], ["lin2_t"], perm=[1, 0]),
        helper.make_node("MatMul", ["x", "lin2_t"], ["y2"]),
    ]
    graph = helper.make_graph(
        nodes, "in_out_fixture",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 16])],
        [helper.make_tensor_value_info("y1", TensorProto.FLOAT, ["n", 12]), helper.make_tensor_value_info("y2", TensorProto.FLOAT, ["n", 12])],
        [numpy_helper.from_array(w1.numpy(), "lin.weight"), numpy_helper.from_array(w2.numpy(), "lin2.weight")],
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    out.mkdir(parents=True, exist_ok=True)
    onnx.save(m, str(out / "model.onnx"))
    weights = [
        {"name": "lin.weight", "onnx": "lin.weight", "shape": [16, 12], "dtype": "float32", "layout": "in_out"},
        {"name": "lin2.weight", "onnx": "lin2.weight", "shape": [12, 16], "dtype": "float32", "layout": "out_in"},
    ]
    (out / "weights.json").write_text(json.dumps({"format": 1, "weights": weights}, indent=1) + "\n")
    return {"lin": (16, 12), "lin2": (16, 12)}


def fixtures() -> None:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    tiny = FIXTURES / "tiny"
    modules = tiny_model(tiny)
    pick = lambda *suffixes: {m: s for m, s in modules.items() if m.rsplit(".", 1)[1] in suffixes}  # noqa: E731

    random_adapter(FIXTURES / "adapter-a", pick("q_proj", "v_proj", "up_proj"),
                   peft_config("tiny-llada", 4, 8, ["q_proj", "v_proj", "up_proj"]), "F32", 1)
    random_adapter(FIXTURES / "adapter-b", pick("k_proj", "ff_out"),
                   peft_config("tiny-llada", 2, 3, r".*\.(k_proj|ff_out)", rslora=True,
                               rank_pattern={"blocks.1.k_proj": 3}, alpha_pattern={"ff_out": 5}), "BF16", 2)
    random_adapter(FIXTURES / "adapter-c", modules,
                   peft_config("tiny-llada", 3, 6, ["q_proj", "k_proj", "v_proj", "attn_out", "ff_proj", "up_proj", "ff_out"]), "F16", 3)

    inout = FIXTURES / "inout"
    random_adapter(inout / "adapter", in_out_model(inout), peft_config("in-out", 2, 4, ["lin", "lin2"]), "F32", 4)

    cases = {
        "a@1": [("adapter-a", 1.0)],
        "a@0.7+b@-1.3": [("adapter-a", 0.7), ("adapter-b", -1.3)],
        "c@0.5": [("adapter-c", 0.5)],
    }
    expected = {}
    for case, layers in cases.items():
        merged = merge(tiny, [(FIXTURES / d, s) for d, s in layers])
        for name, w in merged.items():
            expected[f"{case}/{name}"] = w
    save_safetensors(FIXTURES / "expected.safetensors", expected, "F32", {"cases": json.dumps(cases)})

    # in_out: merged weights, and both outputs of the graph for a fixed input, computed in torch
    merged = merge(inout, [(inout / "adapter", 1.5)])
    x = torch.randn(3, 16, generator=torch.Generator().manual_seed(5))
    y1 = x @ merged["lin.weight"]
    y2 = x @ merged["lin2.weight"].T
    save_safetensors(inout / "expected.safetensors",
                     {"lin.weight": merged["lin.weight"], "lin2.weight": merged["lin2.weight"], "x": x, "y1": y1, "y2": y2},
                     "F32", {"strength": "1.5"})
    total = sum(p.stat().st_size for p in FIXTURES.rglob("*") if p.is_file())
    print(f"wrote {FIXTURES} ({total / 1024:.0f} KiB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("merge")
    m.add_argument("--model", required=True)
    m.add_argument("--adapter", action="append", required=True, help="DIR:STRENGTH (repeatable; stacked in order)")
    m.add_argument("--out", required=True)
    sub.add_parser("fixtures")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.cmd == "fixtures":
        fixtures()
        return
    layers = []
    for spec in args.adapter:
        path, _, strength = spec.rpartition(":")
        layers.append((Path(path), float(strength)))
    merged = merge(Path(args.model), layers)
    save_safetensors(Path(args.out), merged, "F32")
    print(f"wrote {len(merged)} merged weights to {args.out}")


if __name__ == "__main__":
    main()
