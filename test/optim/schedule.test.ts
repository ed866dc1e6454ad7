import { test } from 'node:test';
import assert from 'node:assert/strict';
import { learningRate, validateSchedule, type ScheduleConfig } from '../../src/optim/schedule.js';

const wsd: ScheduleConfig = { kind: 'wsd', peakLr: 1e-3, minLr: 1e-8, warmupSteps: 10, totalSteps: 100, cooldownFraction: 0.2 };

test('WSD: linear warmup, constant, 1−√τ cooldown over the last 20 % to min_lr (hand values)', () => {
  const close = (a: number, b: number) => assert.ok(Math.abs(a - b) <= 1e-15 + 1e-12 * Math.abs(b), `${a} vs ${b}`);
  close(learningRate(wsd, 0), 1e-4); // (0+1)/10 of peak
  close(learningRate(wsd, 4), 5e-4);
  close(learningRate(wsd, 9), 1e-3);
  close(learningRate(wsd, 50), 1e-3);
  close(learningRate(wsd, 79), 1e-3); // cooldown starts at C = 100 − 20 = 80
  close(learningRate(wsd, 80), 1e-8 + (1e-3 - 1e-8) * (1 - Math.sqrt(1 / 20)));
  close(learningRate(wsd, 89), 1e-8 + (1e-3 - 1e-8) * (1 - Math.sqrt(10 / 20)));
  close(learningRate(wsd, 99), 1e-8); // τ = 1 on the last step
  close(learningRate(wsd, 150), 1e-8); // past the end stays at the end value
});

test('WSD lr is non-increasing after warmup and cosine ends at min_lr', () => {
  let prev = Infinity;
  for (let s = 9; s < 100; s++) {
    const lr = learningRate(wsd, s);
    assert.ok(lr <= prev, `step ${s}`);
    prev = lr;
  }
  const cos: ScheduleConfig = { ...wsd, kind: 'cosine' };
  assert.equal(learningRate(cos, 9), 1e-3);
  const mid = learningRate(cos, 54); // p = (54 − 10 + 1)/90
  assert.ok(Math.abs(mid - (1e-8 + (1e-3 - 1e-8) * (1 + Math.cos((Math.PI * 45) / 90)) / 2)) < 1e-15);
  assert.ok(Math.abs(learningRate(cos, 99) - 1e-8) < 1e-18);
  assert.equal(learningRate({ ...wsd, kind: 'constant' }, 99), 1e-3);
});

test('schedule validation names the bad field', () => {
  assert.throws(() => validateSchedule({ ...wsd, kind: 'linear' as never }), /schedule must be one of wsd, cosine, constant/);
  assert.throws(() => validateSchedule({ ...wsd, minLr: 1 }), /min lr/);
  assert.throws(() => validateSchedule({ ...wsd, totalSteps: 0 }), /total steps/);
  assert.throws(() => learningRate(wsd, -1), /step must be an integer/);
});
