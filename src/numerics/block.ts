/**
 * Block scaling (DESIGN §3, optional recipe): one float32 scale per tile of a row-major matrix —
 * 1×128 tiles for activations and gradients, 128×128 blocks for weights — each derived from the
 * tile's own amax exactly like current scaling. Edge tiles may be smaller than the block.
 */
import type { FloatFormat } from './formats.js';
import { currentScale } from './scaling.js';
import { encodeFp8Scalar, fp8DecodeTable } from './fp8.js';

function checkBlockArgs(where: string, x: Float32Array, rows: number, cols: number, blockRows: number, blockCols: number): void {
  if (!(x instanceof Float32Array)) throw new TypeError(`${where}: x must be a Float32Array`);
  for (const [name, v] of [['rows', rows], ['cols', cols], ['blockRows', blockRows], ['blockCols', blockCols]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${where}: ${name} must be a positive integer, got ${v}`);
  }
  if (x.length !== rows * cols) {
    throw new RangeError(`${where}: x has length ${x.length}, expected rows·cols = ${rows}·${cols} = ${rows * cols}`);
  }
}

/** Number of tile rows and tile columns covering a (rows, cols) matrix. */
export function blockGrid(rows: number, cols: number, blockRows: number, blockCols: number): { tileRows: number; tileCols: number } {
  return { tileRows: Math.ceil(rows / blockRows), tileCols: Math.ceil(cols / blockCols) };
}

/**
 * One scale per (blockRows × blockCols) tile of x (rows, cols), as a row-major Float32Array
 * (ceil(rows/blockRows), ceil(cols/blockCols)): scale = currentScale(amax of the tile) — 1 for an
 * all-zero, NaN or infinite tile, FLT_MAX when fmax/amax overflows float32.
 */
export function blockScales(
  x: Float32Array,
  rows: number,
  cols: number,
  blockRows: number,
  blockCols: number,
  format: FloatFormat,
  margin: number,
): Float32Array {
  checkBlockArgs('blockScales', x, rows, cols, blockRows, blockCols);
  const { tileRows, tileCols } = blockGrid(rows, cols, blockRows, blockCols);
  const tileAmax = new Float64Array(tileRows * tileCols); // (tileRows, tileCols)
  for (let r = 0; r < rows; r++) {
    const tileRow = Math.floor(r / blockRows);
    for (let c = 0; c < cols; c++) {
      const t = tileRow * tileCols + Math.floor(c / blockCols);
      tileAmax[t] = Math.max(tileAmax[t], Math.abs(x[r * cols + c])); // NaN propagates
    }
  }
  const scales = new Float32Array(tileRows * tileCols);
  for (let t = 0; t < scales.length; t++) scales[t] = currentScale(tileAmax[t], format, margin);
  return scales;
}

/**
 * Block-quantizes x (rows, cols): codes[r, c] = FP8(fround(x[r, c] · scale of its tile)).
 * Returns the codes (rows, cols) and the scales (tileRows, tileCols) of blockScales.
 */
export function blockQuantize(
  x: Float32Array,
  rows: number,
  cols: number,
  blockRows: number,
  blockCols: number,
  format: FloatFormat,
  margin: number,
): { codes: Uint8Array; scales: Float32Array } {
  const scales = blockScales(x, rows, cols, blockRows, blockCols, format, margin);
  const { tileCols } = blockGrid(rows, cols, blockRows, blockCols);
  const codes = new Uint8Array(rows * cols); // (rows, cols)
  for (let r = 0; r < rows; r++) {
    const tileRow = Math.floor(r / blockRows);
    for (let c = 0; c < cols; c++) {
      const scale = scales[tileRow * tileCols + Math.floor(c / blockCols)];
      codes[r * cols + c] = encodeFp8Scalar(Math.fround(x[r * cols + c] * scale), format);
    }
  }
  return { codes, scales };
}

/**
 * Reference block fake-quantization of x (rows, cols): x̂ = decode(q) · fround(1/scale), the
 * product in float32, with q and scale from blockQuantize. Returns a new Float32Array (rows, cols).
 */
export function blockFakeQuantize(
  x: Float32Array,
  rows: number,
  cols: number,
  blockRows: number,
  blockCols: number,
  format: FloatFormat,
  margin: number,
): Float32Array {
  const { codes, scales } = blockQuantize(x, rows, cols, blockRows, blockCols, format, margin);
  const { tileCols } = blockGrid(rows, cols, blockRows, blockCols);
  const table = fp8DecodeTable(format);
  const out = new Float32Array(rows * cols); // (rows, cols)
  for (let r = 0; r < rows; r++) {
    const tileRow = Math.floor(r / blockRows);
    for (let c = 0; c < cols; c++) {
      const invScale = Math.fround(1 / scales[tileRow * tileCols + Math.floor(c / blockCols)]);
      out[r * cols + c] = table[codes[r * cols + c]] * invScale;
    }
  }
  return out;
}
