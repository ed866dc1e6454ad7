import type { FloatArray } from '../types.js';
import { roundBf16 } from './casts.js';

/** acc (n) += x (n) in the buffer's precision, then rounded to BF16 when `round` (float32 sum first). */
export function addInPlace(acc: FloatArray, x: FloatArray, round = false): void {
  for (let i = 0; i < acc.length; i++) acc[i] += x[i];
  if (round) roundBf16(acc, acc);
}

/** dst[r, dstCol0 + c] = src[r, srcCol0 + c] for r < R, c < cols; src (R, srcCols), dst (R, dstCols). */
export function copyColumns(src: FloatArray, srcCols: number, srcCol0: number, dst: FloatArray, dstCols: number, dstCol0: number, R: number, cols: number): void {
  // The ranges a copy indexes by (the signature table checks types and lengths only).
  for (const [name, col0, width] of [['srcCol0', srcCol0, srcCols], ['dstCol0', dstCol0, dstCols]] as const) {
    if (!Number.isSafeInteger(col0) || col0 + cols > width) throw new RangeError(`copyColumns: ${name} must be an integer with ${name} + cols ≤ ${width}, got ${col0} (cols ${cols})`);
  }
  for (let r = 0; r < R; r++) {
    const s = r * srcCols + srcCol0;
    const d = r * dstCols + dstCol0;
    for (let c = 0; c < cols; c++) dst[d + c] = src[s + c];
  }
}

/** h (R, C) = scale·table[tokens[r]] (table (V, C)); tokens checked by withValidation. */
export function embeddingForward(table: FloatArray, tokens: Int32Array, h: FloatArray, R: number, C: number, _V: number, scale: number): void {
  for (let r = 0; r < R; r++) {
    const t = tokens[r];
    for (let c = 0; c < C; c++) h[r * C + c] = scale * table[t * C + c];
  }
}

/** dtable[tokens[r]] += scale·dh[r], rows in order (a token may repeat). */
export function embeddingBackward(dh: FloatArray, tokens: Int32Array, dtable: FloatArray, R: number, C: number, _V: number, scale: number): void {
  for (let r = 0; r < R; r++) {
    const t = tokens[r];
    for (let c = 0; c < C; c++) dtable[t * C + c] += scale * dh[r * C + c];
  }
}
