/**
 * Data-parallel benchmark (issue 13): training tokens/s of 1 process × 2 threads against
 * `mpirun -np 2` × 1 thread on this machine, at size s (fog-xielu, fp8-delayed with FP8
 * attention), and the communication share of a rank-0 step (gradient sum + step exchange, which
 * includes waiting for the slower rank). Target: 2 ranks ≥ 0.9× one process.
 *
 * Both run the same global batch as 2 micro-batches, so they compute the same function; the
 * final weights are compared and must be bit-identical. Runs alternate A, B, A, B (machine
 * contention hits both alike); tokens/s = tokens / summed step time over the steps after the
 * first two (graph building, first casts). Needs `npm run build` (the CLI runs dist/), mpirun and
 * the MPI addon. Writes bench/results/distributed.json.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { IndexedDatasetWriter } from '../src/data/indexed-dataset-writer.js';
import { TOKEN_DTYPES } from '../src/data/indexed-dataset-format.js';
import { resolveModelConfig } from '../src/model/config.js';
import { mpiAvailable } from '../src/train/distributed.js';

const size = process.argv.includes('--size') ? process.argv[process.argv.indexOf('--size') + 1] : 's';
const steps = 12;
const warm = 2;
const batch = 8;
const seq = 256;

if (spawnSync('mpirun', ['--version']).status !== 0 || !mpiAvailable()) {
  console.error('distributed bench: needs mpirun and the MPI addon (Debian openmpi-bin libopenmpi-dev, then npm run build); skipped');
  process.exit(0);
}

const dir = mkdtempSync(join(tmpdir(), 'fog8-bench-dp-'));
try {
  // Random tokens over the size's vocabulary: the speed does not depend on what is learned.
  const vocab = resolveModelConfig({ preset: 'fog-xielu', size }).vocabSize;
  const prefix = join(dir, 'random');
  const w = new IndexedDatasetWriter(prefix, TOKEN_DTYPES.uint16);
  let s = 1;
  for (let d = 0; d < 400; d++) {
    const doc: number[] = [];
    for (let i = 0; i < 300; i++) doc.push((s = (s * 1103515245 + 12345) >>> 0) % (vocab - 1));
    doc.push(vocab - 1);
    w.addDocument(doc);
  }
  w.finish();

  const flags = (runDir: string, threads: number): string[] =>
    ['train', '--size', size, '--data', prefix, '--vocab-size', String(vocab), '--precision', 'fp8-delayed', '--fp8-attention', 'true', '--steps', String(steps),
      '--batch', String(batch), '--micro-batches', '2', '--seq', String(seq), '--threads', String(threads), '--eval-interval', '0', '--checkpoint-interval', '0',
      '--metrics-interval', '1000', '--progress', 'none', '--kernels', 'native', '--run-dir', runDir];
  const fog8 = [process.execPath, resolve('bin/fog8.js')];

  interface Run { tokensPerSec: number; commShare: number | null; weights: Buffer }
  const measure = (runDir: string): Omit<Run, 'weights'> => {
    const recs = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((r) => r.type === 'step').slice(warm);
    const ms = recs.reduce((a: number, r: { stepTimeMs: number }) => a + r.stepTimeMs, 0);
    const log = readFileSync(join(runDir, 'train.log'), 'utf8');
    const m = /communication: ([\d.]+)% of step time/.exec(log);
    return { tokensPerSec: (recs.length * batch * seq) / (ms / 1000), commShare: m ? Number(m[1]) / 100 : null };
  };
  const one = (i: number): Run => {
    const runDir = join(dir, `single-${i}`);
    const r = spawnSync(fog8[0], [fog8[1], ...flags(runDir, 2)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`1 process failed: ${r.stderr}`);
    return { ...measure(runDir), weights: readFileSync(join(runDir, 'checkpoints', `step-${steps}`, 'model.safetensors')) };
  };
  const two = (i: number): Run => {
    const runDir = join(dir, `ranks-${i}`);
    const r = spawnSync('mpirun', ['--allow-run-as-root', '--oversubscribe', '--bind-to', 'none', '-np', '2', ...fog8, ...flags(runDir, 1)], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`2 ranks failed: ${r.stdout}\n${r.stderr}`);
    return { ...measure(runDir), weights: readFileSync(join(runDir, 'checkpoints', `step-${steps}`, 'model.safetensors')) };
  };
  const singles: Run[] = [];
  const ranks: Run[] = [];
  for (let round = 0; round < 2; round++) {
    singles.push(one(round));
    ranks.push(two(round));
  }
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const single = mean(singles.map((r) => r.tokensPerSec));
  const dp = mean(ranks.map((r) => r.tokensPerSec));
  const comm = mean(ranks.map((r) => r.commShare ?? NaN));
  const identical = singles.every((s) => ranks.every((r) => r.weights.equals(s.weights)));
  const row = {
    size, precision: 'fp8-delayed', fp8Attention: true, batch, seq, microBatches: 2, steps, timedSteps: steps - warm,
    singleProcess2Threads: { tokensPerSec: single, runs: singles.map((r) => r.tokensPerSec) },
    twoRanks1Thread: { tokensPerSec: dp, runs: ranks.map((r) => r.tokensPerSec), communicationShare: comm },
    ratio: dp / single, target: 0.9, bitIdenticalWeights: identical,
  };
  console.log(`size ${size}, ${batch}×${seq} tokens per step as 2 micro-batches, fp8-delayed + FP8 attention, ${steps - warm} timed steps, 2 rounds interleaved`);
  console.log(`  1 process × 2 threads : ${single.toFixed(0)} tokens/s (${singles.map((r) => r.tokensPerSec.toFixed(0)).join(', ')})`);
  console.log(`  2 ranks × 1 thread    : ${dp.toFixed(0)} tokens/s (${ranks.map((r) => r.tokensPerSec.toFixed(0)).join(', ')}); communication ${(100 * comm).toFixed(1)}% of a rank-0 step`);
  console.log(`  ratio ${row.ratio.toFixed(3)} (target ≥ 0.9); final weights bit-identical: ${identical}`);
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/distributed.json', JSON.stringify(row, null, 2) + '\n');
} finally {
  rmSync(dir, { recursive: true, force: true });
}
