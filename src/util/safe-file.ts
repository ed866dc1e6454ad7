/**
 * The one way fog8 opens a file whose path comes from a user (a flag, a run or checkpoint
 * directory, a dashboard request) and writes a file a user names. Reading guarantees, checked
 * before a single byte is read:
 *   - the path is a regular file (not a FIFO, socket, device or directory): checked with stat
 *     before opening, and again with fstat on the open descriptor, which is opened with
 *     O_NONBLOCK, so a FIFO swapped in between is refused instead of blocking the process;
 *   - with `root`: its real path (symlinks resolved) lies inside `root`, and it is opened with
 *     O_NOFOLLOW at that real path; with `refuseHardLinks` a file with more than one link is
 *     refused too (a hard link can point outside the root without any path saying so);
 *   - its size is known (fstat) and at most `maxBytes`, or exactly `expectedBytes`; at most that
 *     many bytes are read, even if the file grows meanwhile.
 * Writing (`writeFileAtomic`) refuses a directory target with a clear message and never leaves
 * its temporary file behind.
 */
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync, renameSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';

/** A user-supplied file that fog8 refuses to read or write; the message names the path and why. */
export class UnsafeFileError extends Error {}

export interface SafeReadOptions {
  /** What the file is, for messages (e.g. 'tokenizer file'). */
  what: string;
  /** Upper bound on the file's size in bytes. */
  maxBytes: number;
  /** Exact size the file must have (e.g. from a checkpoint manifest); implies maxBytes. */
  expectedBytes?: number;
  /** Real path of a directory the file must lie in after resolving symlinks. */
  root?: string;
  /** Refuse files with more than one hard link (for files served from `root`). */
  refuseHardLinks?: boolean;
  /** Read only the last `tailBytes` bytes (log tails); the size bound still applies to what is read. */
  tailBytes?: number;
}

/** True when `path` is `root` or inside it (both absolute and normalised). */
export function isInside(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/** Mebibytes, for messages. */
function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function kindOf(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  return 'not a regular file';
}

/** Checks one stat result against the options; throws UnsafeFileError naming the file. */
function checkStats(path: string, st: Stats, o: SafeReadOptions): void {
  if (!st.isFile()) throw new UnsafeFileError(`${o.what} ${path}: ${kindOf(st)}, not a regular file`);
  if (o.refuseHardLinks && st.nlink > 1) throw new UnsafeFileError(`${o.what} ${path}: has ${st.nlink} hard links (refused: a hard link may lead outside ${o.root ?? 'its directory'})`);
  if (o.expectedBytes !== undefined && st.size !== o.expectedBytes) {
    throw new UnsafeFileError(`${o.what} ${path}: ${st.size} bytes, expected ${o.expectedBytes} (truncated or modified)`);
  }
  if (o.tailBytes === undefined && st.size > o.maxBytes) throw new UnsafeFileError(`${o.what} ${path}: ${st.size} bytes (${mib(st.size)}), more than the ${mib(o.maxBytes)} allowed`);
}

/** The real path of `path` after the type, root and link checks (no descriptor is opened). */
export function checkFileSafely(path: string, o: SafeReadOptions): { real: string; size: number } {
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UnsafeFileError(`${o.what} ${path}: ${code === 'ENOENT' ? 'does not exist' : `cannot be resolved (${code ?? (e as Error).message})`}`);
  }
  if (o.root !== undefined && !isInside(o.root, real)) throw new UnsafeFileError(`${o.what} ${path}: leads outside ${o.root} (to ${real})`);
  const st = statSync(real);
  checkStats(path, st, o);
  return { real, size: st.size };
}

/**
 * Opens `path` for reading after the checks above; the caller must close the returned fd.
 * `size` is the size at open time (fstat), already checked against the bounds.
 */
export function openFileSafely(path: string, o: SafeReadOptions): { fd: number; size: number; real: string } {
  const { real } = checkFileSafely(path, o);
  let fd: number;
  try {
    // O_NONBLOCK: if a FIFO replaced the file since the stat, open returns at once instead of waiting for a writer.
    fd = openSync(real, constants.O_RDONLY | constants.O_NONBLOCK | (o.root !== undefined ? constants.O_NOFOLLOW : 0));
  } catch (e) {
    throw new UnsafeFileError(`${o.what} ${path}: cannot be opened (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    const st = fstatSync(fd);
    checkStats(path, st, o);
    return { fd, size: st.size, real };
  } catch (e) {
    closeSync(fd);
    throw e;
  }
}

/** Reads `length` bytes at `position` of an open fd (fewer only at end of file). */
export function readAt(fd: number, length: number, position: number): Buffer {
  const out = Buffer.alloc(length);
  let got = 0;
  while (got < length) {
    // one call reads at most 2³¹ − 1 bytes (fs limit); checkpoints of the paper sizes are larger
    const n = readSync(fd, out, got, Math.min(1 << 30, length - got), position + got);
    if (n === 0) break;
    got += n;
  }
  return got === length ? out : out.subarray(0, got);
}

/** Reads a whole user-supplied file (or its tail) under the guarantees of this module. */
export function readFileSafely(path: string, o: SafeReadOptions): Buffer {
  const { fd, size } = openFileSafely(path, o);
  try {
    const length = o.tailBytes === undefined ? size : Math.min(size, o.tailBytes);
    const data = readAt(fd, length, size - length);
    if (o.expectedBytes !== undefined && data.length !== o.expectedBytes) {
      throw new UnsafeFileError(`${o.what} ${path}: read ${data.length} bytes, expected ${o.expectedBytes} (changed while reading)`);
    }
    return data;
  } finally {
    closeSync(fd);
  }
}

/**
 * Refuses an output path that is an existing directory or that resolves to one of `inputs`
 * (writing it would destroy an input). `what` names the flag, e.g. '--output'.
 */
export function checkOutputPath(path: string, what: string, inputs: readonly string[] = []): void {
  let st: Stats | null = null;
  try {
    st = statSync(path);
  } catch {
    st = null;
  }
  if (st?.isDirectory()) throw new UnsafeFileError(`${what} ${path}: is a directory; give a file path (e.g. ${join(path, 'out')})`);
  const target = realTarget(path);
  for (const input of inputs) {
    if (realTarget(input) === target) throw new UnsafeFileError(`${what} ${path}: is also an input (${input}); writing it would replace the input`);
  }
}

/** The real path a write to `path` would land on (the parent resolved when the file does not exist yet). */
function realTarget(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    try {
      return join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
      return resolve(path);
    }
  }
}

/**
 * Writes `data` to `path` via a temporary file in the same directory and a rename, so readers
 * never see a half-written file. A directory target is refused before anything is written,
 * and the temporary file is removed on any failure (disk full included).
 */
export function writeFileAtomic(path: string, data: string | Uint8Array, what = 'output'): void {
  checkOutputPath(path, what);
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // not ours to remove (e.g. a directory of that name): leave it
    }
    const code = (e as NodeJS.ErrnoException).code;
    throw new UnsafeFileError(`${what} ${path}: cannot be written (${code ?? (e as Error).message})`);
  }
}
