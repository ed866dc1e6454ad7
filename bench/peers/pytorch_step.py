#!/usr/bin/env python3
"""PyTorch peer for bench/peers.bench.ts: one full Llama-style training step (forward, backward,
AdamW) at the PEERS.md shapes S and M, in float32 or bf16 autocast, timed after warm-up.

Architecture (same as fog8's `llama3` preset): untied token embedding, L blocks of
pre-RMSNorm -> causal multi-head attention with RoPE -> residual, pre-RMSNorm -> SwiGLU MLP ->
residual, final RMSNorm, LM head, mean softmax cross-entropy. No biases, no dropout.

Prints one JSON line: {shape, mode, tokensPerSec, stepMs, ...}. Not part of `npm test`; needs
Debian's python3-torch (PyTorch 1.13) or any later PyTorch.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

# vocab, d_model, layers, heads, SwiGLU width, seq, batch (PEERS.md); 4096 tokens per step each.
SHAPES = {
    'S': dict(vocab=4096, d=256, layers=4, heads=4, ffn=768, seq=256, batch=16),
    'M': dict(vocab=8192, d=512, layers=8, heads=8, ffn=1536, seq=512, batch=8),
}
HAS_SDPA = hasattr(F, 'scaled_dot_product_attention')
NORM_EPS = 1e-5
ROPE_THETA = 500000.0
INIT_STD = 0.02


class RMSNorm(torch.nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(d))

    def forward(self, x):
        # statistics in float32 even under autocast, as Llama does
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + NORM_EPS)).type_as(x) * self.weight


def rope_tables(seq, head_dim):
    """cos, sin of shape (seq, head_dim): half-split rotation (q[:D/2], q[D/2:]) pairs."""
    inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, head_dim, 2, dtype=torch.float64) / head_dim))
    angles = torch.outer(torch.arange(seq, dtype=torch.float64), inv_freq)  # (T, D/2)
    angles = torch.cat([angles, angles], dim=-1)  # (T, D)
    return angles.cos().float(), angles.sin().float()


def apply_rope(x, cos, sin):
    """x: (B, H, T, D)."""
    half = x.shape[-1] // 2
    rotated = torch.cat([-x[..., half:], x[..., :half]], dim=-1)
    return x * cos + rotated * sin


class Attention(torch.nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.head_dim = d // heads
        self.q_proj = torch.nn.Linear(d, d, bias=False)
        self.k_proj = torch.nn.Linear(d, d, bias=False)
        self.v_proj = torch.nn.Linear(d, d, bias=False)
        self.o_proj = torch.nn.Linear(d, d, bias=False)

    def forward(self, x, cos, sin, causal_mask):
        B, T, C = x.shape
        def split(t):  # (B, T, C) -> (B, H, T, D)
            return t.view(B, T, self.heads, self.head_dim).transpose(1, 2)
        q = apply_rope(split(self.q_proj(x)), cos, sin)
        k = apply_rope(split(self.k_proj(x)), cos, sin)
        v = split(self.v_proj(x))
        if HAS_SDPA:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = torch.matmul(q, k.transpose(-2, -1)) * (1.0 / math.sqrt(self.head_dim))  # (B, H, T, T)
            scores = scores.masked_fill(causal_mask, float('-inf'))
            o = torch.matmul(torch.softmax(scores, dim=-1).type_as(v), v)
        return self.o_proj(o.transpose(1, 2).reshape(B, T, C))


class SwiGLU(torch.nn.Module):
    def __init__(self, d, ffn):
        super().__init__()
        self.gate_proj = torch.nn.Linear(d, ffn, bias=False)
        self.up_proj = torch.nn.Linear(d, ffn, bias=False)
        self.down_proj = torch.nn.Linear(ffn, d, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(torch.nn.Module):
    def __init__(self, d, heads, ffn):
        super().__init__()
        self.input_layernorm = RMSNorm(d)
        self.self_attn = Attention(d, heads)
        self.post_attention_layernorm = RMSNorm(d)
        self.mlp = SwiGLU(d, ffn)

    def forward(self, x, cos, sin, causal_mask):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, causal_mask)
        return x + self.mlp(self.post_attention_layernorm(x))


class LlamaLike(torch.nn.Module):
    def __init__(self, vocab, d, layers, heads, ffn, seq):
        super().__init__()
        self.embed_tokens = torch.nn.Embedding(vocab, d)
        self.layers = torch.nn.ModuleList([Block(d, heads, ffn) for _ in range(layers)])
        self.norm = RMSNorm(d)
        self.lm_head = torch.nn.Linear(d, vocab, bias=False)
        cos, sin = rope_tables(seq, d // heads)
        self.register_buffer('cos', cos, persistent=False)
        self.register_buffer('sin', sin, persistent=False)
        self.register_buffer('causal_mask', torch.ones(seq, seq, dtype=torch.bool).triu(1), persistent=False)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=INIT_STD)

    def forward(self, tokens, targets):
        T = tokens.shape[1]
        cos, sin, mask = self.cos[:T], self.sin[:T], self.causal_mask[:T, :T]
        x = self.embed_tokens(tokens)
        for block in self.layers:
            x = block(x, cos, sin, mask)
        logits = self.lm_head(self.norm(x))  # (B, T, V)
        return F.cross_entropy(logits.float().view(-1, logits.shape[-1]), targets.view(-1))


def make_optimizer(model):
    """AdamW, weight decay on 2-D matrices only (as fog8: gains are never decayed)."""
    decay = [p for p in model.parameters() if p.dim() == 2]
    no_decay = [p for p in model.parameters() if p.dim() != 2]
    groups = [{'params': decay, 'weight_decay': 0.1}, {'params': no_decay, 'weight_decay': 0.0}]
    return torch.optim.AdamW(groups, lr=3e-4, betas=(0.9, 0.95), eps=1e-8)


def loaded_blas():
    """The BLAS shared object this process mapped (Debian's alternatives or LD_LIBRARY_PATH decide)."""
    try:
        with open('/proc/self/maps') as maps:
            for line in maps:
                name = line.rsplit(None, 1)[-1]
                base = os.path.basename(name)
                if 'openblas' in base or base.startswith('libblas') or 'mkl_' in base or 'blis' in base:
                    return name
    except OSError:
        pass
    return 'unknown'


def cpu_has(flag):
    try:
        with open('/proc/cpuinfo') as info:
            for line in info:
                if line.startswith('flags'):
                    return flag in line.split()
    except OSError:
        pass
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--shape', choices=sorted(SHAPES), required=True)
    ap.add_argument('--mode', choices=['fp32', 'bf16'], required=True, help='fp32, or bf16 autocast')
    ap.add_argument('--steps', type=int, default=3, help='timed steps (median reported)')
    ap.add_argument('--warmup', type=int, default=1, help='untimed steps before timing')
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--seed', type=int, default=1)
    args = ap.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.threads < 1:
        ap.error(f'--steps must be ≥ 1, --warmup ≥ 0, --threads ≥ 1; got {args.steps}, {args.warmup}, {args.threads}')

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    s = SHAPES[args.shape]
    model = LlamaLike(s['vocab'], s['d'], s['layers'], s['heads'], s['ffn'], s['seq'])
    model.train()
    opt = make_optimizer(model)
    gen = torch.Generator().manual_seed(args.seed)
    tokens = torch.randint(0, s['vocab'], (s['batch'], s['seq']), generator=gen)
    targets = torch.randint(0, s['vocab'], (s['batch'], s['seq']), generator=gen)

    def step():
        opt.zero_grad(set_to_none=True)
        if args.mode == 'bf16':
            with torch.autocast('cpu', dtype=torch.bfloat16):
                loss = model(tokens, targets)
        else:
            loss = model(tokens, targets)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(args.warmup):
        step()
    times_ms = []
    loss = float('nan')
    for _ in range(args.steps):
        t0 = time.perf_counter()
        loss = step()
        times_ms.append((time.perf_counter() - t0) * 1000.0)
    step_ms = statistics.median(times_ms)
    tokens_per_step = s['batch'] * s['seq']
    print(json.dumps({
        'shape': args.shape,
        'mode': args.mode,
        'tokensPerSec': tokens_per_step / (step_ms / 1000.0),
        'stepMs': step_ms,
        'stepTimesMs': times_ms,
        'tokensPerStep': tokens_per_step,
        'loss': loss,
        'torch': torch.__version__,
        'threads': torch.get_num_threads(),
        'blas': loaded_blas(),
        'sdpa': HAS_SDPA,
        'cpuAvx512Bf16': cpu_has('avx512_bf16'),
    }))
    sys.stdout.flush()


if __name__ == '__main__':
    main()
