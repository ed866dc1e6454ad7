/**
 * Training benchmark (issue 5): end-to-end training tokens/s — the trainer's whole loop with data
 * loading, gradient clipping, AdamW, metrics records and monitors every 10 steps, no checkpoints
 * or evals inside the timed steps — beside the model-only step (Model.forwardBackward + scaling
 * updates on a fixed batch, no monitor) at sizes s and m, for bf16 and fp8-delayed, preset
 * fog-xielu, 4096 tokens per step. Target: end-to-end ≥ 0.9× model-only.
 *
 * The two are interleaved step by step in one process (a model-only step runs inside the
 * trainer's progress callback after every training step), so machine contention — two cores
 * shared with other jobs — hits both alike. A training step's time is the wall time from the end
 * of the previous model-only step to the trainer's next progress call: the whole loop iteration.
 * The first step of each (graph building) is excluded. Also reported: the AdamW update alone and
 * with the gradient norm and clipping (ms per step), which are part of the end-to-end time.
 *
 * Uses native kernels when they load; with the reference backend only a reduced `tiny`
 * configuration runs (labelled). `--sizes s,m` picks sizes. Writes bench/results/train.json.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig } from '../src/train/config.js';
import { resolveModelConfig } from '../src/model/config.js';
import { Model, type Batch } from '../src/model/model.js';
import { clipFactor, globalGradNorm } from '../src/optim/clip.js';
import { loadKernelBackend } from '../src/train/kernel-backend.js';
import type { TrainProgress } from '../src/train/progress.js';
import { prepareTraining, recipeOf } from '../src/train/session.js';
import { refuseEmulatedAddon } from './emulation-guard.js';

interface Row {
  size: string;
  precision: string;
  B: number;
  T: number;
  modelTokensPerSec: number;
  trainTokensPerSec: number;
  /** end-to-end / model-only over the summed step times. */
  ratio: number;
  /** the same from the median step times (less sensitive to one preempted step). */
  medianRatio: number;
  /** AdamW.step alone (the native/reference kernels.adamw over every tensor), ms. */
  adamwMs: number;
  /** the gradient norm plus AdamW.step with the clip factor applied inside it, as the trainer runs them, ms. */
  clippedAdamwMs: number;
  steps: number;
}

function fixedBatch(vocab: number, B: number, T: number): Batch {
  const inputs = new Int32Array(B * T).map((_, i) => ((i * 2654435761) >>> 0) % vocab);
  const targets = new Int32Array(B * T).map((_, i) => ((i * 40503 + 7) >>> 0) % vocab);
  return { inputs, targets, B, T };
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0);

function requestedSizes(native: boolean): string[] {
  if (!native) return ['tiny']; // the reference kernels would take hours at size s
  const i = process.argv.indexOf('--sizes');
  if (i >= 0 && process.argv[i + 1]) return process.argv[i + 1].split(',');
  return native ? ['s', 'm'] : ['tiny'];
}

async function main(): Promise<void> {
  refuseEmulatedAddon('train');
  const kernels = await loadKernelBackend('auto', null);
  const native = kernels.name === 'native';
  const rows: Row[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'fog8-bench-train-'));
  try {
    for (const size of requestedSizes(native)) {
      const c = resolveModelConfig({ preset: 'fog-xielu', size });
      const T = c.seqLen;
      const B = native ? Math.max(1, 4096 / T) : 4;
      const vocab = size === 'tiny' ? 4096 : c.vocabSize;
      for (const precision of ['bf16', 'fp8-delayed'] as const) {
        const cfg = validateTrainConfig({
          ...DEFAULT_TRAIN_CONFIG, preset: 'fog-xielu', size, precision, data: 'brown', vocabSize: vocab, kernels: native ? 'native' : 'reference',
          steps: native ? (size === 's' ? 11 : 5) : 6, batch: B, seq: T, metricsInterval: 10, evalInterval: 0, evalBatches: 1, checkpointInterval: 0,
          runDir: join(tmp, `${size}-${precision}`), progress: 'none',
        });
        // Model-only twin: same shapes and recipe, a fixed batch, no monitor.
        const mc = resolveModelConfig({ preset: 'fog-xielu', size, vocabSize: vocab, seqLen: T });
        const model = new Model(mc, kernels, recipeOf(cfg), 1);
        const batch = fixedBatch(vocab, B, T);
        const trainMs: number[] = [];
        const modelMs: number[] = [];
        let previousEnd: number | null = null;
        const interleaved: TrainProgress = {
          message: () => {},
          finish: () => {},
          update: (u) => {
            const now = performance.now();
            if (previousEnd !== null) trainMs.push(now - previousEnd);
            model.beginOptimizerStep();
            const t0 = performance.now();
            model.forwardBackward(batch, 1);
            model.scaling.updateForward();
            model.scaling.updateBackward();
            if (u.stepsThisSession > 1) modelMs.push(performance.now() - t0);
            previousEnd = performance.now();
          },
        };
        const run = await prepareTraining({ config: cfg, loadKernels: async () => kernels, progress: () => interleaved });
        await run.run();
        // The optimizer alone and with clipping, on the trained arenas (gradients kept from the last step; lr 0).
        const grads = run.model.grads.data;
        const adamw: number[] = [];
        const clipped: number[] = [];
        for (let r = 0; r < 3; r++) {
          let t0 = performance.now();
          run.optimizer.step(run.model.params.data, grads, 0);
          adamw.push(performance.now() - t0);
          t0 = performance.now();
          run.optimizer.step(run.model.params.data, grads, 0, clipFactor(globalGradNorm(kernels, grads), 1e-3));
          clipped.push(performance.now() - t0);
        }
        const tokens = B * T;
        const modelTokensPerSec = (modelMs.length * tokens) / (sum(modelMs) / 1000);
        const trainTokensPerSec = (trainMs.length * tokens) / (sum(trainMs) / 1000);
        rows.push({
          size, precision, B, T, modelTokensPerSec, trainTokensPerSec, ratio: trainTokensPerSec / modelTokensPerSec,
          medianRatio: median(modelMs) / median(trainMs), adamwMs: median(adamw), clippedAdamwMs: median(clipped), steps: trainMs.length,
        });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`kernels: ${kernels.name} (${kernels.isa}, ${kernels.threads} threads); preset fog-xielu${native ? '' : ' — reference backend: reduced tiny configuration only'}`);
  console.log('size precision     B×T       model tok/s  train tok/s  train/model  (medians)  adamw ms  norm+clip+adamw ms  steps');
  for (const r of rows) {
    console.log(
      `${r.size.padEnd(4)} ${r.precision.padEnd(12)} ${`${r.B}×${r.T}`.padEnd(9)} ${r.modelTokensPerSec.toFixed(0).padStart(11)} ${r.trainTokensPerSec.toFixed(0).padStart(12)} ` +
        `${r.ratio.toFixed(3).padStart(12)} ${r.medianRatio.toFixed(3).padStart(10)} ${r.adamwMs.toFixed(1).padStart(9)} ${r.clippedAdamwMs.toFixed(1).padStart(19)} ${String(r.steps).padStart(6)}`,
    );
  }
  console.log('target: train/model ≥ 0.9 (end-to-end: the whole training loop iteration, incl. data loading, clipping, AdamW, metrics and monitors every 10 steps)');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/train.json', JSON.stringify({ kernels: { name: kernels.name, isa: kernels.isa, threads: kernels.threads }, rows }, null, 2));
}

await main();
