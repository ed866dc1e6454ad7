// What both addon builds (scripts/build-native.mjs, scripts/test-avx512-emulated.mjs) need to run
// node-gyp without a network: where node-gyp is and where the installed Node headers are.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';

/** The repository root (this file lives in scripts/). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..');

/** node-gyp as [command, ...leading args]: npm's own (set for lifecycle scripts), else the copy bundled with npm, else PATH. */
export function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(repoRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, c];
  return ['node-gyp'];
}

/** Node headers: an explicit nodedir, else the installed ones (no download needed). */
export function nodedirArgs() {
  const configured = process.env.npm_config_nodedir;
  if (configured) return [`--nodedir=${configured}`];
  const prefixes = [process.config.variables.node_prefix, join(dirname(process.execPath), '..'), '/usr', '/usr/local'];
  for (const prefix of prefixes) {
    if (prefix && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return [`--nodedir=${prefix}`];
  }
  return [];
}

/**
 * The node-gyp command line that rebuilds the addon in the current directory: [command, args].
 * `gypDefines` (e.g. ['-Dfog8_avx512_emulated=1']) are passed to gyp's configure step.
 */
export function nodeGypRebuildCommand(gypDefines = []) {
  const [cmd, ...pre] = findNodeGyp();
  const args = [...pre, 'rebuild', `--jobs=${Math.max(1, cpus().length)}`, ...nodedirArgs()];
  if (gypDefines.length > 0) args.push('--', ...gypDefines);
  return [cmd, args];
}
