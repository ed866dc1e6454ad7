import { test } from 'node:test';
import assert from 'node:assert/strict';
import { constants } from 'node:buffer';
import { decodeSafetensors, encodeSafetensors, maxSafetensorsBytes } from '../../src/train/safetensors.js';

test('encodeSafetensors: a file over the one-Buffer limit is a clear error naming its size, not a bare Buffer range error', () => {
  assert.equal(maxSafetensorsBytes, constants.MAX_LENGTH);
  const t = { name: 'w', dtype: 'F32' as const, shape: [4, 4], bytes: new Uint8Array(64) };
  const ok = encodeSafetensors([t], {}, 200);
  assert.equal(decodeSafetensors(ok, 'ok.safetensors').tensors.size, 1);
  assert.throws(() => encodeSafetensors([t], {}, 100), /would hold \d+ bytes .* more than the .* GiB this version writes as one safetensors file/);
});
