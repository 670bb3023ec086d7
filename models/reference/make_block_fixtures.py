"""Tiny block-diffusion checkpoints in the upstream layouts (LLaDA2, Fast-dLLM v2), and what the
converter and the block sampler must reproduce from them.

    /usr/bin/python3 models/reference/make_block_fixtures.py

Writes test/fixtures/convert/llada2-tiny/ (LLaDA2MoeModelLM's config.json fields and tensor names:
fused query_key_value, query/key layernorms far from 1, a dense layer 0 and MoE layers with 16
experts in 4 groups, an expert_bias far from zero so routing depends on it, one shared expert;
bf16 in three shards; the demo BPE with LLaDA2's special tokens) and llada2.json: logits under
the block mask, and greedy generations of LLaDA2.0's generate and LLaDA2.1's editing loop
(llada2_reference.py), with their traces.

Also test/fixtures/convert/fast-dllm-v2-tiny/ (Fast_dLLM_QwenForCausalLM's config.json: the Qwen2
fields plus bd_size; Qwen2 tensor names with q/k/v biases far from 0, tied embeddings as the 1.5B
has; bf16 in two shards; tokenizer.json with Qwen2.5's special tokens and |<MASK>|) and
fast-dllm-v2.json: logits under the block mask and upstream generate()'s greedy output and trace
(fast_dllm_v2_reference.py) for prompts shorter than a block, ending inside one and ending on a
block boundary (the autoregressive first token), with and without an early stop token.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
from hf_reference import read_checkpoint  # noqa: E402
from llada2_reference import LLaDA2Reference, Margins, forward, generate_20, generate_21  # noqa: E402
import fast_dllm_v2_reference as fdv2  # noqa: E402
from make_convert_fixtures import DEFAULT_TOK, OUT, added, bias, checkpoint_sha, norm_weight, randn, write_sharded  # noqa: E402

CHAT = ("{% for m in messages %}<role>{{ 'HUMAN' if m['role'] == 'user' else m['role'] | upper }}</role>{{ m['content'] }}<|role_end|>"
        "{% endfor %}{% if add_generation_prompt %}<role>ASSISTANT</role>{% endif %}")
BLOCK = 8  # the tests' block size (LLaDA2's is 32)


def make(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    base = len(DEFAULT_TOK["model"]["vocab"])
    specials = ["<|endoftext|>", "<|mask|>", "<role>", "</role>", "<|role_end|>"]
    ids = {s: base + i for i, s in enumerate(specials)}
    rows = base + 64
    d, H, Hkv, hd, L = 64, 4, 2, 16, 3
    E, I_dense, I_moe = 16, 96, 64
    cfg = {
        "architectures": ["LLaDA2MoeModelLM"], "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration_llada2_moe.LLaDA2MoeConfig", "AutoModel": "modeling_llada2_moe.LLaDA2MoeModel",
                     "AutoModelForCausalLM": "modeling_llada2_moe.LLaDA2MoeModelLM"},
        "embedding_dropout": 0.0, "first_k_dense_replace": 1, "head_dim": hd, "hidden_act": "silu", "hidden_size": d,
        "initializer_range": 0.02, "intermediate_size": I_dense, "max_position_embeddings": 512, "model_type": "llada2_moe",
        "moe_intermediate_size": I_moe, "moe_router_enable_expert_bias": True, "n_group": 4, "norm_head": False,
        "norm_softmax": False, "norm_topk_prob": True, "num_attention_heads": H, "num_experts": E, "num_experts_per_tok": 4,
        "num_hidden_layers": L, "num_key_value_heads": Hkv, "num_shared_experts": 1, "output_dropout": 0.0,
        "pad_token_id": ids["<|endoftext|>"], "partial_rotary_factor": 0.5, "rms_norm_eps": 1e-06, "rope_scaling": None,
        "rope_theta": 600000, "rotary_dim": hd // 2, "routed_scaling_factor": 2.5, "router_dtype": "fp32",
        "score_function": "sigmoid", "tie_word_embeddings": False, "topk_group": 2, "torch_dtype": "bfloat16",
        "transformers_version": "4.52.3", "use_bias": False, "use_cache": False, "use_qkv_bias": False, "use_qk_norm": True,
        "using_split_qkv_in_self_attention": False, "vocab_size": rows,
    }
    t, place = {}, {}

    def put(name, tensor, shard):
        t[name] = tensor
        place[name] = shard

    put("model.word_embeddings.weight", randn(rows, d), 0)
    for i in range(L):
        p = f"model.layers.{i}"
        s = i % 3
        put(f"{p}.input_layernorm.weight", norm_weight(d), s)
        put(f"{p}.post_attention_layernorm.weight", norm_weight(d), (s + 1) % 3)
        put(f"{p}.attention.query_key_value.weight", randn((H + 2 * Hkv) * hd, d, std=d ** -0.5), s)
        put(f"{p}.attention.query_layernorm.weight", norm_weight(hd), (s + 2) % 3)
        put(f"{p}.attention.key_layernorm.weight", norm_weight(hd), s)
        put(f"{p}.attention.dense.weight", randn(d, H * hd, std=(H * hd) ** -0.5), (s + 1) % 3)
        if i < cfg["first_k_dense_replace"]:
            put(f"{p}.mlp.gate_proj.weight", randn(I_dense, d, std=d ** -0.5), s)
            put(f"{p}.mlp.up_proj.weight", randn(I_dense, d, std=d ** -0.5), s)
            put(f"{p}.mlp.down_proj.weight", randn(d, I_dense, std=I_dense ** -0.5), s)
            continue
        put(f"{p}.mlp.gate.weight", randn(E, d, std=d ** -0.5), s)
        put(f"{p}.mlp.gate.expert_bias", bias(E), (s + 2) % 3)
        for e in range(E):
            q = f"{p}.mlp.experts.{e}"
            put(f"{q}.gate_proj.weight", randn(I_moe, d, std=d ** -0.5), (s + e) % 3)
            put(f"{q}.up_proj.weight", randn(I_moe, d, std=d ** -0.5), (s + e + 1) % 3)
            put(f"{q}.down_proj.weight", randn(d, I_moe, std=I_moe ** -0.5), (s + e + 2) % 3)
        q = f"{p}.mlp.shared_experts"
        put(f"{q}.gate_proj.weight", randn(I_moe, d, std=d ** -0.5), s)
        put(f"{q}.up_proj.weight", randn(I_moe, d, std=d ** -0.5), s)
        put(f"{q}.down_proj.weight", randn(d, I_moe, std=I_moe ** -0.5), s)
    put("model.norm.weight", norm_weight(d), 2)
    put("lm_head.weight", randn(rows, d, std=0.35), 1)
    write_sharded(folder, t, place, 3)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    tok = json.loads(json.dumps(DEFAULT_TOK))
    tok["added_tokens"] = tok["added_tokens"] + [added(ids[s], s) for s in specials]
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False) + "\n")
    tok_cfg = {
        "added_tokens_decoder": {str(ids[s]): {k: v for k, v in added(ids[s], s).items() if k != "id"} for s in specials},
        "chat_template": CHAT, "eos_token": "<|endoftext|>", "mask_token": "<|mask|>", "pad_token": "<|endoftext|>",
        "model_max_length": 512, "tokenizer_class": "PreTrainedTokenizerFast",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")
    return {"mask": ids["<|mask|>"], "eos": ids["<|endoftext|>"], "eot": ids["<|role_end|>"], "rows": rows}


def main_llada2() -> None:
    torch.manual_seed(20261208)
    folder = OUT / "llada2-tiny"
    toks = make(folder)
    state = read_checkpoint(folder)
    cfg = json.loads((folder / "config.json").read_text())
    model = LLaDA2Reference(state, cfg, BLOCK)
    g = torch.Generator().manual_seed(5)
    ids = lambda n: torch.randint(3, 2000, (n,), generator=g).tolist()  # noqa: E731

    seq = ids(14) + [toks["mask"]] * 10
    logits = forward(state, cfg, torch.tensor([seq]), BLOCK)[0].numpy().astype("<f4")
    (OUT / "llada2-tiny.block.logits.f32").write_bytes(logits.tobytes())
    forward_cases = [{"name": "block mask, 3 blocks of 8", "input_ids": [seq], "block_size": BLOCK, "shape": [1, *logits.shape],
                      "logits": "llada2-tiny.block.logits.f32"}]

    gens = []
    for n, (kind, kw) in enumerate([
        ("2.0", dict(steps=8, threshold=0.95)),
        ("2.0", dict(steps=4, threshold=0.3)),
        ("2.1", dict(threshold=0.5, editing_threshold=0.3, max_post_steps=3)),
    ]):
        for attempt in range(20):
            prompt = ids(6 if n != 1 else 11)
            m = Margins()
            if kind == "2.0":
                tokens, trace = generate_20(model, prompt, 20, BLOCK, kw["steps"], kw["threshold"], toks["mask"], toks["eos"], margins=m)
            else:
                tokens, trace = generate_21(model, prompt, 20, BLOCK, kw["threshold"], kw["editing_threshold"], kw["max_post_steps"],
                                            toks["mask"], toks["eos"], margins=m)
            edits = sum(len(s.get("edited", [])) for s in trace)
            if m.closest > 1e-4 and (kind == "2.0" or edits > 0):
                break
        else:
            raise SystemExit(f"case {n}: no prompt without near-ties (or without edits) in 20 tries")
        gens.append({"name": f"LLaDA{kind} greedy, block {BLOCK}, {kw}", "loop": kind, "prompt_ids": prompt, "gen_length": 20,
                     "block_size": BLOCK, "options": kw, "tokens": tokens, "trace": trace, "closest": m.closest})
        print(f"  {gens[-1]['name']}: {len(trace)} steps, {sum(len(s['positions']) for s in trace)} commits, "
              f"{sum(len(s.get('edited', [])) for s in trace)} edits, closest call {m.closest:.1e}")
    doc = {"family": "llada2_moe", "checkpoint": folder.name, "checkpoint_sha256": checkpoint_sha(folder),
           "tokens": toks, "forward": forward_cases, "generate": gens}
    (OUT / "llada2.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"llada2: {sum(f.stat().st_size for f in folder.iterdir()) / 1e6:.2f} MB checkpoint")


FDV2_BLOCK, FDV2_SMALL = 8, 4  # the tests' block and sub-block (upstream's: 32 and 8)


def make_fast_dllm_v2(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    base = len(DEFAULT_TOK["model"]["vocab"])
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "|<MASK>|"]
    ids = {s: base + i for i, s in enumerate(specials)}
    rows = base + 64  # rows with no token, as Qwen2.5's 151665..151935
    d, H, Hkv, L, I = 64, 4, 2, 2, 128
    hd = d // H
    cfg = {
        "architectures": ["Fast_dLLM_QwenForCausalLM"], "attention_dropout": 0.0,
        "auto_map": {"AutoConfig": "configuration.Fast_dLLM_QwenConfig", "AutoModelForCausalLM": "modeling.Fast_dLLM_QwenForCausalLM"},
        "bd_size": FDV2_BLOCK, "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"], "hidden_act": "silu",
        "hidden_size": d, "initializer_range": 0.02, "intermediate_size": I, "layer_types": ["full_attention"] * L,
        "max_position_embeddings": 32768, "max_window_layers": 21, "model_type": "Fast_dLLM_Qwen", "num_attention_heads": H,
        "num_hidden_layers": L, "num_key_value_heads": Hkv, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000.0,
        "sliding_window": 32768, "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.53.0",
        "use_cache": True, "use_sliding_window": False, "vocab_size": rows,
    }
    t, place = {}, {}
    emb = randn(rows, d)
    emb[ids["<|im_end|>"]] *= 3  # so that random weights stop now and then, and the stop rule is exercised
    emb[ids["|<MASK>|"]] *= 0.1  # and rarely predict the mask token (upstream would loop forever)
    t["model.embed_tokens.weight"] = emb
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
            place[f"{b}.{k}"] = i
    t["model.norm.weight"] = norm_weight(d) * 2.5  # sharper distributions: some positions clear the threshold
    place["model.norm.weight"] = 1
    write_sharded(folder, t, place, 2)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    tok = json.loads(json.dumps(DEFAULT_TOK))
    tok["added_tokens"] = tok["added_tokens"] + [added(ids[s], s) for s in specials]
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False) + "\n")
    tok_cfg = {
        "added_tokens_decoder": {str(ids[s]): {k: v for k, v in added(ids[s], s).items() if k != "id"} for s in specials},
        "chat_template": ("{% for message in messages %}{% if loop.first and message['role'] != 'system' %}"
                          "{{ '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{% endif %}"
                          "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}{% endfor %}"
                          "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"),
        "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "model_max_length": 131072,
        "tokenizer_class": "Qwen2Tokenizer",
    }
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")
    return {"mask": ids["|<MASK>|"], "eos": ids["<|im_end|>"], "eot": ids["<|im_end|>"], "rows": rows}


def main_fast_dllm_v2() -> None:
    torch.manual_seed(20261209)
    folder = OUT / "fast-dllm-v2-tiny"
    toks = make_fast_dllm_v2(folder)
    state = read_checkpoint(folder)
    cfg = json.loads((folder / "config.json").read_text())
    model = fdv2.FastDllmV2Reference(state, cfg, FDV2_BLOCK)
    g = torch.Generator().manual_seed(9)
    ids = lambda n: torch.randint(3, 2000, (n,), generator=g).tolist()  # noqa: E731

    seq = ids(13) + [toks["mask"]] * 11
    logits = fdv2.forward(state, cfg, torch.tensor([seq]), FDV2_BLOCK)[0].numpy().astype("<f4")
    (OUT / "fast-dllm-v2-tiny.block.logits.f32").write_bytes(logits.tobytes())
    forward_cases = [{"name": "block mask, 3 blocks of 8", "input_ids": [seq], "block_size": FDV2_BLOCK, "shape": [1, *logits.shape],
                      "logits": "fast-dllm-v2-tiny.block.logits.f32"}]

    gens = []
    # (prompt length, gen_length, threshold, must stop early): gen_length fills whole blocks after the prompt's
    for n, (P, G, threshold, stop) in enumerate([(5, 19, 0.9, False), (13, 19, 0.5, False), (16, 24, 0.9, False), (11, 29, 0.5, True)]):
        for attempt in range(200):
            prompt = ids(P)
            blocks = (P + G + FDV2_BLOCK - 1) // FDV2_BLOCK - P // FDV2_BLOCK
            m = Margins()
            try:
                tokens, trace = fdv2.generate(model, prompt, blocks * FDV2_BLOCK, FDV2_BLOCK, FDV2_SMALL, threshold,
                                              toks["mask"], toks["eos"], margins=m)
            except fdv2.MaskPredicted:
                continue  # random weights can predict the mask token; upstream would never end
            ended = toks["eos"] in tokens and len(tokens) < G - FDV2_BLOCK // 2
            multi = any(len(s["positions"]) > 1 for s in trace)
            if m.closest > 1e-4 and ended == stop and multi:
                break
        else:
            raise SystemExit(f"fast-dllm-v2 case {n}: no fitting prompt without near-ties in 200 tries")
        gens.append({"name": f"prompt {P}, gen {G}, threshold {threshold}{', stops early' if stop else ''}", "prompt_ids": prompt,
                     "gen_length": G, "block_size": FDV2_BLOCK, "small_block_size": FDV2_SMALL, "threshold": threshold,
                     "tokens": tokens, "trace": trace, "closest": m.closest})
        print(f"  {gens[-1]['name']}: {len(trace)} steps, {sum(len(s['positions']) for s in trace)} commits, "
              f"{len(tokens)} tokens, closest call {m.closest:.1e} ({attempt + 1} prompts tried)")
    doc = {"family": "fast_dllm_v2", "checkpoint": folder.name, "checkpoint_sha256": checkpoint_sha(folder),
           "tokens": toks, "forward": forward_cases, "generate": gens}
    (OUT / "fast-dllm-v2.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(f"fast-dllm-v2: {sum(f.stat().st_size for f in folder.iterdir()) / 1e6:.2f} MB checkpoint")


if __name__ == "__main__":
    which = sys.argv[1:] or ["llada2", "fast-dllm-v2"]
    for name in which:
        {"llada2": main_llada2, "fast-dllm-v2": main_fast_dllm_v2}[name]()
