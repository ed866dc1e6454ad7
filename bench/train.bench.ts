/**
 * Training benchmark (issue 5): end-to-end training tokens/s — the trainer's full step with data
 * loading, gradient clipping, AdamW, metrics records and monitors every 10 steps, no checkpoints
 * inside the timed steps — beside the model-only step (Model.forwardBackward + scaling updates on
 * a fixed batch) at sizes s and m, for bf16 and fp8-delayed, preset fog-xielu, 4096 tokens per
 * step. Target: end-to-end ≥ 0.9× model-only. End-to-end time is the sum of the trainer's
 * stepTimeMs (the first step, which builds the graph, excluded). Uses native kernels when they
 * load; with the reference backend only a reduced `tiny` configuration runs (labelled).
 * Writes bench/results/train.json.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_TRAIN_CONFIG, validateTrainConfig } from '../src/train/config.js';
import { resolveModelConfig } from '../src/model/config.js';
import { Model, type Batch } from '../src/model/model.js';
import { loadKernelBackend } from '../src/train/kernel-backend.js';
import { recipeOf, runTraining } from '../src/train/session.js';

interface Row {
  size: string;
  precision: string;
  B: number;
  T: number;
  modelTokensPerSec: number;
  trainTokensPerSec: number;
  ratio: number;
  trainSteps: number;
}

function fixedBatch(vocab: number, B: number, T: number): Batch {
  const inputs = new Int32Array(B * T).map((_, i) => ((i * 2654435761) >>> 0) % vocab);
  const targets = new Int32Array(B * T).map((_, i) => ((i * 40503 + 7) >>> 0) % vocab);
  return { inputs, targets, B, T };
}

async function main(): Promise<void> {
  const kernels = await loadKernelBackend('auto', null);
  const native = kernels.name === 'native';
  const sizes = native ? (['s', 'm'] as const) : (['tiny'] as const);
  const rows: Row[] = [];
  const tmp = mkdtempSync(join(tmpdir(), 'fog8-bench-train-'));
  try {
    for (const size of sizes) {
      const c = resolveModelConfig({ preset: 'fog-xielu', size });
      const T = c.seqLen;
      const B = native ? 4096 / T : 4;
      const vocab = size === 'tiny' ? 4096 : c.vocabSize;
      for (const precision of ['bf16', 'fp8-delayed'] as const) {
        const cfg = validateTrainConfig({
          ...DEFAULT_TRAIN_CONFIG, preset: 'fog-xielu', size, precision, data: 'brown', vocabSize: vocab, kernels: native ? 'native' : 'reference',
          steps: native ? (size === 's' ? 11 : 5) : 3, batch: B, seq: T, metricsInterval: 10, evalInterval: 0, evalBatches: 1, checkpointInterval: 0,
          runDir: join(tmp, `${size}-${precision}`), progress: 'none',
        });
        // Model-only: same shapes, same recipe, a fixed batch.
        const mc = resolveModelConfig({ preset: 'fog-xielu', size, vocabSize: vocab, seqLen: T });
        const model = new Model(mc, kernels, recipeOf(cfg), 1);
        const batch = fixedBatch(vocab, B, T);
        const times: number[] = [];
        for (let s = 0; s < (native ? 4 : 2); s++) {
          model.beginOptimizerStep();
          const t0 = performance.now();
          model.forwardBackward(batch, 1);
          model.scaling.updateForward();
          model.scaling.updateBackward();
          if (s > 0) times.push(performance.now() - t0);
        }
        times.sort((a, b) => a - b);
        const modelTokensPerSec = (B * T) / (times[Math.floor(times.length / 2)] / 1000);
        await runTraining({ config: cfg, loadKernels: async () => kernels });
        const steps = readFileSync(join(cfg.runDir as string, 'metrics.jsonl'), 'utf8')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as { type: string; stepTimeMs: number; step: number })
          .filter((r) => r.type === 'step' && r.step > 1);
        const ms = steps.reduce((a, r) => a + r.stepTimeMs, 0);
        const trainTokensPerSec = (steps.length * B * T) / (ms / 1000);
        rows.push({ size, precision, B, T, modelTokensPerSec, trainTokensPerSec, ratio: trainTokensPerSec / modelTokensPerSec, trainSteps: steps.length });
      }
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  console.log(`kernels: ${kernels.name} (${kernels.isa}, ${kernels.threads} threads); preset fog-xielu${native ? '' : ' — reference backend: reduced tiny configuration only'}`);
  console.log('size precision     B×T        model tok/s   train tok/s   train/model');
  for (const r of rows) {
    console.log(`${r.size.padEnd(4)} ${r.precision.padEnd(12)} ${`${r.B}×${r.T}`.padEnd(10)} ${r.modelTokensPerSec.toFixed(0).padStart(12)} ${r.trainTokensPerSec.toFixed(0).padStart(13)} ${r.ratio.toFixed(3).padStart(13)}`);
  }
  console.log('target: train/model ≥ 0.9 (end-to-end includes data loading, clipping, AdamW, metrics and monitors every 10 steps)');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/train.json', JSON.stringify({ kernels: { name: kernels.name, isa: kernels.isa, threads: kernels.threads }, rows }, null, 2));
}

await main();
