/**
 * Streaming writer of a Megatron indexed dataset (layout in indexed-dataset-format.ts): tokens go
 * to `PREFIX.bin` as they arrive, the index is written by `finish()`. Both files are written
 * under temporary names and renamed into place only when complete.
 */
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { INDEX_HEADER_BYTES, INDEX_MAGIC, INDEX_VERSION, dataPath, indexFileBytes, indexPath, type TokenDtype } from './indexed-dataset-format.js';

const CHUNK_BYTES = 1 << 20;

export interface IndexedDatasetSummary {
  prefix: string;
  dtype: TokenDtype;
  sequences: number;
  documents: number;
  tokens: number;
}

export class IndexedDatasetWriter {
  readonly prefix: string;
  readonly dtype: TokenDtype;
  private readonly tmpBin: string;
  private readonly tmpIdx: string;
  private fd: number;
  private chunk: Buffer;
  private chunkUsed = 0;
  private sequenceLengths: number[] = [];
  private documentIndices: number[] = [0];
  private tokenCount = 0;
  private readonly maxToken: number;
  private readonly minToken: number;
  private closed = false;

  constructor(prefix: string, dtype: TokenDtype) {
    if (!dtype.integer || dtype.bytes > 4) throw new RangeError(`the writer stores tokens as uint8/int8/int16/uint16/int32, got ${dtype.name}`);
    this.prefix = prefix;
    this.dtype = dtype;
    const signed = dtype.name.startsWith('int');
    this.maxToken = signed ? 2 ** (8 * dtype.bytes - 1) - 1 : 2 ** (8 * dtype.bytes) - 1;
    this.minToken = signed ? -(2 ** (8 * dtype.bytes - 1)) : 0;
    this.tmpBin = `${dataPath(prefix)}.tmp-${process.pid}`;
    this.tmpIdx = `${indexPath(prefix)}.tmp-${process.pid}`;
    mkdirSync(dirname(this.tmpBin), { recursive: true });
    this.fd = openSync(this.tmpBin, 'w');
    this.chunk = Buffer.alloc(CHUNK_BYTES);
  }

  /** Appends one sequence (token ids) to the current document. */
  addSequence(tokens: ArrayLike<number>): void {
    this.assertOpen();
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < this.minToken || t > this.maxToken) {
        throw new RangeError(`${dataPath(this.prefix)}: token ${i} of sequence ${this.sequenceLengths.length} is ${t}, outside ${this.dtype.name} [${this.minToken}, ${this.maxToken}]`);
      }
      if (this.chunkUsed + this.dtype.bytes > CHUNK_BYTES) this.flush();
      this.writeToken(t);
    }
    this.sequenceLengths.push(tokens.length);
    this.tokenCount += tokens.length;
  }

  /** Ends the current document: the sequences added since the last call form one document. */
  endDocument(): void {
    this.assertOpen();
    this.documentIndices.push(this.sequenceLengths.length);
  }

  /** Appends a document made of one sequence. */
  addDocument(tokens: ArrayLike<number>): void {
    this.addSequence(tokens);
    this.endDocument();
  }

  /** Writes the index and renames both files into place; returns what was written. */
  finish(): IndexedDatasetSummary {
    this.assertOpen();
    if (this.documentIndices[this.documentIndices.length - 1] !== this.sequenceLengths.length) this.endDocument();
    this.flush();
    closeSync(this.fd);
    this.closed = true;
    const S = this.sequenceLengths.length;
    const D1 = this.documentIndices.length;
    const idx = Buffer.alloc(indexFileBytes(S, D1));
    idx.set(INDEX_MAGIC, 0);
    idx.writeBigUInt64LE(BigInt(INDEX_VERSION), 9);
    idx.writeUInt8(this.dtype.code, 17);
    idx.writeBigUInt64LE(BigInt(S), 18);
    idx.writeBigUInt64LE(BigInt(D1), 26);
    let at = INDEX_HEADER_BYTES;
    for (const len of this.sequenceLengths) {
      idx.writeInt32LE(len, at);
      at += 4;
    }
    let offset = 0;
    for (const len of this.sequenceLengths) {
      idx.writeBigInt64LE(BigInt(offset), at);
      at += 8;
      offset += len * this.dtype.bytes;
    }
    for (const d of this.documentIndices) {
      idx.writeBigInt64LE(BigInt(d), at);
      at += 8;
    }
    const fd = openSync(this.tmpIdx, 'w');
    try {
      writeSync(fd, idx);
    } finally {
      closeSync(fd);
    }
    renameSync(this.tmpBin, dataPath(this.prefix));
    renameSync(this.tmpIdx, indexPath(this.prefix));
    return { prefix: this.prefix, dtype: this.dtype, sequences: S, documents: D1 - 1, tokens: this.tokenCount };
  }

  /** Closes and deletes the temporary files (after an error). */
  abort(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
    rmSync(this.tmpBin, { force: true });
    rmSync(this.tmpIdx, { force: true });
  }

  get documentsWritten(): number {
    return this.documentIndices.length - 1;
  }

  get tokensWritten(): number {
    return this.tokenCount;
  }

  private writeToken(t: number): void {
    const at = this.chunkUsed;
    switch (this.dtype.bytes) {
      case 1:
        if (this.minToken < 0) this.chunk.writeInt8(t, at);
        else this.chunk.writeUInt8(t, at);
        break;
      case 2:
        if (this.minToken < 0) this.chunk.writeInt16LE(t, at);
        else this.chunk.writeUInt16LE(t, at);
        break;
      default:
        this.chunk.writeInt32LE(t, at);
    }
    this.chunkUsed += this.dtype.bytes;
  }

  private flush(): void {
    if (this.chunkUsed > 0) writeSync(this.fd, this.chunk, 0, this.chunkUsed);
    this.chunkUsed = 0;
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`indexed dataset writer for ${this.prefix} is already finished`);
  }
}
