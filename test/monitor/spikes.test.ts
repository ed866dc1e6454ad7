import { test } from 'node:test';
import assert from 'node:assert/strict';
import { detectSpikes, SpikeDetector, type LossPoint } from '../../src/monitor/spikes.js';

const series = (losses: (number | null)[]): LossPoint[] => losses.map((loss, i) => ({ step: i + 1, loss }));

test('a flat or falling loss has no spike and does not diverge', () => {
  const falling = series(Array.from({ length: 200 }, (_, i) => 5 * Math.exp(-i / 50) + 2 + 0.02 * Math.sin(i)));
  const r = detectSpikes(falling);
  assert.deepEqual(r.episodes, []);
  assert.equal(r.diverged, false);
  assert.equal(r.divergedAt, null);
});

test('the smoothed loss is the bias-corrected EMA (independent recomputation)', () => {
  const losses = [4, 3, 5, 2.5];
  const r = detectSpikes(series(losses), { beta: 0.5, threshold: 0.1, minSteps: 0 });
  let m = 0;
  losses.forEach((l, k) => {
    m = 0.5 * m + 0.5 * l;
    assert.equal(r.smoothed[k], m / (1 - 0.5 ** (k + 1)));
  });
});

test('a step rise of 1 nat: onset where the EMA first exceeds min + 0.1, end when it returns below min + 0.05', () => {
  // 30 steps at 3.0, 20 at 4.0, then 3.0 again. EMA β = 0.9 of a constant is that constant (bias-corrected).
  const losses = [...Array(30).fill(3), ...Array(20).fill(4), ...Array(60).fill(3)];
  const r = detectSpikes(series(losses));
  assert.equal(r.episodes.length, 1);
  const e = r.episodes[0];
  // Bias-corrected EMA after 30 steps at 3 and j at 4: s − 3 = (1 − 0.9^j) / (1 − 0.9^(30+j)).
  const rise = (j: number): number => (1 - 0.9 ** j) / (1 - 0.9 ** (30 + j));
  const firstJ = [1, 2, 3].find((j) => rise(j) >= 0.1)!;
  assert.equal(e.onset, 30 + firstJ);
  assert.equal(e.nonFinite, false);
  assert.ok(e.end !== null && e.end > 50, `ends after the loss comes back (end ${e.end})`);
  assert.ok(Math.abs(e.peakRise - rise(20)) < 1e-9, `peak rise ${e.peakRise}`);
  assert.equal(r.diverged, false);
});

test('a rise below the threshold is no spike; the first minSteps rises do not count', () => {
  const small = [...Array(30).fill(3), ...Array(30).fill(3.09)];
  assert.equal(detectSpikes(series(small)).episodes.length, 0);
  // Loss rises from the first step (bad init): inside minSteps, ignored; later it counts.
  const early = [3, 3.5, 4, 4.5, 5, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3];
  assert.equal(detectSpikes(series(early), { beta: 0, threshold: 0.1, minSteps: 6 }).episodes.length, 0);
});

test('a non-finite step is a spike at once; a loss that never comes back is a divergence', () => {
  const nan = [...Array(20).fill(3), null, ...Array(20).fill(3)];
  const r = detectSpikes(series(nan));
  assert.equal(r.episodes.length, 1);
  assert.equal(r.episodes[0].onset, 21);
  assert.equal(r.episodes[0].nonFinite, true);
  assert.equal(r.episodes[0].end, 22);
  assert.equal(r.diverged, false);
  const blowup = [...Array(40).fill(3), ...Array.from({ length: 30 }, (_, i) => 3 + 0.2 * i)];
  const d = detectSpikes(series(blowup));
  assert.equal(d.diverged, true);
  assert.equal(d.divergedAt, d.episodes[d.episodes.length - 1].onset);
  assert.equal(d.episodes[d.episodes.length - 1].end, null);
});

test('a trainer stop (error event) is a divergence even when the last losses look fine', () => {
  const r = detectSpikes(series(Array(30).fill(3)), undefined, { step: 25 });
  assert.equal(r.diverged, true);
  assert.equal(r.divergedAt, 25);
});

test('SpikeDetector online: reports the onset once, remembers the step of the running minimum', () => {
  const d = new SpikeDetector();
  const onsets: number[] = [];
  const losses = [...Array.from({ length: 30 }, (_, i) => 4 - i * 0.03), ...Array(10).fill(5)];
  series(losses).forEach((p) => { const e = d.push(p); if (e) onsets.push(e.onset); });
  assert.equal(onsets.length, 1);
  assert.equal(d.minimumStep(), 30);
  assert.equal(d.inEpisode(), true);
  assert.throws(() => new SpikeDetector({ beta: 1, threshold: 0.1, minSteps: 0 }), /beta/);
  assert.throws(() => new SpikeDetector({ beta: 0.9, threshold: 0, minSteps: 0 }), /threshold/);
});
