"""Export a LLaDA-architecture checkpoint to a Maskflow model folder.

    /usr/bin/python3 models/train/export.py [--checkpoint models/train/runs/default/best.pt] [--out models/default]

Writes model.onnx (opset 17, dynamic batch and sequence axes, initializers keep their
state_dict names because constant folding is off), weights.json (the manifest of weight
names, shapes and layouts that LoRA merging uses), config.json (LLaDA's fields) and
maskflow.json (what the sampler needs). The tokenizer files are written by train.py.
"""
from __future__ import annotations

import argparse
import inspect
import json
import sys
from pathlib import Path

import onnx
import onnx.numpy_helper
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from graph import INPUTS, OUTPUTS, TOP_K, ExportGraph  # noqa: E402
from model import LLaDAConfig, LLaDAModelLM  # noqa: E402

HERE = Path(__file__).resolve().parent
FIELDS = LLaDAConfig.__dataclass_fields__

CHAT_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}{{ message['content'] | trim }}\n"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] | trim }}[EOS]{% endif %}{% endfor %}"
)


# torch >= 2.9 defaults to the dynamo exporter; this graph is written for the TorchScript one
LEGACY = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}


def load_checkpoint(path: Path) -> tuple[LLaDAModelLM, dict]:
    saved = torch.load(path, map_location="cpu")
    cfg = LLaDAConfig(**{k: v for k, v in saved["config"].items() if k in FIELDS})
    model = LLaDAModelLM(cfg)
    state = saved.get("model") or saved["ema"]
    model.load_state_dict(state)
    model.eval()
    return model, saved


def export_plain(model: LLaDAModelLM, path: Path) -> None:
    """input_ids -> logits, nothing else: what any LLaDA runtime expects."""
    cfg = model.config
    example = torch.randint(3, cfg.vocab_size, (1, 16))
    torch.onnx.export(
        model, (example,), str(path), opset_version=17, do_constant_folding=False, **LEGACY,
        input_names=["input_ids"], output_names=["logits"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
    )


def export_full(model: LLaDAModelLM, path: Path) -> None:
    """LLaDA plus the block KV cache and the sampling heads (see graph.py)."""
    cfg = model.config
    hd = cfg.d_model // cfg.n_heads
    B, S, P = 2, 12, 3
    example = (
        torch.randint(3, cfg.vocab_size, (B, S)),
        torch.randn(cfg.n_layers, 2, B, cfg.n_kv_heads, P, hd),
        torch.tensor([P]),
        torch.tensor([[1, 2, 3], [4, 5, 6]]),
        torch.tensor([1.5]),
    )
    batch_k = {0: "batch", 1: "decide"}
    half_k = {0: "half_batch", 1: "decide"}
    dynamic = {
        "input_ids": {0: "batch", 1: "sequence"}, "past_kv": {2: "past_batch", 4: "past"}, "decide": batch_k,
        "logits": {0: "batch", 1: "sequence"}, "present_kv": {2: "batch", 4: "sequence"},
        "head_logits": batch_k, "head_top_ids": batch_k, "head_top_logp": batch_k, "head_entropy": batch_k,
        "cfg_logits": half_k, "cfg_top_ids": half_k, "cfg_top_logp": half_k, "cfg_entropy": half_k,
    }
    torch.onnx.export(ExportGraph(model).eval(), example, str(path), opset_version=17, do_constant_folding=False, **LEGACY,
                      input_names=INPUTS, output_names=OUTPUTS, dynamic_axes=dynamic)


TWO_GB = 2 ** 31


def store_transposed(onnx_path: Path) -> set[str]:
    """Stores each weight that the graph only transposes ([out, in] -> [in, out] for MatMul) already
    transposed, under its own name, and drops the Transpose. Left in the graph, onnxruntime's
    constant folding transposes every weight at every load: 9.6 s of the 9.8 s an 839M model took
    to load on 2 cores. Returns the names stored transposed. A model over 2 GB keeps its weights
    in one external file, model.onnx.data (torch writes one file per tensor: those are removed)."""
    folder = onnx_path.parent
    skeleton = onnx.load(str(onnx_path), load_external_data=False)
    files = {e.value for t in skeleton.graph.initializer for e in t.external_data if e.key == "location"}
    proto = onnx.load(str(onnx_path))
    inits = {i.name: i for i in proto.graph.initializer}
    consumers: dict[str, list] = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    done, keep = set(), []
    renames: dict[str, str] = {}
    def swaps(node) -> bool:
        return node.op_type == "Transpose" and [list(a.ints) for a in node.attribute if a.name == "perm"] == [[1, 0]]

    outputs = {o.name for o in proto.graph.output}
    for node in proto.graph.node:
        src = node.input[0] if node.input else None
        # a weight that every user transposes (the head is used twice: logits and the sampling head)
        if (swaps(node) and src in inits and len(inits[src].dims) == 2 and src not in outputs
                and all(swaps(c) for c in consumers[src])):
            if src not in done:
                t = inits[src]
                t.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(t).T.copy(), src))
                done.add(src)
            renames[node.output[0]] = src
        else:
            keep.append(node)
    for node in keep:
        for i, name in enumerate(node.input):
            if name in renames:
                node.input[i] = renames[name]
    del proto.graph.node[:]
    proto.graph.node.extend(keep)
    big = sum(t.ByteSize() for t in proto.graph.initializer) > TWO_GB - (64 << 20)
    for name in files:  # torch's external files, loaded above; written again below
        (folder / name).unlink()
    if big:
        onnx.save_model(proto, str(onnx_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location="model.onnx.data", size_threshold=1024)
    else:
        onnx.save_model(proto, str(onnx_path))
    return done


def export(model: LLaDAModelLM, out: Path, meta: dict, graph: str = "full") -> None:
    cfg = model.config
    out.mkdir(parents=True, exist_ok=True)
    onnx_path = out / "model.onnx"
    (export_full if graph == "full" else export_plain)(model, onnx_path)
    transposed = store_transposed(onnx_path)
    # By path, and without the weights: a model over 2 GB has its weights in external data, and
    # neither a protobuf holding them nor the checker given one in memory can exceed 2 GB.
    onnx.checker.check_model(str(onnx_path))
    proto = onnx.load(str(onnx_path), load_external_data=False)
    inits = {i.name: list(i.dims) for i in proto.graph.initializer}
    weights = []
    for name, p in model.state_dict().items():
        if name not in inits:
            raise SystemExit(f"weight {name} has no initializer of that name in the ONNX graph (were weights deduplicated?)")
        shape = list(p.shape)[::-1] if name in transposed else list(p.shape)
        if inits[name] != shape:
            raise SystemExit(f"weight {name}: ONNX shape {inits[name]} != torch shape {list(p.shape)}{' transposed' if name in transposed else ''}")
        linear = name.endswith("proj.weight") or name.endswith("attn_out.weight") or name.endswith("ff_out.weight")
        if name in transposed and not linear:
            raise SystemExit(f"weight {name} is transposed in the graph but is not a linear layer's weight")
        weights.append({"name": name, "onnx": name, "shape": shape, "dtype": "float32",
                        # nn.Linear stores [out_features, in_features]; the graph multiplies by its
                        # transpose, stored as such (in_out) where the graph only transposes it
                        "layout": ("in_out" if name in transposed else "out_in") if linear else "plain"})
    (out / "weights.json").write_text(json.dumps({"format": 1, "weights": weights}, indent=1) + "\n")
    (out / "config.json").write_text(json.dumps(cfg.to_hf(), indent=2) + "\n")
    manifest = {
        "format": 1,
        "family": "llada",
        "name": meta.get("name", "maskflow-tiny-llada"),
        "mask_token_id": cfg.mask_token_id,
        "eos_token_id": cfg.eos_token_id,
        "pad_token_id": cfg.pad_token_id,
        "vocab_size": cfg.vocab_size,
        "max_length": cfg.max_sequence_length,
        "shift_logits": False,
        # role -> graph name. A plain graph has only input_ids/logits; the full one adds the
        # block KV cache (past_kv, position_offset, present_kv) and the sampling heads.
        "inputs": {"input_ids": "input_ids"} if graph != "full" else {n: n for n in INPUTS},
        "outputs": {"logits": "logits"} if graph != "full" else {n: n for n in OUTPUTS},
        "heads": [] if graph != "full" else ["argmax", "top_k", "entropy", "logits_at", "cfg"],
        "head_top_k": TOP_K if graph == "full" else 0,
        "kv_cache": None if graph != "full" else {"layers": cfg.n_layers, "heads": cfg.n_kv_heads,
                                                  "head_dim": cfg.d_model // cfg.n_heads, "layout": "L,2,B,H,P,D"},
        "weights": "weights.json",
    }
    (out / "maskflow.json").write_text(json.dumps(manifest, indent=2) + "\n")
    tok_cfg = {"tokenizer_class": "PreTrainedTokenizerFast", "pad_token": "[PAD]", "mask_token": "[MASK]",
               "eos_token": "[EOS]", "bos_token": None, "model_max_length": cfg.max_sequence_length,
               "chat_template": CHAT_TEMPLATE}
    (out / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", default=str(HERE / "runs" / "default" / "best.pt"))
    ap.add_argument("--out", default=str(HERE.parent / "default"))
    ap.add_argument("--graph", choices=["full", "plain"], default="plain",
                    help="full: LLaDA + block KV cache + sampling heads (graph.py); plain: input_ids -> logits")
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, saved = load_checkpoint(Path(args.checkpoint))
    export(model, Path(args.out), {}, args.graph)
    state = saved.get("state", {})  # a resumable ckpt.pt keeps its counters there
    info = {k: saved.get(k, state.get(k)) for k in ("step", "tokens", "hours", "scores", "params", "hardware", "recipe")}
    if info["hours"] is None and "seconds" in state:
        info["hours"] = state["seconds"] / 3600
    (Path(args.out) / "training.json").write_text(json.dumps(info, indent=2) + "\n")
    print("exported", args.out, info)


if __name__ == "__main__":
    main()
