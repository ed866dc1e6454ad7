// The loader: explicit kinds, FOG8_KERNELS, availability report, validation always applied.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { loadKernels, nativeAvailability } from '../../src/kernels/index.js';

test('loadKernels: reference on request, native when available, always validated', () => {
  const reference = loadKernels('reference');
  assert.equal(reference.name, 'reference');
  assert.throws(() => reference.quantize(new Float32Array(2), 'e4m3', 1, new Uint8Array(1)), TypeError);
  const availability = nativeAvailability();
  if (availability.available) {
    const native = loadKernels('native');
    assert.equal(native.name, 'native');
    assert.match(native.isa, /^(scalar|avx2|avx512bf16)$/);
    assert.equal(native.isa, availability.isa);
    assert.ok(native.threads >= 1);
    assert.throws(() => native.quantize(new Float32Array(2), 'e4m3', 1, new Uint8Array(1)), TypeError);
    assert.equal(loadKernels().name, 'native');
  } else {
    assert.ok(availability.reason !== undefined && availability.reason.length > 0);
    assert.throws(() => loadKernels('native'), /native kernels are unavailable/);
  }
  assert.throws(() => loadKernels('gpu' as 'native'), TypeError);
});

test('FOG8_KERNELS overrides the default; an invalid value is an error', () => {
  const script = "import { loadKernels } from './src/kernels/index.ts'; console.log(loadKernels().name);";
  const run = (value: string) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      env: { ...process.env, FOG8_KERNELS: value },
      encoding: 'utf8',
    });
  const reference = run('reference');
  assert.equal(reference.status, 0, reference.stderr);
  assert.equal(reference.stdout.trim(), 'reference');
  const invalid = run('cuda');
  assert.notEqual(invalid.status, 0);
  assert.match(invalid.stderr, /FOG8_KERNELS must be 'native' or 'reference'/);
});
