import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveTrainConfig } from '../../src/cli/config.js';
import { ConfigError, DEFAULT_TRAIN_CONFIG } from '../../src/train/config.js';

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

test('absurd or unsafe values are config errors naming the field: --lr 1e308, --run-name ../../x, --run-dir "", --resume ""', () => {
  assert.throws(() => resolveTrainConfig(['--lr', '1e308']), (e: Error) => e instanceof ConfigError && /lr \(1e\+308\): .*at most 1e\+30/.test(e.message));
  assert.throws(() => resolveTrainConfig(['--lr', 'Infinity']), /--lr must be a number, got "Infinity"/);
  assert.throws(() => resolveTrainConfig(['--lr', 'NaN']), /--lr must be a number/);
  assert.throws(() => resolveTrainConfig(['--weight-decay', '1e30']), /weightDecay \(1e\+30\): .*at most 1/);
  assert.throws(() => resolveTrainConfig(['--steps', '1e308']), /steps \(1e\+308\)/);
  for (const name of ['../../x', '..', '.', 'a/b', '/abs', '%2e%2e', 'a\\b', '']) {
    assert.throws(() => resolveTrainConfig(['--run-name', name]), (e: Error) => e instanceof ConfigError && /runName .*one path segment|--run-name needs a value/.test(e.message), name);
  }
  assert.equal(resolveTrainConfig(['--run-name', 'fog8_s.v2-run']).config.runName, 'fog8_s.v2-run');
  assert.throws(() => resolveTrainConfig(['--run-dir', '']), /runDir \(""\): must not be empty/);
  assert.throws(() => resolveTrainConfig(['--resume', '']), (e: Error) => e instanceof ConfigError && /--resume needs a value, got an empty string/.test(e.message));
  assert.throws(() => resolveTrainConfig(['--resume=']), /--resume needs a value, got an empty string/);
  assert.throws(() => resolveTrainConfig(['--config', '']), /--config needs a value/);
});

test('--activations: bf16, fp32 or null (the recipe\'s own, the default); in a config file too; anything else names the key and the allowed values', () => {
  assert.equal(resolveTrainConfig([]).config.activations, null);
  assert.equal(resolveTrainConfig(['--activations', 'fp32']).config.activations, 'fp32');
  assert.equal(resolveTrainConfig(['--activations=bf16', '--precision', 'fp32']).config.activations, 'bf16');
  assert.equal(resolveTrainConfig(['--activations', 'null']).config.activations, null);
  const dir = mkdtempSync(join(tmpdir(), 'fog8-act-'));
  try {
    const yaml = join(dir, 'c.yaml');
    writeFileSync(yaml, 'precision: bf16\nactivations: fp32\n');
    assert.equal(resolveTrainConfig(['--config', yaml]).config.activations, 'fp32');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.throws(() => resolveTrainConfig(['--activations', 'fp16']), (e: Error) => /activations \("fp16"\)/.test(e.message) && /"bf16"\|"fp32"/.test(e.message));
});
