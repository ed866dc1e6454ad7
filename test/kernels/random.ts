/** Deterministic test data: a seeded PRNG (mulberry32) and helpers that fill typed arrays. */
import { mulberry32 } from '../util/mulberry32.js';

export class Rng {
  private readonly nextUint32: () => number;
  constructor(seed: number) {
    this.nextUint32 = mulberry32(seed);
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }
  /** Standard normal (Box–Muller). */
  normal(): number {
    const u = 1 - this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  /** n values N(0, std²), as float32. */
  normals(n: number, std = 1): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = std * this.normal();
    return out;
  }
  uniforms(n: number, lo: number, hi: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = this.uniform(lo, hi);
    return out;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.int(256);
    return out;
  }
}

/** Largest |a − b| / (atol + rtol·|b|) over two arrays; ≤ 1 means within tolerance. NaN must match NaN. */
export function worstRatio(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number): { ratio: number; index: number } {
  let ratio = 0;
  let index = -1;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i];
    const e = expected[i];
    const r = Number.isNaN(e) ? (Number.isNaN(a) ? 0 : Infinity) : Math.abs(a - e) / (atol + rtol * Math.abs(e));
    if (!(r <= ratio)) {
      ratio = r;
      index = i;
    }
  }
  return { ratio, index };
}

/** Asserts |actual − expected| ≤ atol + rtol·|expected| elementwise, with a useful message. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} ≠ ${expected.length}`);
  const { ratio, index } = worstRatio(actual, expected, atol, rtol);
  if (!(ratio <= 1)) {
    throw new Error(`${what}: element ${index} is ${actual[index]}, expected ${expected[index]} (|diff| is ${ratio.toPrecision(3)}× the tolerance atol ${atol} + rtol ${rtol}·|expected|)`);
  }
}

/**
 * Central finite-difference gradient of a float64 scalar function of `x` (perturbed in a float64
 * copy): g[i] = (f(x + h·eᵢ) − f(x − h·eᵢ)) / 2h.
 */
export function finiteDifference(f: (x: Float64Array) => number, x: ArrayLike<number>, h: number): Float64Array {
  const point = Float64Array.from(x);
  const grad = new Float64Array(point.length);
  for (let i = 0; i < point.length; i++) {
    const saved = point[i];
    point[i] = saved + h;
    const plus = f(point);
    point[i] = saved - h;
    const minus = f(point);
    point[i] = saved;
    grad[i] = (plus - minus) / (2 * h);
  }
  return grad;
}

/** Σ w·y in float64. */
export function weightedSum(y: ArrayLike<number>, w: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < y.length; i++) sum += y[i] * w[i];
  return sum;
}
