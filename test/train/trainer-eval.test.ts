import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Trainer, type TrainerParts, type TrainLoader } from '../../src/train/trainer.js';
import { DEFAULT_TRAIN_CONFIG } from '../../src/train/config.js';
import { loadKernels } from '../../src/kernels/index.js';
import type { Batch } from '../../src/model/model.js';

/** A validation loader over `sampleCount` numbered samples, B per batch, wrapping like BatchLoader. */
function numberedLoader(sampleCount: number, B: number, seen: number[]): TrainLoader & { sampleCount: number; B: number } {
  let position = 0;
  return {
    sampleCount,
    B,
    next(): Batch {
      const ids: number[] = [];
      for (let i = 0; i < B; i++) {
        ids.push(position % sampleCount);
        position++;
      }
      seen.push(...ids);
      return { ids } as unknown as Batch;
    },
    state: () => ({ position }),
  };
}

/** A Trainer whose model's loss of a batch is the mean of its sample numbers; only evaluate() is used. */
function evalTrainer(evalBatches: number, sampleCount: number, B: number) {
  const seen: number[] = [];
  const lines: string[] = [];
  const model = { forwardLoss: (b: Batch) => (b as unknown as { ids: number[] }).ids.reduce((a, x) => a + x, 0) / B };
  const parts = {
    config: { ...DEFAULT_TRAIN_CONFIG, batch: B, evalBatches, peakFlops: 1 },
    kernels: loadKernels('reference'),
    model,
    validation: () => numberedLoader(sampleCount, B, seen),
    log: { line: (l: string) => lines.push(l), close: () => {} },
    metrics: { write: () => {}, close: () => {} },
    startStep: 0,
    startTokens: 0,
  } as unknown as TrainerParts;
  return { trainer: new Trainer(parts), seen, lines };
}

test('trainer eval: evalBatches × batch beyond the validation split is capped to whole batches, never repeating a sample, with one note in train.log', () => {
  const { trainer, seen, lines } = evalTrainer(8, 22, 4); // 32 wanted, 22 held: 5 whole batches
  const first = trainer.evaluate();
  assert.equal(seen.length, 20);
  assert.equal(new Set(seen).size, 20, 'no validation sample is evaluated twice');
  assert.equal(first, (19 * 20) / 2 / 20); // mean over samples 0..19
  assert.equal(trainer.evaluate(), first);
  const notes = lines.filter((l) => /validation split holds 22 sequences; evaluating 5 batch\(es\) of 4 instead of 8/.test(l));
  assert.equal(notes.length, 1, `one note, got: ${JSON.stringify(lines)}`);
  assert.match(notes[0]!, /--eval-batches/);
});

test('trainer eval: a split that fits the request is evaluated as asked, without a note', () => {
  const { trainer, seen, lines } = evalTrainer(3, 50, 4);
  trainer.evaluate();
  assert.equal(seen.length, 12);
  assert.deepEqual(lines, []);
});

test('trainer eval: a validation split smaller than one batch is refused naming --batch and --eval-batches', () => {
  const { trainer } = evalTrainer(2, 3, 4);
  assert.throws(() => trainer.evaluate(), (e: Error) => e instanceof RangeError && /--batch 4 × --eval-batches 2 = 8 sequences, but the validation split holds only 3/.test(e.message));
});
