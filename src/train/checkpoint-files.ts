/**
 * The file level of a checkpoint: a directory of named files plus `manifest.json` holding the
 * byte size and SHA-256 of every one. Writing goes to a temporary directory in the same parent,
 * each file fsynced, and the directory is renamed to its final name only when complete, so a
 * crash never leaves a half-written `step-N`. Reading verifies the manifest and every file
 * (present, size, hash) before returning any bytes; each error names the file.
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { checkFileSafely, readFileSafely } from '../util/safe-file.js';

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

function writeFileSynced(path: string, data: Uint8Array): void {
  const fd = openSync(path, 'w');
  try {
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off, Math.min(MAX_IO_BYTES, data.length - off));
    fsyncSync(fd);
  } catch (e) {
    // Name the file: a bare "ENOSPC: no space left on device, write" does not say what was being written.
    const code = (e as NodeJS.ErrnoException).code;
    throw new Error(`checkpoint file ${path}: cannot be written (${code ?? (e as Error).message})`, { cause: e });
  } finally {
    closeSync(fd);
  }
}

/** Name of the directory of the checkpoint after optimizer step `step`. */
export function checkpointDirName(step: number): string {
  return `step-${step}`;
}

/**
 * Writes `files` (name → bytes) and their manifest as `parent/step-N` atomically; replaces an
 * existing `step-N`. Returns the final directory path.
 */
export function writeCheckpointFiles(parent: string, step: number, files: ReadonlyMap<string, Uint8Array>): string {
  mkdirSync(parent, { recursive: true });
  const finalDir = join(parent, checkpointDirName(step));
  const tmpDir = join(parent, `.tmp-${checkpointDirName(step)}-${process.pid}-${Date.now()}`);
  mkdirSync(tmpDir);
  try {
    const manifest: Manifest = { format: CHECKPOINT_FORMAT, version: CHECKPOINT_FORMAT_VERSION, step, files: {} };
    for (const [name, data] of files) {
      if (name === MANIFEST_FILE || name.includes('/') || name.startsWith('.')) throw new RangeError(`writeCheckpointFiles: invalid file name ${JSON.stringify(name)}`);
      writeFileSynced(join(tmpDir, name), data);
      manifest.files[name] = { bytes: data.length, sha256: sha256(data) };
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

/**
 * Reads and verifies every file of a checkpoint directory against its manifest: the manifest
 * itself, then for each listed file presence, byte size and SHA-256. `required` names files that
 * must be listed. Returns the bytes of each file; throws an Error naming the offending file.
 */
export function readCheckpointFiles(dir: string, required: readonly string[]): { manifest: Manifest; files: Map<string, Buffer> } {
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
  const files = new Map<string, Buffer>();
  for (const { name, p, entry } of entries) {
    const data = readFileSafely(p, { what: 'checkpoint file', maxBytes: entry.bytes, expectedBytes: entry.bytes });
    const h = sha256(data);
    if (h !== entry.sha256) throw new Error(`${p}: SHA-256 ${h} does not match the manifest's ${entry.sha256} (corrupt)`);
    files.set(name, data);
  }
  return { manifest, files };
}

/** The run directory a checkpoint directory belongs to (RUN_DIR/checkpoints/step-N → RUN_DIR). */
export function runDirOfCheckpoint(checkpointDir: string): string {
  return dirname(dirname(checkpointDir));
}
