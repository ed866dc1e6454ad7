// Builds the fog8 native addon (build/Release/fog8_native.node) with node-gyp. Run by
// `npm install` and `npm run build`. A failed build is not an error: fog8 then runs on the
// TypeScript reference kernels, and this script says so once and exits 0.
// FOG8_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nodeGypRebuildCommand, repoRoot as root } from './native-build-tools.mjs';

function warn(reason) {
  console.warn(`fog8: WARNING: the native addon was not built (${reason}); fog8 will use the slower TypeScript reference kernels.`);
  process.exit(0);
}

if (process.env.FOG8_SKIP_NATIVE === '1') warn('FOG8_SKIP_NATIVE=1');
if (!existsSync(join(root, 'binding.gyp'))) warn('binding.gyp is missing');

const [cmd, args] = nodeGypRebuildCommand();
console.log(`fog8: building the native addon: ${[cmd, ...args].join(' ')}`);
const r = spawnSync(cmd, args, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], env: process.env });
if (r.error) warn(`could not run node-gyp: ${r.error.message}`);
if (r.status !== 0) warn(`node-gyp exited with status ${r.status}; see the compiler output above`);
if (!existsSync(join(root, 'build', 'Release', 'fog8_native.node'))) warn('build/Release/fog8_native.node was not produced');
console.log('fog8: native addon built: build/Release/fog8_native.node');
