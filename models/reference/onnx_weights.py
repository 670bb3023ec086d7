"""Load a Maskflow model folder's ONNX weights into the torch LLaDA model (models/train/model.py).

The export keeps initializer names equal to the torch state_dict names (constant folding is
off), so the reference runs exactly the weights onnxruntime runs in the engine.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import onnx
import torch
from onnx import numpy_helper

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "models" / "train"))
from model import LLaDAConfig, LLaDAModelLM  # noqa: E402


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_model(folder: Path) -> tuple[LLaDAModelLM, dict]:
    """(model in eval mode, maskflow.json)"""
    manifest = json.loads((folder / "maskflow.json").read_text())
    cfg_json = json.loads((folder / "config.json").read_text())
    fields = LLaDAConfig.__dataclass_fields__
    cfg = LLaDAConfig(**{k: v for k, v in cfg_json.items() if k in fields})
    model = LLaDAModelLM(cfg)
    proto = onnx.load(str(folder / manifest.get("model", "model.onnx")))
    inits = {i.name: i for i in proto.graph.initializer}
    state = {}
    for name, param in model.state_dict().items():
        if name not in inits:
            raise SystemExit(f"{folder}/model.onnx has no initializer named {name}: export it with models/train/export.py")
        arr = numpy_helper.to_array(inits[name])
        if list(arr.shape) != list(param.shape):
            raise SystemExit(f"{name}: ONNX shape {arr.shape} != torch shape {tuple(param.shape)}")
        state[name] = torch.from_numpy(arr.copy())
    model.load_state_dict(state, strict=True)
    model.eval()
    return model, manifest
