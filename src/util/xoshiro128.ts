/**
 * The xoshiro128** generator shared by data shuffles (data/seeded-permutation.ts) and parameter
 * init (model/rng.ts): 32-bit state words, seeded through splitmix32. Each subclass keeps its own
 * seeding, so the sequences it already produced (golden fixtures, resumed shuffles) stay the same.
 */

/** One splitmix32 step: advances state.s and returns a well-mixed uint32 (used to seed xoshiro). */
export function splitmix32(state: { s: number }): number {
  state.s = (state.s + 0x9e3779b9) | 0;
  let z = state.s;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

/** xoshiro128** over four 32-bit state words; subclasses derive the words from their seeds. */
export class Xoshiro128StarStar {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  /** state: four 32-bit words, not all zero (the caller's seeding guarantees it). */
  protected constructor(state: readonly [number, number, number, number]) {
    [this.a, this.b, this.c, this.d] = state;
  }

  /** Uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.b, 5), 7), 9) >>> 0;
    const t = this.b << 9;
    this.c ^= this.a;
    this.d ^= this.b;
    this.b ^= this.c;
    this.a ^= this.d;
    this.c ^= t;
    this.d = rotl(this.d, 11);
    return result;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
