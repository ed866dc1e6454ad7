/**
 * Inputs of the attention kernels in their cast modes (types.ts AttentionFp8Scales, bf16Operands):
 * FP8DPA takes the FP8 values of q, k, v (E4M3) and dO (E5M2) with their inverse scales; BF16
 * attention takes BF16 values. `real` holds what those inputs stand for (value · inverse scale,
 * exact in float64), for float64 oracles.
 */
import { Rng } from './random.js';
import { fp8Format } from '../../src/numerics/formats.js';
import { encodeFp8Scalar, decodeFp8Scalar } from '../../src/numerics/fp8.js';
import { roundToBf16Scalar } from '../../src/numerics/bf16.js';
import type { AttentionShape } from '../../src/kernels/types.js';

export interface AttentionTensors {
  q: Float32Array; k: Float32Array; v: Float32Array; dO: Float32Array;
}

export interface CastAttentionInputs {
  /** What the kernel receives: FP8 (or BF16) values. */
  values: AttentionTensors;
  /** value · inverse scale per element, in float64 (exact). */
  real: { q: Float64Array; k: Float64Array; v: Float64Array; dO: Float64Array };
  qkvInv: number;
  doInv: number;
}

function fp8Values(x: Float32Array, format: 'e4m3' | 'e5m2', scale: number): Float32Array {
  const f = fp8Format(format);
  return x.map((value) => decodeFp8Scalar(encodeFp8Scalar(Math.fround(value * Math.fround(scale)), f), f));
}

/**
 * N(0, std²) tensors cast like the op casts them: q, k, v E4M3 with one scale (not a power of
 * two, so value · inverse scale is generally not a BF16 number), dO E5M2 with its own.
 */
export function fp8AttentionInputs(s: AttentionShape, seed: number, std = 1, qkvScale = 37.3, doScale = 1234.5): CastAttentionInputs {
  const rng = new Rng(seed);
  const nq = s.B * s.T * s.Hq * s.D;
  const nkv = s.B * s.T * s.Hkv * s.D;
  const values = {
    q: fp8Values(rng.normals(nq, std), 'e4m3', qkvScale),
    k: fp8Values(rng.normals(nkv, std), 'e4m3', qkvScale),
    v: fp8Values(rng.normals(nkv), 'e4m3', qkvScale),
    dO: fp8Values(rng.normals(nq), 'e5m2', doScale),
  };
  const qkvInv = Math.fround(1 / Math.fround(qkvScale));
  const doInv = Math.fround(1 / Math.fround(doScale));
  const scaled = (x: Float32Array, inv: number) => Float64Array.from(x, (value) => value * inv);
  return {
    values, qkvInv, doInv,
    real: { q: scaled(values.q, qkvInv), k: scaled(values.k, qkvInv), v: scaled(values.v, qkvInv), dO: scaled(values.dO, doInv) },
  };
}

/** N(0, std²) tensors rounded to BF16 (inverse scales 1). */
export function bf16AttentionInputs(s: AttentionShape, seed: number, std = 1): CastAttentionInputs {
  const rng = new Rng(seed);
  const nq = s.B * s.T * s.Hq * s.D;
  const nkv = s.B * s.T * s.Hkv * s.D;
  const bf16 = (x: Float32Array) => x.map(roundToBf16Scalar);
  const values = { q: bf16(rng.normals(nq, std)), k: bf16(rng.normals(nkv, std)), v: bf16(rng.normals(nkv)), dO: bf16(rng.normals(nq)) };
  return { values, qkvInv: 1, doInv: 1, real: { q: Float64Array.from(values.q), k: Float64Array.from(values.k), v: Float64Array.from(values.v), dO: Float64Array.from(values.dO) } };
}
