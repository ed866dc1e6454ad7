/**
 * Independent oracles for the numerics tests, written a different way from src/numerics: FP8
 * values are listed by integer significand (2^M + m)·2^(e − bias − M) from hard-coded biases, and
 * encoding is nearest-value search over that list with ties broken toward the even code.
 */

/** Seeded 32-bit PRNG (mulberry32): deterministic tests. */
export { mulberry32 as rng } from '../util/mulberry32.js';

export interface Fp8Oracle {
  /** expected decoded value of each of the 256 codes (NaN for NaN codes). */
  valueOfCode: number[];
  /** finite non-negative values in increasing order, with their codes. */
  positives: { value: number; code: number }[];
  maxFinite: number;
}

/** Builds the code→value list from DESIGN §2 with the numbers written out here. */
export function fp8Oracle(name: 'e4m3' | 'e5m2'): Fp8Oracle {
  const M = name === 'e4m3' ? 3 : 2;
  const bias = name === 'e4m3' ? 7 : 15;
  const valueOfCode: number[] = [];
  for (let code = 0; code < 256; code++) {
    const negative = code >= 128;
    const e = Math.floor((code % 128) / 2 ** M);
    const m = code % 2 ** M;
    let v: number;
    if (name === 'e4m3' && code % 128 === 127) v = NaN;
    else if (name === 'e5m2' && e === 31) v = m === 0 ? Infinity : NaN;
    else if (e === 0) v = m * 2 ** (1 - bias - M);
    else v = (2 ** M + m) * 2 ** (e - bias - M);
    valueOfCode.push(negative ? -v : v);
  }
  const positives: { value: number; code: number }[] = [];
  for (let code = 0; code < 128; code++) {
    const v = valueOfCode[code];
    if (Number.isFinite(v)) positives.push({ value: v, code });
  }
  positives.sort((a, b) => a.value - b.value);
  return { valueOfCode, positives, maxFinite: positives[positives.length - 1].value };
}

/**
 * Slow reference encoder of an already-formed product p (a double; the caller decides whether
 * it was rounded to float32): nearest finite value, ties to the even code, ±inf and anything
 * above max saturate to ±max; NaN returns -1 (the caller checks "is a NaN code").
 */
export function slowEncode(p: number, oracle: Fp8Oracle): number {
  if (Number.isNaN(p)) return -1;
  const signBit = p < 0 || Object.is(p, -0) ? 0x80 : 0;
  const mag = Math.abs(p);
  const list = oracle.positives;
  if (mag >= oracle.maxFinite) return signBit | list[list.length - 1].code;
  // binary search: lo = last index with value <= mag
  let lo = 0;
  let hi = list.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (list[mid].value <= mag) lo = mid;
    else hi = mid;
  }
  const below = list[lo];
  const above = list[hi];
  if (below.value === mag) return signBit | below.code;
  const dBelow = mag - below.value;
  const dAbove = above.value - mag;
  let chosen;
  if (dBelow < dAbove) chosen = below;
  else if (dAbove < dBelow) chosen = above;
  else chosen = below.code % 2 === 0 ? below : above;
  return signBit | chosen.code;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function bitsToFloat(bits: number): number {
  u32[0] = bits >>> 0;
  return f32[0];
}

export function floatToBits(x: number): number {
  f32[0] = x;
  return u32[0];
}

/** The next float32 above (direction +1) or below (−1) a finite float32 x. */
export function nextFloat32(x: number, direction: 1 | -1): number {
  if (x === 0) return direction * 2 ** -149;
  const bits = floatToBits(x);
  const towardLarger = (x > 0) === (direction > 0);
  return bitsToFloat(towardLarger ? bits + 1 : bits - 1);
}
