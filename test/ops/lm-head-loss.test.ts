import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { ScalingState } from '../../src/numerics/scaling.js';
import { OpContext } from '../../src/ops/context.js';
import type { CastInfo } from '../../src/ops/monitor.js';
import { LinearOp, WeightCastCache } from '../../src/ops/linear.js';
import { LmHeadLossOp } from '../../src/ops/lm-head-loss.js';
import { Rng } from '../../src/model/rng.js';
import { assertGradients, float64Context, randn } from '../util/gradcheck.js';

const R = 7;
const C = 5;
const V = 11;

function setup(recipe: string | object, maxChunkRows: number) {
  const r = resolvePrecision(recipe as never);
  const ctx = new OpContext(createReferenceKernels(), r, new ScalingState(r));
  const rng = new Rng(3, 4);
  const w = new Float32Array(V * C).map(() => rng.normal());
  const x = new Float32Array(R * C).map(() => rng.normal());
  const targets = new Int32Array(R).map(() => rng.nextU32() % V);
  targets[2] = -1;
  const dw = new Float32Array(V * C);
  const dx = new Float32Array(R * C);
  const precision = r.gemm === 'fp8' && !r.fp8LmHead ? 'bf16' : r.gemm;
  const head = new LinearOp(ctx, { layer: -1, key: 'lm_head', gemm: 'lm_head', M: R, N: V, K: C, precision, transientInput: true }, w, dw, new WeightCastCache(), x, null, null, dx);
  const op = new LmHeadLossOp(ctx, head, R, V, dx, maxChunkRows);
  for (const s of ctx.scaling.slots()) s.setScale(8);
  return { ctx, op, w, x, targets, dw, dx };
}

function train(s: ReturnType<typeof setup>, gradScale: number, casts?: CastInfo[]): number {
  s.ctx.tape.recording = true;
  if (casts) s.ctx.monitor = { tensor: () => {}, maxLogit: () => {}, cast: (c) => casts.push(c) };
  const loss = s.op.forward(s.targets, gradScale);
  s.ctx.tape.recording = false;
  s.ctx.tape.backward();
  s.ctx.monitor = null;
  return loss;
}

test('fused LM head + cross-entropy (fp32): loss, dx and dW equal a float64 oracle; nothing (R, V) is saved', () => {
  const s = setup('fp32', 3);
  assert.equal(s.op.chunkRows, 3);
  const gradScale = 0.5;
  const loss = train(s, gradScale);
  let n = 0;
  let sum = 0;
  const dlogits = new Float64Array(R * V);
  for (let r = 0; r < R; r++) {
    const z = new Float64Array(V);
    for (let v = 0; v < V; v++) for (let c = 0; c < C; c++) z[v] += s.x[r * C + c] * s.w[v * C + c];
    const max = Math.max(...z);
    const lse = max + Math.log(z.reduce((a, b) => a + Math.exp(b - max), 0));
    if (s.targets[r] === -1) continue;
    n++;
    sum += lse - z[s.targets[r]];
    for (let v = 0; v < V; v++) dlogits[r * V + v] = Math.exp(z[v] - lse) - (v === s.targets[r] ? 1 : 0);
  }
  for (let i = 0; i < dlogits.length; i++) dlogits[i] *= gradScale / n;
  assert.ok(Math.abs(loss - sum / n) < 1e-6 * (sum / n), `loss ${loss} vs ${sum / n}`);
  const close = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) <= 1e-5 * (1e-3 + Math.abs(b)), `${what}: ${a} vs ${b}`);
  for (let r = 0; r < R; r++) for (let c = 0; c < C; c++) {
    let d = 0;
    for (let v = 0; v < V; v++) d += dlogits[r * V + v] * s.w[v * C + c];
    close(s.dx[r * C + c], d, `dx[${r},${c}]`);
  }
  for (let v = 0; v < V; v++) for (let c = 0; c < C; c++) {
    let d = 0;
    for (let r = 0; r < R; r++) d += dlogits[r * V + v] * s.x[r * C + c];
    close(s.dw[v * C + c], d, `dW[${v},${c}]`);
  }
  assert.equal(s.op.savedBytes(), R * C * 4); // only dx lives from forward to backward
});

test('fused LM head: chunked rows give the unchunked loss and dx bit for bit, dW within float32 summation order, one grad cast report', () => {
  for (const recipe of ['fp32', 'fp8-delayed', { base: 'fp8-delayed', fp8LmHead: true }]) {
    const whole = setup(recipe, R);
    const chunked = setup(recipe, 2);
    const castsWhole: CastInfo[] = [];
    const castsChunked: CastInfo[] = [];
    assert.equal(train(chunked, 1, castsChunked), train(whole, 1, castsWhole));
    assert.deepEqual(chunked.dx, whole.dx);
    for (let i = 0; i < whole.dw.length; i++) assert.ok(Math.abs(chunked.dw[i] - whole.dw[i]) <= 1e-6 * (1e-3 + Math.abs(whole.dw[i])), `${JSON.stringify(recipe)} dW[${i}]`);
    // Counts and amax exactly; the float64 error sums differ only by the chunks' summation order.
    const counts = (cs: CastInfo[]) => cs.map(({ stats: { sumSq, errSq, absSum, lostAbs, ...rest }, ...c }) => ({ ...c, stats: rest, sums: [sumSq, errSq, absSum, lostAbs] }));
    assert.deepEqual(counts(castsChunked).map(({ sums, ...c }) => c), counts(castsWhole).map(({ sums, ...c }) => c));
    counts(castsChunked).forEach((c, i) => c.sums.forEach((v, j) => {
      const w = counts(castsWhole)[i].sums[j] as number;
      assert.ok(Math.abs((v as number) - w) <= 1e-5 * Math.abs(w), `error sum ${j} of cast ${i}: ${v} vs ${w}`);
    }));
    if (castsWhole.length) assert.deepEqual(castsWhole.map((c) => c.role).sort(), ['grad_output', 'input', 'weight']);
  }
  // current scaling needs the whole dlogits amax: the head runs as one chunk
  assert.equal(setup({ base: 'fp8-current', fp8LmHead: true }, 2).op.chunkRows, R);
});

test('fused LM head: evaluation returns the same loss without touching gradients; logits() gives the full (R, V) logits', () => {
  const s = setup('fp32', 3);
  s.ctx.training = false;
  const evalLoss = s.op.forward(s.targets, null);
  assert.ok(s.dw.every((v) => v === 0) && s.dx.every((v) => v === 0));
  const logits = new Float32Array(R * V);
  s.op.logits(logits);
  assert.ok(Math.abs(logits[3 * V + 4] - Array.from({ length: C }, (_, c) => s.x[3 * C + c] * s.w[4 * C + c]).reduce((a, b) => a + b)) < 1e-5);
  s.ctx.training = true;
  assert.equal(train(s, 1), evalLoss);
});

test('fused LM head + cross-entropy in row chunks, ignored target −1 (fp32 recipe, float64): dx and dW match finite differences of gradScale · mean loss', () => {
  const ctx = float64Context();
  const rng = new Rng(81, 1);
  const w = randn(rng, V * C); // (V, C)
  const x = randn(rng, R * C); // (R, C)
  const targets = Int32Array.from([4, 0, -1, 4, 10, 7, 0]);
  const dw = ctx.alloc(V * C);
  const dx = ctx.alloc(R * C);
  const gradScale = 0.75; // the trainer's loss scale multiplies every gradient
  const head = new LinearOp(ctx, { layer: -1, key: 'lm_head', gemm: 'lm_head', M: R, N: V, K: C, precision: 'fp32', transientInput: true }, w, dw, new WeightCastCache(), x, null, null, dx);
  const op = new LmHeadLossOp(ctx, head, R, V, dx, 3);
  const result = assertGradients('lm head + cross-entropy', {
    tensors: [{ name: 'x', value: x, grad: dx }, { name: 'W', value: w, grad: dw }],
    loss: () => gradScale * op.forward(targets, null),
    gradient: () => {
      dx.fill(NaN); // written by the training forward
      dw.fill(0); // accumulated
      ctx.tape.recording = true;
      op.forward(targets, gradScale);
      ctx.tape.recording = false;
      ctx.tape.backward();
    },
  }, { elements: 8 });
  for (let c = 0; c < C; c++) assert.equal(dx[2 * C + c], 0, 'the ignored row gets no gradient');
  assert.ok(result.rows.length > 0);
});
