/**
 * The file level of a checkpoint: a directory of named files plus `manifest.json` holding the
 * byte size and SHA-256 of every one. Writing goes to a temporary directory in the same parent,
 * each file fsynced, and the directory is renamed to its final name only when complete, so a
 * crash never leaves a half-written `step-N`. Reading verifies the manifest and every file
 * (present, size, hash) before returning any bytes; each error names the file. Files are written
 * and hashed piece by piece and read in chunks, so none is ever one Buffer (Node caps those at
 * 4 GiB; the 1.5b model.safetensors alone is 4.77 GB).
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:buffer';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkFileSafely, openFileSafely, readFileSafely, writeError } from '../util/safe-file.js';
import { readSafetensorsFd, safetensorsLayout, safetensorsPieces, SafetensorsFormatError, SAFETENSORS_PIECE_BYTES, writeAll, type SafetensorsFile, type SafetensorsTensor } from './safetensors.js';

export const MANIFEST_FILE = 'manifest.json';
export const CHECKPOINT_FORMAT = 'fog8-checkpoint';
export const CHECKPOINT_FORMAT_VERSION = 1;
/** A manifest lists a handful of files; anything larger is not one. */
const MAX_MANIFEST_BYTES = 1 << 20;
/** fs.writeSync/readSync and Hash.update take at most 2³¹ − 1 bytes per call; a 390m optimizer state is 2.4 GB. */
const MAX_IO_BYTES = 1 << 30;

export interface ManifestEntry {
  bytes: number;
  sha256: string;
}

export interface Manifest {
  format: typeof CHECKPOINT_FORMAT;
  version: number;
  step: number;
  files: Record<string, ManifestEntry>;
}

export function sha256(data: Uint8Array): string {
  const hash = createHash('sha256');
  // Hash.update takes at most 2³¹ − 1 bytes per call ("data is too long").
  for (let off = 0; off < data.length; off += MAX_IO_BYTES) hash.update(data.subarray(off, Math.min(data.length, off + MAX_IO_BYTES)));
  return hash.digest('hex');
}

/** A file written piece by piece (a safetensors file): its size and a fresh sequence of its pieces. */
export interface StreamedFile {
  readonly bytes: number;
  pieces(): Iterable<Uint8Array>;
}

/** The content of one checkpoint file: bytes in memory, or pieces streamed to disk. */
export type CheckpointFile = Uint8Array | StreamedFile;

/** A safetensors file as a StreamedFile (pieces are views of the tensors' bytes, read when written). */
export function safetensorsFile(tensors: readonly SafetensorsTensor[], metadata: Record<string, string> = {}, pieceBytes = SAFETENSORS_PIECE_BYTES): StreamedFile {
  const layout = safetensorsLayout(tensors, metadata);
  return { bytes: layout.totalBytes, pieces: () => safetensorsPieces(layout, pieceBytes) };
}

/** Size in bytes of a checkpoint file's content. */
export function checkpointFileBytes(data: CheckpointFile): number {
  return data instanceof Uint8Array ? data.length : data.bytes;
}

/**
 * Writes `data` piece by piece, hashing the same pieces, and fsyncs it; returns the manifest
 * entry. No Buffer of the whole file is built, so a file may exceed 4 GiB.
 */
function writeFileSynced(path: string, data: CheckpointFile): ManifestEntry {
  const fd = openSync(path, 'w');
  const hash = createHash('sha256');
  let bytes = 0;
  try {
    for (const piece of data instanceof Uint8Array ? [data] : data.pieces()) {
      writeAll(fd, piece);
      for (let off = 0; off < piece.length; off += MAX_IO_BYTES) hash.update(piece.subarray(off, Math.min(piece.length, off + MAX_IO_BYTES)));
      bytes += piece.length;
    }
    if (bytes !== checkpointFileBytes(data)) throw new Error(`wrote ${bytes} bytes, expected ${checkpointFileBytes(data)}`);
    fsyncSync(fd);
  } catch (e) {
    throw writeError('checkpoint file', path, e);
  } finally {
    closeSync(fd);
  }
  return { bytes, sha256: hash.digest('hex') };
}

/** Name of the directory of the checkpoint after optimizer step `step`. */
export function checkpointDirName(step: number): string {
  return `step-${step}`;
}

/**
 * Writes `files` (name → bytes) and their manifest as `parent/step-N` atomically; replaces an
 * existing `step-N`. Returns the final directory path.
 */
export function writeCheckpointFiles(parent: string, step: number, files: ReadonlyMap<string, CheckpointFile>): string {
  mkdirSync(parent, { recursive: true });
  const finalDir = join(parent, checkpointDirName(step));
  const tmpDir = join(parent, `.tmp-${checkpointDirName(step)}-${process.pid}-${Date.now()}`);
  mkdirSync(tmpDir);
  try {
    const manifest: Manifest = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_FORMAT_VERSION, step, files: {} };
    for (const [name, data] of files) {
      if (name === MANIFEST_FILE || name.includes('/') || name.startsWith('.')) throw new RangeError(`writeCheckpointFiles: invalid file name ${JSON.stringify(name)}`);
      manifest.files[name] = writeFileSynced(join(tmpDir, name), data);
    }
    writeFileSynced(join(tmpDir, MANIFEST_FILE), Buffer.from(JSON.stringify(manifest, null, 2) + '\n'));
    if (existsSync(finalDir)) {
      const old = `${tmpDir}-replaced`;
      renameSync(finalDir, old);
      renameSync(tmpDir, finalDir);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmpDir, finalDir);
    }
    const dirFd = openSync(parent, 'r');
    try {
      fsyncSync(dirFd);
    } finally {
      closeSync(dirFd);
    }
  } catch (e) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw e;
  }
  return finalDir;
}

/** Steps of the complete checkpoints (`step-N` with a manifest) under `parent`, ascending. */
export function listCheckpointSteps(parent: string): number[] {
  if (!existsSync(parent)) return [];
  return readdirSync(parent)
    .map((n) => /^step-(\d+)$/.exec(n))
    .filter((m): m is RegExpExecArray => m !== null && existsSync(join(parent, m[0], MANIFEST_FILE)))
    .map((m) => Number(m[1]))
    .sort((a, b) => a - b);
}

/** Deletes all but the newest `keep` checkpoints under `parent` (and stale temporary dirs). */
export function pruneCheckpoints(parent: string, keep: number): void {
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`pruneCheckpoints: keep must be an integer ≥ 1, got ${keep}`);
  const steps = listCheckpointSteps(parent);
  for (const s of steps.slice(0, Math.max(0, steps.length - keep))) rmSync(join(parent, checkpointDirName(s)), { recursive: true, force: true });
  for (const n of readdirSync(parent)) {
    if (n.startsWith('.tmp-step-') && !n.includes(`-${process.pid}-`)) rmSync(join(parent, n), { recursive: true, force: true });
  }
}

/**
 * A checkpoint directory from a path that is one (has manifest.json), a `checkpoints/` folder
 * or a run directory (newest complete step-N inside).
 */
export function resolveCheckpointDir(path: string): string {
  if (!existsSync(path)) throw new Error(`checkpoint ${path}: no such file or directory`);
  if (!statSync(path).isDirectory()) throw new Error(`checkpoint ${path}: not a directory`);
  if (existsSync(join(path, MANIFEST_FILE))) return path;
  for (const parent of [join(path, 'checkpoints'), path]) {
    const steps = listCheckpointSteps(parent);
    if (steps.length > 0) return join(parent, checkpointDirName(steps[steps.length - 1]));
  }
  throw new Error(`checkpoint ${path}: no ${MANIFEST_FILE} and no checkpoints/step-N/ inside (is this a run directory?)`);
}

/** Options of readCheckpointFiles. */
export interface ReadCheckpointOptions {
  /** files to parse as safetensors while they are verified (streamed tensor by tensor; any size). */
  safetensors?: readonly string[];
  /** files only verified (size and SHA-256, streamed), not kept: e.g. the optimizer state when evaluating. */
  verifyOnly?: readonly string[];
  /** bytes per read call (default SAFETENSORS_PIECE_BYTES). */
  chunkBytes?: number;
}

/** What readCheckpointFiles returns: nothing of it exists unless every listed file verified. */
export interface VerifiedCheckpointFiles {
  manifest: Manifest;
  /** bytes of every listed file not in `safetensors` or `verifyOnly`. */
  files: Map<string, Buffer>;
  /** parsed content of the files named in `safetensors` (when listed). */
  safetensors: Map<string, SafetensorsFile>;
}

/** SHA-256 of the first `bytes` bytes of an open file, read `chunk` bytes at a time. */
function hashFd(fd: number, bytes: number, chunk: number): string {
  const hash = createHash('sha256');
  const buf = Buffer.alloc(Math.max(1, Math.min(chunk, MAX_IO_BYTES, bytes)));
  for (let pos = 0; pos < bytes; ) {
    const n = readSync(fd, buf, 0, Math.min(buf.length, bytes - pos), pos);
    if (n === 0) break;
    hash.update(buf.subarray(0, n));
    pos += n;
  }
  return hash.digest('hex');
}

/**
 * Reads and verifies every file of a checkpoint directory against its manifest: the manifest
 * itself, then for each listed file presence, type and byte size (all of them before reading
 * any), then each file's SHA-256, computed while the file is read in chunks — a plain file into
 * one Buffer, a file named in `o.safetensors` straight into its tensors' buffers (so no Buffer of
 * a whole >4 GiB file exists). `required` names files that must be listed. Returns only when
 * every file verified; throws an Error naming the offending file.
 */
export function readCheckpointFiles(dir: string, required: readonly string[], o: ReadCheckpointOptions = {}): VerifiedCheckpointFiles {
  const chunk = o.chunkBytes ?? SAFETENSORS_PIECE_BYTES;
  if (!Number.isSafeInteger(chunk) || chunk < 1) throw new RangeError(`readCheckpointFiles: chunkBytes must be an integer ≥ 1, got ${chunk}`);
  const manifestPath = join(dir, MANIFEST_FILE);
  if (!existsSync(manifestPath)) throw new Error(`${manifestPath}: missing — not a complete checkpoint`);
  let manifest: Manifest;
  const manifestBytes = readFileSafely(manifestPath, { what: 'checkpoint manifest', maxBytes: MAX_MANIFEST_BYTES });
  try {
    manifest = JSON.parse(manifestBytes.toString('utf8')) as Manifest;
  } catch (e) {
    throw new Error(`${manifestPath}: corrupt manifest (${(e as Error).message})`);
  }
  if (manifest?.format !== CHECKPOINT_FORMAT || manifest.version !== CHECKPOINT_FORMAT_VERSION || typeof manifest.files !== 'object' || manifest.files === null) {
    throw new Error(`${manifestPath}: not a ${CHECKPOINT_FORMAT} v${CHECKPOINT_FORMAT_VERSION} manifest`);
  }
  for (const r of required) if (!(r in manifest.files)) throw new Error(`${join(dir, r)}: required file not listed in ${MANIFEST_FILE}`);
  // Check every listed file's type and size before reading any: a FIFO or a link to /dev/zero is refused, never read.
  const entries = Object.entries(manifest.files).map(([name, entry]) => {
    const p = join(dir, basename(name));
    if (entry === null || typeof entry !== 'object' || !Number.isSafeInteger(entry.bytes) || entry.bytes < 0 || typeof entry.sha256 !== 'string') {
      throw new Error(`${manifestPath}: entry ${JSON.stringify(name)} needs bytes (an integer ≥ 0) and sha256`);
    }
    if (!existsSync(p)) throw new Error(`${p}: missing (listed in ${MANIFEST_FILE})`);
    checkFileSafely(p, { what: 'checkpoint file', maxBytes: entry.bytes, expectedBytes: entry.bytes });
    return { name, p, entry };
  });
  const asSafetensors = new Set(o.safetensors ?? []);
  const verifyOnly = new Set(o.verifyOnly ?? []);
  const files = new Map<string, Buffer>();
  const parsed = new Map<string, SafetensorsFile>();
  const mismatch = (p: string, h: string, entry: ManifestEntry): Error => new Error(`${p}: SHA-256 ${h} does not match the manifest's ${entry.sha256} (corrupt)`);
  for (const { name, p, entry } of entries) {
    const { fd } = openFileSafely(p, { what: 'checkpoint file', maxBytes: entry.bytes, expectedBytes: entry.bytes });
    try {
      const hash = createHash('sha256');
      if (verifyOnly.has(name)) {
        const h = hashFd(fd, entry.bytes, chunk);
        if (h !== entry.sha256) throw mismatch(p, h, entry);
      } else if (asSafetensors.has(name)) {
        let file: SafetensorsFile;
        try {
          file = readSafetensorsFd(fd, entry.bytes, p, { chunkBytes: chunk, hash });
        } catch (e) {
          // A file that is not what the manifest says is reported as corrupt; one that matches
          // its hash but is not valid safetensors keeps the format error.
          if (!(e instanceof SafetensorsFormatError)) throw e;
          const h = hashFd(fd, entry.bytes, chunk);
          throw h !== entry.sha256 ? mismatch(p, h, entry) : e;
        }
        const h = hash.digest('hex');
        if (h !== entry.sha256) throw mismatch(p, h, entry);
        parsed.set(name, file);
      } else {
        if (entry.bytes > constants.MAX_LENGTH) throw new Error(`${p}: ${entry.bytes} bytes is more than one Buffer holds; only safetensors files are read in pieces`);
        const data = Buffer.alloc(entry.bytes);
        for (let pos = 0; pos < data.length; ) {
          const n = readSync(fd, data, pos, Math.min(chunk, MAX_IO_BYTES, data.length - pos), pos);
          if (n === 0) throw new Error(`${p}: ends at byte ${pos}, expected ${entry.bytes} (truncated while reading)`);
          hash.update(data.subarray(pos, pos + n));
          pos += n;
        }
        const h = hash.digest('hex');
        if (h !== entry.sha256) throw mismatch(p, h, entry);
        files.set(name, data);
      }
    } finally {
      closeSync(fd);
    }
  }
  return { manifest, files, safetensors: parsed };
}

/** The run directory a checkpoint directory belongs to (RUN_DIR/checkpoints/step-N → RUN_DIR). */
export function runDirOfCheckpoint(checkpointDir: string): string {
  return dirname(dirname(checkpointDir));
}
