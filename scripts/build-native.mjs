// Builds the fog8 native addon (build/Release/fog8_native.node) with node-gyp. Run by
// `npm install` and `npm run build`. A failed build is not an error: fog8 then runs on the
// TypeScript reference kernels, and this script says so loudly and exits 0 — unless
// FOG8_REQUIRE_NATIVE=1 (CI sets it), which makes a failed build exit 1.
// FOG8_SKIP_NATIVE=1 skips the build.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { nodeGypRebuildCommand, repoRoot as root } from './native-build-tools.mjs';

function warn(reason) {
  if (process.env.FOG8_REQUIRE_NATIVE === '1') {
    console.error(`fog8: ERROR: the native addon was not built (${reason}) and FOG8_REQUIRE_NATIVE=1 requires it.`);
    process.exit(1);
  }
  const line = '!'.repeat(100);
  console.warn(`${line}\nfog8: WARNING: the native addon was NOT built (${reason}).\nfog8 will run on the TypeScript reference kernels, 100-200x slower, and the native kernel tests will be skipped.\nFix the build (a C++17 compiler and make are needed) or set FOG8_REQUIRE_NATIVE=1 to make this an error.\n${line}`);
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
