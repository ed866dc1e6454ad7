/**
 * Where a training step's time goes, per kernel: wraps every function of the native Kernels in a
 * timer and runs warm forward+backward steps of one preset/size/recipe. The time outside kernels
 * (TypeScript glue, allocation) is printed as "outside kernels".
 *   node --import tsx tools/profile-step.ts [preset] [size] [recipe] [steps]
 * CLOCK=cpu measures process CPU time (all threads together) instead of wall time: on a machine
 * shared with other work the wall figures swing, the CPU ones much less. BYSIZE=1 splits the
 * non-GEMM rows by their first argument's length (e.g. the 1 M- and 4.7 M-element quantize calls).
 */
import { loadNativeAddon } from '../src/kernels/native.js';
import { loadKernelBackend } from '../src/train/kernel-backend.js';
import type { Kernels } from '../src/kernels/types.js';
import { resolvePrecision } from '../src/numerics/recipe.js';
import { resolveModelConfig } from '../src/model/config.js';
import { Model, type Batch } from '../src/model/model.js';

const [preset = 'llama3', size = 's', recipeName = 'fp8-delayed', stepsArg = '4'] = process.argv.slice(2);
// As `fog8 train` loads them: the GEMM variant from the wisdom file (FOG8_TUNE=off: the built-in default).
const kernels = await loadKernelBackend('native', null);
const totals = new Map<string, { ms: number; calls: number; flops: number }>();
interface Operand { dtype: string; trans: boolean }
/** gemm M×N×K a-dtype(ᵀ)×b-dtype(ᵀ): one row per shape and layout. */
function gemmKey(args: unknown[]): string {
  const [M, N, K, a, b] = args as [number, number, number, Operand, Operand];
  return `gemm ${M}×${N}×${K} ${a.dtype}${a.trans ? 'ᵀ' : ''}×${b.dtype}${b.trans ? 'ᵀ' : ''}`;
}
let timing = false;
const cpuClock = process.env.CLOCK === 'cpu';
/** Milliseconds now: wall, or the process's CPU time. */
function now(): number {
  if (!cpuClock) return performance.now();
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}
const timed = new Proxy(kernels, {
  get(target, prop, receiver) {
    const v = Reflect.get(target, prop, receiver);
    if (typeof v !== 'function' || typeof prop !== 'string') return v;
    return (...args: unknown[]) => {
      if (!timing) return (v as (...a: unknown[]) => unknown).apply(target, args);
      const t0 = now();
      const r = (v as (...a: unknown[]) => unknown).apply(target, args);
      const key = prop === 'gemm' ? gemmKey(args) : (process.env.BYSIZE && (args[0] as {length?: number})?.length) ? `${prop} ${(args[0] as {length: number}).length}` : prop;
      const e = totals.get(key) ?? { ms: 0, calls: 0, flops: 0 };
      if (prop === 'gemm') e.flops += 2 * (args[0] as number) * (args[1] as number) * (args[2] as number);
      e.ms += now() - t0;
      e.calls++;
      totals.set(key, e);
      return r;
    };
  },
}) as Kernels;
const c = resolveModelConfig({ preset, size });
const T = c.seqLen, B = 4096 / T;
const model = new Model(c, timed, resolvePrecision(recipeName), 1);
const inputs = new Int32Array(B * T).map((_, i) => (i * 2654435761) % c.vocabSize >>> 0);
const targets = new Int32Array(B * T).map((_, i) => (i * 40503 + 7) % c.vocabSize >>> 0);
const batch: Batch = { inputs, targets, B, T };
model.beginOptimizerStep();
model.forwardBackward(batch, 1);
const steps = Number(stepsArg);
timing = true;
// One training step without the optimizer, as the model bench times it: the step's weight casts
// (beginOptimizerStep), forward+backward, and the delayed-scaling updates (timed apart).
let scalingMs = 0;
const t0 = now();
for (let s = 0; s < steps; s++) {
  model.beginOptimizerStep();
  model.forwardBackward(batch, 1);
  const u0 = now();
  model.scaling.updateForward();
  model.scaling.updateBackward();
  scalingMs += now() - u0;
}
const wall = (now() - t0) / steps;
totals.set('scaling updates (TypeScript)', { ms: scalingMs, calls: 2 * steps, flops: 0 });
let inKernels = 0;
const rows = [...totals].map(([k, e]) => ({ k, ms: e.ms / steps, calls: e.calls / steps, gflops: e.flops / e.ms / 1e6 })).sort((a, b) => b.ms - a.ms);
for (const r of rows) inKernels += r.ms;
const setup = `${kernels.threads} threads, GEMM variant ${loadNativeAddon().gemmVariant()}`;
console.log(cpuClock
  ? `${preset} ${size} ${recipeName}: ${wall.toFixed(1)} ms of CPU time (all threads) per step without the optimizer (${setup})`
  : `${preset} ${size} ${recipeName}: ${wall.toFixed(1)} ms per step without the optimizer (${(4096 / wall * 1000).toFixed(0)} tokens/s; ${setup})`);
for (const r of rows) console.log(`${r.k.padEnd(44)} ${r.ms.toFixed(1).padStart(8)} ms ${((100 * r.ms) / wall).toFixed(1).padStart(5)} %  ${r.calls.toFixed(0).padStart(5)} calls${r.gflops > 0 ? `  ${r.gflops.toFixed(0).padStart(4)} GFLOP/s` : ''}`);
console.log(`${'outside kernels'.padEnd(44)} ${(wall - inKernels).toFixed(1).padStart(8)} ms ${((100 * (wall - inKernels)) / wall).toFixed(1).padStart(5)} %`);
