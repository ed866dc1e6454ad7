/**
 * The key/value cache of incremental decoding: per layer, the RoPE'd keys and the values of every
 * position seen so far, stored in the run's precision — FP8 E4M3 codes with one inverse scale per
 * position when the recipe casts K and V (FP8 attention, DESIGN §3), BF16 bits under 'bf16',
 * float32 otherwise. With it a new token costs one position of every op instead of the window.
 *
 * attendCached is the decode twin of the reference attention forward (src/kernels/reference/
 * attention.ts): the same per-query-row arithmetic (float32-rounded q·k in order, online softmax
 * over key tiles of 32 in fp32 mode; the exactly normalised P, cast E4M3 in FP8 mode or rounded to
 * BF16 in bf16 mode, with the FP8 inverse scales applied to the accumulators), so on the reference
 * backend cached decoding gives the full-window logits bit for bit.
 */
import type { CastStats, Fp8Codes } from '../kernels/types.js';
import { E4M3, fp8Format } from '../numerics/formats.js';
import { fp8DecodeTable } from '../numerics/fp8.js';
import { emptyStats, quantizeScalarValue } from '../kernels/reference/casts.js';
import { roundToBf16Scalar } from '../numerics/bf16.js';

/** How the cache stores K and V. */
export type KvStorage = 'fp8' | 'bf16' | 'fp32';

/** Key tile of the online softmax; must equal the reference attention's KEY_TILE. */
const KEY_TILE = 32;

/** One layer's cache: (maxLen, Hkv, D) keys and values. */
export class LayerKvCache {
  readonly storage: KvStorage;
  readonly width: number; // Hkv·D
  private readonly f32: { k: Float32Array; v: Float32Array } | null;
  private readonly bf16: { k: Uint16Array; v: Uint16Array } | null;
  private readonly fp8: { k: Uint8Array; v: Uint8Array; inv: Float32Array } | null;

  constructor(storage: KvStorage, maxLen: number, width: number) {
    this.storage = storage;
    this.width = width;
    const n = maxLen * width;
    this.f32 = storage === 'fp32' ? { k: new Float32Array(n), v: new Float32Array(n) } : null;
    this.bf16 = storage === 'bf16' ? { k: new Uint16Array(n), v: new Uint16Array(n) } : null;
    this.fp8 = storage === 'fp8' ? { k: new Uint8Array(n), v: new Uint8Array(n), inv: new Float32Array(maxLen) } : null;
  }

  /** Bytes held by this layer's cache. */
  bytes(): number {
    const parts = [this.f32?.k, this.f32?.v, this.bf16?.k, this.bf16?.v, this.fp8?.k, this.fp8?.v, this.fp8?.inv];
    return parts.reduce((s, p) => s + (p?.byteLength ?? 0), 0);
  }

  /** Stores rows [pos, pos + n) from float32 k, v (n, Hkv·D) already rounded to BF16 (bf16 storage). */
  writeFloat(pos: number, k: Float32Array, v: Float32Array): void {
    if (this.f32) {
      this.f32.k.set(k, pos * this.width);
      this.f32.v.set(v, pos * this.width);
    } else if (this.bf16) {
      const kb = new Uint32Array(k.buffer, k.byteOffset, k.length);
      const vb = new Uint32Array(v.buffer, v.byteOffset, v.length);
      const o = pos * this.width;
      for (let i = 0; i < k.length; i++) {
        this.bf16.k[o + i] = kb[i] >>> 16;
        this.bf16.v[o + i] = vb[i] >>> 16;
      }
    } else throw new Error('LayerKvCache.writeFloat: this cache stores FP8 codes');
  }

  /** Stores rows [pos, pos + n) as E4M3 codes with their dequantization factor (fp8 storage). */
  writeCodes(pos: number, k: Uint8Array, v: Uint8Array, invScale: number): void {
    if (!this.fp8) throw new Error('LayerKvCache.writeCodes: this cache stores floats');
    this.fp8.k.set(k, pos * this.width);
    this.fp8.v.set(v, pos * this.width);
    this.fp8.inv.fill(Math.fround(invScale), pos, pos + k.length / this.width);
  }

  /**
   * Rows [0, len) decoded to float32 into k, v (len·Hkv·D): exactly the values the attention kernel
   * saw — for fp8 storage the unscaled FP8 values, with each position's inverse scale in inv (len).
   */
  read(len: number, k: Float32Array, v: Float32Array, inv?: Float32Array): void {
    const n = len * this.width;
    if (this.f32) {
      k.set(this.f32.k.subarray(0, n));
      v.set(this.f32.v.subarray(0, n));
    } else if (this.bf16) {
      const kb = new Uint32Array(k.buffer, k.byteOffset, n);
      const vb = new Uint32Array(v.buffer, v.byteOffset, n);
      for (let i = 0; i < n; i++) {
        kb[i] = this.bf16.k[i] << 16;
        vb[i] = this.bf16.v[i] << 16;
      }
    } else {
      const fp8 = this.fp8 as NonNullable<typeof this.fp8>;
      if (inv === undefined) throw new Error('LayerKvCache.read: fp8 storage needs inv for the inverse scales');
      const table = fp8DecodeTable(E4M3);
      inv.set(fp8.inv.subarray(0, len));
      for (let i = 0; i < n; i++) {
        k[i] = table[fp8.k[i]];
        v[i] = table[fp8.v[i]];
      }
    }
  }
}

/** The whole model's cache and the number of positions filled. */
export class KvCache {
  readonly layers: LayerKvCache[];
  readonly maxLen: number;
  /** Positions filled so far (the next token's position). */
  length = 0;
  /** Weight-cast id of this cache (see OpContext.frozenWeightsEpoch): the weights must not change while it is used. */
  readonly frozenWeightsEpoch: number;
  // decoded K/V of one layer (maxLen, Hkv·D), reused by every layer
  readonly kScratch: Float32Array;
  readonly vScratch: Float32Array;
  /** per-position inverse scales of FP8 storage (maxLen), reused by every layer */
  readonly invScratch: Float32Array;

  /** storage: one for every layer, or one per layer (a per-GEMM override keeps a layer's attention BF16). */
  constructor(storage: KvStorage | readonly KvStorage[], nLayers: number, maxLen: number, width: number, frozenWeightsEpoch = -2) {
    if (!(Number.isInteger(frozenWeightsEpoch) && frozenWeightsEpoch < -1)) throw new RangeError(`KvCache: frozenWeightsEpoch must be an integer < −1, got ${frozenWeightsEpoch}`);
    if (typeof storage !== 'string' && storage.length !== nLayers) throw new RangeError(`KvCache: ${storage.length} storages for ${nLayers} layers`);
    this.frozenWeightsEpoch = frozenWeightsEpoch;
    this.maxLen = maxLen;
    this.layers = Array.from({ length: nLayers }, (_, i) => new LayerKvCache(typeof storage === 'string' ? storage : storage[i], maxLen, width));
    this.kScratch = new Float32Array(maxLen * width);
    this.vScratch = new Float32Array(maxLen * width);
    this.invScratch = new Float32Array(maxLen);
  }

  /** Bytes held by the caches of all layers (not the decode scratch). */
  bytes(): number {
    return this.layers.reduce((s, l) => s + l.bytes(), 0);
  }

  reset(): void {
    this.length = 0;
  }
}

export interface CachedAttentionShape {
  /** Query rows (new positions) in this call. */
  n: number;
  /** Position of the first query row (= keys cached before this call). */
  pos: number;
  Hq: number;
  Hkv: number;
  D: number;
  softmaxScale: number;
}

/** How attendCached casts P: not at all (fp32), to BF16, or to E4M3 with the FP8 operands' inverse scales. */
export type CachedAttentionCast =
  | { mode: 'fp32' | 'bf16' }
  | { mode: 'fp8'; pScale: number; qInv: number; kvInv: Float32Array };

/**
 * o (n, Hq, D) for queries q (n, Hq, D) at positions pos..pos+n−1 over keys/values k, v
 * ((pos + n), Hkv, D), causal; q may come as FP8 codes (types.ts Fp8Codes: decoded row by row to
 * the values dequantize would give). In fp8 mode q, k, v are FP8 values (unscaled) with q's inverse
 * scale qInv and one per cached position (kvInv): logit j = fround(fround(softmaxScale·
 * fround(qInv·kvInv[j]))·Σ q·k), and o sums P̃·v per run of positions sharing an inverse scale
 * before scaling that run's sum by fround(pInv·kvInv) (one run = the reference's oScale·Σ P̃·v).
 * Returns P's cast statistics in FP8 mode. Arithmetic mirrors the reference attention forward row
 * for row.
 */
export function attendCached(
  q: Float32Array | Fp8Codes, k: Float32Array, v: Float32Array, o: Float32Array, shape: CachedAttentionShape, cast: CachedAttentionCast,
): CastStats | null {
  const { n, pos, Hq, Hkv, D } = shape;
  const round = Math.fround;
  const softmaxScale = round(shape.softmaxScale);
  const group = Hq / Hkv;
  const fp8 = cast.mode === 'fp8' ? cast : null;
  const pS = fp8 === null ? 0 : round(fp8.pScale);
  const pInv = fp8 === null ? 0 : round(1 / pS);
  const stats = emptyStats();
  const acc = new Float64Array(D);
  const runAcc = new Float64Array(D);
  const tileScores = new Float64Array(KEY_TILE);
  const rowScores = new Float64Array(pos + n); // pass 2 reuses pass 1's logits (the same values the reference recomputes)
  // q's row of the query at hand: its float values, or its codes decoded (fround(decode·invScale)).
  const qTable = ArrayBuffer.isView(q) ? null : fp8DecodeTable(fp8Format(q.format));
  const qInvScale = ArrayBuffer.isView(q) ? 1 : round(q.invScale ?? 1);
  const qRow = new Float32Array(D);
  const logitScale = (j: number): number => (fp8 === null ? softmaxScale : round(softmaxScale * round(round(fp8.qInv) * fp8.kvInv[j])));
  const logit = (kOffset: number, j: number): number => {
    let a = 0;
    for (let d = 0; d < D; d++) a = round(a + qRow[d] * k[kOffset + d]);
    return round(logitScale(j) * a);
  };
  for (let h = 0; h < Hq; h++) {
    const kvHead = Math.floor(h / group);
    for (let r = 0; r < n; r++) {
      const i = pos + r; // absolute position of this query
      const qOffset = (r * Hq + h) * D;
      if (ArrayBuffer.isView(q)) qRow.set(q.subarray(qOffset, qOffset + D));
      else for (let d = 0; d < D; d++) qRow[d] = (qTable as Float32Array)[q.data[qOffset + d]] * qInvScale;
      const kvOffset = (j: number): number => (j * Hkv + kvHead) * D;
      let m = -Infinity;
      let l = 0;
      acc.fill(0);
      for (let j0 = 0; j0 <= i; j0 += KEY_TILE) {
        const jEnd = Math.min(i + 1, j0 + KEY_TILE);
        let tileMax = -Infinity;
        for (let j = j0; j < jEnd; j++) {
          const s = logit(kvOffset(j), j);
          tileScores[j - j0] = s;
          rowScores[j] = s;
          if (s > tileMax) tileMax = s;
        }
        const mNew = Math.max(m, tileMax);
        if (mNew === -Infinity) continue;
        const correction = Math.exp(m - mNew);
        l *= correction;
        for (let d = 0; d < D; d++) acc[d] *= correction;
        for (let j = j0; j < jEnd; j++) {
          const p = Math.exp(tileScores[j - j0] - mNew);
          l += p;
          if (cast.mode === 'fp32') {
            const vOffset = kvOffset(j);
            for (let d = 0; d < D; d++) acc[d] += p * v[vOffset + d];
          }
        }
        m = mNew;
      }
      if (cast.mode === 'fp32') {
        for (let d = 0; d < D; d++) o[qOffset + d] = acc[d] / l;
        continue;
      }
      const rowLse = round(m + Math.log(l));
      acc.fill(0);
      runAcc.fill(0);
      for (let j = 0; j <= i; j++) {
        const p = round(Math.exp(rowScores[j] - rowLse));
        const pTilde = fp8 === null ? roundToBf16Scalar(p) : quantizeScalarValue(p, E4M3, pS, pInv, stats);
        const vOffset = kvOffset(j);
        for (let d = 0; d < D; d++) runAcc[d] += pTilde * v[vOffset + d];
        // End of a run of positions sharing an inverse scale: add its scaled sum.
        if (j === i || (fp8 !== null && fp8.kvInv[j + 1] !== fp8.kvInv[j])) {
          const runScale = fp8 === null ? 1 : round(pInv * fp8.kvInv[j]);
          for (let d = 0; d < D; d++) acc[d] += runScale * runAcc[d];
          runAcc.fill(0);
        }
      }
      for (let d = 0; d < D; d++) o[qOffset + d] = acc[d];
    }
  }
  return fp8 === null ? null : stats;
}
