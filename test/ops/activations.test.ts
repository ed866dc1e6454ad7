import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FloatArray } from '../../src/kernels/types.js';
import { Rng } from '../../src/model/rng.js';
import { ActivationOp, RowScaleOp, XIELU_ALPHA_INIT, XIELU_BETA, type ActivationKind } from '../../src/ops/activations.js';
import { LinearOp, WeightCastCache } from '../../src/ops/linear.js';
import type { OpContext } from '../../src/ops/context.js';
import { assertGradients, float64Context, probeCase, randn, randnAwayFromZero, type CheckedTensor, type GradCase } from '../util/gradcheck.js';

const R = 3;
const F = 4;

/** xIELU's raw softplus parameters and their accumulated gradients, each (1). */
interface XieluParameters {
  ap: FloatArray;
  an: FloatArray;
  dap: FloatArray;
  dan: FloatArray;
}

/**
 * An ActivationOp reading h from its own buffer; backward gets h back only through its refill
 * (the buffer is scribbled over between forward and backward, as the model recomputes it from fc1).
 */
function activation(ctx: OpContext, kind: ActivationKind, hSource: FloatArray, xielu: XieluParameters | null = null) {
  const fin = kind === 'swiglu' || kind === 'smooth-swiglu' ? 2 * F : F;
  const h = ctx.alloc(R * fin); // (R, Fin)
  const dh = ctx.alloc(R * fin);
  const a = ctx.alloc(R * F); // (R, F)
  const da = ctx.alloc(R * F);
  const op = new ActivationOp(ctx, 'act', kind, R, F, h, a, da, dh, xielu, () => h.set(hSource));
  return { op, h, dh, a, da };
}

/**
 * probeCase of one activation, L = Σ a ⊙ wa, checking h and then `parameters`; before backward h is
 * NaN-filled (backward must refill it itself), dh too (overwritten), then `resetParameterGradients` runs.
 */
function activationCase(
  ctx: OpContext, act: ReturnType<typeof activation>, hSource: FloatArray, wa: FloatArray,
  parameters: CheckedTensor[] = [], resetParameterGradients = (): void => {},
): GradCase {
  return probeCase(ctx, [{ name: 'h', value: hSource, grad: act.dh }, ...parameters], {
    forward: () => {
      act.h.set(hSource);
      act.op.forward();
    },
    output: act.a,
    dOutput: act.da,
    probe: wa,
    resetGradients: () => {
      act.h.fill(NaN);
      act.dh.fill(NaN);
      resetParameterGradients();
    },
  });
}

function elementwiseCase(kind: ActivationKind, hSource: FloatArray, seed: number): GradCase {
  const ctx = float64Context();
  return activationCase(ctx, activation(ctx, kind, hSource), hSource, randn(new Rng(seed, 9), R * F));
}

test('SwiGLU (float64): dh = [dgate | dup] matches finite differences', () => {
  assertGradients('swiglu', elementwiseCase('swiglu', randn(new Rng(91, 1), R * 2 * F, 1.5), 91));
});

test('GeLU (erf) (float64): dh matches finite differences', () => {
  assertGradients('gelu', elementwiseCase('gelu', randn(new Rng(92, 1), R * F, 2), 92));
});

/*
 * Smooth-SwiGLU: a = silu(gate) ⊙ up / s with s[r] = max_j |gate[r, j]|, and DESIGN §4 says no
 * gradient flows through s. Two checks of what that means:
 * (1) the op alone against L(h) = Σ w ⊙ silu(gate) ⊙ up / s₀, s₀ the constant the forward at the
 *     base point computed (the loss multiplies the op's output by s(h)/s₀ to hold s at s₀);
 * (2) the whole multiply-back block out = RowScale(fc2(a), s) against true finite differences with
 *     s recomputed at every evaluation: out = fc2(silu(gate) ⊙ up) does not depend on s at all, so
 *     dropping ∂s is exact for the block and its gradient must match to the same tolerance.
 */
test('Smooth-SwiGLU alone (float64): dh matches finite differences with s held at its forward value s₀', () => {
  const ctx = float64Context();
  const rng = new Rng(93, 1);
  const hSource = randn(rng, R * 2 * F, 1.5);
  const wa = randn(rng, R * F);
  const act = activation(ctx, 'smooth-swiglu', hSource);
  const { op, h, a } = act;
  h.set(hSource);
  op.forward();
  const s0 = Float64Array.from(op.s);
  for (let r = 0; r < R; r++) {
    assert.equal(s0[r], Math.max(...Array.from(hSource.subarray(2 * F * r, 2 * F * r + F), Math.abs)), `s[${r}] = max |gate|`);
  }
  // the op's gradient (none through s) is the probe loss's; the finite differences hold s at s₀
  assertGradients('smooth-swiglu (s frozen)', {
    ...activationCase(ctx, act, hSource, wa),
    loss: () => {
      h.set(hSource);
      op.forward();
      let sum = 0;
      for (let r = 0; r < R; r++) for (let j = 0; j < F; j++) sum += wa[r * F + j] * a[r * F + j] * (op.s[r] / s0[r]);
      return sum;
    },
  });
});

test('Smooth-SwiGLU block: act → fc2 (fp32) → RowScale by s, in place (float64): dh and dW2 match true finite differences', () => {
  const ctx = float64Context();
  const C = 5;
  const rng = new Rng(94, 1);
  const hSource = randn(rng, R * 2 * F, 1.5);
  const w2 = randn(rng, C * F); // fc2 (C, F)
  const dw2 = ctx.alloc(C * F);
  const wout = randn(rng, R * C);
  const act = activation(ctx, 'smooth-swiglu', hSource);
  const out = ctx.alloc(R * C); // fc2 output, then rescaled in place
  const dout = ctx.alloc(R * C); // the block's output gradient
  const dpre = ctx.alloc(R * C); // gradient at fc2's output
  const fc2 = new LinearOp(ctx, { layer: 0, key: 'fc2', gemm: 'mlp.fc2', M: R, N: C, K: F, precision: 'fp32' }, w2, dw2, new WeightCastCache(), act.a, out, dpre, act.da);
  const rescale = new RowScaleOp(ctx, 'rescale', R, C, act.op.s, out, out, dout, dpre);
  assertGradients('smooth-swiglu + fc2 + row scale', probeCase(ctx, [{ name: 'h', value: hSource, grad: act.dh }, { name: 'W2', value: w2, grad: dw2 }], {
    forward: () => {
      act.h.set(hSource);
      act.op.forward();
      fc2.forward();
      rescale.forward();
    },
    output: out,
    dOutput: dout,
    probe: wout,
    resetGradients: () => {
      act.h.fill(NaN);
      dw2.fill(0);
    },
  }));
});

test('RowScale alone (float64): dx matches finite differences (s is a constant input)', () => {
  const ctx = float64Context();
  const C = 5;
  const rng = new Rng(95, 1);
  const s = Float64Array.of(0.5, 2, 3.25);
  const x = randn(rng, R * C);
  const wy = randn(rng, R * C);
  const y = ctx.alloc(R * C);
  const dy = ctx.alloc(R * C);
  const dx = ctx.alloc(R * C);
  const op = new RowScaleOp(ctx, 'rescale', R, C, s, x, y, dy, dx);
  assertGradients('row scale', probeCase(ctx, [{ name: 'x', value: x, grad: dx }], {
    forward: () => op.forward(),
    output: y,
    dOutput: dy,
    probe: wy,
    resetGradients: () => dx.fill(NaN),
  }));
});

test('xIELU with softplus-parametrised α_p, α_n (float64): dh, ∂L/∂a_p and ∂L/∂a_n match finite differences', () => {
  const ctx = float64Context();
  const rng = new Rng(96, 1);
  // inputs ≥ 0.05 away from the kink at 0 (and from the ε = −1e-6 clamp); both branches, some far negative
  const hSource = randnAwayFromZero(rng, R * F, 0.05).map((v) => 1.5 * v);
  const inverseSoftplus = (y: number) => Math.log(Math.expm1(y));
  const ap = Float64Array.of(inverseSoftplus(XIELU_ALPHA_INIT) + 0.3); // away from init: α_p ≠ α_n
  const an = Float64Array.of(inverseSoftplus(XIELU_ALPHA_INIT - XIELU_BETA) - 0.4);
  const dap = ctx.alloc(1);
  const dan = ctx.alloc(1);
  const act = activation(ctx, 'xielu', hSource, { ap, an, dap, dan });
  const wa = randn(rng, R * F);
  const parameters: CheckedTensor[] = [{ name: 'a_p', value: ap, grad: dap }, { name: 'a_n', value: an, grad: dan }];
  assert.ok(hSource.some((v) => v > 0) && hSource.some((v) => v < -1), 'both branches exercised');
  assertGradients('xielu', activationCase(ctx, act, hSource, wa, parameters, () => {
    dap.fill(0); // accumulated
    dan.fill(0);
  }));
});
