"""A tiny DiffusionGemma checkpoint in the exact upstream layout, and what the converter must
reproduce from it (diffusion_gemma_reference.py).

    /usr/bin/python3 models/reference/make_diffusion_gemma_fixtures.py

Writes test/fixtures/convert/diffusion-gemma-tiny/: the released config.json's field set (root,
text_config, vision_config; shared reference diffusiongemma.md section 2) with tiny values; the
tensor names of section 3 (weights only under model.decoder.*, no lm_head, experts.gate_up_proj and
experts.down_proj without ".weight", model.encoder.language_model.layers.L.layer_scalar, a few
vision tensors the converter must skip); bf16 in three shards; generation_config.json as released.
Four layers, sliding / sliding / full / sliding, with head dims 16 and 32 and a sliding window of
4 (the prompt is 10 long, so it matters in both passes); norm weights, router scales,
per_expert_scale and layer_scalar far from 1 (the encoder's layer_scalar differs from the
decoder's, so the test sees which pass reads which); a final norm scaled so logits reach the
softcap. Then diffusion-gemma.json and .f32 files: the encoder's K/V for the prompt, and two
decoder steps from pinned canvases, without and with self-conditioning (step 2 feeds step 1's
logits tempered by 0.8, as the released sampler does), with the soft embedding step 2 used.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import diffusion_gemma_generate as dgg  # noqa: E402
import diffusion_gemma_reference as ref  # noqa: E402
from hf_reference import read_checkpoint  # noqa: E402
from make_convert_fixtures import DEFAULT_TOK, OUT, added, checkpoint_sha, randn, write_sharded  # noqa: E402

NAME = "diffusion-gemma-tiny"
CANVAS = 8
PROMPT = 10
TEMPERATURE = 0.8  # the released schedule's first step (t_max)


def far(n, lo=0.4, hi=2.0):
    return torch.empty(n).uniform_(lo, hi)


def make(folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    base = len(DEFAULT_TOK["model"]["vocab"])
    rows = base + 64
    d, H, Hs, Hf, Ds, Df, I, E, K, Im = 32, 4, 2, 1, 16, 32, 64, 16, 4, 32
    layer_types = ["sliding_attention", "sliding_attention", "full_attention", "sliding_attention"]
    L = len(layer_types)
    text = {
        "attention_bias": False, "attention_dropout": 0.0, "bos_token_id": 2, "dtype": "bfloat16", "eos_token_id": 1,
        "final_logit_softcapping": 30.0, "global_head_dim": Df, "head_dim": Ds, "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": d, "initializer_range": 0.02, "intermediate_size": I, "layer_types": layer_types,
        "max_position_embeddings": 4096, "model_type": "diffusion_gemma_text", "moe_intermediate_size": Im,
        "num_attention_heads": H, "num_experts": E, "num_global_key_value_heads": Hf, "num_hidden_layers": L,
        "num_key_value_heads": Hs, "pad_token_id": 0, "rms_norm_eps": 1e-06,
        "rope_parameters": {"full_attention": {"partial_rotary_factor": 0.25, "rope_theta": 1000000.0, "rope_type": "proportional"},
                            "sliding_attention": {"rope_theta": 10000.0, "rope_type": "default"}},
        "sliding_window": 4, "tie_word_embeddings": True, "top_k_experts": K, "use_bidirectional_attention": "vision",
        "vocab_size": rows,
    }
    vision = {
        "_name_or_path": "", "architectures": None, "attention_bias": False, "attention_dropout": 0.0, "chunk_size_feed_forward": 0,
        "default_output_length": 4, "dtype": "bfloat16", "global_head_dim": 8, "head_dim": 8, "hidden_activation": "gelu_pytorch_tanh",
        "hidden_size": 16, "id2label": {"0": "LABEL_0", "1": "LABEL_1"}, "initializer_range": 0.02, "intermediate_size": 32,
        "is_encoder_decoder": False, "label2id": {"LABEL_0": 0, "LABEL_1": 1}, "max_position_embeddings": 4096,
        "model_type": "gemma4_vision", "num_attention_heads": 2, "num_hidden_layers": 1, "num_key_value_heads": 2,
        "output_attentions": False, "output_hidden_states": False, "patch_size": 16, "pooling_kernel_size": 3,
        "position_embedding_size": 64, "problem_type": None, "return_dict": True, "rms_norm_eps": 1e-06,
        "rope_parameters": {"rope_theta": 100.0, "rope_type": "default"}, "standardize": True, "use_clipped_linears": False,
    }
    cfg = {
        "architectures": ["DiffusionGemmaForBlockDiffusion"], "boi_token_id": rows - 3, "canvas_length": CANVAS, "dtype": "bfloat16",
        "eoi_token_id": rows - 2, "eos_token_id": [1, 106], "image_token_id": rows - 1, "initializer_range": 0.02,
        "model_type": "diffusion_gemma", "text_config": text, "tie_word_embeddings": True, "transformers_version": "5.8.0.dev0",
        "vision_config": vision, "vision_soft_tokens_per_image": 4,
    }
    t, place = {}, {}

    def put(name, tensor, shard):
        t[name] = tensor
        place[name] = shard

    put("model.decoder.embed_tokens.weight", randn(rows, d), 0)
    put("model.decoder.norm.weight", far(d) * 1.5, 2)  # logits of tens: the 30 tanh(x/30) softcap bends them
    sc = "model.decoder.self_conditioning"
    put(f"{sc}.pre_norm.weight", far(d), 1)
    put(f"{sc}.gate_proj.weight", randn(I, d, std=d ** -0.5), 1)
    put(f"{sc}.up_proj.weight", randn(I, d, std=d ** -0.5), 1)
    put(f"{sc}.down_proj.weight", randn(d, I, std=I ** -0.5), 1)
    for i, lt in enumerate(layer_types):
        p = f"model.decoder.layers.{i}"
        s = i % 3
        D, Hkv = (Ds, Hs) if lt == "sliding_attention" else (Df, Hf)
        for n in ("input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm", "post_feedforward_layernorm",
                  "post_feedforward_layernorm_1", "pre_feedforward_layernorm_2", "post_feedforward_layernorm_2"):
            put(f"{p}.{n}.weight", far(d), (s + 1) % 3)
        put(f"{p}.self_attn.q_proj.weight", randn(H * D, d, std=d ** -0.5), s)
        put(f"{p}.self_attn.k_proj.weight", randn(Hkv * D, d, std=d ** -0.5), s)
        if lt == "sliding_attention":
            put(f"{p}.self_attn.v_proj.weight", randn(Hkv * D, d, std=d ** -0.5), s)
        put(f"{p}.self_attn.o_proj.weight", randn(d, H * D, std=(H * D) ** -0.5), (s + 2) % 3)
        # q/k norm weights around 0.35: scores of order D * 0.1 with attention scale 1.0, not saturated
        put(f"{p}.self_attn.q_norm.weight", far(D, 0.2, 0.5), s)
        put(f"{p}.self_attn.k_norm.weight", far(D, 0.2, 0.5), s)
        put(f"{p}.mlp.gate_proj.weight", randn(I, d, std=d ** -0.5), s)
        put(f"{p}.mlp.up_proj.weight", randn(I, d, std=d ** -0.5), s)
        put(f"{p}.mlp.down_proj.weight", randn(d, I, std=I ** -0.5), s)
        put(f"{p}.router.proj.weight", randn(E, d, std=1.0), (s + 1) % 3)
        put(f"{p}.router.scale", far(d, 0.5, 3.0), (s + 1) % 3)
        put(f"{p}.router.per_expert_scale", far(E, 0.3, 2.5), (s + 2) % 3)
        put(f"{p}.experts.gate_up_proj", randn(E, 2 * Im, d, std=d ** -0.5), (s + 2) % 3)
        put(f"{p}.experts.down_proj", randn(E, d, Im, std=Im ** -0.5), s)
        scalar = far(1, 0.5, 1.6)
        put(f"{p}.layer_scalar", scalar, 2)
        put(f"model.encoder.language_model.layers.{i}.layer_scalar", scalar * 0.9, 0)
    # a few of the vision tower's tensors: text-only conversion skips them
    put("model.encoder.embed_vision.embedding_projection.weight", randn(d, 16), 2)
    put("model.encoder.vision_tower.encoder.layers.0.input_layernorm.weight", far(16), 2)
    put("model.encoder.vision_tower.encoder.layers.0.self_attn.q_proj.linear.weight", randn(16, 16), 2)
    write_sharded(folder, t, place, 3)
    (folder / "config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    gen = {"confidence_threshold": 0.005, "eos_token_id": [1, 106, 50], "max_denoising_steps": 48, "max_new_tokens": 256,
           "pad_token_id": 0, "sampler_config": {"_cls_name": "EntropyBoundSamplerConfig", "entropy_bound": 0.1},
           "stability_threshold": 1, "t_max": 0.8, "t_min": 0.4, "transformers_version": "5.8.0.dev0"}
    (folder / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n")
    # the bundled demo vocabulary stands in for Gemma's (its ids 0-4, 50, 106 are ordinary pieces here)
    tok = json.loads(json.dumps(DEFAULT_TOK))
    (folder / "tokenizer.json").write_text(json.dumps(tok, ensure_ascii=False) + "\n")
    tok_cfg = {"model_max_length": 4096, "tokenizer_class": "GemmaTokenizer"}
    (folder / "tokenizer_config.json").write_text(json.dumps(tok_cfg, indent=2) + "\n")
    return {"rows": rows}


def save(name: str, tensor: torch.Tensor) -> dict:
    a = tensor.detach().float().contiguous().numpy().astype("<f4")
    (OUT / name).write_bytes(a.tobytes())
    return {"file": name, "shape": list(a.shape)}


RELEASED = {"max_new_tokens": 256, "max_denoising_steps": 48, "entropy_bound": 0.1, "t_max": 0.8, "t_min": 0.4, "stability_threshold": 1,
            "confidence_threshold": 0.005, "stop_token_ids": [1, 106, 50], "pad_token_id": 0}
SAFE = {"sample": 5e-5, "accept": 1e-4, "argmax": 1e-4, "confidence": 1e-4}


def generate_cases(state, cfg, rows) -> list:
    """The generation loop token for token: the released settings over two canvases (its draws also
    written to a file, to replay), a larger bound and confidence threshold that stop early and accept
    several positions per step, and a stop id met inside the first canvas."""
    g = torch.Generator().manual_seed(29)
    cases = []
    specs = [
        # 16 denoising steps, not the released 48: self-conditioning feeds each step's output into the
        # next, and in this random model a 1e-6 relative change of the soft embedding grows ~1.3x per
        # step until a sample flips after ~28 steps (the reference against itself, perturbed), so two
        # float32 implementations can agree token for token only over shorter loops
        ("released settings but 16 steps, two canvases of 8", {**RELEASED, "max_new_tokens": 16, "max_denoising_steps": 16}, 6, False),
        # random weights never repeat an argmax canvas (the re-drawn positions change it), so this case
        # stops on confidence alone (stability_threshold 0) and the first one traces the stability test
        ("bound 2.5, confidence 1.3 without the stability test, 12 steps, three canvases",
         {**RELEASED, "max_new_tokens": 24, "max_denoising_steps": 12, "entropy_bound": 2.5, "confidence_threshold": 1.3, "stability_threshold": 0}, 5, False),
        ("a stop id inside the first canvas", {**RELEASED, "max_new_tokens": 16, "max_denoising_steps": 8}, 7, True),
    ]
    for name, gen, plen, stop_inside in specs:
        for attempt in range(60):
            prompt = torch.randint(0, rows, (plen,), generator=g).tolist()
            seed = int(torch.randint(0, 2**31, (1,), generator=g))
            if stop_inside:  # a dry run's committed token at position 2 becomes the stop id
                dry, _ = dgg.generate(state, cfg, prompt, gen, dgg.SeededDraws(seed, rows))
                gen = {**gen, "stop_token_ids": [dry[2]]}
                if dry[2] in dry[:2]:
                    continue
            draws = dgg.SeededDraws(seed, rows)
            margins = {}
            tokens, trace = dgg.generate(state, cfg, prompt, gen, draws, margins)
            ok = all(margins[k] > v for k, v in SAFE.items())
            steps = [len(c["steps"]) for c in trace]
            accepted = max(len(s["accepted"]) for c in trace for s in c["steps"])
            if name.startswith("bound") and not (min(steps) < gen["max_denoising_steps"] and accepted > 1):
                ok = False
            if ok:
                break
        else:
            raise SystemExit(f"{name}: no prompt and seed without near-ties in 60 tries")
        case = {"name": name, "prompt_ids": prompt, "seed": seed, "options": gen, "tokens": tokens, "trace": trace, "margins": margins}
        if not cases:
            dgg.write_draws(OUT / f"{NAME}.draws.json", draws)
            case["draws"] = f"{NAME}.draws.json"
        cases.append(case)
        print(f"  {name}: steps per canvas {steps}, most accepted in a step {accepted}, finished {trace[-1]['finished']}, "
              f"margins {', '.join(f'{k} {v:.1e}' for k, v in margins.items())} ({attempt + 1} tries)")
    return cases


def main() -> None:
    torch.manual_seed(20261223)
    folder = OUT / NAME
    info = make(folder)
    state = read_checkpoint(folder)
    cfg = json.loads((folder / "config.json").read_text())
    tc = cfg["text_config"]
    g = torch.Generator().manual_seed(23)
    ids = lambda n: torch.randint(0, info["rows"], (1, n), generator=g)  # noqa: E731  (uniform over every id, as the sampler draws)

    prompt = ids(PROMPT)
    cache = ref.encode(state, cfg, prompt)
    # the same K/V when the prompt is encoded in two calls (the second extends the cache)
    split = ref.encode(state, cfg, prompt[:, 6:], ref.encode(state, cfg, prompt[:, :6]))
    for (k1, v1), (k2, v2) in zip(cache, split):
        assert torch.allclose(k1, k2, atol=1e-5) and torch.allclose(v1, v2, atol=1e-5)
    groups = ref.kv_groups(tc, cache)

    canvas1, canvas2 = ids(CANVAS), ids(CANVAS)
    logits1 = ref.decode(state, cfg, canvas1, cache)
    sc_logits = logits1 / TEMPERATURE
    logits2 = ref.decode(state, cfg, canvas2, cache, sc_logits)
    soft = ref.soft_embedding(state, cfg, sc_logits)
    no_sc = ref.decode(state, cfg, canvas2, cache)
    raw_max = float((30 * torch.atanh((logits1 / 30).clamp(-0.999999, 0.999999))).abs().max())
    sc_effect = float((logits2 - no_sc).abs().max())
    print(f"  logits up to {float(logits1.abs().max()):.1f} after the softcap (about {raw_max:.1f} before); "
          f"self-conditioning moves step 2's logits by up to {sc_effect:.2f}")

    doc = {
        "family": "diffusion_gemma", "checkpoint": NAME, "checkpoint_sha256": checkpoint_sha(folder), "rows": info["rows"],
        "temperature": TEMPERATURE,
        "prompt_ids": prompt[0].tolist(), "split_at": 6,
        "encoder": {lt: save(f"{NAME}.kv.{lt.split('_')[0]}.f32", v) for lt, v in groups.items()},
        "steps": [
            {"name": "step 1: pinned canvas, no self-conditioning", "canvas": canvas1[0].tolist(), "self_conditioning": None,
             "logits": save(f"{NAME}.step1.logits.f32", logits1[0]), "entropy": ref.entropy(logits1[0] / TEMPERATURE).tolist()},
            {"name": "step 2: pinned canvas, self-conditioning from step 1's logits / 0.8", "canvas": canvas2[0].tolist(),
             "self_conditioning": save(f"{NAME}.step2.soft-embedding.f32", soft[0]),
             "logits": save(f"{NAME}.step2.logits.f32", logits2[0]), "entropy": ref.entropy(logits2[0] / TEMPERATURE).tolist()},
        ],
        "softcap_raw_max": raw_max,
        "self_conditioning_effect": sc_effect,
    }
    doc["generate"] = generate_cases(state, cfg, info["rows"])
    (OUT / "diffusion-gemma.json").write_text(json.dumps(doc, indent=1) + "\n")
    total = sum(f.stat().st_size for f in folder.iterdir()) + sum(f.stat().st_size for f in OUT.glob(f"{NAME}.*.f32"))
    print(f"diffusion-gemma: {total / 1e6:.2f} MB of fixtures")


if __name__ == "__main__":
    main()
