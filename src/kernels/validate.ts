import type {
  AdamWParams, AttentionFp8Scales, AttentionForwardOptions, AttentionShape, FloatArray, Fp8FormatName, GemmOperand, KernelPrecision, Kernels,
  OperandDtype, RopeScaling, XieluParams,
} from './types.js';

/**
 * Argument checking for any Kernels backend. withValidation(k) checks every length, shape, format
 * and dtype before calling k, so backends (the native addon in particular) never see bad sizes:
 * - wrong array type (float tensors must be the backend's own: Float32Array, or Float64Array in the
 *   reference backend's float64 mode), wrong length, non-positive or non-integer dimension, unknown format or dtype,
 *   Hq not a multiple of Hkv, odd RoPE head size → TypeError naming the argument, its value and
 *   what was expected;
 * - a number out of its range (scale ≤ 0 or not finite as a float32, a non-finite alpha, beta,
 *   eps, theta or softmax scale, an AdamW β outside [0, 1), a target outside {−1} ∪ [0, V)) → RangeError,
 *   also naming the argument.
 */
export function withValidation<Buf extends FloatArray>(k: Kernels<Buf>): Kernels<Buf> {
  if (k.precision !== 'float32' && k.precision !== 'float64') {
    throw new TypeError(`withValidation: kernels.precision must be 'float32' or 'float64', got ${describe(k.precision)}`);
  }
  const Floats = FLOAT_ARRAY[k.precision];
  return {
    name: k.name,
    precision: k.precision,
    alloc(n) {
      if (!Number.isSafeInteger(n) || n < 0) throw new TypeError(`alloc: n must be a non-negative integer, got ${describe(n)}`);
      return k.alloc(n);
    },
    // Live getters: the native backend's ISA and thread count change after wrapping (setIsa, setThreads).
    get isa() {
      return k.isa;
    },
    get threads() {
      return k.threads;
    },
    workspaceBytes() {
      return k.workspaceBytes();
    },

    quantize(x, format, scale, codes) {
      castArgs('quantize', ['x', x, Floats], format, ['scale', scale], ['codes', codes, Uint8Array]);
      return k.quantize(x, format, scale, codes);
    },
    dequantize(codes, format, invScale, out, roundBf16) {
      castArgs('dequantize', ['codes', codes, Uint8Array], format, ['invScale', invScale], ['out', out, Floats]);
      roundFlag('dequantize', roundBf16);
      k.dequantize(codes, format, invScale, out, roundBf16);
    },
    quantizeDequantize(x, format, scale, out, roundBf16) {
      castArgs('quantizeDequantize', ['x', x, Floats], format, ['scale', scale], ['out', out, Floats]);
      roundFlag('quantizeDequantize', roundBf16);
      return k.quantizeDequantize(x, format, scale, out, roundBf16);
    },
    roundBf16(x, out) {
      const n = array('roundBf16', 'x', x, Floats).length;
      array('roundBf16', 'out', out, Floats, n, 'x.length');
      k.roundBf16(x, out);
    },
    packBf16(x, bits) {
      const n = array('packBf16', 'x', x, Floats).length;
      array('packBf16', 'bits', bits, Uint16Array, n, 'x.length');
      k.packBf16(x, bits);
    },

    gemm(M, N, K, a, b, c, alpha, beta) {
      const m = 'gemm';
      dims(m, { M, N, K });
      operand(m, Floats, 'a', a, M * K, `M·K = ${M}·${K}`);
      operand(m, Floats, 'b', b, K * N, `K·N = ${K}·${N}`);
      array(m, 'c', c, Floats, M * N, `M·N = ${M}·${N}`);
      if (alpha !== undefined) finite(m, 'alpha', alpha);
      if (beta !== undefined) finite(m, 'beta', beta);
      k.gemm(M, N, K, a, b, c, alpha, beta);
    },

    rmsnormForward(x, gain, y, rstd, R, C, eps, roundBf16) {
      const m = 'rmsnormForward';
      dims(m, { R, C });
      array(m, 'x', x, Floats, R * C, `R·C = ${R}·${C}`);
      if (gain !== null) array(m, 'gain', gain, Floats, C, 'C');
      array(m, 'y', y, Floats, R * C, `R·C = ${R}·${C}`);
      array(m, 'rstd', rstd, Floats, R, 'R');
      nonNegative(m, 'eps', eps);
      roundFlag(m, roundBf16);
      k.rmsnormForward(x, gain, y, rstd, R, C, eps, roundBf16);
    },
    rmsnormBackward(dy, x, gain, rstd, dx, dgain, R, C, roundBf16) {
      const m = 'rmsnormBackward';
      dims(m, { R, C });
      for (const [name, value] of [['dy', dy], ['x', x], ['dx', dx]] as const) array(m, name, value, Floats, R * C, `R·C = ${R}·${C}`);
      if (gain !== null) array(m, 'gain', gain, Floats, C, 'C');
      if (dgain !== null) array(m, 'dgain', dgain, Floats, C, 'C');
      array(m, 'rstd', rstd, Floats, R, 'R');
      roundFlag(m, roundBf16);
      k.rmsnormBackward(dy, x, gain, rstd, dx, dgain, R, C, roundBf16);
    },
    ropeForward(x, y, B, T, H, D, theta, scaling = null, roundBf16) {
      rope('ropeForward', Floats, ['x', x], ['y', y], B, T, H, D, theta, scaling);
      roundFlag('ropeForward', roundBf16);
      k.ropeForward(x, y, B, T, H, D, theta, scaling, roundBf16);
    },
    ropeBackward(dy, dx, B, T, H, D, theta, scaling = null, roundBf16) {
      rope('ropeBackward', Floats, ['dy', dy], ['dx', dx], B, T, H, D, theta, scaling);
      roundFlag('ropeBackward', roundBf16);
      k.ropeBackward(dy, dx, B, T, H, D, theta, scaling, roundBf16);
    },

    crossEntropyForward(logits, targets, losses, lse, R, V) {
      const m = 'crossEntropyForward';
      crossEntropyShapes(m, Floats, logits, targets, R, V);
      array(m, 'losses', losses, Floats, R, 'R');
      array(m, 'lse', lse, Floats, R, 'R');
      k.crossEntropyForward(logits, targets, losses, lse, R, V);
    },
    crossEntropyBackward(logits, targets, lse, dloss, dlogits, R, V, roundBf16) {
      const m = 'crossEntropyBackward';
      crossEntropyShapes(m, Floats, logits, targets, R, V);
      array(m, 'lse', lse, Floats, R, 'R');
      array(m, 'dloss', dloss, Floats, R, 'R');
      array(m, 'dlogits', dlogits, Floats, R * V, `R·V = ${R}·${V}`);
      roundFlag(m, roundBf16);
      k.crossEntropyBackward(logits, targets, lse, dloss, dlogits, R, V, roundBf16);
    },

    attentionForward(q, kk, v, o, lse, shape, fp8, options) {
      const m = 'attentionForward';
      const s = attentionShape(m, shape);
      attentionArrays(m, Floats, s, { q, k: kk, v, o });
      array(m, 'lse', lse, Floats, s.B * s.Hq * s.T, `B·Hq·T = ${s.B}·${s.Hq}·${s.T}`);
      if (fp8 !== null) fp8Scales(m, fp8, ['p']);
      attentionOptions(m, options);
      return k.attentionForward(q, kk, v, o, lse, shape, fp8, options);
    },
    attentionBackward(q, kk, v, o, lse, do_, dq, dk, dv, shape, fp8) {
      const m = 'attentionBackward';
      const s = attentionShape(m, shape);
      attentionArrays(m, Floats, s, { q, k: kk, v, o, do_, dq, dk, dv });
      array(m, 'lse', lse, Floats, s.B * s.Hq * s.T, `B·Hq·T = ${s.B}·${s.Hq}·${s.T}`);
      if (fp8 !== null) fp8Scales(m, fp8, ['p', 'ds']);
      return k.attentionBackward(q, kk, v, o, lse, do_, dq, dk, dv, shape, fp8);
    },

    swigluForward(h, a, R, F, roundBf16) {
      gated(Floats, 'swigluForward', R, F, { h }, { a });
      roundFlag('swigluForward', roundBf16);
      k.swigluForward(h, a, R, F, roundBf16);
    },
    swigluBackward(h, da, dh, R, F, roundBf16) {
      gated(Floats, 'swigluBackward', R, F, { h, dh }, { da });
      roundFlag('swigluBackward', roundBf16);
      k.swigluBackward(h, da, dh, R, F, roundBf16);
    },
    smoothSwigluForward(h, a, s, R, F, roundBf16) {
      gated(Floats, 'smoothSwigluForward', R, F, { h }, { a });
      array('smoothSwigluForward', 's', s, Floats, R, 'R');
      roundFlag('smoothSwigluForward', roundBf16);
      k.smoothSwigluForward(h, a, s, R, F, roundBf16);
    },
    smoothSwigluBackward(h, s, da, dh, R, F, roundBf16) {
      gated(Floats, 'smoothSwigluBackward', R, F, { h, dh }, { da });
      array('smoothSwigluBackward', 's', s, Floats, R, 'R');
      roundFlag('smoothSwigluBackward', roundBf16);
      k.smoothSwigluBackward(h, s, da, dh, R, F, roundBf16);
    },
    geluForward(x, y, roundBf16) {
      sameLength(Floats, 'geluForward', { x, y });
      roundFlag('geluForward', roundBf16);
      k.geluForward(x, y, roundBf16);
    },
    geluBackward(x, dy, dx, roundBf16) {
      sameLength(Floats, 'geluBackward', { x, dy, dx });
      roundFlag('geluBackward', roundBf16);
      k.geluBackward(x, dy, dx, roundBf16);
    },
    xieluForward(x, y, p, roundBf16) {
      sameLength(Floats, 'xieluForward', { x, y });
      xieluParams('xieluForward', p);
      roundFlag('xieluForward', roundBf16);
      k.xieluForward(x, y, p, roundBf16);
    },
    xieluBackward(x, dy, dx, p, roundBf16) {
      sameLength(Floats, 'xieluBackward', { x, dy, dx });
      xieluParams('xieluBackward', p);
      roundFlag('xieluBackward', roundBf16);
      return k.xieluBackward(x, dy, dx, p, roundBf16);
    },

    addInPlace(acc, x, roundBf16 = false) {
      sameLength(Floats, 'addInPlace', { acc, x });
      if (typeof roundBf16 !== 'boolean') throw new TypeError(`addInPlace: roundBf16 must be a boolean, got ${describe(roundBf16)}`);
      k.addInPlace(acc, x, roundBf16);
    },
    copyColumns(src, srcCols, srcCol0, dst, dstCols, dstCol0, R, cols) {
      const m = 'copyColumns';
      dims(m, { srcCols, dstCols, R, cols });
      for (const [name, col0, width] of [['srcCol0', srcCol0, srcCols], ['dstCol0', dstCol0, dstCols]] as const) {
        if (!Number.isSafeInteger(col0) || col0 < 0 || col0 + cols > width) {
          throw new RangeError(`${m}: ${name} must be an integer with 0 ≤ ${name} and ${name} + cols ≤ ${width}, got ${describe(col0)} (cols ${cols})`);
        }
      }
      array(m, 'src', src, Floats, R * srcCols, `R·srcCols = ${R}·${srcCols}`);
      array(m, 'dst', dst, Floats, R * dstCols, `R·dstCols = ${R}·${dstCols}`);
      k.copyColumns(src, srcCols, srcCol0, dst, dstCols, dstCol0, R, cols);
    },

    adamw(w, g, mm, v, p) {
      sameLength(Floats, 'adamw', { w, g, m: mm, v });
      adamwParams('adamw', p);
      k.adamw(w, g, mm, v, p);
    },
    rowMoments(x, R, C, out) {
      const m = 'rowMoments';
      dims(m, { R, C });
      array(m, 'x', x, Floats, R * C, `R·C = ${R}·${C}`);
      array(m, 'out', out, Float64Array, 3 * R, `3·R = 3·${R}`);
      k.rowMoments(x, R, C, out);
    },
    sumSquares(x) {
      array('sumSquares', 'x', x, Floats);
      return k.sumSquares(x);
    },
  };
}

// ---- checks ------------------------------------------------------------------------------------

type FloatArrayConstructor = Float32ArrayConstructor | Float64ArrayConstructor;
const FLOAT_ARRAY: Record<KernelPrecision, FloatArrayConstructor> = { float32: Float32Array, float64: Float64Array };

type TypedArrayConstructor =
  | Float32ArrayConstructor | Float64ArrayConstructor | Uint8ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor;

/** A short description of a value for error messages (never dumps a whole array). */
function describe(value: unknown): string {
  if (ArrayBuffer.isView(value)) {
    const length = 'length' in value && typeof value.length === 'number' ? value.length : value.byteLength;
    return `${value.constructor.name}(${length})`;
  }
  if (typeof value === 'string') return `'${value}'`;
  if (value === null || value === undefined || typeof value === 'number' || typeof value === 'boolean') return String(value);
  return typeof value === 'object' ? `an object of type ${value.constructor?.name ?? 'Object'}` : typeof value;
}

function array<C extends TypedArrayConstructor>(
  method: string, name: string, value: unknown, ctor: C, length?: number, lengthExpression?: string,
): InstanceType<C> {
  if (!(value instanceof ctor)) throw new TypeError(`${method}: ${name} must be a ${ctor.name}, got ${describe(value)}`);
  const typed = value as InstanceType<C>;
  if (length !== undefined && typed.length !== length) {
    throw new TypeError(`${method}: ${name} has length ${typed.length}, expected ${lengthExpression} = ${length}`);
  }
  return typed;
}

function dims(method: string, values: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(values)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new TypeError(`${method}: ${name} must be a positive integer, got ${describe(value)}`);
    }
  }
}

function fp8FormatName(method: string, name: string, value: unknown): asserts value is Fp8FormatName {
  if (value !== 'e4m3' && value !== 'e5m2') throw new TypeError(`${method}: ${name} must be 'e4m3' or 'e5m2', got ${describe(value)}`);
}

const DTYPES: readonly OperandDtype[] = ['f32', 'bf16', 'e4m3', 'e5m2'];
const DTYPE_ARRAY: Record<Exclude<OperandDtype, 'f32'>, TypedArrayConstructor> = { bf16: Uint16Array, e4m3: Uint8Array, e5m2: Uint8Array };

function operand(
  method: string, Floats: FloatArrayConstructor, name: string, op: GemmOperand<FloatArray>, length: number, lengthExpression: string,
): void {
  if (typeof op !== 'object' || op === null) throw new TypeError(`${method}: ${name} must be a GemmOperand object, got ${describe(op)}`);
  if (!DTYPES.includes(op.dtype)) {
    throw new TypeError(`${method}: ${name}.dtype must be one of ${DTYPES.map((d) => `'${d}'`).join(', ')}, got ${describe(op.dtype)}`);
  }
  const ctor = op.dtype === 'f32' ? Floats : DTYPE_ARRAY[op.dtype];
  if (!(op.data instanceof ctor)) {
    throw new TypeError(`${method}: ${name}.data must be a ${ctor.name} for dtype '${op.dtype}', got ${describe(op.data)}`);
  }
  array(method, `${name}.data`, op.data, ctor, length, lengthExpression);
  if (typeof op.trans !== 'boolean') throw new TypeError(`${method}: ${name}.trans must be a boolean, got ${describe(op.trans)}`);
  if (op.invScale !== undefined) positiveFloat32(method, `${name}.invScale`, op.invScale);
  if (op.frozen !== undefined && !(Number.isSafeInteger(op.frozen) && op.frozen >= 1)) {
    throw new RangeError(`${method}: ${name}.frozen must be an integer ≥ 1 (an id of unchanging data), got ${describe(op.frozen)}`);
  }
}

/** The optional roundBf16 flag: undefined or a boolean. */
function roundFlag(method: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'boolean') throw new TypeError(`${method}: roundBf16 must be a boolean or undefined, got ${describe(value)}`);
}

function finite(method: string, name: string, value: unknown): void {
  if (typeof value !== 'number') throw new TypeError(`${method}: ${name} must be a number, got ${describe(value)}`);
  if (!Number.isFinite(value)) throw new RangeError(`${method}: ${name} must be finite, got ${value}`);
}

function nonNegative(method: string, name: string, value: unknown): void {
  finite(method, name, value);
  if ((value as number) < 0) throw new RangeError(`${method}: ${name} must be ≥ 0, got ${value}`);
}

/** A scale is used as a float32: it must stay finite and non-zero after rounding. */
function positiveFloat32(method: string, name: string, value: unknown): void {
  finite(method, name, value);
  const rounded = Math.fround(value as number);
  if (!(rounded > 0) || !Number.isFinite(rounded)) {
    throw new RangeError(`${method}: ${name} must be a positive finite float32 (0 < ${name} ≤ 3.4028235e38), got ${value}`);
  }
}

/** The casts' arguments in call order: input array, FP8 format, positive float32 scale, output of the input's length. */
function castArgs(
  method: string,
  input: [string, unknown, TypedArrayConstructor],
  format: unknown,
  scale: [string, unknown],
  output: [string, unknown, TypedArrayConstructor],
): void {
  const n = array(method, input[0], input[1], input[2]).length;
  fp8FormatName(method, 'format', format);
  positiveFloat32(method, scale[0], scale[1]);
  array(method, output[0], output[1], output[2], n, `${input[0]}.length`);
}

function rope(method: string, Floats: FloatArrayConstructor, input: [string, unknown], output: [string, unknown], B: number, T: number, H: number, D: number, theta: number, scaling: RopeScaling | null): void {
  dims(method, { B, T, H, D });
  if (D % 2 !== 0) throw new TypeError(`${method}: D must be even (pairs (i, i + D/2)), got ${D}`);
  const n = B * T * H * D;
  const expression = `B·T·H·D = ${B}·${T}·${H}·${D}`;
  array(method, input[0], input[1], Floats, n, expression);
  array(method, output[0], output[1], Floats, n, expression);
  finite(method, 'theta', theta);
  if (theta <= 0) throw new RangeError(`${method}: theta must be > 0, got ${theta}`);
  if (scaling !== null) {
    for (const key of ['factor', 'lowFreqFactor', 'highFreqFactor', 'originalContext'] as const) {
      const v = scaling[key];
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new RangeError(`${method}: scaling.${key} must be finite and > 0, got ${v}`);
    }
    if (scaling.factor < 1) throw new RangeError(`${method}: scaling.factor must be ≥ 1, got ${scaling.factor}`);
    if (!(scaling.highFreqFactor > scaling.lowFreqFactor)) {
      throw new RangeError(`${method}: scaling.highFreqFactor (${scaling.highFreqFactor}) must be > scaling.lowFreqFactor (${scaling.lowFreqFactor})`);
    }
  }
}

function crossEntropyShapes(method: string, Floats: FloatArrayConstructor, logits: unknown, targets: unknown, R: number, V: number): void {
  dims(method, { R, V });
  array(method, 'logits', logits, Floats, R * V, `R·V = ${R}·${V}`);
  const t = array(method, 'targets', targets, Int32Array, R, 'R');
  for (let r = 0; r < R; r++) {
    if (t[r] < -1 || t[r] >= V) throw new RangeError(`${method}: targets[${r}] = ${t[r]} must be −1 (ignored) or in [0, V = ${V})`);
  }
}

function attentionShape(method: string, shape: AttentionShape): AttentionShape {
  if (typeof shape !== 'object' || shape === null) throw new TypeError(`${method}: shape must be an AttentionShape object, got ${describe(shape)}`);
  const { B, T, Hq, Hkv, D, softmaxScale } = shape;
  dims(method, { 'shape.B': B, 'shape.T': T, 'shape.Hq': Hq, 'shape.Hkv': Hkv, 'shape.D': D });
  if (Hq % Hkv !== 0) throw new TypeError(`${method}: shape.Hq = ${Hq} must be a multiple of shape.Hkv = ${Hkv}`);
  finite(method, 'shape.softmaxScale', softmaxScale);
  return shape;
}

function attentionArrays(method: string, Floats: FloatArrayConstructor, s: AttentionShape, arrays: Record<string, unknown>): void {
  for (const [name, value] of Object.entries(arrays)) {
    const heads = name === 'k' || name === 'v' || name === 'dk' || name === 'dv' ? 'Hkv' : 'Hq';
    const length = s.B * s.T * (heads === 'Hkv' ? s.Hkv : s.Hq) * s.D;
    array(method, name, value, Floats, length, `B·T·${heads}·D = ${s.B}·${s.T}·${heads === 'Hkv' ? s.Hkv : s.Hq}·${s.D}`);
  }
}

function attentionOptions(method: string, options: AttentionForwardOptions | undefined): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) throw new TypeError(`${method}: options must be undefined or { maxLogit?: boolean }, got ${describe(options)}`);
  const { maxLogit } = options;
  if (maxLogit !== undefined && typeof maxLogit !== 'boolean') throw new TypeError(`${method}: options.maxLogit must be a boolean, got ${describe(maxLogit)}`);
}

function fp8Scales(method: string, fp8: AttentionFp8Scales, used: readonly (keyof AttentionFp8Scales)[]): void {
  if (typeof fp8 !== 'object') throw new TypeError(`${method}: fp8 must be null or an AttentionFp8Scales object, got ${describe(fp8)}`);
  for (const key of used) positiveFloat32(method, `fp8.${key}`, fp8[key]);
}

function gated(Floats: FloatArrayConstructor, method: string, R: number, F: number, wide: Record<string, unknown>, narrow: Record<string, unknown>): void {
  dims(method, { R, F });
  for (const [name, value] of Object.entries(wide)) array(method, name, value, Floats, 2 * R * F, `R·2F = ${R}·${2 * F}`);
  for (const [name, value] of Object.entries(narrow)) array(method, name, value, Floats, R * F, `R·F = ${R}·${F}`);
}

function sameLength(Floats: FloatArrayConstructor, method: string, arrays: Record<string, unknown>): void {
  const entries = Object.entries(arrays);
  const [firstName, first] = entries[0];
  const n = array(method, firstName, first, Floats).length;
  for (const [name, value] of entries.slice(1)) array(method, name, value, Floats, n, `${firstName}.length`);
}

function xieluParams(method: string, p: XieluParams): void {
  if (typeof p !== 'object' || p === null) throw new TypeError(`${method}: p must be an XieluParams object, got ${describe(p)}`);
  for (const key of ['alphaP', 'alphaN', 'beta', 'eps'] as const) finite(method, `p.${key}`, p[key]);
}

function adamwParams(method: string, p: AdamWParams): void {
  if (typeof p !== 'object' || p === null) throw new TypeError(`${method}: p must be an AdamWParams object, got ${describe(p)}`);
  finite(method, 'p.lr', p.lr);
  for (const key of ['beta1', 'beta2'] as const) {
    finite(method, `p.${key}`, p[key]);
    if (p[key] < 0 || p[key] >= 1) throw new RangeError(`${method}: p.${key} must be in [0, 1), got ${p[key]}`);
  }
  nonNegative(method, 'p.eps', p.eps);
  nonNegative(method, 'p.weightDecay', p.weightDecay);
  if (typeof p.step !== 'number' || !Number.isSafeInteger(p.step) || p.step < 1) {
    throw new TypeError(`${method}: p.step must be a positive integer (1-based), got ${describe(p.step)}`);
  }
}
