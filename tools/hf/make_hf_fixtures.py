#!/usr/bin/env python3
"""Hugging Face model-directory fixtures for fog8's importer, from an independent implementation.

torch is not installed on the machine these were made on (and python3-torch was not available in
time), so this writes the Llama checkpoints and computes their reference loss with numpy in
float64, written from the Llama architecture (HF LlamaForCausalLM: pre-RMSNorm, rotate-half RoPE
with optional Llama-3.1 rope_scaling, GQA, SwiGLU, final norm, optionally tied head), sharing no
code with fog8. Each fixture directory holds config.json, the safetensors weights (single file or a
sharded model.safetensors.index.json) in F32/BF16/F16, and expected.json: the token sequence and
the mean next-token cross-entropy of the weights exactly as stored.

Usage: python3 tools/hf/make_hf_fixtures.py test/fixtures/hf
"""
import json
import math
import os
import struct
import sys

import numpy as np

V, D_MODEL, L, H, HKV, HD, F, T = 64, 32, 2, 4, 2, 8, 48, 16


def to_dtype(a, dtype):
    """(stored bytes, float64 values as stored) of a float64 array in F32, BF16 or F16."""
    f32 = a.astype(np.float32)
    if dtype == "F32":
        return f32.tobytes(), f32.astype(np.float64)
    if dtype == "F16":
        h = a.astype(np.float16)
        return h.tobytes(), h.astype(np.float64)
    bits = f32.view(np.uint32).astype(np.uint64)
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16).astype(np.uint16)  # round to nearest even
    back = (rounded.astype(np.uint32) << 16).view(np.float32)
    return rounded.tobytes(), back.astype(np.float64)


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, (dtype, shape, data) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def rms(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def frequencies(theta, scaling):
    f = theta ** (-np.arange(0, HD, 2, dtype=np.float64) / HD)
    if scaling is None:
        return f
    factor, low, high, C = scaling["factor"], scaling["low_freq_factor"], scaling["high_freq_factor"], scaling["original_max_position_embeddings"]
    out = []
    for fi in f:
        wl = 2 * math.pi / fi
        if wl > C / low:
            out.append(fi / factor)
        elif wl < C / high:
            out.append(fi)
        else:
            s = (C / wl - low) / (high - low)
            out.append((1 - s) * fi / factor + s * fi)
    return np.array(out)


def rope(x, freq):  # x (T, heads, HD), rotate-half pairs (i, i + HD/2)
    ang = np.arange(x.shape[0])[:, None] * freq[None, :]
    c, s = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    x1, x2 = x[..., : HD // 2], x[..., HD // 2:]
    return np.concatenate([x1 * c - x2 * s, x1 * s + x2 * c], -1)


def loss(w, tokens, cfg):
    eps, tied = cfg["rms_norm_eps"], cfg["tie_word_embeddings"]
    freq = frequencies(cfg["rope_theta"], cfg.get("rope_scaling"))
    x = w["model.embed_tokens.weight"][tokens[:-1]]
    n = len(tokens) - 1
    mask = np.triu(np.full((n, n), -np.inf), 1)
    for i in range(L):
        p = f"model.layers.{i}."
        h = rms(x, w[p + "input_layernorm.weight"], eps)
        q = rope((h @ w[p + "self_attn.q_proj.weight"].T).reshape(n, H, HD), freq)
        k = rope((h @ w[p + "self_attn.k_proj.weight"].T).reshape(n, HKV, HD), freq)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(n, HKV, HD)
        o = np.zeros((n, H, HD))
        for hh in range(H):
            kv = hh // (H // HKV)
            s = q[:, hh] @ k[:, kv].T / math.sqrt(HD) + mask
            pr = np.exp(s - s.max(-1, keepdims=True))
            pr /= pr.sum(-1, keepdims=True)
            o[:, hh] = pr @ v[:, kv]
        x = x + o.reshape(n, H * HD) @ w[p + "self_attn.o_proj.weight"].T
        h = rms(x, w[p + "post_attention_layernorm.weight"], eps)
        g = h @ w[p + "mlp.gate_proj.weight"].T
        x = x + ((g / (1 + np.exp(-g))) * (h @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
    x = rms(x, w["model.norm.weight"], eps)
    logits = x @ (w["model.embed_tokens.weight"] if tied else w["lm_head.weight"]).T
    m = logits.max(-1, keepdims=True)
    lse = (m + np.log(np.exp(logits - m).sum(-1, keepdims=True)))[:, 0]
    return float(np.mean(lse - logits[np.arange(n), tokens[1:]]))


def make(out, name, dtype, tied, scaling, shards, seed):
    rng = np.random.default_rng(seed)
    shapes = {"model.embed_tokens.weight": (V, D_MODEL), "model.norm.weight": (D_MODEL,)}
    for i in range(L):
        p = f"model.layers.{i}."
        shapes.update({
            p + "input_layernorm.weight": (D_MODEL,), p + "post_attention_layernorm.weight": (D_MODEL,),
            p + "self_attn.q_proj.weight": (H * HD, D_MODEL), p + "self_attn.k_proj.weight": (HKV * HD, D_MODEL),
            p + "self_attn.v_proj.weight": (HKV * HD, D_MODEL), p + "self_attn.o_proj.weight": (D_MODEL, H * HD),
            p + "mlp.gate_proj.weight": (F, D_MODEL), p + "mlp.up_proj.weight": (F, D_MODEL), p + "mlp.down_proj.weight": (D_MODEL, F),
        })
    if not tied:
        shapes["lm_head.weight"] = (V, D_MODEL)
    stored, values = {}, {}
    for k, shape in shapes.items():
        a = 1 + 0.1 * rng.standard_normal(shape) if len(shape) == 1 else 0.3 * rng.standard_normal(shape)
        data, vals = to_dtype(a, dtype)
        stored[k], values[k] = (dtype, shape, data), vals
    cfg = {
        "architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": V, "hidden_size": D_MODEL,
        "intermediate_size": F, "num_hidden_layers": L, "num_attention_heads": H, "num_key_value_heads": HKV, "head_dim": HD,
        "max_position_embeddings": T, "rope_theta": 10000.0, "rms_norm_eps": 1e-5, "hidden_act": "silu",
        "tie_word_embeddings": tied, "rope_scaling": scaling, "torch_dtype": {"F32": "float32", "BF16": "bfloat16", "F16": "float16"}[dtype],
    }
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = list(stored)
    if shards == 1:
        write_safetensors(os.path.join(d, "model.safetensors"), stored)
    else:
        weight_map = {}
        for s in range(shards):
            fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = {k: stored[k] for k in names[s::shards]}
            write_safetensors(os.path.join(d, fname), part)
            weight_map.update({k: fname for k in part})
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {}, "weight_map": weight_map}, f, indent=2)
    tokens = [int(t) for t in rng.integers(0, V, T + 1)]
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump({"tokens": tokens, "loss": loss(values, np.array(tokens), cfg), "generator": "tools/hf/make_hf_fixtures.py (numpy float64)"}, f, indent=2)


if __name__ == "__main__":
    out = sys.argv[1]
    make(out, "llama-gqa-tied-bf16", "BF16", True, None, 1, 1)
    make(out, "llama-rope-scaled-f16-sharded", "F16", False, {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8}, 2, 2)
    make(out, "llama-f32", "F32", False, None, 1, 3)
