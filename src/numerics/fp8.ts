/**
 * Bit-exact FP8 reference codecs (DESIGN §2). Encoding rounds the float32 value x·scale (the
 * product formed in float32) to nearest, ties to even, into the subnormal range too, saturates
 * every magnitude above max (finite or infinite) to ±max, and maps NaN to the format's quiet NaN
 * with the input's sign (E4M3: 0x7F/0xFF; E5M2: 0x7E/0xFE). Decoding is a 256-entry table built
 * from the decode formula of DESIGN §2.
 */
import { fp8Format, type FloatFormat } from './formats.js';
import { codecFor, roundMagnitudeBits, scratchF32, scratchU32, F32_INF_BITS, type NarrowCodec } from './codec.js';

function fp8CodecFor(format: FloatFormat): NarrowCodec {
  const codec = codecFor(format);
  if (codec.totalBits !== 8) {
    throw new RangeError(`fp8: format ${format.name} has ${codec.totalBits} bits; allowed: 8-bit formats (e4m3, e5m2)`);
  }
  return codec;
}

/** Saturating FP8 code (magnitude) of float32 magnitude bits `a` (sign cleared). */
function encodeMagnitude(a: number, codec: NarrowCodec): number {
  if (a > F32_INF_BITS) return codec.nanCode;
  const code = roundMagnitudeBits(a, codec);
  return code > codec.maxFiniteCode ? codec.maxFiniteCode : code;
}

/**
 * FP8 code (0..255) of one value that is already scaled. `x` is first rounded to float32 (as it
 * would be when stored in a Float32Array); then RNE, saturation to ±max, NaN → signed quiet NaN.
 */
export function encodeFp8Scalar(x: number, format: FloatFormat): number {
  const codec = fp8CodecFor(format);
  scratchF32[0] = x;
  const bits = scratchU32[0];
  return encodeMagnitude(bits & 0x7fffffff, codec) | ((bits >>> 24) & 0x80);
}

const decodeTables = new Map<FloatFormat, Float32Array>();

/** Value of one code straight from the DESIGN §2 formula (builds the decode table). */
function decodeFormula(code: number, format: FloatFormat): number {
  const M = format.mantissaBits;
  const exponentAllOnes = 2 ** format.exponentBits - 1;
  const sign = code & 0x80 ? -1 : 1;
  const exponentField = (code >> M) & exponentAllOnes;
  const mantissaField = code & (2 ** M - 1);
  if (exponentField === exponentAllOnes) {
    const isNaN =
      format.nanEncoding === 'single' ? mantissaField === 2 ** M - 1 : mantissaField !== 0;
    if (isNaN) return NaN;
    if (format.hasInfinity && mantissaField === 0) return sign * Infinity;
  }
  if (exponentField === 0) return sign * 2 ** (1 - format.bias) * (mantissaField / 2 ** M);
  return sign * 2 ** (exponentField - format.bias) * (1 + mantissaField / 2 ** M);
}

/**
 * The 256 decoded values of an FP8 format, indexed by code (cached; shared — do not mutate).
 * NaN codes decode to NaN, E5M2's 0x7C/0xFC to ±Infinity, 0x80 to −0.
 */
export function fp8DecodeTable(format: FloatFormat): Float32Array {
  let table = decodeTables.get(format);
  if (table === undefined) {
    fp8CodecFor(format);
    table = new Float32Array(256);
    for (let code = 0; code < 256; code++) table[code] = decodeFormula(code, format);
    decodeTables.set(format, table);
  }
  return table;
}

/** float32 value of one FP8 code (integer 0..255). */
export function decodeFp8Scalar(code: number, format: FloatFormat): number {
  if (!Number.isInteger(code) || code < 0 || code > 255) {
    throw new RangeError(`decodeFp8Scalar: code must be an integer in 0..255, got ${code}`);
  }
  return fp8DecodeTable(format)[code];
}

// Fast path: the code of a float32 depends only on its top 16 bits and on whether any of the low
// 16 bits is set. FP8 keeps at most 3 mantissa bits, so its rounding bit is float32 bit 23 − M − 1
// ≥ 16 and the low half acts only as a sticky bit. A 2^17-entry table indexed by
// (top 16 bits, low bits ≠ 0), filled by the arithmetic encoder above, is therefore exact.
const encodeTables = new Map<FloatFormat, Uint8Array>();

function fp8EncodeTable(format: FloatFormat): Uint8Array {
  let table = encodeTables.get(format);
  if (table === undefined) {
    const codec = fp8CodecFor(format);
    if (codec.shift - 1 < 16) throw new RangeError(`fp8: format ${format.name} keeps too many mantissa bits for the table encoder`);
    table = new Uint8Array(1 << 17); // (top 16 bits, sticky)
    for (let top = 0; top < 1 << 16; top++) {
      for (let sticky = 0; sticky < 2; sticky++) {
        const bits = (top * 65536 + sticky) >>> 0;
        table[top * 2 + sticky] = encodeMagnitude(bits & 0x7fffffff, codec) | ((bits >>> 24) & 0x80);
      }
    }
    encodeTables.set(format, table);
  }
  return table;
}

// Products are formed a chunk at a time in this float32 buffer (the store rounds to float32).
const CHUNK = 2048;
const productF32 = new Float32Array(CHUNK);
const productU32 = new Uint32Array(productF32.buffer);

/**
 * Encodes `values` (n) into `codes` (n): codes[i] = FP8(fround(values[i]·scale)), where `scale`
 * is used as a float32 (it is rounded with Math.fround first). No allocation.
 */
export function encodeFp8Into(values: Float32Array, format: FloatFormat, scale: number, codes: Uint8Array): void {
  if (!(values instanceof Float32Array)) throw new TypeError('encodeFp8Into: values must be a Float32Array');
  if (!(codes instanceof Uint8Array) || codes.length !== values.length) {
    throw new TypeError(`encodeFp8Into: codes must be a Uint8Array of length ${values.length}`);
  }
  if (typeof scale !== 'number') throw new TypeError(`encodeFp8Into: scale must be a number, got ${typeof scale}`);
  const table = fp8EncodeTable(format);
  const scale32 = Math.fround(scale);
  const n = values.length;
  if (scale32 === 1) {
    // x·1 is x in float32, so unit scale reads the input bits directly.
    const bits = new Uint32Array(values.buffer, values.byteOffset, n);
    for (let i = 0; i < n; i++) {
      const u = bits[i];
      codes[i] = table[((u >>> 15) & 0x1fffe) | (((u & 0xffff) + 0xffff) >>> 16)];
    }
    return;
  }
  for (let start = 0; start < n; start += CHUNK) {
    const end = Math.min(n, start + CHUNK);
    for (let i = start; i < end; i++) productF32[i - start] = values[i] * scale32;
    for (let i = start; i < end; i++) {
      const u = productU32[i - start];
      codes[i] = table[((u >>> 15) & 0x1fffe) | (((u & 0xffff) + 0xffff) >>> 16)];
    }
  }
}

/**
 * FP8 codes of `values` (n) times `scale`: q[i] = FP8(fround(values[i]·scale)), with `scale`
 * taken as a float32. Returns a new Uint8Array (n).
 */
export function encodeFp8(values: Float32Array, format: 'e4m3' | 'e5m2', scale = 1): Uint8Array {
  const fmt = fp8Format(format);
  const codes = new Uint8Array(values.length);
  encodeFp8Into(values, fmt, scale, codes);
  return codes;
}

/** Decodes `codes` (n) into `out` (n) by table lookup. No allocation. */
export function decodeFp8Into(codes: Uint8Array, format: FloatFormat, out: Float32Array): void {
  if (!(codes instanceof Uint8Array)) throw new TypeError('decodeFp8Into: codes must be a Uint8Array');
  if (!(out instanceof Float32Array) || out.length !== codes.length) {
    throw new TypeError(`decodeFp8Into: out must be a Float32Array of length ${codes.length}`);
  }
  const table = fp8DecodeTable(format);
  for (let i = 0; i < codes.length; i++) out[i] = table[codes[i]];
}

/** float32 values (n) of FP8 `codes` (n). Returns a new Float32Array. */
export function decodeFp8(codes: Uint8Array, format: 'e4m3' | 'e5m2'): Float32Array {
  const fmt = fp8Format(format);
  const out = new Float32Array(codes.length);
  decodeFp8Into(codes, fmt, out);
  return out;
}
