import type {
  AttentionBackwardStats, AttentionFp8Scales, AttentionForwardOptions, AttentionForwardStats, AttentionInput, AttentionShape, CastStats, FloatArray,
} from '../types.js';
import { roundingOf, type Rounding } from './precision.js';
import { E4M3, E5M2 } from '../../numerics/formats.js';
import { dequantize, emptyStats, quantizeScalarValue } from './casts.js';
import { roundToBf16Scalar } from '../../numerics/bf16.js';

/**
 * Causal GQA attention forward/backward, reference twin. Memory is O(T·D) per head: the forward
 * walks key tiles of KEY_TILE with an online softmax (running max and sum), the backward recomputes
 * P row by row from the saved lse; nothing of size T×T is ever held.
 *
 * Layouts: q, o, dq, do (B, T, Hq, D); k, v, dk, dv (B, T, Hkv, D); lse (B, Hq, T). Query head h
 * reads kv head ⌊h / (Hq/Hkv)⌋. Numerics: every logit s = fround(sScale·Σ q·k) with Σ q·k
 * accumulated in float32 (one rounding per multiply-add, d in order), as DESIGN §3 asks of S; the
 * softmax state and the P·V, dS·K, dSᵀ·Q, Pᵀ·dO sums are float64, each output rounded once on
 * store after its scale. The saved lse is float32 and P = fround(exp(s − lse)) is recomputed from
 * it wherever needed, so forward and backward see the same P (and the same P̃).
 *
 * Three modes. fp32 (fp8 null, no shape.bf16Operands): one online-softmax pass, P float32.
 * FP8DPA (fp8 ≠ null): q, k, v, do_ hold FP8 values (decode(code), BF16-exact) and the inverse
 * scales qkvInv, doInv come in `fp8`; P̃ = decode(E4M3(P·pScale)) and dS̃ = decode(E5M2(dS·dsScale))
 * are FP8 values too, and every inverse scale multiplies an accumulator (the float32 constants of
 * `Scales`), never an operand — what the avx512bf16 kernels compute on vdpbf16ps. BF16
 * (shape.bf16Operands): q, k, v, do_ hold BF16 values, P̃ = bf16(P), dS̃ = bf16(dS), scales 1.
 * Both cast modes normalise P exactly (pass 1: lse; pass 2: P̃·V).
 *
 * In float64 mode (Float64Array buffers) none of these roundings happen (the FP8 casts do).
 *
 * Any input may come as FP8 codes (types.ts Fp8Codes): it is dequantized first, by definition —
 * the native kernels decode the codes as they load their tiles, to the same values.
 *
 * Masked pairs (key after query) are never formed in any product, here or in the native kernels,
 * so an inf or NaN at position t never reaches an earlier row's O, lse or dQ (nor, through t's Q or
 * dO, the dK and dV of later keys). FP8DPA cast statistics cover exactly the causal (unmasked)
 * entries: B·Hq·T(T+1)/2 elements per cast; masked entries are not counted. maxLogit covers all T×T pairs
 * (masked ones too) and is NaN if any logit is NaN; with `options.maxLogit === false` the masked
 * pairs are skipped and maxLogit is NaN.
 */
const KEY_TILE = 32;

/** An input's values: the float buffer itself, or its codes dequantized into a buffer of `like`'s kind. */
function valuesOf(x: AttentionInput<FloatArray>, like: FloatArray): FloatArray {
  if (ArrayBuffer.isView(x)) return x;
  const out = like instanceof Float64Array ? new Float64Array(x.data.length) : new Float32Array(x.data.length);
  dequantize(x.data, x.format, x.invScale ?? 1, out);
  return out;
}

/** q·k of two D-vectors, one rounding per multiply-add (float32 buffers; none in float64 mode). */
function dot32(x: FloatArray, xOffset: number, y: FloatArray, yOffset: number, D: number, round: Rounding): number {
  let acc = 0;
  for (let d = 0; d < D; d++) acc = round(acc + x[xOffset + d] * y[yOffset + d]);
  return acc;
}

/** The in-kernel casts and the float32 constants that scale the accumulators (types.ts AttentionFp8Scales). */
interface Scales {
  mode: 'fp32' | 'bf16' | 'fp8';
  pScale: number; pInv: number; dsScale: number; dsInv: number;
  /** logit = fround(sScale·Σ q·k): softmaxScale·qkvInv². */
  sScale: number;
  /** o = fround(oScale·Σ P̃·v): pInv·qkvInv. */
  oScale: number;
  /** dP = fround(dpScale·Σ dO·v): doInv·qkvInv. */
  dpScale: number;
  /** dq, dk = fround(dqkScale·Σ dS̃·k), fround(dqkScale·Σ dS̃ᵀ·q): softmaxScale·dsInv·qkvInv. */
  dqkScale: number;
  /** dv = fround(dvScale·Σ P̃ᵀ·dO): pInv·doInv. */
  dvScale: number;
  doInv: number;
}

/** Float32 constants of a call (`round` is Math.fround, or the identity in float64 mode); ds only in backward. */
function scalesOf(shape: AttentionShape, fp8: AttentionFp8Scales | null, withDs: boolean, round: Rounding): Scales {
  const mode = fp8 !== null ? 'fp8' : shape.bf16Operands === true ? 'bf16' : 'fp32';
  const softmaxScale = round(shape.softmaxScale);
  const pScale = fp8 === null ? 1 : Math.fround(fp8.p);
  const dsScale = fp8 === null || !withDs ? 1 : Math.fround(fp8.ds);
  const pInv = Math.fround(1 / pScale);
  const dsInv = Math.fround(1 / dsScale);
  const qkvInv = fp8 === null ? 1 : round(fp8.qkvInv ?? 1);
  const doInv = fp8 === null || !withDs ? 1 : round(fp8.doInv ?? 1);
  return {
    mode, pScale, pInv, dsScale, dsInv, doInv,
    sScale: round(softmaxScale * round(qkvInv * qkvInv)),
    oScale: round(pInv * qkvInv),
    dpScale: round(doInv * qkvInv),
    dqkScale: round(softmaxScale * round(dsInv * qkvInv)),
    dvScale: round(pInv * doInv),
  };
}

/** BF16 rounding of P and dS in the bf16 mode (float32 buffers; none in float64 mode). */
function bf16Of(buffer: FloatArray): Rounding {
  return buffer instanceof Float64Array ? (x) => x : roundToBf16Scalar;
}

/**
 * o (B, T, Hq, D), lse (B, Hq, T) from q, k, v. fp32 mode: one online-softmax pass over key tiles.
 * Cast modes: pass 1 computes lse, pass 2 forms the exactly normalised P = fround(exp(s − lse)),
 * its cast P̃ and o = fround(oScale·Σ P̃·v).
 */
export function attentionForward(
  qIn: AttentionInput<FloatArray>, kIn: AttentionInput<FloatArray>, vIn: AttentionInput<FloatArray>, o: FloatArray, lse: FloatArray,
  shape: AttentionShape, fp8: AttentionFp8Scales | null, options?: AttentionForwardOptions,
): AttentionForwardStats {
  const [q, k, v] = [valuesOf(qIn, o), valuesOf(kIn, o), valuesOf(vIn, o)];
  const { B, T, Hq, Hkv, D } = shape;
  const wantMaxLogit = options?.maxLogit ?? true;
  const round = roundingOf(o);
  const bf16 = bf16Of(o);
  const sc = scalesOf(shape, fp8, false, round);
  const twoPass = sc.mode !== 'fp32';
  const group = Hq / Hkv;
  const pStats = emptyStats();
  let maxLogit = -Infinity;
  const acc = new Float64Array(D); // running Σ p·v of one query row
  const tileScores = new Float64Array(KEY_TILE);
  const logit = (qOffset: number, kOffset: number): number => {
    const s = round(sc.sScale * dot32(q, qOffset, k, kOffset, D, round));
    if (Number.isNaN(s) || s > maxLogit) maxLogit = s; // s > NaN is false: a NaN sticks
    return s;
  };
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < Hq; h++) {
      const kvHead = Math.floor(h / group);
      for (let i = 0; i < T; i++) {
        const qOffset = ((b * T + i) * Hq + h) * D;
        const kvOffset = (j: number): number => ((b * T + j) * Hkv + kvHead) * D;
        // Masked pairs (j > i) only feed the max-logit monitor.
        if (wantMaxLogit) for (let j = i + 1; j < T; j++) logit(qOffset, kvOffset(j));
        // Online softmax over key tiles: m running max, l running Σ exp(s − m), acc running Σ exp(s − m)·v.
        let m = -Infinity;
        let l = 0;
        acc.fill(0);
        for (let j0 = 0; j0 <= i; j0 += KEY_TILE) {
          const jEnd = Math.min(i + 1, j0 + KEY_TILE);
          let tileMax = -Infinity;
          for (let j = j0; j < jEnd; j++) {
            const s = logit(qOffset, kvOffset(j));
            tileScores[j - j0] = s;
            if (s > tileMax) tileMax = s;
          }
          const mNew = Math.max(m, tileMax);
          if (mNew === -Infinity) continue; // every score so far is −∞: nothing to add yet
          const correction = Math.exp(m - mNew);
          l *= correction;
          for (let d = 0; d < D; d++) acc[d] *= correction;
          for (let j = j0; j < jEnd; j++) {
            const p = Math.exp(tileScores[j - j0] - mNew);
            l += p;
            if (!twoPass) {
              const vOffset = kvOffset(j);
              for (let d = 0; d < D; d++) acc[d] += p * v[vOffset + d];
            }
          }
          m = mNew;
        }
        const rowLse = round(m + Math.log(l));
        lse[(b * Hq + h) * T + i] = rowLse;
        if (!twoPass) {
          for (let d = 0; d < D; d++) o[qOffset + d] = acc[d] / l;
          continue;
        }
        // Pass 2: exactly normalised P from the saved lse, its cast P̃, then oScale·Σ P̃·V.
        acc.fill(0);
        for (let j = 0; j <= i; j++) {
          const s = round(sc.sScale * dot32(q, qOffset, k, kvOffset(j), D, round));
          const p = round(Math.exp(s - rowLse));
          const pTilde = sc.mode === 'fp8' ? quantizeScalarValue(p, E4M3, sc.pScale, sc.pInv, pStats) : bf16(p);
          const vOffset = kvOffset(j);
          for (let d = 0; d < D; d++) acc[d] += pTilde * v[vOffset + d];
        }
        for (let d = 0; d < D; d++) o[qOffset + d] = round(sc.oScale * acc[d]);
      }
    }
  }
  if (!wantMaxLogit) maxLogit = NaN;
  return sc.mode !== 'fp8' ? { maxLogit } : { maxLogit, p: pStats };
}

/**
 * dq (B, T, Hq, D), dk, dv (B, T, Hkv, D) (overwritten) from do_ (B, T, Hq, D) and the forward's
 * o and lse. Dᵢ = fround(doInv·Σ_d dO⊙O), P = fround(exp(s − lse)), dP = fround(dpScale·Σ dO·v)
 * (float32 accumulation, never cast: TE/cuDNN keep it wide), dS = fround(P·fround(dP − Dᵢ)); cast
 * modes: dS̃ and P̃ (the forward's) replace dS and P in the products. dq = fround(dqkScale·Σ dS̃·k),
 * dk = fround(dqkScale·Σ dS̃ᵀ·q), dv = fround(dvScale·Σ P̃ᵀ·dO). dq, dk, dv are returned
 * unquantized; the caller casts them (DESIGN §3 dQKV).
 */
export function attentionBackward(
  qIn: AttentionInput<FloatArray>, kIn: AttentionInput<FloatArray>, vIn: AttentionInput<FloatArray>, oIn: AttentionInput<FloatArray>,
  lse: FloatArray, doIn: AttentionInput<FloatArray>, dq: FloatArray, dk: FloatArray, dv: FloatArray, shape: AttentionShape, fp8: AttentionFp8Scales | null,
): AttentionBackwardStats {
  const [q, k, v, o, do_] = [qIn, kIn, vIn, oIn, doIn].map((x) => valuesOf(x, dq));
  const { B, T, Hq, Hkv, D } = shape;
  const round = roundingOf(o);
  const bf16 = bf16Of(o);
  const sc = scalesOf(shape, fp8, true, round);
  const group = Hq / Hkv;
  const dsStats = emptyStats();
  const pRecastStats: CastStats = emptyStats(); // P̃ was already counted by the forward
  const dqRow = new Float64Array(D); // (D)
  const dkHead = new Float64Array(T * D); // (T, D) of one kv head, summed over its query heads
  const dvHead = new Float64Array(T * D); // (T, D)
  for (let b = 0; b < B; b++) {
    for (let kvHead = 0; kvHead < Hkv; kvHead++) {
      dkHead.fill(0);
      dvHead.fill(0);
      const kvOffset = (j: number): number => ((b * T + j) * Hkv + kvHead) * D;
      for (let h = kvHead * group; h < (kvHead + 1) * group; h++) {
        for (let i = 0; i < T; i++) {
          const qOffset = ((b * T + i) * Hq + h) * D;
          let rowDot = 0;
          for (let d = 0; d < D; d++) rowDot += do_[qOffset + d] * o[qOffset + d];
          const Di = round(sc.doInv * rowDot);
          const rowLse = lse[(b * Hq + h) * T + i];
          dqRow.fill(0);
          for (let j = 0; j <= i; j++) {
            const kOffset = kvOffset(j);
            const s = round(sc.sScale * dot32(q, qOffset, k, kOffset, D, round));
            const p = round(Math.exp(s - rowLse));
            const dp = round(sc.dpScale * dot32(do_, qOffset, v, kOffset, D, round));
            let ds = round(p * round(dp - Di));
            let pForDv = p;
            if (sc.mode === 'fp8') {
              ds = quantizeScalarValue(ds, E5M2, sc.dsScale, sc.dsInv, dsStats);
              pForDv = quantizeScalarValue(p, E4M3, sc.pScale, sc.pInv, pRecastStats);
            } else if (sc.mode === 'bf16') {
              ds = bf16(ds);
              pForDv = bf16(p);
            }
            for (let d = 0; d < D; d++) {
              dqRow[d] += ds * k[kOffset + d];
              dkHead[j * D + d] += ds * q[qOffset + d];
              dvHead[j * D + d] += pForDv * do_[qOffset + d];
            }
          }
          for (let d = 0; d < D; d++) dq[qOffset + d] = round(sc.dqkScale * dqRow[d]);
        }
      }
      for (let j = 0; j < T; j++) {
        const offset = kvOffset(j);
        for (let d = 0; d < D; d++) {
          dk[offset + d] = round(sc.dqkScale * dkHead[j * D + d]);
          dv[offset + d] = round(sc.dvScale * dvHead[j * D + d]);
        }
      }
    }
  }
  return sc.mode !== 'fp8' ? {} : { ds: dsStats };
}
