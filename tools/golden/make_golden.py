#!/usr/bin/env python3
"""Golden fixtures for fog8 from an independent PyTorch implementation of every preset.

Reads OUT/<preset>.safetensors and OUT/<preset>.json written by tools/golden/export.ts, builds the
model in PyTorch (float64, written from DESIGN section 4, sharing no code with fog8), and writes
test/fixtures/golden/<preset>.json (loss, logits) and <preset>.grads.bin (float32 gradients of every
tensor, in the parameter-table order listed in the JSON).

Usage (Debian: apt-get install python3-torch):
  node --import tsx tools/golden/export.ts /tmp/golden-out
  /usr/bin/python3 tools/golden/make_golden.py /tmp/golden-out test/fixtures/golden
"""
import json
import math
import os
import struct
import sys

import torch
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        a, b = meta["data_offsets"]
        t = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(meta["shape"])
        out[name] = t.to(torch.float64).clone().requires_grad_(True)
    return out


def rmsnorm(x, gain, eps):
    y = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return y * gain if gain is not None else y


def rope(x, theta):
    # x (B, T, H, D); rotate-half pairs (i, i + D/2), angle t * theta^(-2i/D)
    B, T, H, D = x.shape
    half = D // 2
    inv = theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / D)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos = ang.cos()[None, :, None, :]
    sin = ang.sin()[None, :, None, :]
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


def attention(q, k, v, scale):
    # q (B, T, Hq, D), k, v (B, T, Hkv, D): causal GQA
    B, T, Hq, D = q.shape
    group = Hq // k.shape[2]
    k = k.repeat_interleave(group, dim=2)
    v = v.repeat_interleave(group, dim=2)
    s = torch.einsum("bihd,bjhd->bhij", q, k) * scale
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    s = s.masked_fill(~mask, float("-inf"))
    p = s.softmax(-1)
    return torch.einsum("bhij,bjhd->bihd", p, v)


def forward(c, P, inputs, B, T):
    d, D, Hq, Hkv = c["dModel"], c["headDim"], c["nHeads"], c["nKvHeads"]
    eps = c["normEps"]
    h = c["inputUpscale"] * P["model.embed_tokens.weight"][inputs.view(-1)].view(B, T, d)
    for i in range(c["nLayers"]):
        p = f"model.layers.{i}."
        xa = rmsnorm(h, P[p + "input_layernorm.weight"], eps) if c["preNorm"] else h
        q = (xa @ P[p + "self_attn.q_proj.weight"].T).view(B, T, Hq, D)
        k = (xa @ P[p + "self_attn.k_proj.weight"].T).view(B, T, Hkv, D)
        v = (xa @ P[p + "self_attn.v_proj.weight"].T).view(B, T, Hkv, D)
        if c["qkNorm"] == "rmsnorm":
            q, k = rmsnorm(q, None, eps), rmsnorm(k, None, eps)
        elif c["qkNorm"] == "rmsnorm-gain":
            q = rmsnorm(q, P[p + "self_attn.q_norm.weight"], eps)
            k = rmsnorm(k, P[p + "self_attn.k_norm.weight"], eps)
        elif c["qkNorm"] == "tanh":
            q = torch.tanh(P[p + "self_attn.q_norm.alpha"] * q)
            k = torch.tanh(P[p + "self_attn.k_norm.alpha"] * k)
        q, k = rope(q, c["ropeTheta"]), rope(k, c["ropeTheta"])
        o = attention(q, k, v, c["softmaxScale"]).reshape(B, T, Hq * D)
        ao = o @ P[p + "self_attn.o_proj.weight"].T
        if c["postNorm"]:
            ao = rmsnorm(ao, P[p + "attention_layernorm.weight"], eps)
        if c["layerScale"]:
            ao = ao * P[p + "self_attn.attn_layerscale.weight"]
        h = h + ao
        xm = rmsnorm(h, P[p + "post_attention_layernorm.weight"], eps) if c["preNorm"] else h
        up = xm @ P[p + "mlp.up_proj.weight"].T
        s = None
        if c["mlp"] in ("swiglu", "smooth-swiglu"):
            gate = xm @ P[p + "mlp.gate_proj.weight"].T
            a = F.silu(gate) * up
            if c["mlp"] == "smooth-swiglu":
                s = gate.detach().abs().amax(-1, keepdim=True)
                s = torch.where(s == 0, torch.ones_like(s), s)
                a = a / s
        elif c["mlp"] == "gelu":
            a = 0.5 * up * (1 + torch.erf(up / math.sqrt(2)))
        else:  # xielu
            beta, eps_x = 0.5, -1e-6
            ap = F.softplus(P[p + "mlp.act_fn.alpha_p"])
            an = beta + F.softplus(P[p + "mlp.act_fn.alpha_n"])
            a = torch.where(up > 0, ap * up * up + beta * up, an * torch.expm1(torch.clamp(up, max=eps_x)) - an * up + beta * up)
        mo = a @ P[p + "mlp.down_proj.weight"].T
        if s is not None:
            mo = mo * s
        if c["postNorm"]:
            mo = rmsnorm(mo, P[p + "feedforward_layernorm.weight"], eps)
        if c["layerScale"]:
            mo = mo * P[p + "mlp.mlp_layerscale.weight"]
        h = h + mo
    if c["finalNorm"]:
        h = rmsnorm(h, P["model.norm.weight"], eps)
    return h @ P["lm_head.weight"].T  # (B, T, V)


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "tools/golden/out"
    dst = sys.argv[2] if len(sys.argv) > 2 else "test/fixtures/golden"
    os.makedirs(dst, exist_ok=True)
    for fname in sorted(os.listdir(src)):
        if not fname.endswith(".json"):
            continue
        preset = fname[: -len(".json")]
        meta = json.load(open(os.path.join(src, fname)))
        c = meta["config"]
        P = load_safetensors(os.path.join(src, preset + ".safetensors"))
        B, T = meta["B"], meta["T"]
        inputs = torch.tensor(meta["inputs"], dtype=torch.long).view(B, T)
        targets = torch.tensor(meta["targets"], dtype=torch.long).view(-1)
        logits = forward(c, P, inputs, B, T)
        loss = F.cross_entropy(logits.view(B * T, -1), targets, ignore_index=-1, reduction="mean")
        loss.backward()
        grads = b"".join(P[n].grad.to(torch.float32).contiguous().numpy().tobytes() for n in meta["names"])
        with open(os.path.join(dst, preset + ".grads.bin"), "wb") as f:
            f.write(grads)
        out = {
            "preset": preset,
            "generator": f"tools/golden/make_golden.py, torch {torch.__version__}, float64",
            "B": B,
            "T": T,
            "loss": loss.item(),
            "logits": [float(x) for x in logits.detach().view(-1)],
            "names": meta["names"],
            "paramSum": float(sum(P[n].detach().sum().item() for n in meta["names"])),
        }
        with open(os.path.join(dst, preset + ".json"), "w") as f:
            json.dump(out, f)
        print(f"{preset}: loss {loss.item():.10f}")


if __name__ == "__main__":
    main()
