import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs, { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readCheckpointFiles, safetensorsFile, sha256, writeCheckpointFiles, type CheckpointFile } from '../../src/train/checkpoint-files.js';
import {
  decodeSafetensors, encodeSafetensors, readSafetensorsFd, readSafetensorsFile, safetensorsLayout, safetensorsPieces, typedBytes, writeSafetensorsFile, type SafetensorsTensor,
} from '../../src/train/safetensors.js';

/** A few tensors of different dtypes with a byte pattern that differs at every position. */
function tensors(): SafetensorsTensor[] {
  const f32 = new Float32Array(300).map((_, i) => Math.sin(i) * 1e3);
  const bf16 = new Uint16Array(77).map((_, i) => (i * 2654435761) >>> 16);
  const fp8 = new Uint8Array(101).map((_, i) => (i * 37 + 11) & 0xff);
  return [
    { name: 'model.embed_tokens.weight', dtype: 'F32', shape: [20, 15], bytes: typedBytes(f32) },
    { name: 'exp_avg.x', dtype: 'BF16', shape: [7, 11], bytes: typedBytes(bf16) },
    { name: 'empty', dtype: 'F32', shape: [0, 4], bytes: new Uint8Array(0) },
    { name: 'exp_avg_sq.x', dtype: 'F8_E4M3', shape: [101], bytes: fp8 },
  ];
}
const META = { format: 'pt', step_count: '3' };

/** Records the length of every fs.readSync / fs.writeSync call (and the size of the buffer read into) while `f` runs. */
function recordIo<T>(f: () => T): { result: T; reads: { length: number; target: number }[]; writes: number[] } {
  const reads: { length: number; target: number }[] = [];
  const writes: number[] = [];
  const { readSync, writeSync } = fs;
  fs.readSync = ((fd: number, buf: NodeJS.ArrayBufferView, off: number, len: number, pos: number) => {
    reads.push({ length: len, target: buf.byteLength });
    return readSync(fd, buf, off, len, pos);
  }) as typeof fs.readSync;
  fs.writeSync = ((fd: number, buf: NodeJS.ArrayBufferView, off?: number, len?: number) => {
    writes.push(len ?? buf.byteLength);
    return (writeSync as (...a: unknown[]) => number)(fd, buf, off, len);
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  try {
    return { result: f(), reads, writes };
  } finally {
    fs.readSync = readSync;
    fs.writeSync = writeSync;
    syncBuiltinESMExports();
  }
}

test('safetensors streaming: a checkpoint file written in 7-byte pieces and read in 5-byte chunks round-trips bit-exactly, and no read or write spans the file', () => {
  const parent = mkdtempSync(join(tmpdir(), 'fog8-st-stream-'));
  try {
    const ts = tensors();
    const whole = encodeSafetensors(ts, META); // the one-Buffer encoding of the same file, for comparison
    const file = safetensorsFile(ts, META, 7);
    assert.equal(file.bytes, whole.length);
    const headerBytes = safetensorsLayout(ts, META).header.length;
    const w = recordIo(() => writeCheckpointFiles(parent, 1, new Map<string, CheckpointFile>([['model.safetensors', file], ['config.json', Buffer.from('{}\n')]])));
    const dir = w.result;
    assert.ok(readFileSync(join(dir, 'model.safetensors')).equals(whole), 'the streamed file is byte-identical to the one-Buffer encoding');
    const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { files: Record<string, { bytes: number; sha256: string }> };
    assert.deepEqual(manifest.files['model.safetensors'], { bytes: whole.length, sha256: sha256(whole) }, 'the incremental SHA-256 is that of the whole file');
    // header (one piece) + every tensor in ≤ 7-byte pieces + config.json + manifest
    const tensorWrites = w.writes.slice(1, -2);
    assert.equal(w.writes[0], headerBytes);
    assert.ok(tensorWrites.every((n) => n <= 7), `tensor pieces of at most 7 bytes: ${tensorWrites.join(',')}`);
    assert.equal(tensorWrites.reduce((a, b) => a + b, 0), whole.length - headerBytes);
    assert.ok(tensorWrites.length >= Math.ceil((whole.length - headerBytes) / 7));

    const r = recordIo(() => readCheckpointFiles(dir, ['model.safetensors'], { safetensors: ['model.safetensors'], chunkBytes: 5 }));
    const got = r.result.safetensors.get('model.safetensors')!;
    assert.equal(r.result.files.has('model.safetensors'), false);
    assert.deepEqual(got.metadata, META);
    assert.deepEqual([...got.tensors.keys()], ts.map((t) => t.name));
    for (const t of ts) {
      const g = got.tensors.get(t.name)!;
      assert.equal(g.dtype, t.dtype);
      assert.deepEqual(g.shape, t.shape);
      assert.deepEqual(g.bytes, t.bytes, `${t.name} bit-exact`);
    }
    const fileReads = r.reads.slice(1); // the first read is manifest.json, read whole
    assert.ok(fileReads.every((x) => x.length <= 5), 'every read is one chunk');
    assert.ok(fileReads.length >= Math.ceil(whole.length / 5));
    const largestTensor = Math.max(...ts.map((t) => t.bytes.length));
    assert.ok(fileReads.every((x) => x.target <= Math.max(largestTensor, headerBytes) && x.target < whole.length), 'reads go into per-tensor (or header/config) buffers, never a buffer of the whole file');
    assert.equal(r.result.files.get('config.json')?.toString(), '{}\n');
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('safetensors streaming: a flipped byte in the header or in any piece of any tensor is a SHA-256 mismatch naming the file; truncation is refused', () => {
  const parent = mkdtempSync(join(tmpdir(), 'fog8-st-corrupt-'));
  try {
    const dir = writeCheckpointFiles(parent, 1, new Map([['optimizer.safetensors', safetensorsFile(tensors(), META, 16)]]));
    const p = join(dir, 'optimizer.safetensors');
    const good = readFileSync(p);
    const read = () => readCheckpointFiles(dir, [], { safetensors: ['optimizer.safetensors'], chunkBytes: 64 });
    assert.equal(read().safetensors.get('optimizer.safetensors')!.tensors.size, 4);
    // Every byte of the length prefix and the start of the header, then every 5th byte: each piece of each tensor.
    for (let i = 0; i < good.length; i += i < 24 ? 1 : 5) {
      const bad = Buffer.from(good);
      bad[i] ^= i < 8 ? 0x01 : 0x20; // the length prefix, the JSON header and every tensor byte
      writeFileSync(p, bad);
      assert.throws(read, /optimizer\.safetensors: SHA-256 [0-9a-f]{64} does not match the manifest's [0-9a-f]{64} \(corrupt\)/, `byte ${i}`);
    }
    writeFileSync(p, good);
    truncateSync(p, good.length - 1);
    assert.throws(read, /optimizer\.safetensors: \d+ bytes, expected \d+ \(truncated or modified\)/);
    // A file that ends early while it is being read (it shrank after the size check) is refused too.
    writeFileSync(p, good.subarray(0, good.length - 10));
    const fd = openSync(p, 'r');
    try {
      assert.throws(() => readSafetensorsFd(fd, good.length, p, { chunkBytes: 8 }), /optimizer\.safetensors: not a valid safetensors file: ends at byte \d+ while \d+ were expected \(truncated while reading\)/);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('safetensors streaming: the chunked reader applies every check of decodeSafetensors (header length, JSON, dtype, offsets tiling the data)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-st-check-'));
  try {
    const h = (header: unknown, data: number): Buffer => {
      const j = Buffer.from(JSON.stringify(header));
      const b = Buffer.alloc(8 + j.length + data);
      b.writeUInt32LE(j.length, 0);
      j.copy(b, 8);
      return b;
    };
    const cases: [string, Buffer, RegExp][] = [
      ['tiny', Buffer.alloc(5), /shorter than the 8-byte header/],
      ['long-header', (() => { const b = h({}, 0); b.writeUInt32LE(1000, 0); return b; })(), /header length 1000 exceeds the file/],
      ['not-json', (() => { const b = h({}, 0); b[8] = 0x7b + 1; return b; })(), /header is not JSON/],
      ['dtype', h({ a: { dtype: 'F7', shape: [1], data_offsets: [0, 1] } }, 1), /tensor a has dtype "F7"; allowed: F64, F32/],
      ['hole', h({ a: { dtype: 'U8', shape: [1], data_offsets: [1, 2] } }, 2), /tensor a starts at byte 1, expected 0 \(holes or overlaps/],
      ['trailing', h({ a: { dtype: 'U8', shape: [1], data_offsets: [0, 1] } }, 3), /cover 1 bytes but the data section has 3/],
      ['cut', h({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } }, 7), /tensor a ends at byte 8 but the data section has 7 bytes \(truncated\?\)/],
    ];
    for (const [name, buf, re] of cases) {
      const p = join(dir, `${name}.safetensors`);
      writeFileSync(p, buf);
      assert.throws(() => decodeSafetensors(buf, p), re, `${name} (one buffer)`);
      assert.throws(() => readSafetensorsFile(p, { chunkBytes: 3 }), re, `${name} (streamed)`);
    }
    // A FIFO or directory in place of a file is refused without reading (safe-file).
    assert.throws(() => readSafetensorsFile(dir), /safetensors file .*: a directory, not a regular file/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('writeSafetensorsFile / readSafetensorsFile: standalone streaming round trip equals the one-Buffer codec; the one-Buffer encoder still names its limit', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-st-file-'));
  try {
    const ts = tensors();
    const p = join(dir, 'model.safetensors');
    const { bytes, sha256: h } = writeSafetensorsFile(p, ts, META, 3);
    const whole = encodeSafetensors(ts, META);
    assert.equal(bytes, whole.length);
    assert.equal(h, sha256(whole));
    assert.ok(readFileSync(p).equals(whole));
    assert.deepEqual(readSafetensorsFile(p, { chunkBytes: 2 }), decodeSafetensors(whole, p));
    assert.deepEqual([...safetensorsPieces(safetensorsLayout(ts, META), 2000)].map((x) => x.length).slice(1), [1200, 154, 101], 'one piece per tensor when they fit (the empty one has none)');
    assert.equal(readdirSync(dir).length, 1);
    assert.throws(() => encodeSafetensors(ts, META, 100), /would hold \d+ bytes .* more than the .* GiB of one Buffer; write it piece by piece/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('disk full in the middle of a streamed file: the write fails naming the file and leaves no temporary directory', () => {
  const parent = mkdtempSync(join(tmpdir(), 'fog8-st-full-'));
  const { writeSync } = fs;
  let calls = 0;
  fs.writeSync = ((...a: unknown[]) => {
    if (++calls === 4) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    return (writeSync as (...x: unknown[]) => number)(...a);
  }) as typeof fs.writeSync;
  syncBuiltinESMExports();
  try {
    assert.throws(() => writeCheckpointFiles(parent, 2, new Map([['model.safetensors', safetensorsFile(tensors(), META, 16)]])), /checkpoint file .*\.tmp-step-2-.*model\.safetensors: cannot be written \(ENOSPC\)/);
    assert.deepEqual(readdirSync(parent), []);
  } finally {
    fs.writeSync = writeSync;
    syncBuiltinESMExports();
    rmSync(parent, { recursive: true, force: true });
  }
});
