import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTrainConfig } from '../../src/cli/config.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/config.js';

test('defaults < config file (YAML or JSON) < flags', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fog8-cfg-'));
  try {
    const yaml = join(dir, 'c.yaml');
    writeFileSync(yaml, 'steps: 40\nlr: 0.001\nmetrics-interval: 5\nm1Precision: fp8\n');
    const { config, extras } = resolveTrainConfig(['--config', yaml, '--steps', '12', '--no-fp8-attention', '--seq=32', '--run-dir', 'x']);
    assert.equal(extras.configFile, yaml);
    assert.equal(config.steps, 12); // flag beats file
    assert.equal(config.lr, 0.001); // file beats default
    assert.equal(config.metricsInterval, 5);
    assert.equal(config.m1Precision, 'fp8');
    assert.equal(config.fp8Attention, false);
    assert.equal(config.seq, 32);
    assert.equal(config.runDir, 'x');
    assert.equal(config.batch, DEFAULT_TRAIN_CONFIG.batch);
    const json = join(dir, 'c.json');
    writeFileSync(json, JSON.stringify({ size: 'tiny', threads: 1 }));
    const r = resolveTrainConfig(['--config', json, '--resume', 'runs/a']);
    assert.equal(r.config.size, 'tiny');
    assert.equal(r.config.threads, 1);
    assert.equal(r.extras.resume, 'runs/a');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('config errors: unknown keys list the valid ones; bad values name the key and the value', () => {
  assert.throws(() => resolveTrainConfig(['--stepz', '3']), (e: Error) => /unknown option "--stepz"/.test(e.message) && /--steps/.test(e.message) && /--metrics-interval/.test(e.message));
  const dir = mkdtempSync(join(tmpdir(), 'fog8-cfg-'));
  try {
    const f = join(dir, 'bad.yaml');
    writeFileSync(f, 'learning_rate: 3\n');
    assert.throws(() => resolveTrainConfig(['--config', f]), (e: Error) => e.message.includes('unknown key in') && e.message.includes('"learning_rate"') && e.message.includes('lr, minLr'));
    writeFileSync(f, 'steps: [1, 2\n');
    assert.throws(() => resolveTrainConfig(['--config', f]), /cannot parse/);
    assert.throws(() => resolveTrainConfig(['--config', join(dir, 'none.json')]), /not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => resolveTrainConfig(['--steps', 'ten']), /--steps must be a number, got "ten"/);
  assert.throws(() => resolveTrainConfig(['--steps', '2.5']), /steps \(2\.5\)/);
  assert.throws(() => resolveTrainConfig(['--schedule', 'linear']), /schedule \("linear"\)/);
  assert.throws(() => resolveTrainConfig(['--m2-precision', 'fp4']), /m2Precision \("fp4"\)/);
  assert.throws(() => resolveTrainConfig(['--batch', '6', '--micro-batches', '4']), /batch \(6\) must be divisible by microBatches \(4\)/);
  assert.throws(() => resolveTrainConfig(['--steps']), /--steps needs a value/);
  assert.throws(() => resolveTrainConfig(['oops']), /unexpected argument "oops"/);
});
