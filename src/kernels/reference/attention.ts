import type {
  AttentionBackwardStats, AttentionFp8Scales, AttentionForwardOptions, AttentionForwardStats, AttentionShape, CastStats, FloatArray,
} from '../types.js';
import { roundingOf, type Rounding } from './precision.js';
import { E4M3, E5M2 } from '../../numerics/formats.js';
import { emptyStats, fakeQuantizeScalar } from './casts.js';

/**
 * Causal GQA attention forward/backward, reference twin. Memory is O(T·D) per head: the forward
 * walks key tiles of KEY_TILE with an online softmax (running max and sum), the backward recomputes
 * P row by row from the saved lse; nothing of size T×T is ever held.
 *
 * Layouts: q, o, dq, do (B, T, Hq, D); k, v, dk, dv (B, T, Hkv, D); lse (B, Hq, T). Query head h
 * reads kv head ⌊h / (Hq/Hkv)⌋. Numerics: every logit s = fround(softmaxScale·q·k) with q·k
 * accumulated in float32 (one rounding per multiply-add, d in order), as DESIGN §3 asks of S; the
 * softmax state and the P·V, dS·K, dSᵀ·Q, Pᵀ·dO sums are float64, rounded once on store.
 * The saved lse is float32 and P = fround(exp(s − lse)) is recomputed from it wherever needed, so
 * forward and backward see the same P (and the same P̂ in FP8 mode).
 *
 * In float64 mode (Float64Array buffers) none of these roundings happen.
 *
 * FP8DPA cast statistics cover exactly the causal (unmasked) entries: B·Hq·T(T+1)/2 elements per
 * cast; masked entries are never formed, so they are not counted. maxLogit covers all T×T pairs
 * (masked ones too) and is NaN if any logit is NaN; with `options.maxLogit === false` the masked
 * pairs are skipped and maxLogit is NaN.
 */
const KEY_TILE = 32;

/** q·k of two D-vectors, one rounding per multiply-add (float32 buffers; none in float64 mode). */
function dot32(x: FloatArray, xOffset: number, y: FloatArray, yOffset: number, D: number, round: Rounding): number {
  let acc = 0;
  for (let d = 0; d < D; d++) acc = round(acc + x[xOffset + d] * y[yOffset + d]);
  return acc;
}

interface Fp8Casts {
  pScale: number; pInv: number; dsScale: number; dsInv: number;
}

/** Float32 scales and inverses of the in-kernel casts; ds is only read by the backward. */
function fp8Casts(fp8: AttentionFp8Scales, withDs: boolean): Fp8Casts {
  const pScale = Math.fround(fp8.p);
  const dsScale = withDs ? Math.fround(fp8.ds) : 1;
  return { pScale, pInv: Math.fround(1 / pScale), dsScale, dsInv: Math.fround(1 / dsScale) };
}

/**
 * o (B, T, Hq, D), lse (B, Hq, T) from q, k, v. fp32 mode: one online-softmax pass over key tiles.
 * FP8 mode (fp8 ≠ null): pass 1 computes lse, pass 2 forms the exactly normalised
 * P = fround(exp(s − lse)), P̂ = fakeQuantE4M3(P, fp8.p) and o = Σ P̂·v.
 */
export function attentionForward(
  q: FloatArray, k: FloatArray, v: FloatArray, o: FloatArray, lse: FloatArray,
  shape: AttentionShape, fp8: AttentionFp8Scales | null, options?: AttentionForwardOptions,
): AttentionForwardStats {
  const { B, T, Hq, Hkv, D } = shape;
  const wantMaxLogit = options?.maxLogit ?? true;
  const round = roundingOf(o);
  const softmaxScale = round(shape.softmaxScale);
  const group = Hq / Hkv;
  const casts = fp8 === null ? null : fp8Casts(fp8, false);
  const pStats = emptyStats();
  let maxLogit = -Infinity;
  const acc = new Float64Array(D); // running Σ p·v of one query row
  const tileScores = new Float64Array(KEY_TILE);
  const logit = (qOffset: number, kOffset: number): number => {
    const s = round(softmaxScale * dot32(q, qOffset, k, kOffset, D, round));
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
            if (casts === null) {
              const vOffset = kvOffset(j);
              for (let d = 0; d < D; d++) acc[d] += p * v[vOffset + d];
            }
          }
          m = mNew;
        }
        const rowLse = round(m + Math.log(l));
        lse[(b * Hq + h) * T + i] = rowLse;
        if (casts === null) {
          for (let d = 0; d < D; d++) o[qOffset + d] = acc[d] / l;
          continue;
        }
        // FP8DPA pass 2: exactly normalised P from the saved lse, cast E4M3, then P̂·V.
        acc.fill(0);
        for (let j = 0; j <= i; j++) {
          const s = round(softmaxScale * dot32(q, qOffset, k, kvOffset(j), D, round));
          const p = round(Math.exp(s - rowLse));
          const pHat = fakeQuantizeScalar(p, E4M3, casts.pScale, casts.pInv, pStats);
          const vOffset = kvOffset(j);
          for (let d = 0; d < D; d++) acc[d] += pHat * v[vOffset + d];
        }
        for (let d = 0; d < D; d++) o[qOffset + d] = acc[d];
      }
    }
  }
  if (!wantMaxLogit) maxLogit = NaN;
  return casts === null ? { maxLogit } : { maxLogit, p: pStats };
}

/**
 * dq (B, T, Hq, D), dk, dv (B, T, Hkv, D) (overwritten) from do_ (B, T, Hq, D) and the forward's
 * o and lse. Dᵢ = fround(Σ_d dO⊙O), P = fround(exp(s − lse)), dP = dO·vᵀ (float32 accumulation,
 * never cast: TE/cuDNN keep it wide), dS = fround(P·fround(dP − Dᵢ)); FP8 mode: dŜ = fq_E5M2(dS, ds)
 * replaces dS and P̂ = fq_E4M3(P, p) replaces P in dv. dq = scale·Σ dŜ·k, dk = scale·Σ dŜᵀ·q,
 * dv = Σ P̂ᵀ·dO. dq, dk, dv are returned unquantized; the caller casts them (DESIGN §3 dQKV).
 */
export function attentionBackward(
  q: FloatArray, k: FloatArray, v: FloatArray, o: FloatArray, lse: FloatArray, do_: FloatArray,
  dq: FloatArray, dk: FloatArray, dv: FloatArray, shape: AttentionShape, fp8: AttentionFp8Scales | null,
): AttentionBackwardStats {
  const { B, T, Hq, Hkv, D } = shape;
  const round = roundingOf(o);
  const softmaxScale = round(shape.softmaxScale);
  const group = Hq / Hkv;
  const casts = fp8 === null ? null : fp8Casts(fp8, true);
  const dsStats = emptyStats();
  const pRecastStats: CastStats = emptyStats(); // P̂ was already counted by the forward
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
          const Di = round(rowDot);
          const rowLse = lse[(b * Hq + h) * T + i];
          dqRow.fill(0);
          for (let j = 0; j <= i; j++) {
            const kOffset = kvOffset(j);
            const s = round(softmaxScale * dot32(q, qOffset, k, kOffset, D, round));
            const p = round(Math.exp(s - rowLse));
            const dp = dot32(do_, qOffset, v, kOffset, D, round);
            let ds = round(p * round(dp - Di));
            let pForDv = p;
            if (casts !== null) {
              ds = fakeQuantizeScalar(ds, E5M2, casts.dsScale, casts.dsInv, dsStats);
              pForDv = fakeQuantizeScalar(p, E4M3, casts.pScale, casts.pInv, pRecastStats);
            }
            const coefficient = softmaxScale * ds;
            for (let d = 0; d < D; d++) {
              dqRow[d] += coefficient * k[kOffset + d];
              dkHead[j * D + d] += coefficient * q[qOffset + d];
              dvHead[j * D + d] += pForDv * do_[qOffset + d];
            }
          }
          for (let d = 0; d < D; d++) dq[qOffset + d] = dqRow[d];
        }
      }
      for (let j = 0; j < T; j++) {
        const offset = kvOffset(j);
        for (let d = 0; d < D; d++) {
          dk[offset + d] = dkHead[j * D + d];
          dv[offset + d] = dvHead[j * D + d];
        }
      }
    }
  }
  return casts === null ? {} : { ds: dsStats };
}
