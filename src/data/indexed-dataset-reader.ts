/**
 * Reader of a Megatron indexed dataset (layout in indexed-dataset-format.ts). The .idx is read
 * and validated whole at open (it is small: 12 bytes per sequence); the .bin is never loaded:
 * token ranges are read on demand with positioned reads (`fs.readSync`) from an open descriptor.
 * Token ids are checked against the vocabulary on every read when `vocabSize` is given.
 */
import { closeSync, existsSync, readSync } from 'node:fs';
import { openFileSafely, readFileSafely } from '../util/safe-file.js';

/** Largest index file read (a Buffer's limit; an index of ~350 M sequences). */
const MAX_INDEX_BYTES = 2 ** 32 - 1;
import { endianness } from 'node:os';
import { INDEX_HEADER_BYTES, INDEX_MAGIC, INDEX_VERSION, dataPath, dtypeFromCode, indexFileBytes, indexPath, type TokenDtype } from './indexed-dataset-format.js';

export interface IndexedDatasetOpenOptions {
  /** When given, every token read must lie in [0, vocabSize), else a RangeError naming the file. */
  vocabSize?: number;
}

export class IndexedDataset {
  readonly prefix: string;
  readonly binPath: string;
  readonly idxPath: string;
  readonly dtype: TokenDtype;
  /** (S,) tokens per sequence. */
  readonly sequenceLengths: Int32Array;
  /** (S + 1,) token position in .bin where each sequence starts; the last entry is the total. */
  readonly sequenceStarts: Float64Array;
  /** (D + 1,) first sequence of each document, from 0 to S. */
  readonly documentIndices: Float64Array;
  readonly vocabSize: number | undefined;
  private fd: number;
  private scratch = Buffer.alloc(0);

  private constructor(prefix: string, dtype: TokenDtype, lengths: Int32Array, starts: Float64Array, docs: Float64Array, fd: number, vocabSize: number | undefined) {
    this.prefix = prefix;
    this.binPath = dataPath(prefix);
    this.idxPath = indexPath(prefix);
    this.dtype = dtype;
    this.sequenceLengths = lengths;
    this.sequenceStarts = starts;
    this.documentIndices = docs;
    this.fd = fd;
    this.vocabSize = vocabSize;
  }

  /**
   * Opens PREFIX.idx / PREFIX.bin and validates: magic, version, dtype code, .idx size, lengths,
   * contiguous offsets, monotonic document indices from 0 to S, and the .bin size (a truncated
   * .bin names the expected and actual sizes). Throws an Error naming the offending file.
   */
  static open(prefix: string, options: IndexedDatasetOpenOptions = {}): IndexedDataset {
    const idxFile = indexPath(prefix);
    const binFile = dataPath(prefix);
    const { vocabSize } = options;
    if (vocabSize !== undefined && (!Number.isInteger(vocabSize) || vocabSize < 1)) throw new RangeError(`vocabSize must be a positive integer, got ${vocabSize}`);
    if (!existsSync(idxFile)) throw new Error(`index file ${idxFile} does not exist (expected PREFIX.idx next to PREFIX.bin)`);
    if (!existsSync(binFile)) throw new Error(`data file ${binFile} does not exist (expected PREFIX.bin next to PREFIX.idx)`);
    // Type and size checked before reading: a FIFO or device given as PREFIX.idx is refused, not read.
    const idx = readFileSafely(idxFile, { what: 'index file', maxBytes: MAX_INDEX_BYTES });
    const bad = (what: string): Error => new Error(`${idxFile}: ${what}`);
    if (idx.length < INDEX_HEADER_BYTES) throw bad(`only ${idx.length} bytes, shorter than the ${INDEX_HEADER_BYTES}-byte header; not a Megatron index`);
    for (let i = 0; i < INDEX_MAGIC.length; i++) {
      if (idx[i] !== INDEX_MAGIC[i]) throw bad(`bad magic ${JSON.stringify(idx.subarray(0, 9).toString('latin1'))}, expected "MMIDIDX\\x00\\x00"; not a Megatron indexed dataset`);
    }
    const version = idx.readBigUInt64LE(9);
    if (version !== BigInt(INDEX_VERSION)) throw bad(`version ${version}, only version ${INDEX_VERSION} is supported`);
    const code = idx.readUInt8(17);
    const dtype = dtypeFromCode(code);
    if (dtype === undefined) throw bad(`unknown dtype code ${code}; allowed 1..8 (1 uint8, 2 int8, 3 int16, 4 int32, 5 int64, 6 float64, 7 float32, 8 uint16)`);
    if (!dtype.integer) throw bad(`dtype ${dtype.name} (code ${code}) cannot hold token ids`);
    const S = toSafeNumber(idx.readBigUInt64LE(18), 'sequence count', idxFile);
    const D1 = toSafeNumber(idx.readBigUInt64LE(26), 'document count', idxFile);
    const expectedIdx = indexFileBytes(S, D1);
    if (idx.length !== expectedIdx) {
      throw bad(`size ${idx.length} bytes does not match its header (${S} sequences, ${D1} document indices → ${expectedIdx} bytes); the index is truncated or mismatched`);
    }
    if (D1 < 1) throw bad('document index array is empty; it must start with 0');

    const lengths = new Int32Array(S);
    const starts = new Float64Array(S + 1);
    let at = INDEX_HEADER_BYTES;
    let total = 0;
    for (let s = 0; s < S; s++, at += 4) {
      const len = idx.readInt32LE(at);
      if (len < 0) throw bad(`sequence ${s} has negative length ${len}`);
      lengths[s] = len;
      starts[s] = total;
      total += len;
    }
    starts[S] = total;
    for (let s = 0; s < S; s++, at += 8) {
      const offset = toSafeNumber(idx.readBigInt64LE(at), `byte offset of sequence ${s}`, idxFile);
      if (offset !== starts[s] * dtype.bytes) {
        throw bad(`byte offset of sequence ${s} is ${offset}, expected ${starts[s] * dtype.bytes} (sum of the previous lengths × ${dtype.bytes} bytes); offsets and lengths do not match`);
      }
    }
    const docs = new Float64Array(D1);
    for (let d = 0; d < D1; d++, at += 8) {
      docs[d] = toSafeNumber(idx.readBigInt64LE(at), `document index ${d}`, idxFile);
      if (d === 0 && docs[0] !== 0) throw bad(`document indices must start with 0, got ${docs[0]}`);
      if (d > 0 && docs[d] < docs[d - 1]) throw bad(`document indices are not monotonic: entry ${d} is ${docs[d]} after ${docs[d - 1]}`);
    }
    if (docs[D1 - 1] !== S) throw bad(`last document index is ${docs[D1 - 1]}, expected the sequence count ${S}`);

    const { fd, size: binBytes } = openFileSafely(binFile, { what: 'data file', maxBytes: Number.MAX_SAFE_INTEGER });
    const expectedBin = total * dtype.bytes;
    if (binBytes !== expectedBin) {
      closeSync(fd);
      const why = binBytes < expectedBin ? 'truncated' : 'longer than its index says';
      throw new Error(`${binFile}: ${why}: expected ${expectedBin} bytes (${total} ${dtype.name} tokens per ${idxFile}), found ${binBytes}`);
    }
    return new IndexedDataset(prefix, dtype, lengths, starts, docs, fd, vocabSize);
  }

  get sequenceCount(): number {
    return this.sequenceLengths.length;
  }

  get documentCount(): number {
    return this.documentIndices.length - 1;
  }

  /** Total tokens in the .bin. */
  get tokenCount(): number {
    return this.sequenceStarts[this.sequenceCount];
  }

  /** [start, end) token positions of document d in the .bin. */
  documentTokenRange(d: number): [number, number] {
    if (!Number.isInteger(d) || d < 0 || d >= this.documentCount) throw new RangeError(`document ${d} out of range [0, ${this.documentCount})`);
    return [this.sequenceStarts[this.documentIndices[d]], this.sequenceStarts[this.documentIndices[d + 1]]];
  }

  /** The tokens of sequence s. */
  readSequence(s: number): Int32Array {
    if (!Number.isInteger(s) || s < 0 || s >= this.sequenceCount) throw new RangeError(`sequence ${s} out of range [0, ${this.sequenceCount})`);
    return this.readTokens(this.sequenceStarts[s], this.sequenceLengths[s]);
  }

  /** The tokens of document d (all its sequences). */
  readDocument(d: number): Int32Array {
    const [start, end] = this.documentTokenRange(d);
    return this.readTokens(start, end - start);
  }

  /**
   * Reads `count` tokens from token position `start` of the .bin into `out` at `outOffset`
   * (a new array when omitted) and returns `out`. Checks ids against vocabSize when set.
   */
  readTokens(start: number, count: number, out?: Int32Array, outOffset = 0): Int32Array {
    if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > this.tokenCount) {
      throw new RangeError(`${this.binPath}: token range [${start}, ${start + count}) is outside [0, ${this.tokenCount})`);
    }
    const target = out ?? new Int32Array(count);
    if (outOffset + count > target.length) throw new RangeError(`out has ${target.length} slots, need ${outOffset + count}`);
    const bytes = count * this.dtype.bytes;
    if (this.scratch.length < bytes) this.scratch = Buffer.alloc(Math.max(bytes, 2 * this.scratch.length));
    let done = 0;
    while (done < bytes) {
      const n = readSync(this.fd, this.scratch, done, bytes - done, start * this.dtype.bytes + done);
      if (n === 0) throw new Error(`${this.binPath}: unexpected end of file at byte ${start * this.dtype.bytes + done} (the file shrank after it was opened)`);
      done += n;
    }
    decodeTokens(this.scratch, this.dtype, count, target, outOffset);
    if (this.vocabSize !== undefined) this.checkIds(target, outOffset, count, start);
    return target;
  }

  /** Scans the whole .bin in chunks and throws on the first id outside [0, vocabSize). */
  validateAllTokenIds(vocabSize: number): void {
    const chunk = 1 << 20;
    const buf = new Int32Array(chunk);
    for (let start = 0; start < this.tokenCount; start += chunk) {
      const count = Math.min(chunk, this.tokenCount - start);
      this.readTokens(start, count, buf);
      this.checkIds(buf, 0, count, start, vocabSize);
    }
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  private checkIds(ids: Int32Array, offset: number, count: number, start: number, vocabSize = this.vocabSize as number): void {
    for (let i = 0; i < count; i++) {
      const id = ids[offset + i];
      if (id < 0 || id >= vocabSize) {
        throw new RangeError(`${this.binPath}: token at position ${start + i} is ${id}, outside the vocabulary [0, ${vocabSize}) — was the data prepared with a different tokenizer?`);
      }
    }
  }
}

const LITTLE_ENDIAN_HOST = endianness() === 'LE';

function decodeTokens(buf: Buffer, dtype: TokenDtype, count: number, out: Int32Array, outOffset: number): void {
  // Fast path: view the bytes as the typed array directly (scratch buffers start 8-byte aligned).
  if (LITTLE_ENDIAN_HOST && buf.byteOffset % 4 === 0 && (dtype.name === 'uint16' || dtype.name === 'int32')) {
    const view = dtype.name === 'uint16' ? new Uint16Array(buf.buffer, buf.byteOffset, count) : new Int32Array(buf.buffer, buf.byteOffset, count);
    out.set(view, outOffset);
    return;
  }
  for (let i = 0; i < count; i++) {
    let v: number;
    switch (dtype.name) {
      case 'uint8': v = buf.readUInt8(i); break;
      case 'int8': v = buf.readInt8(i); break;
      case 'int16': v = buf.readInt16LE(2 * i); break;
      case 'uint16': v = buf.readUInt16LE(2 * i); break;
      case 'int32': v = buf.readInt32LE(4 * i); break;
      case 'int64': {
        const big = buf.readBigInt64LE(8 * i);
        v = big > 2147483647n || big < -2147483648n ? -1 : Number(big); // out of int32: reported as an invalid id
        break;
      }
      default: throw new TypeError(`dtype ${dtype.name} cannot hold token ids`);
    }
    out[outOffset + i] = v;
  }
}

function toSafeNumber(v: bigint, what: string, file: string): number {
  if (v < 0n || v > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`${file}: ${what} ${v} is out of range`);
  return Number(v);
}
