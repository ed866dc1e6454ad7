// Builds the fog8 native addon (build/Release/fog8_native.node) with node-gyp. Run by
// `npm install` and `npm run build`. A failed build is not an error: fog8 then runs on the
// TypeScript reference kernels, and this script says so once and exits 0.
// FOG8_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function warn(reason) {
  console.warn(`fog8: WARNING: the native addon was not built (${reason}); fog8 will use the slower TypeScript reference kernels.`);
  process.exit(0);
}

if (process.env.FOG8_SKIP_NATIVE === '1') warn('FOG8_SKIP_NATIVE=1');
if (!existsSync(join(root, 'binding.gyp'))) warn('binding.gyp is missing');

/** node-gyp: npm's own (set for lifecycle scripts), else the copy bundled with npm, else PATH. */
function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
    join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return [process.execPath, c];
  return ['node-gyp'];
}

/** Node headers: an explicit nodedir, else the installed ones (no download needed). */
function nodedirArgs() {
  const configured = process.env.npm_config_nodedir;
  if (configured) return [`--nodedir=${configured}`];
  const prefixes = [process.config.variables.node_prefix, join(dirname(process.execPath), '..'), '/usr', '/usr/local'];
  for (const prefix of prefixes) {
    if (prefix && existsSync(join(prefix, 'include', 'node', 'node_api.h'))) return [`--nodedir=${prefix}`];
  }
  return [];
}

const [cmd, ...pre] = findNodeGyp();
const args = [...pre, 'rebuild', `--jobs=${Math.max(1, cpus().length)}`, ...nodedirArgs()];
console.log(`fog8: building the native addon: ${[cmd, ...args].join(' ')}`);
const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
if (r.error) warn(`could not run node-gyp: ${r.error.message}`);
if (r.status !== 0) warn(`node-gyp exited with status ${r.status}; see the compiler output above`);
if (!existsSync(join(root, 'build', 'Release', 'fog8_native.node'))) warn('build/Release/fog8_native.node was not produced');
console.log('fog8: native addon built: build/Release/fog8_native.node');
