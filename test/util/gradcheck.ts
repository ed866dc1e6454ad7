/**
 * The one finite-difference gradient check of the op and model tests, in float64: every op runs on the
 * reference kernels' float64 mode (wrapped in withValidation, so a Float32Array that slips into the
 * run throws) under the fp32 recipe, and its tape backward is compared with fourth-order central
 * differences of the loss, (a) along one random direction over each checked tensor and (b) at
 * several individual elements of it. Error metric: |fd − a| / max(|fd|, |a|, floor).
 */
import assert from 'node:assert/strict';
import { createReferenceKernels } from '../../src/kernels/reference/index.js';
import type { FloatArray } from '../../src/kernels/types.js';
import { withValidation } from '../../src/kernels/validate.js';
import { Rng } from '../../src/model/rng.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { ScalingState } from '../../src/numerics/scaling.js';
import { OpContext } from '../../src/ops/context.js';

/** The bound of issue 4 item 6 on every checked derivative. */
export const GRAD_TOLERANCE = 1e-6;
/**
 * Absolute floor of the relative-error denominator: derivatives below it are compared absolutely
 * (|fd − a| ≤ 1e-12). The floor sits above the difference quotient's rounding noise,
 * ≈ 1e-16·|L|/step ≈ 1e-12 for the O(1–10) losses and 1e-3 step used here.
 */
export const GRAD_FLOOR = 1e-6;
/** Default finite-difference step (absolute, along the unscaled direction). */
export const FD_STEP = 1e-3;

/** An OpContext on validated float64 reference kernels with the fp32 recipe. */
export function float64Context(): OpContext {
  const recipe = resolvePrecision('fp32');
  return new OpContext(withValidation(createReferenceKernels('float64')), recipe, new ScalingState(recipe));
}

/** n standard normals (times `scale`) from `rng`, as Float64Array. */
export function randn(rng: Rng, n: number, scale = 1): Float64Array {
  return Float64Array.from({ length: n }, () => scale * rng.normal());
}

/** n normals pushed at least `gap` away from 0 (keeps piecewise functions off their kinks). */
export function randnAwayFromZero(rng: Rng, n: number, gap: number): Float64Array {
  return Float64Array.from({ length: n }, () => {
    const z = rng.normal();
    return z < 0 ? z - gap : z + gap;
  });
}

/** Σ a ⊙ b in float64. */
export function dot(a: FloatArray, b: FloatArray): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** A tensor the loss depends on: `value` is perturbed in place; `grad` holds ∂L/∂value after gradient(). */
export interface CheckedTensor {
  name: string;
  value: FloatArray;
  grad: FloatArray;
}

/** One op (or a small composite) under test. */
export interface GradCase {
  tensors: CheckedTensor[];
  /** Forward only, from the current tensor values: the scalar loss. */
  loss(): number;
  /** Forward with the tape recording, then the tape's backward: fills every tensors[i].grad. */
  gradient(): void;
}

/** What probeCase needs: the op(s) under test, their output, its gradient buffer and the probe weights. */
export interface ProbeSpec {
  /** The op(s) forward from the current tensor values (refilling any input buffer they overwrite). */
  forward(): void;
  output: FloatArray;
  /** The gradient buffer backward reads for `output`; seeded with `probe`. */
  dOutput: FloatArray;
  probe: FloatArray;
  /** Called after seeding, before backward: NaN-fill overwritten grads, zero-fill accumulated ones. */
  resetGradients?(): void;
}

/**
 * The usual case, L = Σ output ⊙ probe: loss() runs forward; gradient() runs it with the tape
 * recording, seeds dOutput ← probe, calls resetGradients and runs the tape's backward.
 */
export function probeCase(ctx: OpContext, tensors: CheckedTensor[], spec: ProbeSpec): GradCase {
  return {
    tensors,
    loss: () => {
      spec.forward();
      return dot(spec.output, spec.probe);
    },
    gradient: () => {
      ctx.tape.recording = true;
      spec.forward();
      ctx.tape.recording = false;
      spec.dOutput.set(spec.probe);
      spec.resetGradients?.();
      ctx.tape.backward();
    },
  };
}

export interface GradCheckOptions {
  /** Seed of the directions and of the element choice. */
  seed?: number;
  /** Finite-difference step (default FD_STEP). */
  step?: number;
  /** Individual elements checked per tensor (default 6; all when the tensor is smaller). */
  elements?: number;
  /** Floor of the relative-error denominator (default GRAD_FLOOR); raise it when the loss's own noise is larger. */
  floor?: number;
  /** Normalise the random direction to unit length, so `step` is the Euclidean step (large tensors). */
  unitDirection?: boolean;
}

export interface GradCheckRow {
  tensor: string;
  /** 'direction' or 'element i'. */
  what: string;
  fd: number;
  analytic: number;
  error: number;
}

export interface GradCheckResult {
  worst: GradCheckRow;
  rows: GradCheckRow[];
}

export function relativeError(fd: number, analytic: number, floor = GRAD_FLOOR): number {
  return Math.abs(fd - analytic) / Math.max(Math.abs(fd), Math.abs(analytic), floor);
}

/**
 * (8·(L(+h) − L(−h)) − (L(+2h) − L(−2h))) / 12h along `dir` (fourth order), restoring the tensor
 * afterwards. Differences first: a loss that does not depend on the tensor gives exactly 0.
 */
function centralDifference(c: GradCase, x: FloatArray, dir: FloatArray, h: number): number {
  const base = Float64Array.from(x);
  const at = (t: number): number => {
    for (let i = 0; i < x.length; i++) x[i] = base[i] + t * dir[i];
    return c.loss();
  };
  const near = at(h) - at(-h);
  const far = at(2 * h) - at(-2 * h);
  const fd = (8 * near - far) / (12 * h);
  x.set(base);
  return fd;
}

/** Runs the checks of one case; asserts nothing (see assertGradients). */
export function gradCheck(c: GradCase, options: GradCheckOptions = {}): GradCheckResult {
  const rng = new Rng(options.seed ?? 12345, 7);
  const h = options.step ?? FD_STEP;
  const nElements = options.elements ?? 6;
  const floor = options.floor ?? GRAD_FLOOR;
  c.gradient();
  const analytic = c.tensors.map((t) => Float64Array.from(t.grad)); // later forwards may reuse the grad buffers
  const rows: GradCheckRow[] = [];
  c.tensors.forEach((t, ti) => {
    const n = t.value.length;
    const dir = randn(rng, n);
    if (options.unitDirection) {
      const norm = Math.sqrt(dot(dir, dir));
      for (let i = 0; i < n; i++) dir[i] /= norm;
    }
    const fd = centralDifference(c, t.value, dir, h);
    const a = dot(analytic[ti], dir);
    rows.push({ tensor: t.name, what: 'direction', fd, analytic: a, error: relativeError(fd, a, floor) });
    const indices = n <= nElements ? [...Array(n).keys()] : pickDistinct(rng, n, nElements);
    for (const i of indices) {
      const unit = new Float64Array(n);
      unit[i] = 1;
      const fdi = centralDifference(c, t.value, unit, h);
      rows.push({ tensor: t.name, what: `element ${i}`, fd: fdi, analytic: analytic[ti][i], error: relativeError(fdi, analytic[ti][i], floor) });
    }
  });
  const worst = rows.reduce((w, r) => (r.error > w.error || Number.isNaN(r.error) ? r : w));
  return { worst, rows };
}

function pickDistinct(rng: Rng, n: number, k: number): number[] {
  const picked = new Set<number>();
  while (picked.size < k) picked.add(rng.nextU32() % n);
  return [...picked].sort((a, b) => a - b);
}

/** gradCheck, a '# name: worst …' line on stdout (with the floor when it is not the default), and an assertion that every error is ≤ GRAD_TOLERANCE. */
export function assertGradients(name: string, c: GradCase, options: GradCheckOptions = {}): GradCheckResult {
  const result = gradCheck(c, options);
  const w = result.worst;
  console.log(`# ${name}: worst relative error ${w.error.toExponential(2)} (${w.tensor} ${w.what}: fd ${w.fd.toPrecision(10)}, analytic ${w.analytic.toPrecision(10)}) over ${result.rows.length} checks${options.floor !== undefined ? `, floor ${options.floor}` : ''}`);
  const bad = result.rows.filter((r) => !(r.error <= GRAD_TOLERANCE));
  assert.equal(
    bad.length, 0,
    `${name}: ${bad.length} derivative(s) off by more than ${GRAD_TOLERANCE.toExponential(0)}:\n` +
      bad.map((r) => `  ${r.tensor} ${r.what}: fd ${r.fd}, analytic ${r.analytic}, relative error ${r.error.toExponential(2)}`).join('\n'),
  );
  // a non-trivial check: some derivative is far above the default floor (and above any raised one)
  const nonTrivial = Math.max(1e3 * GRAD_FLOOR, 10 * (options.floor ?? GRAD_FLOOR));
  assert.ok(result.rows.some((r) => Math.abs(r.analytic) > nonTrivial), `${name}: every checked derivative is ~0`);
  return result;
}
