/**
 * Seeded deterministic random numbers for parameter init: xoshiro128** (32-bit state words,
 * seeded through splitmix32) and standard normals by Box-Muller. Each parameter tensor gets its
 * own stream seeded from (seed, FNV-1a hash of its name), so a tensor's init does not depend on
 * the order or presence of other tensors.
 */

import { Xoshiro128StarStar, splitmix32 } from '../util/xoshiro128.js';

/** FNV-1a 32-bit hash of a string (UTF-16 code units). */
export function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Parameter-init stream: uniform integers, uniforms in (0, 1) and standard normals. */
export class Rng extends Xoshiro128StarStar {
  private spare: number | null = null;

  /** seed: any integer (only its low 32 bits matter); stream: a second key, e.g. fnv1a(name). */
  constructor(seed: number, stream = 0) {
    super(stateFromSeed(seed, stream));
  }

  /** Uniform 32-bit unsigned integer (the same as nextUint32). */
  nextU32(): number {
    return this.nextUint32();
  }

  /** Uniform in (0, 1): never 0, so log() in Box-Muller is finite. */
  uniform(): number {
    return (this.nextU32() + 0.5) / 4294967296;
  }

  /** Standard normal N(0, 1) (Box-Muller, the second value of each pair cached). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(this.uniform()));
    const phi = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(phi);
    return r * Math.cos(phi);
  }
}

function stateFromSeed(seed: number, stream: number): [number, number, number, number] {
  const st = { s: (seed ^ Math.imul(stream, 0x27d4eb2d)) | 0 };
  let a = splitmix32(st);
  const b = splitmix32(st);
  const c = splitmix32(st);
  const d = splitmix32(st);
  if ((a | b | c | d) === 0) a = 1;
  return [a, b, c, d];
}
