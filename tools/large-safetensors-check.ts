/**
 * A real check of the checkpoint file path above 4 GiB (not part of the test suite: it writes and
 * reads ~4.5 GB). Writes three F32 tensors of 375 M elements (1.5 GB each) with a position-hash
 * pattern as `model.safetensors` of a checkpoint (writeCheckpointFiles: streamed pieces, SHA-256
 * over the pieces, fsync, manifest), reads it back with readCheckpointFiles (chunked reads
 * straight into per-tensor buffers, SHA-256 verified), compares bit for bit, checks that a byte
 * flipped past the 4 GiB mark is refused, and deletes it.
 *
 *   node --import tsx tools/large-safetensors-check.ts [DIR] [ELEMENTS_PER_TENSOR] [TENSORS]
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpointFiles, safetensorsFile, writeCheckpointFiles } from '../src/train/checkpoint-files.js';
import { type SafetensorsTensor } from '../src/train/safetensors.js';

const parent = mkdtempSync(join(process.argv[2] ?? '/tmp', 'fog8-large-st-'));
const n = Number(process.argv[3] ?? 375_000_000);
const k = Number(process.argv[4] ?? 3);
const t0 = performance.now();
const s = (t: number): string => `${((performance.now() - t) / 1000).toFixed(1)} s`;
try {
  const tensors: SafetensorsTensor[] = [];
  let t = performance.now();
  for (let j = 0; j < k; j++) {
    const a = new Uint32Array(n);
    for (let i = 0; i < n; i++) a[i] = Math.imul(i + j * n, 2654435761) ^ (i >>> 7);
    tensors.push({ name: `layer.${j}.weight`, dtype: 'F32', shape: [n / 1000, 1000], bytes: new Uint8Array(a.buffer) });
  }
  console.log(`pattern: ${k} × ${n} float32 (${((4 * n) / 1e9).toFixed(2)} GB each) in ${s(t)}`);
  t = performance.now();
  const dir = writeCheckpointFiles(parent, 1, new Map([['model.safetensors', safetensorsFile(tensors, { format: 'pt' })]]));
  const bytes = statSync(join(dir, 'model.safetensors')).size;
  console.log(`write: ${bytes} bytes (${(bytes / 2 ** 30).toFixed(3)} GiB) streamed + SHA-256 + fsync in ${s(t)}`);
  t = performance.now();
  const back = readCheckpointFiles(dir, ['model.safetensors'], { safetensors: ['model.safetensors'] }).safetensors.get('model.safetensors')!;
  console.log(`read + verify SHA-256 + parse: ${back.tensors.size} tensors in ${s(t)}`);
  t = performance.now();
  for (const x of tensors) {
    const y = back.tensors.get(x.name)!;
    if (y.dtype !== x.dtype || y.shape.join() !== x.shape.join() || Buffer.compare(Buffer.from(x.bytes.buffer, x.bytes.byteOffset, x.bytes.length), Buffer.from(y.bytes.buffer, y.bytes.byteOffset, y.bytes.length)) !== 0) {
      throw new Error(`${x.name}: read back differs`);
    }
  }
  console.log(`compare: bit-identical in ${s(t)}`);
  // A flipped byte beyond the 4 GiB mark (past any 32-bit offset) must be a SHA-256 mismatch.
  tensors.length = 0;
  back.tensors.clear();
  const p = join(dir, 'model.safetensors');
  const at = Math.max(0, bytes - 12_345);
  const fd = openSync(p, 'r+');
  const b = Buffer.alloc(1);
  readSync(fd, b, 0, 1, at);
  b[0] ^= 0x40;
  writeSync(fd, b, 0, 1, at);
  closeSync(fd);
  t = performance.now();
  try {
    readCheckpointFiles(dir, ['model.safetensors'], { safetensors: ['model.safetensors'] });
    throw new Error('a corrupt file was accepted');
  } catch (e) {
    if (!/SHA-256 .* does not match/.test((e as Error).message)) throw e;
    console.log(`flipped byte at offset ${at}: refused in ${s(t)}: ${(e as Error).message.slice(0, 120)}…`);
  }
  console.log(`total ${s(t0)}`);
} finally {
  rmSync(parent, { recursive: true, force: true });
}
