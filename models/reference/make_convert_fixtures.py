"""Tiny random checkpoints in the exact upstream layouts, and what the converter must reproduce.

    /usr/bin/python3 models/reference/make_convert_fixtures.py

Writes test/fixtures/convert/:
  llada-tiny/   a LLaDA checkpoint as GSAI-ML publishes it: LLaDA's config.json fields (with the
                traps: mlp_ratio that must be ignored for mlp_hidden_size, embedding rows beyond
                the tokenizer), bf16 tensors in three shards whose weight_map scatters a layer over
                all of them, tokenizer.json + tokenizer_config.json with LLaDA's chat template
  dream-tiny/   a Dream checkpoint: Qwen2 names and config, GQA (4 query heads on 2 K/V heads),
                q/k/v biases, rope theta 1e6, bf16 in two shards, and only a slow tokenizer
                (vocab.json + merges.txt + tokenizer_config.json's added_tokens_decoder)
  <family>.json the reference's logits (float32 files beside it), greedy generations from the
                reference samplers (llada_generate.py, dream_generate.py) on the reference forward,
                and, for Dream, golden encodings of Qwen2's slow BPE
Norm weights and biases are drawn far from 1 and 0 so a converter that drops them fails.
The tokenizer pieces come from the bundled model's byte-level BPE (models/default/tokenizer.json).
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from hf_reference import Qwen2BPE, ReferenceModel, write_safetensors  # noqa: E402
from llada_generate import Margins, generate  # noqa: E402
from dream_generate import dream_sample  # noqa: E402

OUT = ROOT / "test" / "fixtures" / "convert"
DEFAULT_TOK = json.loads((ROOT / "models" / "default" / "tokenizer.json").read_text())
LLADA_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + "
    "'<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}"
    "{% endif %}{{ content }}{% endfor %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
)


def added(id_: int, content: str) -> dict:
    return {"id": id_, "content": content, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}


def randn(*shape, std=1.0):
    return torch.randn(*shape) * std


def norm_weight(d):
    return torch.empty(d).uniform_(0.4, 2.0)  # far from 1


def bias(n):
    return torch.randn(n) * 0.5  # far from 0


def write_sharded(folder: Path, tensors: dict[str, torch.Tensor], placement: dict[str, int], n_files: int) -> None:
    names = [f"model-{i + 1:05d}-of-{n_files:05d}.safetensors" for i in range(n_files)]
    for i, fname in enumerate(names):
        write_safetensors(folder / fname, {k: v for k, v in tensors.items() if placement[k] == i})
    weight_map = {k: names[placement[k]] for k in sorted(tensors)}
    total = sum(v.numel() * 2 for v in tensors.values())
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2) + "\n")


# ---------------------------------------------------------------- LLaDA

def make_llada(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    base = len(DEFAULT_TOK["model"]["vocab"])  # 4096 byte-level BPE pieces (ids 0-2 are the demo's specials)
    specials = ["<|startoftext|>", "<|endoftext|>", "<|mdm_mask|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]
    ids = {s: base + i for i, s in enumerate(specials)}
    rows = base + 64  # embedding rows with no token, as LLaDA-8B's 126349..126463
    d, H, L, I = 64, 4, 2, 160
    cfg = {
        "activation_type": "silu", "alibi": False, "alibi_bias_max": 8.0, "architectures": ["LLaDAModelLM"],
        "attention_dropout": 0.0, "attention_layer_norm": False, "attention_layer_norm_with_affine": True,
        "auto_map": {"AutoConfig": "configuration_llada.LLaDAConfig", "AutoModel": "modeling_llada.LLaDAModelLM",
                     "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM"},
        "bias_for_layer_norm": False, "block_group_size": 1, "block_type": "llama", "d_model": d,
        "embedding_dropout": 0.0, "embedding_size": rows, "eos_token_id": ids["<|endoftext|>"], "flash_attention": False,
        "include_bias": False, "include_qkv_bias": False, "init_cutoff_factor": None, "init_device": "meta",
        "init_fn": "mitchell", "init_std": 0.02, "input_emb_norm": False, "layer_norm_type": "rms",
        "layer_norm_with_affine": True, "mask_token_id": ids["<|mdm_mask|>"], "max_sequence_length": 256,
        "mlp_hidden_size": I, "mlp_ratio": 4, "model_type": "llada", "multi_query_attention": None, "n_heads": H,
        "n_kv_heads": H, "n_layers": L, "pad_token_id": ids["<|endoftext|>"], "precision": "amp_bf16",
        "residual_dropout": 0.0, "rms_norm_eps": 1e-05, "rope": True, "rope_full_precision": True,
        "rope_theta": 500000.0, "scale_logits": False, "torch_dtype": "bfloat16", "transformers_version": "4.46.2",
        "use_cache": False, "vocab_size": rows, "weight_tying": False,
    }
    p = "model.transformer"
    t, place = {}, {}
    t[f"{p}.wte.weight"] = randn(rows, d)
    place[f"{p}.wte.weight"] = 0
    for i in range(L):
        b = f"{p}.blocks.{i}"
        layer = {
            "attn_norm.weight": norm_weight(d), "ff_norm.weight": norm_weight(d),
            "q_proj.weight": randn(d, d, std=d ** -0.5), "k_proj.weight": randn(d, d, std=d ** -0.5),
            "v_proj.weight": randn(d, d, std=d ** -0.5), "attn_out.weight": randn(d, d, std=d ** -0.5),
            "ff_proj.weight": randn(I, d, std=d ** -0.5), "up_proj.weight": randn(I, d, std=d ** -0.5),
            "ff_out.weight": randn(d, I, std=I ** -0.5),
        }
        # scattered as in LLaDA-8B-Instruct's index: one layer over every shard
        where = {"attn_out.weight": 0, "ff_out.weight": 1, "q_proj.weight": 2, "k_proj.weight": 2, "attn_norm.weight": 2,
                 "ff_norm.weight": 2, "ff_proj.weight": 1, "v_proj.weight": 1, "up_proj.weight": 0}
        for k, v in layer.items():
            t[f"{b}.{k}"] = v
            place[f"{b}.{k}"] = (where[k] + i) % 3
    t[f"{p}.ln_f.weight"] = norm_weight(d)
    place[f"{p}.ln_f.weight"] = 0
    t[f"{p}.ff_out.weight"] = randn(rows, d, std=0.35)
    place[f"{p}.ff_out.weight"] = 1
    write_sharded(folder, t, place, 3)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")

    tok = json.loads(json.dumps(DEFAULT_TOK))
    tok["added_tokens"] = tok["added_tokens"] + [added(ids[s], s) for s in specials]
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False) + "\n")
    tok_cfg = {
        "add_bos_token": False, "add_eos_token": False,
        "added_tokens_decoder": {str(ids[s]): {k: v for k, v in added(ids[s], s).items() if k != "id"} for s in specials},
        "bos_token": "<|startoftext|>", "chat_template": LLADA_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "<|endoftext|>", "fast_tokenizer": True, "model_max_length": 1e30, "pad_token": "<|endoftext|>",
        "tokenizer_class": "PreTrainedTokenizerFast", "trust_remote_code": True,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")
    (folder / "generation_config.json").write_text(json.dumps({"bos_token_id": ids["<|startoftext|>"], "eos_token_id": ids["<|endoftext|>"]}) + "\n")
    return {"mask": ids["<|mdm_mask|>"], "eos": ids["<|endoftext|>"], "eot": ids["<|eot_id|>"], "rows": rows}


# ---------------------------------------------------------------- Dream

def make_dream(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    # vocab.json/merges.txt: the demo BPE's pieces without its three special tokens, renumbered from 0
    pieces = sorted(((i, s) for s, i in DEFAULT_TOK["model"]["vocab"].items() if i > 2))
    vocab = {s: n for n, (_, s) in enumerate(pieces)}
    merges = [" ".join(m) if isinstance(m, list) else m for m in DEFAULT_TOK["model"]["merges"]]
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|beginoftext|>", "<|mask|>"]
    ids = {s: len(vocab) + i for i, s in enumerate(specials)}
    rows = len(vocab) + len(specials) + 59  # rows with no token, as Dream's 151667..152063
    d, H, Hkv, L, I = 64, 4, 2, 2, 144
    hd = d // H
    cfg = {
        "architectures": ["DreamModel"], "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
        "bos_token_id": ids["<|beginoftext|>"], "eos_token_id": ids["<|endoftext|>"], "hidden_act": "silu",
        "hidden_size": d, "initializer_range": 0.02, "intermediate_size": I, "mask_token_id": ids["<|mask|>"],
        "max_position_embeddings": 131072, "max_window_layers": 28, "model_type": "Dream", "num_attention_heads": H,
        "num_hidden_layers": L, "num_key_value_heads": Hkv, "pad_token_id": ids["<|endoftext|>"], "rms_norm_eps": 1e-06,
        "rope_scaling": None, "rope_theta": 1000000.0, "sliding_window": None, "tie_word_embeddings": False,
        "torch_dtype": "bfloat16", "transformers_version": "4.46.2", "use_cache": False, "use_sliding_window": False,
        "vocab_size": rows,
    }
    t, place = {}, {}
    t["model.embed_tokens.weight"] = randn(rows, d)
    place["model.embed_tokens.weight"] = 0
    for i in range(L):
        b = f"model.layers.{i}"
        layer = {
            "input_layernorm.weight": norm_weight(d), "post_attention_layernorm.weight": norm_weight(d),
            "self_attn.q_proj.weight": randn(H * hd, d, std=d ** -0.5), "self_attn.q_proj.bias": bias(H * hd),
            "self_attn.k_proj.weight": randn(Hkv * hd, d, std=d ** -0.5), "self_attn.k_proj.bias": bias(Hkv * hd),
            "self_attn.v_proj.weight": randn(Hkv * hd, d, std=d ** -0.5), "self_attn.v_proj.bias": bias(Hkv * hd),
            "self_attn.o_proj.weight": randn(d, H * hd, std=d ** -0.5),
            "mlp.gate_proj.weight": randn(I, d, std=d ** -0.5), "mlp.up_proj.weight": randn(I, d, std=d ** -0.5),
            "mlp.down_proj.weight": randn(d, I, std=I ** -0.5),
        }
        for k, v in layer.items():
            t[f"{b}.{k}"] = v
            place[f"{b}.{k}"] = i  # layer 0 in shard 1, layer 1 in shard 2
    t["model.norm.weight"] = norm_weight(d)
    place["model.norm.weight"] = 1
    t["lm_head.weight"] = randn(rows, d, std=0.35)
    place["lm_head.weight"] = 1
    write_sharded(folder, t, place, 2)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    tok_cfg = {
        "add_prefix_space": False,
        "added_tokens_decoder": {str(ids[s]): {k: v for k, v in added(ids[s], s).items() if k != "id"} for s in specials},
        "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
        "auto_map": {"AutoTokenizer": ["tokenization_dream.DreamTokenizer", None]},
        "bos_token": "<|beginoftext|>", "clean_up_tokenization_spaces": False, "eos_token": "<|endoftext|>",
        "errors": "replace", "mask_token": "<|mask|>", "model_max_length": 131072, "pad_token": "<|endoftext|>",
        "split_special_tokens": False, "tokenizer_class": "DreamTokenizer", "unk_token": None,
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")
    (folder / "generation_config.json").write_text(json.dumps({"bos_token_id": ids["<|beginoftext|>"], "eos_token_id": ids["<|endoftext|>"],
                                                               "pad_token_id": ids["<|endoftext|>"], "alg": "origin", "steps": 512}) + "\n")
    bpe = Qwen2BPE(vocab, merges, ids)
    return {"mask": ids["<|mask|>"], "eos": ids["<|endoftext|>"], "eot": ids["<|im_end|>"], "rows": rows, "bpe": bpe, "ids": ids}


# ---------------------------------------------------------------- fixtures

GOLDEN_TEXTS = [
    "Hello, world! It's a test.",
    "The jury said they'd   seen 42 cats\n\nand 7 dogs.",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
    "naïve café — résumé, Straße 123",
    "  leading spaces,\ttabs\r\nand CRLF",
    "I'M SHOUTING, YOU'RE NOT. WE'LL SEE",
]


def logits_case(model, name: str, ids: list[list[int]], folder: Path) -> dict:
    x = torch.tensor(ids, dtype=torch.long)
    logits = model(x).float().numpy().astype("<f4")
    fname = f"{folder.name}.{name}.logits.f32"
    (OUT / fname).write_bytes(logits.tobytes())
    return {"name": name, "input_ids": ids, "shape": list(logits.shape), "logits": fname}


def generate_cases(model, family: str, toks: dict, prompts: list[list[int]]) -> list[dict]:
    out = []
    for n, prompt_ids in enumerate(prompts):
        prompt = torch.tensor([prompt_ids], dtype=torch.long)
        margins = Margins(2e-5)
        if family == "llada":
            case = {"name": f"greedy low_confidence, 2 blocks, prompt {n}", "gen_length": 16}
            opts = {"schedule": {"kind": "linear", "steps": 8, "blockLength": 8}, "temperature": 0, "remasking": "low_confidence",
                    "cfgScale": 0, "seed": 0, "shiftLogits": False}
            x, trace = generate(model, prompt, steps=8, gen_length=16, block_length=8, temperature=0.0, remasking="low_confidence",
                                mask_id=toks["mask"], eos_id=toks["eos"], eot_id=toks["eot"], margins=margins)
        else:
            case = {"name": f"greedy maskgit_plus, shifted logits, prompt {n}", "gen_length": 12}
            opts = {"schedule": {"kind": "loglinear", "steps": 6, "blockLength": 0, "eps": 1e-3}, "temperature": 0,
                    "remasking": "maskgit_plus", "cfgScale": 0, "seed": 0, "shiftLogits": True}
            x, trace = dream_sample(model, prompt, prompt.shape[1] + 12, toks["mask"], steps=6, alg="maskgit_plus",
                                    temperature=0.0, shift_logits=True, margins=margins)
        if margins.token < margins.logit_tol or margins.rank_flips:
            raise SystemExit(f"{family} {case['name']}: a decision is within rounding of a tie; change the prompt")
        case.update({
            "prompt_ids": prompt_ids, "options": opts, "tokens": x[0, prompt.shape[1]:].tolist(),
            "trace": [{"step": s, "positions": [p for p, _, _ in c], "tokens": [t for _, t, _ in c],
                       "confidence": [round(pr, 12) for _, _, pr in c]} for s, c in trace],
            "token_gap": float(margins.token),
        })
        out.append(case)
    return out


def checkpoint_sha(folder: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(folder.iterdir()):
        h.update(f.name.encode())
        h.update(f.read_bytes())
    return h.hexdigest()


def main() -> None:
    torch.manual_seed(20261207)
    OUT.mkdir(parents=True, exist_ok=True)
    for family, make in (("llada", make_llada), ("dream", make_dream)):
        folder = OUT / f"{family}-tiny"
        toks = make(folder)
        model = ReferenceModel(folder, family)
        g = torch.Generator().manual_seed(7 if family == "llada" else 11)
        vocab_ids = lambda n: torch.randint(3, 2000, (n,), generator=g).tolist()  # noqa: E731
        cases = [
            logits_case(model, "one-row", [vocab_ids(10) + [toks["mask"]] * 6], folder),
            logits_case(model, "two-rows", [vocab_ids(12), vocab_ids(12)], folder),
        ]
        gens = generate_cases(model, family, toks, [vocab_ids(6), vocab_ids(5)])
        doc = {"family": family, "checkpoint": folder.name, "checkpoint_sha256": checkpoint_sha(folder),
               "tokens": {k: toks[k] for k in ("mask", "eos", "eot", "rows")}, "forward": cases, "generate": gens}
        if family == "dream":
            doc["tokenizer"] = [{"text": s, "ids": toks["bpe"].encode(s)} for s in GOLDEN_TEXTS]
        (OUT / f"{family}.json").write_text(json.dumps(doc, indent=1) + "\n")
        print(f"{family}: {sum(f.stat().st_size for f in folder.iterdir()) / 1e6:.2f} MB checkpoint, "
              f"{len(cases)} logits cases, {len(gens)} generations (token gaps {[round(c['token_gap'], 4) for c in gens]})")


if __name__ == "__main__":
    main()
