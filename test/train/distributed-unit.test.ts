/** The pieces of data parallelism that need no MPI: launch detection, the no-MPI error, loader skip, the amax hook. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { detectLaunch, worldCommunicator, soloCommunicator, assertSameFingerprint } from '../../src/train/distributed.js';
import { BatchLoader } from '../../src/data/batch-loader.js';
import { IndexedDataset } from '../../src/data/indexed-dataset-reader.js';
import { ScalingState } from '../../src/numerics/scaling.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { writeCountingDataset } from './helpers.js';

test('detectLaunch reads Open MPI (and PMI) rank/size; no launcher → null → the solo communicator', () => {
  assert.deepEqual(detectLaunch({ OMPI_COMM_WORLD_SIZE: '4', OMPI_COMM_WORLD_RANK: '2', OMPI_COMM_WORLD_LOCAL_SIZE: '2' }), { rank: 2, size: 4, localSize: 2, source: 'OMPI_COMM_WORLD_SIZE' });
  assert.deepEqual(detectLaunch({ PMI_SIZE: '2', PMI_RANK: '1' }), { rank: 1, size: 2, localSize: null, source: 'PMI_SIZE' });
  assert.equal(detectLaunch({}), null);
  assert.equal(worldCommunicator({}), soloCommunicator);
  assert.equal(worldCommunicator({ OMPI_COMM_WORLD_SIZE: '1', OMPI_COMM_WORLD_RANK: '0' }), soloCommunicator);
});

test('a multi-rank launch without the MPI addon is an error naming the Debian packages', () => {
  const saved = process.env.FOG8_MPI_ADDON;
  process.env.FOG8_MPI_ADDON = '/nonexistent/fog8_mpi.node';
  try {
    assert.throws(() => worldCommunicator({ OMPI_COMM_WORLD_SIZE: '2', OMPI_COMM_WORLD_RANK: '0' }), /launched as rank 0 of 2 \(OMPI_COMM_WORLD_SIZE\).*apt-get install openmpi-bin libopenmpi-dev/);
  } finally {
    if (saved === undefined) delete process.env.FOG8_MPI_ADDON;
    else process.env.FOG8_MPI_ADDON = saved;
  }
});

test('one rank: the fingerprint check and the solo sum change nothing', () => {
  assertSameFingerprint(soloCommunicator, { lr: 1 });
  const g = new Float32Array([1, -0, 3]);
  soloCommunicator.sumOrdered(g);
  assert.deepEqual(Array.from(g), [1, -0, 3]);
});

test('BatchLoader.skip leaves the loader where next() would, across epoch ends', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-skip-'));
  try {
    const dataset = IndexedDataset.open(writeCountingDataset(dir, 12, 20), { vocabSize: 64 });
    const make = () => new BatchLoader({ dataset, split: 'train', B: 3, T: 8, seed: 5, validationFraction: 0.1 });
    const a = make();
    const b = make();
    for (let i = 0; i < 20; i++) {
      if (i % 3 === 1) {
        a.next();
        b.skip();
      } else assert.deepEqual(a.next(), b.next());
      assert.deepEqual(a.state(), b.state());
    }
    assert.ok(a.state().epoch > 0, 'wrapped into a later epoch');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ScalingState.pendingAmaxes / setPendingAmaxes: slot 0 of every slot, in slot order, NaN kept', () => {
  const s = new ScalingState(resolvePrecision('fp8-delayed'));
  s.slot('a', 'input').recordAmax(2);
  s.slot('b', 'grad_output').recordAmax(NaN);
  s.slot('c', 'weight');
  const p = s.pendingAmaxes();
  assert.deepEqual(Array.from(p), [2, NaN, 0]);
  s.setPendingAmaxes(new Float32Array([3, 4, 5]));
  assert.deepEqual(Array.from(s.pendingAmaxes(p)), [3, 4, 5]);
  assert.throws(() => s.setPendingAmaxes(new Float32Array(2)), /2 values for 3 slots/);
  s.updateForward();
  assert.equal(s.slot('a', 'input').scale, Math.fround(448 / 3));
});
