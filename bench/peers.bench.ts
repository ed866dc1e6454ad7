/**
 * Peer benchmark: fog8's full training step (forward + backward + AdamW) beside PyTorch's at the
 * PEERS.md shapes S (and M with FOG8_BENCH_M=1), measured side by side in one process run on this
 * machine, so the ratios do not depend on the machine the PEERS.md figures came from.
 *
 * fog8: native kernels, 2 threads, preset llama3 in recipes fp32, bf16 and fp8-delayed, and
 * fog-xielu in fp8-delayed (FP8 attention on); one step = beginOptimizerStep, zeroGrads, forwardBackward, scaling updates,
 * AdamW (fp32 state). PyTorch: bench/peers/pytorch_step.py (same architecture, AdamW, 2 threads)
 * in float32 and in bf16 autocast, one python3 process per measurement. Repetitions are
 * interleaved (every configuration once per repetition, order rotated); the median is reported.
 * Both frameworks follow one protocol per repetition: one untimed warm-up step, then one timed
 * step (PyTorch's --warmup 1 --steps 1; a fog8 trainer, whose buffers the other configurations'
 * steps have evicted from the caches meanwhile, likewise steps once untimed first).
 *
 * Environment: FOG8_BENCH_M=1 adds shape M (minutes per step); FOG8_PEER_REPS (default 3);
 * FOG8_PEER_PYTHON (default: the first of python3, /usr/bin/python3 that imports torch);
 * FOG8_PEER_BLAS_DIR (a directory holding libblas.so.3, prepended to LD_LIBRARY_PATH for PyTorch,
 * e.g. OpenBLAS's; default: Debian's openblas-pthread directory when it exists);
 * FOG8_PEER_TORCH_MODES (default "fp32,bf16": which PyTorch modes run, e.g. "bf16" for the
 * headline comparison only);
 * FOG8_PEER_SLOW_BF16=1 runs PyTorch bf16 autocast at every repetition and shape even on CPUs
 * without AVX512_BF16, where PyTorch 1.13 has no fast bf16 GEMM (by default it then runs once,
 * at S only). PyTorch rows are skipped with a message when torch is not importable.
 * Writes bench/results/peers.json.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../src/kernels/types.js';
import { resolveModelConfig, type ModelConfig } from '../src/model/config.js';
import { flopsPerToken, Model, type Batch } from '../src/model/model.js';
import { resolvePrecision } from '../src/numerics/recipe.js';
import { AdamW, DEFAULT_ADAMW, FP32_OPTIMIZER_PRECISION } from '../src/optim/adamw.js';
import { loadKernelBackend } from '../src/train/kernel-backend.js';
import { loadNativeAddon } from '../src/kernels/native.js';
import { optimizedTensors } from '../src/train/session.js';
import { refuseEmulatedAddon } from './emulation-guard.js';

const THREADS = 2;
const TOKENS_PER_STEP = 4096;
const LR = 3e-4;
/** fog8 configurations: llama3 in every recipe, and FOG's own architecture in FP8. */
const FOG8_CONFIGS: { preset: 'llama3' | 'fog-xielu'; recipe: string; mode: string }[] = [
  { preset: 'llama3', recipe: 'fp32', mode: 'fp32' },
  { preset: 'llama3', recipe: 'bf16', mode: 'bf16' },
  { preset: 'llama3', recipe: 'fp8-delayed', mode: 'fp8-delayed' },
  { preset: 'fog-xielu', recipe: 'fp8-delayed', mode: 'fog-xielu fp8-delayed' },
];
const TORCH_MODES = ['fp32', 'bf16'] as const;
type TorchMode = (typeof TORCH_MODES)[number];
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'peers', 'pytorch_step.py');
const DEBIAN_OPENBLAS_DIR = '/usr/lib/x86_64-linux-gnu/openblas-pthread';
// PEERS.md, 2-core Zen 5 with AVX-512 (another machine: context only, never used in a ratio).
const PEERS_MD_TOKENS_PER_SEC: Record<string, Record<string, number>> = {
  S: { 'pytorch fp32': 6034, 'pytorch bf16': 9737 },
  M: { 'pytorch fp32': 876, 'pytorch bf16': 1441 },
};

type Shape = 'S' | 'M';
type Framework = 'fog8' | 'pytorch';

interface Measurement {
  framework: Framework;
  /** Model preset (PyTorch runs llama3). */
  preset: string;
  shape: Shape;
  mode: string;
  /** tokens/s of each repetition that ran. */
  repsTokensPerSec: number[];
  note?: string;
}

interface TorchPeer {
  python: string;
  env: NodeJS.ProcessEnv;
}

interface TorchResult {
  tokensPerSec: number;
  stepMs: number;
  torch: string;
  blas: string;
  sdpa: boolean;
  threads: number;
}

function envInt(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer ≥ ${min}, got '${raw}'`);
  return v;
}

function cpuFlags(): Set<string> {
  try {
    const line = readFileSync('/proc/cpuinfo', 'utf8').split('\n').find((l) => l.startsWith('flags'));
    return new Set(line ? line.split(':')[1].trim().split(/\s+/) : []);
  } catch {
    return new Set();
  }
}

function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** The Python that imports torch, with the environment PyTorch runs in; null (and why) if none. */
function findTorch(): { peer: TorchPeer; version: string } | { reason: string } {
  const env: NodeJS.ProcessEnv = { ...process.env, OMP_NUM_THREADS: String(THREADS), OPENBLAS_NUM_THREADS: String(THREADS) };
  const blasDir = process.env.FOG8_PEER_BLAS_DIR || (existsSync(join(DEBIAN_OPENBLAS_DIR, 'libblas.so.3')) ? DEBIAN_OPENBLAS_DIR : '');
  if (blasDir) env.LD_LIBRARY_PATH = env.LD_LIBRARY_PATH ? `${blasDir}:${env.LD_LIBRARY_PATH}` : blasDir;
  const candidates = process.env.FOG8_PEER_PYTHON ? [process.env.FOG8_PEER_PYTHON] : ['python3', '/usr/bin/python3'];
  const failures: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { env, encoding: 'utf8', timeout: 60_000 });
    if (r.status === 0) return { peer: { python, env }, version: r.stdout.trim() };
    failures.push(`${python}: ${r.error ? r.error.message : (r.stderr || '').trim().split('\n').pop()}`);
  }
  return { reason: failures.join('; ') };
}

function runTorch(peer: TorchPeer, shape: Shape, mode: string, warmup: number, steps: number): TorchResult {
  const args = [SCRIPT, '--shape', shape, '--mode', mode, '--warmup', String(warmup), '--steps', String(steps), '--threads', String(THREADS)];
  const r = spawnSync(peer.python, args, { env: peer.env, encoding: 'utf8', timeout: 1_800_000 });
  if (r.status !== 0) {
    const why = r.error ? r.error.message : `exit ${r.status}${r.signal ? ` (${r.signal})` : ''}: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`;
    throw new Error(`pytorch_step.py --shape ${shape} --mode ${mode} failed: ${why}`);
  }
  const line = r.stdout.trim().split('\n').pop() as string;
  return JSON.parse(line) as TorchResult;
}

function syntheticBatch(vocab: number, B: number, T: number): Batch {
  const inputs = new Int32Array(B * T).map((_, i) => ((i * 2654435761) >>> 0) % vocab);
  const targets = new Int32Array(B * T).map((_, i) => ((i * 40503 + 7) >>> 0) % vocab);
  return { inputs, targets, B, T };
}

/** A fog8 model, its fp32 AdamW and a fixed batch, ready for timed training steps. */
class Fog8Trainer {
  readonly model: Model;
  private readonly optimizer: AdamW;
  private readonly batch: Batch;

  constructor(config: ModelConfig, kernels: Kernels, recipe: string) {
    this.model = new Model(config, kernels, resolvePrecision(recipe), 1);
    this.optimizer = new AdamW(optimizedTensors(this.model), kernels, DEFAULT_ADAMW, FP32_OPTIMIZER_PRECISION);
    this.optimizer.roundMaster(this.model.params.data);
    this.batch = syntheticBatch(config.vocabSize, TOKENS_PER_STEP / config.seqLen, config.seqLen);
  }

  /** One full training step; returns its wall time in ms. */
  step(): number {
    const t0 = performance.now();
    const m = this.model;
    m.beginOptimizerStep();
    m.zeroGrads();
    m.forwardBackward(this.batch, 1);
    m.scaling.updateForward();
    m.scaling.updateBackward();
    this.optimizer.roundGrads(m.grads.data);
    this.optimizer.step(m.params.data, m.grads.data, LR);
    return performance.now() - t0;
  }
}

async function main(): Promise<void> {
  refuseEmulatedAddon('peers');
  const t0 = performance.now();
  const reps = envInt('FOG8_PEER_REPS', 3, 1);
  const torchModes = (process.env.FOG8_PEER_TORCH_MODES || TORCH_MODES.join(',')).split(',').map((m) => m.trim()) as TorchMode[];
  for (const m of torchModes) {
    if (!(TORCH_MODES as readonly string[]).includes(m)) throw new RangeError(`FOG8_PEER_TORCH_MODES: '${m}' is not one of ${TORCH_MODES.join(', ')}`);
  }
  const shapes: Shape[] = process.env.FOG8_BENCH_M === '1' ? ['S', 'M'] : ['S'];
  const flags = cpuFlags();
  const fastTorchBf16 = flags.has('avx512_bf16');
  const slowBf16Anyway = process.env.FOG8_PEER_SLOW_BF16 === '1';
  const loadStart = loadavg()[0];

  const kernels = await loadKernelBackend('native', THREADS);
  const gemmVariant = loadNativeAddon().gemmVariant();
  const torchFound = findTorch();
  const peer = 'peer' in torchFound ? torchFound.peer : null;
  if (!peer) console.log(`PyTorch rows skipped: torch is not importable (${(torchFound as { reason: string }).reason}); install Debian's python3-torch or set FOG8_PEER_PYTHON`);
  if (peer && !fastTorchBf16 && !slowBf16Anyway) {
    console.log('note: this CPU lacks AVX512_BF16, so PyTorch 1.13 bf16 autocast has no fast GEMM here (oneDNN bf16 needs AVX-512); it runs once (1 step, no warm-up) at S only. FOG8_PEER_SLOW_BF16=1 runs it everywhere.');
  }

  const measurements: Measurement[] = [];
  let torchInfo: Omit<TorchResult, 'tokensPerSec' | 'stepMs'> | null = null;
  for (const shape of shapes) {
    const size = shape === 'S' ? 's' : 'm';
    const trainers = FOG8_CONFIGS.map((c) => ({ ...c, trainer: new Fog8Trainer(resolveModelConfig({ preset: c.preset, size }), kernels, c.recipe) }));
    for (const { trainer } of trainers) trainer.step(); // warm-up: builds the graph, touches every buffer
    type Job = { m: Measurement; run: (rep: number) => number | null };
    const skipped: Measurement[] = [];
    const jobs: Job[] = trainers.map(({ preset, mode, trainer }) => {
      const m: Measurement = { framework: 'fog8', preset, shape, mode, repsTokensPerSec: [] };
      // the PyTorch script's protocol: one untimed warm-up step, then the timed one
      return { m, run: () => (trainer.step(), TOKENS_PER_STEP / (trainer.step() / 1000)) };
    });
    if (peer) {
      for (const mode of torchModes) {
        const m: Measurement = { framework: 'pytorch', preset: 'llama3', shape, mode: mode === 'bf16' ? 'bf16-autocast' : mode, repsTokensPerSec: [] };
        const slow = mode === 'bf16' && !fastTorchBf16 && !slowBf16Anyway;
        if (slow && shape === 'M') {
          m.note = 'skipped: no AVX512_BF16 (one step would take ~15 min); FOG8_PEER_SLOW_BF16=1 to run';
          skipped.push(m);
          continue;
        }
        const onlyRep = slow ? Math.floor((reps - 1) / 2) : -1; // the middle repetition
        if (slow) m.note = 'no AVX512_BF16: 1 repetition of 1 step, no warm-up';
        jobs.push({
          m,
          run: (rep) => {
            if (onlyRep >= 0 && rep !== onlyRep) return null;
            const r = runTorch(peer, shape, mode, slow ? 0 : 1, 1);
            const { tokensPerSec: _t, stepMs: _s, ...info } = r;
            torchInfo = info;
            return r.tokensPerSec;
          },
        });
      }
    }
    for (let rep = 0; rep < reps; rep++) {
      for (let j = 0; j < jobs.length; j++) {
        const job = jobs[(j + rep) % jobs.length]; // rotate the order so no configuration always runs first
        try {
          const tps = job.run(rep);
          if (tps !== null) job.m.repsTokensPerSec.push(tps);
        } catch (err) {
          job.m.note = (err as Error).message;
          console.log(job.m.note);
        }
        process.stdout.write(`\r${shape} repetition ${rep + 1}/${reps}: ${j + 1}/${jobs.length} done `);
      }
    }
    process.stdout.write('\n');
    measurements.push(...jobs.map((j) => j.m), ...skipped);
  }

  const rows = measurements.map((m) => {
    const config = resolveModelConfig({ preset: m.preset, size: m.shape === 'S' ? 's' : 'm' });
    const tokensPerSec = median(m.repsTokensPerSec);
    return {
      framework: m.framework,
      preset: m.preset,
      shape: m.shape,
      mode: m.mode,
      tokensPerSec,
      stepMs: (TOKENS_PER_STEP / tokensPerSec) * 1000,
      // model FLOPs (fog8's accounting, same for both frameworks) per second
      gflops: (tokensPerSec * flopsPerToken(config)) / 1e9,
      repsTokensPerSec: m.repsTokensPerSec,
      ...(m.note ? { note: m.note } : {}),
    };
  });
  const find = (f: Framework, shape: Shape, mode: string) => rows.find((r) => r.framework === f && r.shape === shape && r.mode === mode);
  const ratios = shapes.flatMap((shape) => {
    const torchBest = rows.filter((r) => r.framework === 'pytorch' && r.shape === shape && Number.isFinite(r.tokensPerSec)).sort((a, b) => b.tokensPerSec - a.tokensPerSec)[0];
    const pairs: [string, string, string][] = [
      ['fp8-delayed', 'bf16-autocast', 'headline (the issue-4 target)'],
      ['fog-xielu fp8-delayed', 'bf16-autocast', 'FOG architecture in FP8 vs PyTorch llama3 bf16'],
      ['bf16', 'bf16-autocast', ''],
      ['fp32', 'fp32', 'like for like'],
      ...(torchBest ? ([['fp8-delayed', torchBest.mode, 'vs the fastest PyTorch mode on this machine']] as [string, string, string][]) : []),
    ];
    return pairs.map(([fog8Mode, torchMode, meaning]) => ({
      shape,
      fog8: fog8Mode,
      pytorch: torchMode,
      ratio: (find('fog8', shape, fog8Mode)?.tokensPerSec ?? NaN) / (find('pytorch', shape, torchMode)?.tokensPerSec ?? NaN),
      meaning,
    }));
  });

  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const loadEnd = loadavg()[0];
  const info = torchInfo as Omit<TorchResult, 'tokensPerSec' | 'stepMs'> | null;
  console.log(`machine: ${cpus()[0]?.model ?? 'unknown'}, ${cpus().length} CPUs, AVX-512F ${flags.has('avx512f') ? 'yes' : 'no'}, AVX512_BF16 ${fastTorchBf16 ? 'yes' : 'no'}; load average ${loadStart.toFixed(2)} → ${loadEnd.toFixed(2)}`);
  console.log(`fog8: ${kernels.name} kernels (${kernels.isa}, ${kernels.threads} threads, GEMM variant ${gemmVariant}), presets llama3 and fog-xielu, fp32 AdamW`);
  console.log(`ISA: fog8 ${kernels.isa}; PyTorch bf16 autocast ${fastTorchBf16 ? 'oneDNN AVX512_BF16 path' : 'NO fast bf16 path on this CPU (no AVX512_BF16)'}`);
  console.log(peer && info ? `pytorch: ${info.torch} via ${peer.python}, ${info.threads} threads, BLAS ${info.blas}, SDPA ${info.sdpa ? 'yes' : 'no (explicit attention)'}` : 'pytorch: not measured');
  if (info && !/openblas|mkl|blis/i.test(info.blas)) {
    console.log(`note: PyTorch float32 ran on ${info.blas}, not an optimised BLAS (PEERS.md's "stock Debian BLAS" row); Debian's libopenblas0-pthread (or FOG8_PEER_BLAS_DIR) gives the tuned figure`);
  }
  console.log(`median of ${reps} interleaved repetitions, ${TOKENS_PER_STEP} tokens per step`);
  console.log('shape framework mode            tokens/s    ms/step  GFLOP/s  repetitions (tokens/s)');
  for (const r of rows) {
    console.log(
      `${r.shape.padEnd(5)} ${r.framework.padEnd(9)} ${r.mode.padEnd(14)} ${f(r.tokensPerSec).padStart(9)} ${f(r.stepMs).padStart(10)} ${f(r.gflops, 1).padStart(8)}  ${r.repsTokensPerSec.map((x) => f(x)).join(', ')}${r.note ? `  (${r.note})` : ''}`,
    );
  }
  console.log('ratios fog8 / PyTorch (tokens/s, same machine, same run):');
  for (const q of ratios) console.log(`${q.shape.padEnd(5)} fog8 ${q.fog8.padEnd(12)} / pytorch ${q.pytorch.padEnd(14)} ${f(q.ratio, 3).padStart(7)}  ${q.meaning}`);
  console.log('PEERS.md figures (other machine, Zen 5 with AVX-512; context only): S fp32 6,034, S bf16 9,737, M fp32 876, M bf16 1,441 tokens/s');
  console.log(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);

  mkdirSync('bench/results', { recursive: true });
  writeFileSync(
    'bench/results/peers.json',
    JSON.stringify(
      {
        machine: { cpu: cpus()[0]?.model ?? 'unknown', cpus: cpus().length, avx512f: flags.has('avx512f'), avx512bf16: fastTorchBf16, loadAverageStart: loadStart, loadAverageEnd: loadEnd },
        fog8: { kernels: kernels.name, isa: kernels.isa, threads: kernels.threads, gemmVariant, presets: ['llama3', 'fog-xielu'], optimizer: 'AdamW fp32 state' },
        pytorchBf16FastPath: fastTorchBf16 ? 'oneDNN bf16 (CPU has AVX512_BF16)' : 'none: CPU lacks AVX512_BF16',
        pytorch: peer && info ? { python: peer.python, ...info } : null,
        repetitions: reps,
        tokensPerStep: TOKENS_PER_STEP,
        rows,
        ratios,
        peersMdOtherMachine: PEERS_MD_TOKENS_PER_SEC,
      },
      null,
      2,
    ),
  );
}

await main();
