import type { FloatArray } from '../types.js';

/**
 * The reference kernels' arithmetic follows their buffers: with Float32Array buffers every step the
 * native kernels round to float32 is rounded with Math.fround; with Float64Array buffers (the float64
 * gradient-verification mode) nothing is rounded.
 */
export type Rounding = (x: number) => number;

const exact: Rounding = (x) => x;

/** Math.fround for float32 buffers, the identity for float64 ones. */
export function roundingOf(buffer: FloatArray): Rounding {
  return buffer instanceof Float64Array ? exact : Math.fround;
}

/** The values of `x` as float32 (shared when x already is one): what FP8/BF16 casts read. */
export function asFloat32(x: FloatArray): Float32Array {
  return x instanceof Float32Array ? x : Float32Array.from(x);
}
