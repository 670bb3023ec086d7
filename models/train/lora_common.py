"""Shared by train_lora.py and lora_merge_reference.py: the base model read back from a
Maskflow model folder, PEFT-layout LoRA layers, and a dependency-free safetensors writer/reader.

The base weights come from the folder's model.onnx (its initializers keep the state_dict
names), not from a training checkpoint, so an adapter is always trained against exactly the
weights the engine will merge it into.
"""
from __future__ import annotations

import json
import math
import re
import struct
import sys
from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper

sys.path.insert(0, str(Path(__file__).resolve().parent))
from model import LLaDAConfig, LLaDAModelLM  # noqa: E402

FIELDS = LLaDAConfig.__dataclass_fields__


def load_base(folder: Path) -> tuple[LLaDAModelLM, dict]:
    """The LLaDA model whose weights are model.onnx's initializers (found through weights.json)."""
    cfg_json = json.loads((folder / "config.json").read_text())
    cfg = LLaDAConfig(**{k: v for k, v in cfg_json.items() if k in FIELDS})
    model = LLaDAModelLM(cfg)
    manifest = json.loads((folder / "weights.json").read_text())
    proto = onnx.load(str(folder / "model.onnx"))  # resolves external data next to the file
    inits = {t.name: t for t in proto.graph.initializer}
    state = {}
    for w in manifest["weights"]:
        arr = numpy_helper.to_array(inits[w["onnx"]]).astype(np.float32)
        if w.get("layout") == "in_out":
            arr = arr.T
        state[w["name"]] = torch.from_numpy(arr.copy())
    model.load_state_dict(state)
    model.eval()
    return model, json.loads((folder / "maskflow.json").read_text())


# ---------------------------------------------------------------- LoRA layers (PEFT semantics)

class LoRALinear(nn.Module):
    """y = base(x) + scale * B(A(x)); A [r, in] kaiming-uniform, B [out, r] zeros (PEFT's init)."""

    def __init__(self, base: nn.Linear, r: int, alpha: float, rslora: bool = False, dropout: float = 0.0):
        super().__init__()
        self.base = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scale = alpha / math.sqrt(r) if rslora else alpha / r
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        for p in self.base.parameters():
            p.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + self.lora_B(self.lora_A(self.dropout(x))) * self.scale


def inject(model: nn.Module, targets: list[str], r: int, alpha: float, rslora: bool = False,
           dropout: float = 0.0) -> dict[str, LoRALinear]:
    """Wraps every nn.Linear whose name ends with one of `targets` (PEFT's list matching)."""
    found: dict[str, LoRALinear] = {}
    for name, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear) or ".blocks." not in name:
            continue
        if any(name == t or name.endswith("." + t) for t in targets):
            parent = model.get_submodule(name.rsplit(".", 1)[0])
            layer = LoRALinear(module, r, alpha, rslora, dropout)
            setattr(parent, name.rsplit(".", 1)[1], layer)
            found[name] = layer
    return found


def peft_state(layers: dict[str, LoRALinear]) -> dict[str, torch.Tensor]:
    """PEFT's saved keys: base_model.model.<module>.lora_A.weight [r,in] / lora_B.weight [out,r]."""
    out = {}
    for name, layer in layers.items():
        out[f"base_model.model.{name}.lora_A.weight"] = layer.lora_A.weight.detach().clone()
        out[f"base_model.model.{name}.lora_B.weight"] = layer.lora_B.weight.detach().clone()
    return out


def peft_config(base_name: str, r: int, alpha: float, targets, rslora: bool = False, dropout: float = 0.0,
                rank_pattern: dict | None = None, alpha_pattern: dict | None = None,
                fan_in_fan_out: bool = False) -> dict:
    """adapter_config.json with PEFT's LoraConfig fields."""
    return {
        "peft_type": "LORA", "task_type": None, "base_model_name_or_path": base_name, "revision": None,
        "r": r, "lora_alpha": alpha, "lora_dropout": dropout, "use_rslora": rslora, "use_dora": False,
        "target_modules": targets, "fan_in_fan_out": fan_in_fan_out, "bias": "none",
        "rank_pattern": rank_pattern or {}, "alpha_pattern": alpha_pattern or {},
        "modules_to_save": None, "init_lora_weights": True, "inference_mode": True,
        "layers_to_transform": None, "layers_pattern": None,
    }


# ---------------------------------------------------------------- safetensors by hand

DTYPES = {"F32": (np.float32, 4), "F16": (np.float16, 2), "BF16": (None, 2)}


def _to_bytes(t: torch.Tensor, dtype: str) -> bytes:
    t = t.detach().contiguous().cpu()
    if dtype == "F32":
        return t.float().numpy().astype("<f4").tobytes()
    if dtype == "F16":
        return t.half().numpy().astype("<f2").tobytes()
    if dtype == "BF16":
        return t.bfloat16().view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(dtype)


def save_safetensors(path: Path, tensors: dict[str, torch.Tensor], dtype: str = "F32",
                     metadata: dict[str, str] | None = None) -> None:
    """8-byte little-endian header length, JSON header, then the raw little-endian data."""
    header: dict = {}
    chunks, offset = [], 0
    for name in sorted(tensors):
        data = _to_bytes(tensors[name], dtype)
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # the reference implementation pads the header to 8 bytes
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for c in chunks:
            f.write(c)


def load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    buf = Path(path).read_bytes()
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(buf[8 : 8 + n])
    data = buf[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        dtype = info["dtype"]
        if dtype == "BF16":
            t = torch.from_numpy(np.frombuffer(data[a:b], dtype="<i2").copy()).view(torch.bfloat16)
        else:
            t = torch.from_numpy(np.frombuffer(data[a:b], dtype=DTYPES[dtype][0]).copy())
        out[name] = t.reshape(info["shape"])
    return out


# ---------------------------------------------------------------- the merge, as PEFT does it

def pattern_value(patterns: dict, module: str, default):
    """PEFT's rank_pattern / alpha_pattern lookup: the first key matching the module name's tail."""
    for key, value in patterns.items():
        if re.match(rf"(.*\.)?({key})$", module):
            return value
    return default


def lora_delta(config: dict, tensors: dict[str, torch.Tensor], module: str) -> torch.Tensor:
    """scale * B @ A in float32, as [out, in]."""
    A = tensors[f"base_model.model.{module}.lora_A.weight"].float()
    B = tensors[f"base_model.model.{module}.lora_B.weight"].float()
    r = pattern_value(config.get("rank_pattern") or {}, module, config["r"])
    alpha = pattern_value(config.get("alpha_pattern") or {}, module, config["lora_alpha"])
    scale = alpha / math.sqrt(r) if config.get("use_rslora") else alpha / r
    return (B @ A) * scale
