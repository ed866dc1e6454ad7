import { test } from 'node:test';
import assert from 'node:assert/strict';
import { auc, evaluateThreshold, fitLogistic, labelSamples, median, score, type LabelledSample, type ScoredRun } from '../../src/monitor/forecast.js';
import { DEFAULT_SPIKE_OPTIONS, type SpikeAnalysis } from '../../src/monitor/spikes.js';

test('evaluateThreshold: flagged share, median lead and false alarms, counted by hand', () => {
  const runs: ScoredRun[] = [
    // spike at 100: alarm on at 60 (inside the 50-step horizon: 100−50 = 50 ≤ 60) and 90 → lead 40.
    { name: 'a', steps: 200, onsets: [100], samples: [{ step: 40, p: 0.9 }, { step: 50, p: 0.2 }, { step: 60, p: 0.8 }, { step: 90, p: 0.6 }, { step: 100, p: 0.99 }] },
    // spike at 300: only an alarm at the onset itself (not before) → missed at 0.5; 0.3 flags step 280 → lead 20.
    { name: 'b', steps: 400, onsets: [300], samples: [{ step: 280, p: 0.4 }, { step: 300, p: 0.9 }] },
    // spike-free: alarm transitions off→on at 0.5: steps 10, 40 → 2 false alarms; at 0.3 also the 0.4 at 30 joins the second → 2.
    { name: 'c', steps: 1000, onsets: [], samples: [{ step: 10, p: 0.7 }, { step: 20, p: 0.1 }, { step: 30, p: 0.4 }, { step: 40, p: 0.6 }, { step: 50, p: 0.6 }] },
    // spike-free, never on at 0.5.
    { name: 'd', steps: 1000, onsets: [], samples: [{ step: 10, p: 0.45 }] },
  ];
  const t5 = evaluateThreshold(runs, 0.5, 50);
  assert.deepEqual({ spikes: t5.spikes, flagged: t5.flagged, share: t5.flaggedShare, lead: t5.medianLead, fa: t5.falseAlarms, steps: t5.spikeFreeSteps, per1000: t5.falseAlarmsPer1000 },
    { spikes: 2, flagged: 1, share: 0.5, lead: 40, fa: 2, steps: 2000, per1000: 1 });
  const t3 = evaluateThreshold(runs, 0.3, 50);
  assert.equal(t3.flagged, 2);
  assert.equal(t3.medianLead, 30); // median of 40 and 20
  assert.equal(t3.falseAlarms, 3); // c: 10, 30 (0.4 ≥ 0.3 after 0.1); d: 10
  assert.equal(t3.falseAlarmsPer1000, 1.5);
  const none = evaluateThreshold([runs[2]], 0.5, 50);
  assert.equal(none.flaggedShare, null);
  assert.equal(none.medianLead, null);
});

test('median, auc', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.equal(median([]), null);
  assert.equal(auc([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0]), 1);
  assert.equal(auc([0.1, 0.8, 0.9, 0.2], [1, 1, 0, 0]), 0.25);
  assert.equal(auc([0.5, 0.5], [1, 0]), 0.5);
  assert.equal(auc([0.5], [1]), null);
});

test('labelSamples: positive when a spike starts within the horizon; samples inside an episode are dropped', () => {
  const spikes: SpikeAnalysis = { episodes: [{ onset: 100, end: 130, peakRise: 1, nonFinite: false }], diverged: false, divergedAt: null, smoothed: [] };
  const samples = [40, 50, 90, 100, 120, 130, 200].map((step) => ({ step, x: [step] }));
  const l = labelSamples(samples, spikes, 50);
  assert.deepEqual(l.map((s) => [s.step, s.y]), [[40, 0], [50, 1], [90, 1], [130, 0], [200, 0]]);
});

test('fitLogistic separates a feature that predicts and ignores one that does not', () => {
  const samples: LabelledSample[] = [];
  for (let i = 0; i < 200; i++) {
    const y = (i % 5 === 0 ? 1 : 0) as 0 | 1;
    const noise = Math.sin(i * 12.9898) * 43758.5453 % 1;
    samples.push({ step: i, x: [y === 1 ? 2 + noise : noise, Math.cos(i * 7.1), 0, 0, 0, 0, 0, 0], y });
  }
  const m = fitLogistic(samples, { window: 3, horizon: 50, spike: DEFAULT_SPIKE_OPTIONS });
  assert.ok(m.weights[0] > 1, `weight of the predictive feature ${m.weights[0]}`);
  assert.ok(Math.abs(m.weights[1]) < 0.5 * m.weights[0], `weight of the noise feature ${m.weights[1]}`);
  const pos = samples.filter((s) => s.y === 1).map((s) => score(m, s.x));
  const neg = samples.filter((s) => s.y === 0).map((s) => score(m, s.x));
  assert.ok(Math.min(...pos) > Math.max(...neg));
  assert.equal(m.std[2], 1); // a constant feature is left unscaled
});

test('forecastEval: fits on the non-held-out seeds only and reports the always-on baseline', async () => {
  const { forecastEval } = await import('../../src/report/forecast-eval.js');
  const mk = (name: string, seed: number, spikeAt: number | null) => {
    const steps = Array.from({ length: 100 }, (_, i) => ({ type: 'step' as const, step: i + 1, tokens: 0, time: 0, loss: spikeAt !== null && i + 1 >= spikeAt ? 6 : 3, lr: 1, gradNorm: 1, tokensPerSec: 1, mfu: 0, skipped: false, stepTimeMs: 1 }));
    // The max logit climbs 20 steps before the spike: a learnable precursor.
    const tensors = Array.from({ length: 20 }, (_, i) => ({ type: 'tensors' as const, step: 5 * (i + 1), tokens: 0, time: 0, stats: [], maxAttentionLogit: [spikeAt !== null && 5 * (i + 1) >= spikeAt - 20 ? 50 + 5 * i : 5] }));
    return { name, seed, steps, tensors, fp8: [], events: [] };
  };
  const runs = [mk('a1', 1, 60), mk('b1', 1, null), mk('a2', 2, 70), mk('b2', 2, null), mk('a3', 3, 65), mk('b3', 3, null)];
  const r = forecastEval(runs, { horizon: 30, window: 2, thresholds: [0.5] });
  assert.deepEqual(r.testSeeds, [3]);
  assert.deepEqual(r.fitRuns, ['a1', 'b1', 'a2', 'b2']);
  assert.deepEqual(r.testRuns, ['a3', 'b3']);
  assert.equal(r.heldOut[0].spikes, 1);
  assert.equal(r.heldOut[0].flagged, 1);
  assert.equal(r.heldOut[0].falseAlarms, 0);
  assert.deepEqual([r.alwaysOn.flagged, r.alwaysOn.falseAlarms, r.alwaysOn.spikeFreeSteps], [1, 1, 100]);
});
