/**
 * Deterministic shuffles: a permutation that depends only on (seed, epoch), so a resumed run
 * regenerates exactly the order it was in. xoshiro128** seeded through splitmix32 from the two
 * numbers; unbiased integers by rejection; Fisher–Yates from the last element down.
 */

import { Xoshiro128StarStar, splitmix32 } from '../util/xoshiro128.js';

/** xoshiro128** generator of uniform 32-bit integers. */
export class Xoshiro128 extends Xoshiro128StarStar {
  /** Seeds from any list of safe non-negative integers (each split into 32-bit halves). */
  constructor(...seeds: number[]) {
    super(stateFromSeeds(seeds));
  }

  /** Uniform integer in [0, n), n ≤ 2^32, without modulo bias. */
  nextBelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 2 ** 32) throw new RangeError(`n must be an integer in [1, 2^32], got ${n}`);
    const limit = 2 ** 32 - (2 ** 32 % n); // largest multiple of n that fits
    for (;;) {
      const x = this.nextUint32();
      if (x < limit) return x % n;
    }
  }
}

function stateFromSeeds(seeds: number[]): [number, number, number, number] {
  const state = { s: 0x2545f491 };
  for (const seed of seeds) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
    state.s ^= splitmix32(state) ^ (seed >>> 0);
    state.s ^= splitmix32(state) ^ Math.floor(seed / 2 ** 32);
  }
  const a = splitmix32(state);
  const b = splitmix32(state);
  const c = splitmix32(state);
  const d = splitmix32(state) | 1; // never the all-zero state
  return [a, b, c, d];
}

/** A permutation of 0..n-1 determined by (seed, epoch) alone. */
export function seededPermutation(n: number, seed: number, epoch: number): Uint32Array {
  if (!Number.isInteger(n) || n < 0 || n > 2 ** 32) throw new RangeError(`n must be an integer in [0, 2^32], got ${n}`);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const rng = new Xoshiro128(seed, epoch);
  for (let i = n - 1; i > 0; i--) {
    const j = rng.nextBelow(i + 1);
    const t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}
