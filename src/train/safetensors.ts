/**
 * safetensors files written and read by hand to the format's specification: an 8-byte
 * little-endian header length N, N bytes of JSON `{ name: { dtype, shape, data_offsets: [begin,
 * end] }, "__metadata__": { string: string } }` (padded with spaces so the data starts 8-aligned),
 * then the raw little-endian tensor bytes; offsets are relative to the end of the header and the
 * tensors tile the data without holes. The reader validates all of that and names the file in
 * every error, so a truncated or corrupt file is refused, never half-read.
 */
import { constants } from 'node:buffer';

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

/** The largest safetensors file encodeSafetensors builds (one Buffer: Node's buffer.constants.MAX_LENGTH). */
export const maxSafetensorsBytes: number = constants.MAX_LENGTH;

/** Encodes tensors (in the given order) and string metadata into one safetensors buffer. */
export function encodeSafetensors(tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}, maxBytes = maxSafetensorsBytes): Buffer {
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
  const headerBuf = Buffer.from(json, 'utf8');
  const total = 8 + headerBuf.length + offset;
  if (total > maxBytes) {
    // One Buffer per file: Node caps a Buffer at buffer.constants.MAX_LENGTH (4 GiB on Node 20).
    throw new RangeError(
      `encodeSafetensors: the file would hold ${total} bytes (${(total / 2 ** 30).toFixed(2)} GiB), more than the ${(maxBytes / 2 ** 30).toFixed(2)} GiB this version writes as one safetensors file; models above about 1 B float32 parameters cannot be checkpointed yet`,
    );
  }
  const out = Buffer.alloc(total);
  out.writeBigUInt64LE(BigInt(headerBuf.length), 0);
  headerBuf.copy(out, 8);
  let p = 8 + headerBuf.length;
  for (const t of tensors) {
    out.set(t.bytes, p);
    p += t.bytes.length;
  }
  return out;
}

/** Largest header fog8 accepts (the reference implementation's limit is 100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

/**
 * Parses and validates a safetensors buffer. `file` names the file in errors. Tensor bytes are
 * copies (aligned, independent of `buf`).
 */
export function decodeSafetensors(buf: Uint8Array, file: string): SafetensorsFile {
  const fail = (why: string): never => {
    throw new Error(`${file}: not a valid safetensors file: ${why}`);
  };
  if (buf.length < 8) fail(`${buf.length} bytes is shorter than the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = view.getBigUint64(0, true);
  if (n > BigInt(Math.min(MAX_HEADER_BYTES, buf.length - 8))) fail(`header length ${n} exceeds the file (${buf.length} bytes)`);
  const headerLen = Number(n);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, headerLen).toString('utf8'));
  } catch (e) {
    fail(`header is not JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = buf.length - dataStart;
  const metadata: Record<string, string> = {};
  const entries: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
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
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor ${name} has an invalid shape ${JSON.stringify(e.shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isInteger(d) && d >= 0) || offs[1] < offs[0]) {
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
  const tensors = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    tensors.set(e.name, { name: e.name, dtype: e.dtype, shape: e.shape, bytes: new Uint8Array(buf.subarray(dataStart + e.begin, dataStart + e.end)) });
  }
  return { tensors, metadata };
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
