import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  E4M3,
  E5M2,
  FLT_MAX,
  computeScale,
  currentScale,
  resolvePrecision,
  ScalingState,
  ScalingSlot,
  PRECISION_PRESETS,
  type ScalingRole,
} from '../../src/numerics/index.js';

const f = Math.fround;

test('computeScale: float32 arithmetic, margin, and every edge case', () => {
  assert.equal(computeScale(1, 448, 0, 7), 448);
  assert.equal(computeScale(2, 57344, 0, 7), 28672);
  assert.equal(computeScale(448, 448, 3, 7), 0.125, 'margin 3 divides by 8');
  // 448/3 differs between float64 and float32; the float32 quotient is the scale
  assert.equal(computeScale(3, 448, 0, 7), f(448 / 3));
  assert.notEqual(f(448 / 3), 448 / 3);
  // amax 0, NaN, ±inf, negative: previous scale kept
  for (const a of [0, NaN, Infinity, -1]) assert.equal(computeScale(a, 448, 0, 7), 7, `amax ${a}`);
  // quotient overflows float32 → FLT_MAX, with or without margin
  assert.equal(computeScale(2 ** -120, 448, 0, 7), FLT_MAX);
  assert.equal(computeScale(1e-45, 448, 0, 7), FLT_MAX);
  assert.equal(computeScale(2 ** -120, 448, 2, 7), FLT_MAX);
  assert.equal(FLT_MAX, f(FLT_MAX));
  // just inside float32: 448 / 2^-119 = 1.75·2^127 is finite
  assert.equal(computeScale(2 ** -119, 448, 0, 7), 448 * 2 ** 119);
});

test('currentScale: the tensor\'s own amax, scale 1 when amax is 0/NaN/inf', () => {
  assert.equal(currentScale(4, E4M3, 0), 112);
  assert.equal(currentScale(4, E5M2, 1), 7168);
  assert.equal(currentScale(0, E4M3, 0), 1);
  assert.equal(currentScale(NaN, E4M3, 0), 1);
  assert.equal(currentScale(Infinity, E5M2, 0), 1);
  assert.equal(currentScale(1e-40, E4M3, 0), FLT_MAX);
  assert.equal(currentScale(3, E4M3, 0), f(448 / 3));
});

/** Independent re-computation of delayed scaling: a plain list of the amaxes that were accepted. */
function expectedScale(accepted: number[], H: number, algo: 'max' | 'most_recent', fmax: number, margin: number, previous: number): number {
  const window = accepted.slice(-H);
  const star = algo === 'max' ? window.reduce((m, v) => (Number.isNaN(m) || Number.isNaN(v) ? NaN : Math.max(m, v)), 0) : window[window.length - 1];
  if (!(star > 0) || !Number.isFinite(star)) return previous;
  const q = f(f(fmax / star) / 2 ** margin);
  return q === Infinity ? FLT_MAX : q;
}

for (const algo of ['max', 'most_recent'] as const) {
  for (const margin of [0, 2]) {
    test(`delayed scaling, H = 4, ${algo}, margin ${margin}: hand-recomputed sequence with window wrap`, () => {
      const recipe = resolvePrecision({ amaxHistoryLen: 4, amaxAlgo: algo, margin });
      const state = new ScalingState(recipe);
      const x = state.slot('layers.0.mlp.fc1', 'input'); // E4M3, fmax 448
      const g = state.slot('layers.0.mlp.fc1.grad', 'grad_output'); // E5M2, fmax 57344
      assert.equal(x.scale, 1, 'the first pass casts with scale 1');
      const amaxes = [3, 0.5, 7, 0, 2, 1, 1, 0.25, 5, 0.125];
      const accepted: number[] = [];
      let expected = 1;
      for (const a of amaxes) {
        x.recordAmax(a / 2); // two casts per pass: slot 0 keeps the max
        x.recordAmax(a);
        const historyBefore = Float32Array.from(x.amaxHistory);
        state.updateForward();
        if (a === 0) {
          assert.deepEqual(x.amaxHistory, historyBefore, 'amax 0: history unchanged');
        } else {
          accepted.push(a);
          // layout after the roll: slot 0 cleared, the newest at the end, the older ones before it
          const tail = accepted.slice(-3);
          assert.deepEqual([...x.amaxHistory], [0, ...Array(3 - tail.length).fill(0), ...tail]);
        }
        expected = expectedScale(accepted, 4, algo, 448, margin, expected);
        assert.equal(x.scale, expected, `after amax ${a}`);
        assert.equal(g.scale, 1, 'updateForward leaves backward slots alone');
      }
      // the window really wrapped: 7 left it, so with 'max' the scale now follows 5
      assert.equal(x.scale, f(f(448 / (algo === 'max' ? 5 : 0.125)) / 2 ** margin));
      g.recordAmax(2);
      state.updateBackward();
      assert.equal(g.scale, f(57344 / 2 / 2 ** margin), 'grad_output uses the E5M2 max');
    });
  }
}

test('delayed scaling: amax 0 changes nothing; NaN/Inf keep the scale; max recovers when the NaN leaves the window', () => {
  const recipe = resolvePrecision({ amaxHistoryLen: 4 });
  const state = new ScalingState(recipe);
  const s = state.slot('w', 'weight');
  s.recordAmax(2);
  state.updateForward();
  assert.equal(s.scale, 224);
  state.updateForward(); // nothing recorded: amax 0
  assert.equal(s.scale, 224);
  assert.deepEqual([...s.amaxHistory], [0, 0, 0, 2]);
  s.recordAmax(NaN);
  s.recordAmax(1); // NaN sticks in slot 0
  state.updateForward();
  assert.equal(s.scale, 224, 'NaN amax keeps the scale');
  assert.ok(Number.isNaN(s.amaxHistory[3]));
  for (let pass = 0; pass < 3; pass++) {
    s.recordAmax(4);
    state.updateForward();
    assert.equal(s.scale, 224, `NaN still in the window (pass ${pass})`);
  }
  s.recordAmax(4);
  state.updateForward();
  assert.equal(s.scale, 112, 'NaN has left the window');
  s.recordAmax(Infinity);
  state.updateForward();
  assert.equal(s.scale, 112, 'Inf amax keeps the scale');

  const recent = new ScalingState(resolvePrecision({ amaxHistoryLen: 4, amaxAlgo: 'most_recent' }));
  const r = recent.slot('w', 'weight');
  r.recordAmax(NaN);
  recent.updateForward();
  assert.equal(r.scale, 1);
  r.recordAmax(8);
  recent.updateForward();
  assert.equal(r.scale, 56, 'most_recent ignores the older NaN');
});

test('delayed scaling: tiny amax gives FLT_MAX; H = 1 works; HYBRID max per role', () => {
  const state = new ScalingState(resolvePrecision({ amaxHistoryLen: 1 }));
  const expectations: [string, ScalingRole, number][] = [
    ['a', 'input', 448], ['b', 'weight', 448], ['c', 'qkv', 448], ['d', 'p', 448], ['e', 'o', 448],
    ['f', 'grad_output', 57344], ['g', 'do', 57344], ['h', 'ds', 57344], ['i', 'dqkv', 57344],
  ];
  for (const [key, role] of expectations) state.slot(key, role).recordAmax(1);
  state.updateForward();
  state.updateBackward();
  for (const [key, role, fmax] of expectations) {
    assert.equal(state.slot(key, role).scale, fmax, role);
    assert.deepEqual([...state.slot(key, role).amaxHistory], [0]);
  }
  const tiny = state.slot('tiny', 'input');
  tiny.recordAmax(1e-45);
  state.updateForward();
  assert.equal(tiny.scale, FLT_MAX);
  assert.equal(state.slots().length, 10);
  assert.throws(() => state.slot('a', 'weight'), /already has role 'input'/);
  assert.throws(() => tiny.recordAmax(-1), /amax must be a number ≥ 0/);
});

test('current and block recipes: update only clears the recorded amax', () => {
  const state = new ScalingState(PRECISION_PRESETS['fp8-current']);
  const s = state.slot('x', 'input');
  s.recordAmax(3);
  state.updateForward();
  assert.equal(s.scale, 1);
  assert.deepEqual([...s.amaxHistory], [0]);
});

test('ScalingState serialisation: round trip is bit-exact (NaN/Inf included) and validated', () => {
  const recipe = resolvePrecision({ amaxHistoryLen: 4 });
  const state = new ScalingState(recipe);
  const a = state.slot('layers.0.attn.qkv', 'qkv');
  const b = state.slot('layers.0.attn.dS', 'ds');
  for (const v of [3, 0.1, 7]) {
    a.recordAmax(v);
    state.updateForward();
  }
  b.recordAmax(Infinity);
  state.updateBackward();
  b.recordAmax(NaN);
  state.updateBackward();
  b.recordAmax(2.5);
  const json = JSON.parse(JSON.stringify(state));
  const restored = ScalingState.fromJSON(recipe, json);
  assert.deepEqual(restored.slots().map((s) => [s.key, s.role, s.scale, [...s.amaxHistory]]), state.slots().map((s) => [s.key, s.role, s.scale, [...s.amaxHistory]]));
  assert.ok(restored.slots()[1].amaxHistory.some(Number.isNaN));
  // both continue identically
  for (const st of [state, restored]) {
    st.slot('layers.0.attn.dS', 'ds').recordAmax(1);
    st.updateBackward();
  }
  assert.equal(restored.slot('layers.0.attn.dS', 'ds').scale, state.slot('layers.0.attn.dS', 'ds').scale);
  // margin/algo may change on resume; history length and formats may not
  assert.doesNotThrow(() => ScalingState.fromJSON(resolvePrecision({ amaxHistoryLen: 4, margin: 1 }), json));
  assert.throws(() => ScalingState.fromJSON(resolvePrecision({ amaxHistoryLen: 8 }), json), /amaxHistoryLen 4 is incompatible/);
  assert.throws(() => ScalingState.fromJSON(resolvePrecision({ amaxHistoryLen: 4, backwardFormat: 'e4m3' }), json), /backwardFormat/);
  const bad = (mutate: (d: any) => void): unknown => {
    const d = structuredClone(json);
    mutate(d);
    return d;
  };
  const malformed: [unknown, RegExp][] = [
    [bad((d) => (d.version = 2)), /version 1/],
    [bad((d) => (d.slots[0].scale = 0)), /scale must be a positive finite float32/],
    [bad((d) => (d.slots[0].scale = 0.1)), /float32/],
    [bad((d) => (d.slots[0].scale = 'NaN')), /scale/],
    [bad((d) => (d.slots[0].role = 'bias')), /role must be one of/],
    [bad((d) => (d.slots[0].role = 'dp')), /role 'dp' was retired/], // a checkpoint from before FP8DPA as DESIGN §3
    [bad((d) => d.slots[0].amaxHistory.pop()), /length 4/],
    [bad((d) => (d.slots[0].amaxHistory[1] = -1)), /amaxHistory\[1\]/],
    [bad((d) => (d.slots[0].amaxHistory[1] = null)), /amaxHistory\[1\]/],
    [bad((d) => d.slots.push(d.slots[0])), /appears twice/],
    [null, /version 1/],
  ];
  for (const [data, pattern] of malformed) assert.throws(() => ScalingState.fromJSON(recipe, data), pattern);
});

test('ScalingSlot validates its construction', () => {
  assert.throws(() => new ScalingSlot('k', 'bias' as 'input', 4), /role/);
  assert.throws(() => new ScalingSlot('k', 'input', 0), /amaxHistoryLen/);
  assert.throws(() => new ScalingState(PRECISION_PRESETS['fp8-delayed']).slot('', 'input'), /key/);
});

test('ScalingState snapshot/restore undoes updates in place, including slots first used after the snapshot', () => {
  const recipe = resolvePrecision({ base: 'fp8-delayed', amaxHistoryLen: 4 });
  const state = new ScalingState(recipe);
  const x = state.slot('l0.fc1', 'input');
  x.recordAmax(2);
  state.updateForward();
  const before = { scale: x.scale, history: Array.from(x.amaxHistory) };
  const snap = state.snapshot();
  x.recordAmax(NaN);
  state.updateForward(); // NaN enters the window: with `max` the scale would stay frozen
  const late = state.slot('l0.fc1.grad', 'grad_output');
  late.recordAmax(1);
  state.updateBackward();
  assert.ok(Number.isNaN(x.amaxHistory[3]));
  assert.notEqual(late.scale, 1);
  state.restore(snap);
  assert.equal(state.slot('l0.fc1', 'input'), x, 'restored in place');
  assert.equal(x.scale, before.scale);
  assert.deepEqual(Array.from(x.amaxHistory), before.history);
  assert.equal(late.scale, 1);
  assert.deepEqual(Array.from(late.amaxHistory), [0, 0, 0, 0]);
  assert.throws(() => new ScalingState(recipe).restore(snap), /does not belong/);
});

test('ScalingState snapshot(reuse) refreshes the previous buffers in place when the slots are unchanged', () => {
  const state = new ScalingState(resolvePrecision({ base: 'fp8-delayed', amaxHistoryLen: 4 }));
  const x = state.slot('l0.fc1', 'input');
  const first = state.snapshot();
  x.recordAmax(3);
  state.updateForward();
  const second = state.snapshot(first);
  assert.equal(second, first, 'same buffers');
  assert.equal(second[0].scale, x.scale);
  assert.deepEqual(Array.from(second[0].amaxHistory), Array.from(x.amaxHistory));
  state.slot('l0.fc1.grad', 'grad_output');
  assert.notEqual(state.snapshot(first), first, 'a new slot gets a fresh snapshot');
});
