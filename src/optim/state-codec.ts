/**
 * Low-precision storage of optimizer state (DESIGN §5): one tensor of codes plus one float32
 * scale per tensor. A value x is stored as the code of x·(1/s) and read back as code·s, with
 * s = absmax / range re-derived from the tensor every time it is written. `range` is the format's
 * largest finite value for fp16 and fp8 (so the tensor uses the whole dynamic range and small
 * moments do not underflow) and 1 for bf16 (whose exponent range is float32's: a scale near
 * absmax/3.4e38 would itself be a float32 subnormal and lose precision).
 */
import { BF16, E4M3, E5M2, FP16, type FloatFormat } from '../numerics/formats.js';
import { decodeFp8Into, encodeFp8Into } from '../numerics/fp8.js';
import { roundToBf16Into, roundToFp16Scalar } from '../numerics/bf16.js';

/** Storage precision of one optimizer state tensor. 'e4m3'/'e5m2' are FP8 (moments only). */
export type StateDtype = 'fp32' | 'fp16' | 'bf16' | 'e4m3' | 'e5m2';

/** Typed array that holds the codes of a state dtype. */
export type StateCodes = Float32Array | Uint16Array | Uint8Array;

/** How each dtype stores its codes and what range its scale maps absmax onto. */
interface DtypeLayout {
  readonly bytes: 1 | 2 | 4;
  readonly format: FloatFormat | null;
  readonly range: number;
  /** safetensors dtype name of the codes. */
  readonly safetensorsDtype: 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2';
}

export const STATE_DTYPE_LAYOUT: Readonly<Record<StateDtype, DtypeLayout>> = Object.freeze({
  fp32: { bytes: 4, format: null, range: 1, safetensorsDtype: 'F32' },
  fp16: { bytes: 2, format: FP16, range: FP16.maxFinite, safetensorsDtype: 'F16' },
  bf16: { bytes: 2, format: BF16, range: 1, safetensorsDtype: 'BF16' },
  e4m3: { bytes: 1, format: E4M3, range: E4M3.maxFinite, safetensorsDtype: 'F8_E4M3' },
  e5m2: { bytes: 1, format: E5M2, range: E5M2.maxFinite, safetensorsDtype: 'F8_E5M2' },
});

/** Allocates a code arena of n elements for a dtype. */
export function allocateCodes(dtype: StateDtype, n: number): StateCodes {
  const bytes = STATE_DTYPE_LAYOUT[dtype].bytes;
  return bytes === 4 ? new Float32Array(n) : bytes === 2 ? new Uint16Array(n) : new Uint8Array(n);
}

/** A view of `n` codes at element `offset` of an arena. */
export function codesView(arena: StateCodes, offset: number, n: number): StateCodes {
  return arena.subarray(offset, offset + n);
}

let fp16Table: Float32Array | null = null;

/** The 65,536 float32 values of the IEEE binary16 codes (built once). */
function fp16DecodeTable(): Float32Array {
  if (fp16Table !== null) return fp16Table;
  const t = new Float32Array(65536);
  for (let code = 0; code < 65536; code++) {
    const sign = code & 0x8000 ? -1 : 1;
    const e = (code >> 10) & 0x1f;
    const m = code & 0x3ff;
    t[code] = e === 0 ? sign * 2 ** -14 * (m / 1024) : e === 31 ? (m === 0 ? sign * Infinity : NaN) : sign * 2 ** (e - 15) * (1 + m / 1024);
  }
  fp16Table = t;
  return t;
}

const bitsF32 = new Float32Array(1);
const bitsU32 = new Uint32Array(bitsF32.buffer);

/** binary16 code of a value that is already exactly representable in fp16 (or ±inf/NaN). */
function exactFp16Code(v: number): number {
  bitsF32[0] = v;
  const u = bitsU32[0];
  const sign = (u >>> 16) & 0x8000;
  const a = u & 0x7fffffff;
  if (a > 0x7f800000) return 0x7e00;
  if (a === 0x7f800000) return sign | 0x7c00;
  if (a === 0) return sign;
  const e = (a >>> 23) - 127;
  if (e < -14) return sign | Math.round(Math.abs(v) * 2 ** 24); // subnormal: m = |v|/2^-24, exact
  return sign | ((e + 15) << 10) | ((a >>> 13) & 0x3ff);
}

/** max |x| over a tensor; NaN if any element is NaN. */
export function absMax(x: Float32Array): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) {
    const a = Math.abs(x[i]);
    if (a > m) m = a;
    else if (a !== a) return NaN;
  }
  return m;
}

/**
 * The per-tensor scale s = absmax/range of a dtype (float32). Zero tensors get scale 1; a scale
 * whose inverse is not a finite float32 (absmax tiny) is raised so that it is.
 */
export function stateScale(dtype: StateDtype, absmax: number): number {
  if (!Number.isFinite(absmax)) {
    throw new RangeError(`stateScale: absmax must be finite to store a ${dtype} state tensor, got ${absmax}`);
  }
  if (dtype === 'fp32' || absmax === 0) return 1;
  let s = Math.fround(absmax / STATE_DTYPE_LAYOUT[dtype].range);
  if (!(s > 0) || !Number.isFinite(Math.fround(1 / s))) s = 2 ** -126;
  return s;
}

/**
 * Stores `x` (n) into `codes` (n) at `dtype` and returns the scale s used (1 for fp32). `scratch`
 * (≥ n float32) holds x·(1/s) before rounding. Encode: q = round(fround(x·fround(1/s))).
 */
export function encodeState(dtype: StateDtype, x: Float32Array, codes: StateCodes, scratch: Float32Array): number {
  const n = x.length;
  if (codes.length !== n) throw new TypeError(`encodeState: codes must have length ${n}, got ${codes.length}`);
  if (dtype === 'fp32') {
    (codes as Float32Array).set(x);
    return 1;
  }
  const s = stateScale(dtype, absMax(x));
  const inv = Math.fround(1 / s);
  const layout = STATE_DTYPE_LAYOUT[dtype];
  if (layout.bytes === 1) {
    encodeFp8Into(x, layout.format as FloatFormat, inv, codes as Uint8Array);
    return s;
  }
  const tmp = scratch.subarray(0, n);
  for (let i = 0; i < n; i++) tmp[i] = x[i] * inv;
  const out = codes as Uint16Array;
  if (dtype === 'bf16') {
    roundToBf16Into(tmp, tmp);
    const u = new Uint32Array(tmp.buffer, tmp.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = u[i] >>> 16;
  } else {
    for (let i = 0; i < n; i++) out[i] = exactFp16Code(roundToFp16Scalar(tmp[i]));
  }
  return s;
}

/** Reads `codes` (n) stored at `dtype` with scale `s` into `out` (n): out[i] = fround(decode(q)·s). */
export function decodeState(dtype: StateDtype, codes: StateCodes, s: number, out: Float32Array): void {
  const n = out.length;
  if (codes.length !== n) throw new TypeError(`decodeState: codes must have length ${n}, got ${codes.length}`);
  if (dtype === 'fp32') {
    out.set(codes as Float32Array);
    return;
  }
  const layout = STATE_DTYPE_LAYOUT[dtype];
  const s32 = Math.fround(s);
  if (layout.bytes === 1) {
    decodeFp8Into(codes as Uint8Array, layout.format as FloatFormat, out);
    for (let i = 0; i < n; i++) out[i] = out[i] * s32;
    return;
  }
  const bits = codes as Uint16Array;
  if (dtype === 'bf16') {
    const u = new Uint32Array(out.buffer, out.byteOffset, n);
    for (let i = 0; i < n; i++) u[i] = bits[i] << 16;
    for (let i = 0; i < n; i++) out[i] = out[i] * s32;
  } else {
    const table = fp16DecodeTable();
    for (let i = 0; i < n; i++) out[i] = table[bits[i]] * s32;
  }
}

/**
 * Rounds `x` in place to what a `dtype` tensor with a fresh per-tensor scale would hold
 * (encode then decode); returns the scale. Used for master weights and gradient buffers, whose
 * float32 arena then always equals the decoded low-precision tensor.
 */
export function roundToState(dtype: StateDtype, x: Float32Array, codesScratch: StateCodes, scratch: Float32Array): number {
  if (dtype === 'fp32') return 1;
  const codes = codesScratch.subarray(0, x.length);
  const s = encodeState(dtype, x, codes, scratch);
  decodeState(dtype, codes, s, x);
  return s;
}
