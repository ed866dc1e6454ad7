/**
 * An independent float64 implementation of every preset's forward pass and loss, written from
 * DESIGN §4 with plain loops over JS numbers. It shares no code with src/ops or the kernels: it is
 * the oracle for the gradient checks (float64 central differences) and for the loss agreement.
 */
import type { ModelConfig } from '../../src/model/config.js';

export type Params64 = Map<string, Float64Array>;

export function erf64(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let sum = 0;
    let term = x; // x^(2n+1)/n! · (−1)^n
    for (let n = 0; n < 200; n++) {
      const t = term / (2 * n + 1);
      sum += t;
      if (Math.abs(t) < 1e-18 * Math.abs(sum)) break;
      term *= (-x * x) / (n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc by a continued fraction (modified Lentz), accurate for |x| ≥ 3
  let f = ax;
  let C = ax;
  let D = 0;
  for (let n = 1; n < 300; n++) {
    const an = n / 2;
    D = ax + an * D;
    D = D === 0 ? 1e-300 : 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

const softplus = (x: number) => Math.log1p(Math.exp(x));

export function rmsnorm64(x: Float64Array, rows: number, C: number, gain: Float64Array | null, eps: number): Float64Array {
  const y = new Float64Array(rows * C);
  for (let r = 0; r < rows; r++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[r * C + c] ** 2;
    const inv = 1 / Math.sqrt(ss / C + eps);
    for (let c = 0; c < C; c++) y[r * C + c] = x[r * C + c] * inv * (gain ? gain[c] : 1);
  }
  return y;
}

/** y (M, N) = x (M, K) · W (N, K)ᵀ */
export function linear64(x: Float64Array, M: number, K: number, W: Float64Array, N: number): Float64Array {
  const y = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += x[m * K + k] * W[n * K + k];
      y[m * N + n] = acc;
    }
  }
  return y;
}

/**
 * Llama-3.1 scaled frequency, from Meta's published `apply_scaling`: λ = 2π/f; λ < C/high → f;
 * λ > C/low → f/factor; otherwise (1 − s)·f/factor + s·f with s = (C/λ − low)/(high − low).
 */
function scaledFrequency64(f: number, sc: NonNullable<ModelConfig['ropeScaling']>): number {
  const lambda = (2 * Math.PI) / f;
  if (lambda < sc.originalContext / sc.highFreqFactor) return f;
  if (lambda > sc.originalContext / sc.lowFreqFactor) return f / sc.factor;
  const smooth = (sc.originalContext / lambda - sc.lowFreqFactor) / (sc.highFreqFactor - sc.lowFreqFactor);
  return (1 - smooth) * (f / sc.factor) + smooth * f;
}

/** RoPE on (B, T, H, D), rotate-half pairs (i, i + D/2), angle t·θ^(−2i/D) (Llama-3.1-scaled when given). */
export function rope64(x: Float64Array, B: number, T: number, H: number, D: number, theta: number, scaling: ModelConfig['ropeScaling'] = null): Float64Array {
  const y = new Float64Array(x.length);
  const half = D / 2;
  for (let b = 0; b < B; b++)
    for (let t = 0; t < T; t++)
      for (let h = 0; h < H; h++) {
        const base = ((b * T + t) * H + h) * D;
        for (let i = 0; i < half; i++) {
          const f = Math.pow(theta, (-2 * i) / D);
          const ang = t * (scaling ? scaledFrequency64(f, scaling) : f);
          const c = Math.cos(ang);
          const s = Math.sin(ang);
          const x1 = x[base + i];
          const x2 = x[base + i + half];
          y[base + i] = x1 * c - x2 * s;
          y[base + i + half] = x2 * c + x1 * s;
        }
      }
  return y;
}

/** Causal GQA attention: q (B,T,Hq,D), k, v (B,T,Hkv,D) → o (B,T,Hq,D). */
export function attention64(q: Float64Array, k: Float64Array, v: Float64Array, B: number, T: number, Hq: number, Hkv: number, D: number, scale: number): Float64Array {
  const o = new Float64Array(B * T * Hq * D);
  const group = Hq / Hkv;
  for (let b = 0; b < B; b++)
    for (let h = 0; h < Hq; h++) {
      const hk = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const s = new Float64Array(i + 1);
        let mx = -Infinity;
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[((b * T + i) * Hq + h) * D + d] * k[((b * T + j) * Hkv + hk) * D + d];
          s[j] = scale * dot;
          mx = Math.max(mx, s[j]);
        }
        let z = 0;
        for (let j = 0; j <= i; j++) z += (s[j] = Math.exp(s[j] - mx));
        for (let j = 0; j <= i; j++) {
          const p = s[j] / z;
          for (let d = 0; d < D; d++) o[((b * T + i) * Hq + h) * D + d] += p * v[((b * T + j) * Hkv + hk) * D + d];
        }
      }
    }
  return o;
}

const silu = (x: number) => x / (1 + Math.exp(-x));

/** Mean next-token cross-entropy of a whole model, in float64. */
export function modelLoss64(c: ModelConfig, P: Params64, inputs: Int32Array, targets: Int32Array, B: number, T: number): number {
  const R = B * T;
  const d = c.dModel;
  const D = c.headDim;
  const Wq = c.nHeads * D;
  const Wkv = c.nKvHeads * D;
  const F = c.ffnDim;
  const get = (n: string) => {
    const v = P.get(n);
    if (!v) throw new Error(`reference64: missing ${n}`);
    return v;
  };
  const E = get('model.embed_tokens.weight');
  let h = new Float64Array(R * d);
  for (let r = 0; r < R; r++) for (let j = 0; j < d; j++) h[r * d + j] = c.inputUpscale * E[inputs[r] * d + j];
  const L = c.nLayers;
  for (let i = 0; i < L; i++) {
    const p = `model.layers.${i}.`;
    // attention branch
    const xa = c.preNorm ? rmsnorm64(h, R, d, get(p + 'input_layernorm.weight'), c.normEps) : h;
    let q = linear64(xa, R, d, get(p + 'self_attn.q_proj.weight'), Wq);
    let k = linear64(xa, R, d, get(p + 'self_attn.k_proj.weight'), Wkv);
    const v = linear64(xa, R, d, get(p + 'self_attn.v_proj.weight'), Wkv);
    if (c.qkNorm === 'rmsnorm') {
      q = rmsnorm64(q, R * c.nHeads, D, null, c.normEps);
      k = rmsnorm64(k, R * c.nKvHeads, D, null, c.normEps);
    } else if (c.qkNorm === 'rmsnorm-gain') {
      q = rmsnorm64(q, R * c.nHeads, D, get(p + 'self_attn.q_norm.weight'), c.normEps);
      k = rmsnorm64(k, R * c.nKvHeads, D, get(p + 'self_attn.k_norm.weight'), c.normEps);
    } else if (c.qkNorm === 'tanh') {
      const aq = get(p + 'self_attn.q_norm.alpha')[0];
      const ak = get(p + 'self_attn.k_norm.alpha')[0];
      q = q.map((x) => Math.tanh(aq * x));
      k = k.map((x) => Math.tanh(ak * x));
    }
    q = rope64(q, B, T, c.nHeads, D, c.ropeTheta, c.ropeScaling);
    k = rope64(k, B, T, c.nKvHeads, D, c.ropeTheta, c.ropeScaling);
    const o = attention64(q, k, v, B, T, c.nHeads, c.nKvHeads, D, c.softmaxScale);
    let ao = linear64(o, R, Wq, get(p + 'self_attn.o_proj.weight'), d);
    if (c.postNorm) ao = rmsnorm64(ao, R, d, get(p + 'attention_layernorm.weight'), c.normEps);
    if (c.layerScale) {
      const g = get(p + 'self_attn.attn_layerscale.weight');
      ao = ao.map((x, idx) => x * g[idx % d]);
    }
    h = h.map((x, idx) => x + ao[idx]);
    // MLP branch
    const xm = c.preNorm ? rmsnorm64(h, R, d, get(p + 'post_attention_layernorm.weight'), c.normEps) : h;
    const up = linear64(xm, R, d, get(p + 'mlp.up_proj.weight'), F);
    const a = new Float64Array(R * F);
    const s = new Float64Array(R).fill(1);
    if (c.mlp === 'swiglu' || c.mlp === 'smooth-swiglu') {
      const gate = linear64(xm, R, d, get(p + 'mlp.gate_proj.weight'), F);
      for (let r = 0; r < R; r++) {
        if (c.mlp === 'smooth-swiglu') {
          let m = 0;
          for (let j = 0; j < F; j++) m = Math.max(m, Math.abs(gate[r * F + j]));
          s[r] = m === 0 ? 1 : m;
        }
        for (let j = 0; j < F; j++) a[r * F + j] = (silu(gate[r * F + j]) * up[r * F + j]) / s[r];
      }
    } else if (c.mlp === 'gelu') {
      for (let j = 0; j < a.length; j++) a[j] = up[j] * 0.5 * (1 + erf64(up[j] / Math.SQRT2));
    } else {
      const beta = 0.5;
      const eps = -1e-6;
      const ap = softplus(get(p + 'mlp.act_fn.alpha_p')[0]);
      const an = beta + softplus(get(p + 'mlp.act_fn.alpha_n')[0]);
      for (let j = 0; j < a.length; j++) {
        const x = up[j];
        a[j] = x > 0 ? ap * x * x + beta * x : an * Math.expm1(Math.min(x, eps)) - an * x + beta * x;
      }
    }
    let mo = linear64(a, R, F, get(p + 'mlp.down_proj.weight'), d);
    mo = mo.map((x, idx) => x * s[Math.floor(idx / d)]);
    if (c.postNorm) mo = rmsnorm64(mo, R, d, get(p + 'feedforward_layernorm.weight'), c.normEps);
    if (c.layerScale) {
      const g = get(p + 'mlp.mlp_layerscale.weight');
      mo = mo.map((x, idx) => x * g[idx % d]);
    }
    h = h.map((x, idx) => x + mo[idx]);
  }
  const xf = c.finalNorm ? rmsnorm64(h, R, d, get('model.norm.weight'), c.normEps) : h;
  const V = c.vocabSize;
  const logits = linear64(xf, R, d, c.tieEmbeddings ? E : get('lm_head.weight'), V);
  let sum = 0;
  let n = 0;
  for (let r = 0; r < R; r++) {
    if (targets[r] === -1) continue;
    let mx = -Infinity;
    for (let j = 0; j < V; j++) mx = Math.max(mx, logits[r * V + j]);
    let z = 0;
    for (let j = 0; j < V; j++) z += Math.exp(logits[r * V + j] - mx);
    sum += mx + Math.log(z) - logits[r * V + targets[r]];
    n++;
  }
  return n === 0 ? 0 : sum / n;
}
