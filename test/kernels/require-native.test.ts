import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

// FOG8_REQUIRE_NATIVE=1 (set by .ci/run) turns a missing native addon from a warning into a failure.
const env = (extra: Record<string, string>) => ({ ...process.env, FOG8_REQUIRE_NATIVE: '', FOG8_KERNELS: '', ...extra });

test('build-native: a skipped/failed build warns loudly and exits 0, but exits 1 under FOG8_REQUIRE_NATIVE=1', () => {
  const soft = spawnSync(process.execPath, ['scripts/build-native.mjs'], { env: env({ FOG8_SKIP_NATIVE: '1' }), encoding: 'utf8' });
  assert.equal(soft.status, 0);
  assert.match(soft.stderr, /WARNING: the native addon was NOT built \(FOG8_SKIP_NATIVE=1\)/);
  const hard = spawnSync(process.execPath, ['scripts/build-native.mjs'], { env: env({ FOG8_SKIP_NATIVE: '1', FOG8_REQUIRE_NATIVE: '1' }), encoding: 'utf8' });
  assert.equal(hard.status, 1);
  assert.match(hard.stderr, /ERROR: the native addon was not built \(FOG8_SKIP_NATIVE=1\) and FOG8_REQUIRE_NATIVE=1 requires it/);
});

test('loadKernels: a missing addon falls back to the reference with a warning, or throws under FOG8_REQUIRE_NATIVE=1', () => {
  const script = "import { loadKernels } from './src/kernels/index.ts'; console.log(loadKernels().name);";
  const missing = { FOG8_NATIVE_ADDON: '/nonexistent/fog8_native.node' };
  const soft = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: env(missing), encoding: 'utf8' });
  assert.equal(soft.status, 0, soft.stderr);
  assert.equal(soft.stdout.trim(), 'reference');
  assert.match(soft.stderr, /using the slow TypeScript reference kernels/);
  const hard = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: env({ ...missing, FOG8_REQUIRE_NATIVE: '1' }), encoding: 'utf8' });
  assert.notEqual(hard.status, 0);
  assert.match(hard.stderr, /FOG8_REQUIRE_NATIVE=1 but the native kernels are unavailable/);
});
