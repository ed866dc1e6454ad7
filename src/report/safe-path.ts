/**
 * Resolving a request path to a file under a root directory, refusing everything that could
 * leave it: "..", percent-encoded dots and slashes, absolute paths, NUL bytes, and symlinks whose
 * real path lies outside the root's real path.
 */
import { realpathSync, statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { isInside } from '../util/safe-file.js';

export { isInside };

/**
 * Maps `encodedRelative` (the URL path after a route prefix, still percent-encoded) to the real
 * path of an existing regular file inside `rootReal` (a realpath), or null when it is refused or
 * missing.
 */
export function resolveFileUnderRoot(rootReal: string, encodedRelative: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(encodedRelative);
  } catch {
    return null;
  }
  if (decoded === '' || decoded.includes('\0') || decoded.includes('\\') || isAbsolute(decoded)) return null;
  const segments = decoded.split('/');
  if (segments.some((s) => s === '..' || s === '.' || s === '')) return null;
  const candidate = resolve(rootReal, decoded);
  if (!isInside(rootReal, candidate)) return null;
  let real: string;
  try {
    real = realpathSync(candidate);
  } catch {
    return null;
  }
  if (!isInside(rootReal, real)) return null;
  try {
    return statSync(real).isFile() ? real : null;
  } catch {
    return null;
  }
}
