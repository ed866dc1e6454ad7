import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { decodeFp8, encodeFp8 } from '../../src/numerics/fp8.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { ScalingState } from '../../src/numerics/scaling.js';
import { OpContext } from '../../src/ops/context.js';
import { LinearOp, WeightCastCache } from '../../src/ops/linear.js';
import { Rng } from '../../src/model/rng.js';
import { assertGradients, float64Context, gradCheck, probeCase, randn } from '../util/gradcheck.js';

const M = 5;
const N = 3;
const K = 7;

function setup(recipe: string, scale = 4, outputBlocks?: number[]) {
  const ctx = new OpContext(createReferenceKernels(), resolvePrecision(recipe), new ScalingState(resolvePrecision(recipe)));
  const rng = new Rng(1, 2);
  const r = (n: number) => new Float32Array(n).map(() => rng.normal());
  const w = r(N * K);
  const dw = new Float32Array(N * K);
  const x = r(M * K);
  const y = new Float32Array(M * N);
  const dy = r(M * N);
  const dx = new Float32Array(M * K);
  const spec = { layer: 0, key: 'l', gemm: 'l', M, N, K, precision: ctx.recipe.gemm, outputBlocks };
  const op = new LinearOp(ctx, spec, w, dw, new WeightCastCache(), x, y, dy, dx);
  for (const s of ctx.scaling.slots()) s.setScale(scale);
  return { ctx, op, w, dw, x, y, dy, dx };
}

/** Independent oracle: dequantized operands multiplied in float64. */
function fq(v: Float32Array, fmt: 'e4m3' | 'e5m2', scale: number): Float64Array {
  const d = decodeFp8(encodeFp8(v, fmt, scale), fmt);
  return Float64Array.from(d, (q) => q / scale);
}

test('FP8 linear: fprop, dgrad and wgrad equal the three GEMMs on Q(x), Q(W), Q(dy); saves 1 byte per input element', () => {
  const { ctx, op, w, dw, x, y, dy, dx } = setup('fp8-delayed');
  ctx.tape.recording = true;
  op.forward();
  assert.deepEqual(ctx.tape.labels(), ['l']);
  ctx.tape.backward();
  const qx = fq(x, 'e4m3', 4);
  const qw = fq(w, 'e4m3', 4);
  const qdy = fq(dy, 'e5m2', 4);
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-5 * (1 + Math.abs(b));
  for (let m = 0; m < M; m++) for (let n = 0; n < N; n++) {
    let s = 0;
    for (let k = 0; k < K; k++) s += qx[m * K + k] * qw[n * K + k];
    assert.ok(close(y[m * N + n], s), `y[${m},${n}] ${y[m * N + n]} vs ${s}`);
  }
  for (let m = 0; m < M; m++) for (let k = 0; k < K; k++) {
    let s = 0;
    for (let n = 0; n < N; n++) s += qdy[m * N + n] * qw[n * K + k];
    assert.ok(close(dx[m * K + k], s), `dx[${m},${k}]`);
  }
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) {
    let s = 0;
    for (let m = 0; m < M; m++) s += qdy[m * N + n] * qx[m * K + k];
    assert.ok(close(dw[n * K + k], s), `dW[${n},${k}]`);
  }
  assert.equal(op.savedBytes(), M * K);
  const roles = ctx.scaling.slots().map((s) => `${s.key}:${s.role}`).sort();
  assert.deepEqual(roles, ['l.grad_output:grad_output', 'l.input:input', 'l.weight:weight']);
});

test('linear saves 2 bytes per input element under bf16 and 4 under fp32; the weight is cast once per optimizer step', () => {
  assert.equal(setup('bf16').op.savedBytes(), 2 * M * K);
  assert.equal(setup('fp32').op.savedBytes(), 4 * M * K);
  const { ctx, op, w } = setup('fp8-delayed');
  op.forward();
  const weightSlot = ctx.scaling.slots().find((s) => s.role === 'weight');
  assert.ok(weightSlot && weightSlot.amaxHistory[0] > 0);
  weightSlot.amaxHistory[0] = 0;
  w[0] = 1000; // a changed weight is not re-cast within the step…
  op.forward();
  assert.equal(weightSlot.amaxHistory[0], 0);
  ctx.weightEpoch++; // …but is at the next optimizer step
  op.forward();
  assert.equal(weightSlot.amaxHistory[0], 1000);
});

test('current scaling derives the scale from the tensor amax before the cast', () => {
  const { ctx, op, x } = setup('fp8-current', 1);
  op.forward();
  const input = ctx.scaling.slots().find((s) => s.role === 'input');
  let a = 0;
  for (const v of x) a = Math.max(a, Math.abs(v));
  assert.equal(input?.scale, Math.fround(Math.fround(448) / Math.fround(a)));
});

test('recomputeOutput: y recomputed from the saved Q(x) is bit-identical to forward, for every precision, and casts nothing', () => {
  for (const recipe of ['fp32', 'bf16', 'fp8-delayed', 'fp8-current', 'fp8-block']) {
    const { ctx, op, y } = setup(recipe);
    let casts = 0;
    ctx.monitor = { tensor: () => {}, maxLogit: () => {}, cast: () => casts++ };
    op.forward();
    const first = Float32Array.from(y);
    const castsInForward = casts;
    y.fill(NaN);
    op.recomputeOutput();
    assert.deepEqual(y, first, recipe);
    assert.equal(casts, castsInForward, `${recipe}: recompute made a cast`);
  }
});

/** Row-major (M, N) → planar column blocks of the given widths (block j: (M, width_j) contiguous). */
function toPlanar(rows: Float32Array, widths: number[]): Float32Array {
  const out = new Float32Array(rows.length);
  let at = 0;
  let n0 = 0;
  for (const width of widths) {
    for (let m = 0; m < M; m++) for (let j = 0; j < width; j++) out[at++] = rows[m * N + n0 + j];
    n0 += width;
  }
  return out;
}

test('planar output blocks: y is the row-layout y in column blocks, and dx, dW and the grad cast\'s stats are bit-identical, for every precision', () => {
  const widths = [1, 2];
  for (const recipe of ['fp32', 'bf16', 'fp8-delayed', 'fp8-current', 'fp8-block']) {
    const row = setup(recipe);
    const planar = setup(recipe, 4, widths);
    planar.dy.set(toPlanar(row.dy, widths));
    const casts: string[][] = [[], []];
    [row, planar].forEach((c, i) => {
      c.ctx.monitor = { tensor: () => {}, maxLogit: () => {}, cast: (info) => casts[i].push(`${info.role} ${JSON.stringify(info.stats)} ${info.scale}`) };
      c.ctx.tape.recording = true;
      c.op.forward();
      c.ctx.tape.recording = false;
      c.ctx.tape.backward();
    });
    assert.deepEqual(planar.y, toPlanar(row.y, widths), `${recipe}: y`);
    assert.deepEqual(planar.dx, row.dx, `${recipe}: dx`);
    assert.deepEqual(planar.dw, row.dw, `${recipe}: dW`);
    assert.deepEqual(casts[1], casts[0], `${recipe}: casts`);
  }
  assert.throws(() => setup('fp32', 4, [1, 1]), /outputBlocks 1\+1 do not add up to N = 3/);
});

// ---- float64 finite-difference gradient checks (fp32 recipe) ------------------------------------

function linearGradCase(outputBlocks?: number[]) {
  const ctx = float64Context();
  const rng = new Rng(21, 1);
  const w = randn(rng, N * K); // (N, K)
  const x = randn(rng, M * K); // (M, K)
  const wy = randn(rng, M * N); // loss weights (M, N)
  const dw = ctx.alloc(N * K);
  const dx = ctx.alloc(M * K);
  const y = ctx.alloc(M * N);
  const dy = ctx.alloc(M * N);
  const op = new LinearOp(ctx, { layer: 0, key: 'l', gemm: 'l', M, N, K, precision: 'fp32', outputBlocks }, w, dw, new WeightCastCache(), x, y, dy, dx);
  const c = probeCase(ctx, [{ name: 'x', value: x, grad: dx }, { name: 'W', value: w, grad: dw }], {
    forward: () => op.forward(),
    output: y,
    dOutput: dy,
    probe: wy,
    resetGradients: () => {
      dx.fill(NaN); // dgrad overwrites
      dw.fill(0); // wgrad accumulates
    },
  });
  return { c, dw };
}

test('linear (fp32 recipe, float64): dx and dW match finite differences of L = Σ y ⊙ w', () => {
  assertGradients('linear', linearGradCase().c);
});

test('linear with planar output blocks (fp32 recipe, float64): dx and dW match finite differences', () => {
  assertGradients('planar linear', linearGradCase([2, 1]).c);
});

test('the gradient check fails a deliberately wrong gradient: dW scaled by 1 + 1e-5', () => {
  const { c, dw } = linearGradCase();
  const right = c.gradient;
  c.gradient = () => {
    right();
    for (let i = 0; i < dw.length; i++) dw[i] *= 1 + 1e-5;
  };
  const result = gradCheck(c);
  assert.ok(result.worst.error > 5e-6 && result.worst.tensor === 'W', `worst ${JSON.stringify(result.worst)}`);
  assert.throws(() => assertGradients('linear with dW × (1 + 1e-5), must fail', c), /off by more than 1e-6/);
});
