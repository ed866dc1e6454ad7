/**
 * safetensors files written and read by hand to the format's specification: an 8-byte
 * little-endian header length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin,
 * end] }, "__metadata__": { string: string } }` (padded with spaces so the data starts 8-aligned),
 * then the raw little-endian tensor bytes; offsets are relative to the end of the header and the
 * tensors tile the data without holes. The reader validates all of that and names the file in
 * every error, so a truncated or corrupt file is refused, never half-read.
 *
 * Files are written and read piece by piece (the header, then each tensor's bytes in pieces of at
 * most SAFETENSORS_PIECE_BYTES), never as one Buffer of the whole file: Node caps a Buffer at
 * 4 GiB, and the paper sizes' checkpoints are larger (1.5b: model.safetensors 4.77 GB).
 */
import { constants } from 'node:buffer';
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { openFileSafely, writeError } from '../util/safe-file.js';

/** Element sizes of the dtypes fog8 writes or reads. */
export const SAFETENSORS_DTYPE_BYTES = Object.freeze({
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  U16: 2,
  U8: 1,
} as const);
export type SafetensorsDtype = keyof typeof SAFETENSORS_DTYPE_BYTES;

export interface SafetensorsTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** raw little-endian bytes (length = product(shape) · element size). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** Bytes of a typed array (a view, no copy). Little-endian host assumed (x86, ARM). */
export function typedBytes(a: Float32Array | Uint16Array | Uint8Array | Int32Array | Float64Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** The largest safetensors file encodeSafetensors builds as one Buffer (Node's buffer.constants.MAX_LENGTH); files on disk have no such limit. */
export const maxSafetensorsBytes: number = constants.MAX_LENGTH;

/**
 * Default size of one piece written or read at a time (64 MiB): far below the 2³¹ − 1 bytes one
 * fs.writeSync/readSync or Hash.update call takes, and small beside the files of the paper sizes.
 */
export const SAFETENSORS_PIECE_BYTES = 64 * 2 ** 20;

/** A validated file layout: the header bytes (length prefix included) and the tensors in file order. */
export interface SafetensorsLayout {
  /** the 8-byte header length followed by the space-padded JSON header. */
  header: Buffer;
  tensors: readonly SafetensorsTensor[];
  /** size of the whole file in bytes (may exceed any one Buffer). */
  totalBytes: number;
}

/** Lays out tensors (in the given order) and string metadata; checks names and byte counts. */
export function safetensorsLayout(tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}): SafetensorsLayout {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    if (t.name === '__metadata__' || t.name in header) throw new RangeError(`encodeSafetensors: duplicate or reserved tensor name ${JSON.stringify(t.name)}`);
    const expected = t.shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[t.dtype];
    if (t.bytes.length !== expected) {
      throw new RangeError(`encodeSafetensors: tensor ${t.name} (${t.dtype} [${t.shape.join(', ')}]) needs ${expected} bytes, got ${t.bytes.length}`);
    }
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so that 8 + N is a multiple of 8 (the format allows trailing whitespace).
  const jsonBytes = Buffer.byteLength(json, 'utf8');
  json += ' '.repeat((8 - ((8 + jsonBytes) % 8)) % 8);
  const n = Buffer.byteLength(json, 'utf8');
  const headerBuf = Buffer.alloc(8 + n);
  headerBuf.writeBigUInt64LE(BigInt(n), 0);
  headerBuf.write(json, 8, 'utf8');
  return { header: headerBuf, tensors, totalBytes: headerBuf.length + offset };
}

/**
 * The bytes of a laid-out file as a sequence of pieces of at most `pieceBytes` (the header is
 * one piece): views of the tensors' own bytes, never a copy of the file.
 */
export function* safetensorsPieces(layout: SafetensorsLayout, pieceBytes = SAFETENSORS_PIECE_BYTES): Generator<Uint8Array> {
  if (!Number.isSafeInteger(pieceBytes) || pieceBytes < 1) throw new RangeError(`safetensorsPieces: pieceBytes must be an integer ≥ 1, got ${pieceBytes}`);
  yield layout.header;
  for (const t of layout.tensors) {
    for (let off = 0; off < t.bytes.length; off += pieceBytes) yield t.bytes.subarray(off, Math.min(t.bytes.length, off + pieceBytes));
  }
}

/**
 * Encodes tensors (in the given order) and string metadata into one safetensors buffer. For
 * small files (tests, exports); checkpoints stream their files piece by piece instead
 * (safetensorsPieces), so `maxBytes` (one Buffer's limit) never bounds a checkpoint.
 */
export function encodeSafetensors(tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}, maxBytes = maxSafetensorsBytes): Buffer {
  const layout = safetensorsLayout(tensors, metadata);
  if (layout.totalBytes > maxBytes) {
    throw new RangeError(
      `encodeSafetensors: the file would hold ${layout.totalBytes} bytes (${(layout.totalBytes / 2 ** 30).toFixed(2)} GiB), more than the ${(maxBytes / 2 ** 30).toFixed(2)} GiB of one Buffer; write it piece by piece (safetensorsPieces, writeSafetensorsFile)`,
    );
  }
  const out = Buffer.alloc(layout.totalBytes);
  let p = 0;
  for (const piece of safetensorsPieces(layout)) {
    out.set(piece, p);
    p += piece.length;
  }
  return out;
}

/**
 * Writes a safetensors file piece by piece (at most `pieceBytes` per write) and fsyncs it;
 * returns its size and SHA-256, hashed over the same pieces. A file larger than one Buffer
 * (4 GiB) is fine: only the header and views of the tensors' bytes are ever in memory.
 */
export function writeSafetensorsFile(path: string, tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}, pieceBytes = SAFETENSORS_PIECE_BYTES): { bytes: number; sha256: string } {
  const layout = safetensorsLayout(tensors, metadata);
  const hash = createHash('sha256');
  const fd = openSync(path, 'w');
  let written = 0;
  try {
    for (const piece of safetensorsPieces(layout, pieceBytes)) {
      writeAll(fd, piece);
      hash.update(piece);
      written += piece.length;
    }
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(path, { force: true });
    throw writeError('safetensors file', path, e);
  }
  closeSync(fd);
  return { bytes: written, sha256: hash.digest('hex') };
}

/** Writes all of `data` at the current position (writeSync may write less than asked). */
export function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.length) off += writeSync(fd, data, off, Math.min(MAX_IO_BYTES, data.length - off));
}

/** fs.writeSync/readSync and Hash.update take at most 2³¹ − 1 bytes per call. */
const MAX_IO_BYTES = 1 << 30;

/** Largest header fog8 accepts (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/** A safetensors file that fails validation (the message names the file and why). */
export class SafetensorsFormatError extends Error {}

interface HeaderEntry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** The header length from the file's first 8 bytes, checked against the file size. */
function headerLength(first8: Uint8Array, fileBytes: number, fail: (why: string) => never): number {
  if (fileBytes < 8) fail(`${fileBytes} bytes is shorter than the 8-byte header length`);
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER_BYTES, fileBytes - 8))) fail(`header length ${n} exceeds the file (${fileBytes} bytes)`);
  return Number(n);
}

/**
 * Validates the JSON header of a file of `fileBytes` bytes: dtypes, shapes, offsets that tile
 * the data section exactly (no holes, overlaps, trailing bytes, truncation). Entries come back
 * in file order.
 */
function parseHeader(json: Uint8Array, fileBytes: number, fail: (why: string) => never): { entries: HeaderEntry[]; metadata: Record<string, string>; dataStart: number } {
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(json.buffer, json.byteOffset, json.byteLength).toString('utf8'));
  } catch (e) {
    fail(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + json.length;
  const dataLen = fileBytes - dataStart;
  const metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) fail('__metadata__ is not an object');
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
        if (typeof v !== 'string') fail(`__metadata__.${k} is not a string`);
        metadata[k] = v as string;
      }
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== 'object' || e === null) fail(`entry ${name} is not an object`);
    if (typeof e.dtype !== 'string' || !(e.dtype in SAFETENSORS_DTYPE_BYTES)) {
      fail(`tensor ${name} has dtype ${JSON.stringify(e.dtype)}; allowed: ${Object.keys(SAFETENSORS_DTYPE_BYTES).join(', ')}`);
    }
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor ${name} has an invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[1] < offs[0]) {
      fail(`tensor ${name} has invalid data_offsets ${JSON.stringify(offs)}`);
    }
    const dtype = e.dtype as SafetensorsDtype;
    const shape = e.shape as number[];
    const [begin, end] = offs as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * SAFETENSORS_DTYPE_BYTES[dtype];
    if (end - begin !== expected) fail(`tensor ${name} (${dtype} [${shape.join(', ')}]) spans ${end - begin} bytes, expected ${expected}`);
    if (end > dataLen) fail(`tensor ${name} ends at byte ${end} but the data section has ${dataLen} bytes (truncated?)`);
    entries.push({ name, dtype, shape, begin, end });
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  for (const e of entries) {
    if (e.begin !== covered) fail(`tensor ${e.name} starts at byte ${e.begin}, expected ${covered} (holes or overlaps are not allowed)`);
    covered = e.end;
  }
  if (covered !== dataLen) fail(`the tensors cover ${covered} bytes but the data section has ${dataLen} (trailing bytes or truncation)`);
  return { entries, metadata, dataStart };
}

function failer(file: string): (why: string) => never {
  return (why: string): never => {
    throw new SafetensorsFormatError(`${file}: not a valid safetensors file: ${why}`);
  };
}

/**
 * Parses and validates a safetensors buffer. `file` names the file in errors. Tensor bytes are
 * copies (aligned, independent of `buf`).
 */
export function decodeSafetensors(buf: Uint8Array, file: string): SafetensorsFile {
  const fail = failer(file);
  const headerLen = headerLength(buf, buf.length, fail);
  const { entries, metadata, dataStart } = parseHeader(buf.subarray(8, 8 + headerLen), buf.length, fail);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, bytes: new Uint8Array(buf.subarray(dataStart + e.begin, dataStart + e.end)) });
  }
  return { tensors, metadata };
}

/** What readSafetensorsFd needs besides the descriptor. */
export interface SafetensorsReadOptions {
  /** bytes per read call (default SAFETENSORS_PIECE_BYTES); no buffer larger than one tensor is allocated. */
  chunkBytes?: number;
  /** updated with every byte of the file, in file order (checkpoints verify the manifest's SHA-256 with it). */
  hash?: Hash;
}

/**
 * Reads and validates a safetensors file of `fileBytes` bytes from an open descriptor (from byte
 * 0): the header, then each tensor's bytes straight into its own buffer, `chunkBytes` at a time.
 * Every check of decodeSafetensors applies; a file that ends early while being read is an error.
 * Never allocates the whole file, so files above 4 GiB read as long as each tensor fits one
 * typed array.
 */
export function readSafetensorsFd(fd: number, fileBytes: number, file: string, o: SafetensorsReadOptions = {}): SafetensorsFile {
  const chunk = o.chunkBytes ?? SAFETENSORS_PIECE_BYTES;
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw new RangeError(`readSafetensorsFd: chunkBytes must be an integer ≥ 1, got ${chunk}`);
  const fail = failer(file);
  let pos = 0;
  // Reads exactly dst.length bytes at the current position, hashing them.
  const readInto = (dst: Uint8Array): void => {
    for (let off = 0; off < dst.length; ) {
      const n = readSync(fd, dst, off, Math.min(chunk, MAX_IO_BYTES, dst.length - off), pos);
      if (n === 0) fail(`ends at byte ${pos} while ${fileBytes} were expected (truncated while reading)`);
      o.hash?.update(dst.subarray(off, off + n));
      off += n;
      pos += n;
    }
  };
  const first8 = new Uint8Array(Math.min(8, fileBytes));
  readInto(first8);
  const headerLen = headerLength(first8, fileBytes, fail);
  const json = new Uint8Array(headerLen);
  readInto(json);
  const { entries, metadata } = parseHeader(json, fileBytes, fail);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const n = e.end - e.begin;
    if (n > constants.MAX_LENGTH) fail(`tensor ${e.name} has ${n} bytes, more than one typed array holds (${constants.MAX_LENGTH})`);
    const bytes = new Uint8Array(n);
    readInto(bytes);
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, bytes });
  }
  return { tensors, metadata };
}

/** Options of readSafetensorsFile. */
export interface SafetensorsFileReadOptions extends SafetensorsReadOptions {
  /** what the file is, for messages (default 'safetensors file'). */
  what?: string;
}

/**
 * Reads a safetensors file a user points at (a Hugging Face model directory): opened through
 * safe-file (a regular file of known size), then read by readSafetensorsFd.
 */
export function readSafetensorsFile(path: string, o: SafetensorsFileReadOptions = {}): SafetensorsFile {
  const { fd, size } = openFileSafely(path, { what: o.what ?? 'safetensors file', maxBytes: Number.MAX_SAFE_INTEGER });
  try {
    return readSafetensorsFd(fd, size, path, o);
  } finally {
    closeSync(fd);
  }
}

/** The float32 values of an F32 tensor (copy), after checking dtype and shape. */
export function tensorAsFloat32(t: SafetensorsTensor, shape: readonly number[], file: string): Float32Array {
  if (t.dtype !== 'F32' || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
    throw new Error(`${file}: tensor ${t.name} is ${t.dtype} [${t.shape.join(', ')}], expected F32 [${shape.join(', ')}]`);
  }
  const out = new Float32Array(t.bytes.length / 4);
  typedBytes(out).set(t.bytes);
  return out;
}
