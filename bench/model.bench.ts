/**
 * Model benchmark (issue 4 §7): fwd+bwd step time and tokens/s at sizes `s` and `m` for the fp32,
 * bf16 and fp8-delayed (FP8 attention on) recipes, and activation memory per step (bytes every op
 * keeps from forward to backward) per recipe, with ratios side by side. At `s` it also runs bf16
 * and fp8-delayed with float32 wide tensors (`activations: 'fp32'`) beside their BF16-wide presets
 * (issue 10: BF16-wide step ≤ 1.10× the fp32-wide one). Uses the native kernels
 * when they load; with the reference backend it runs a reduced token count per step (labelled),
 * since the TypeScript reference GEMM is far too slow for 4096-token steps. The recipes of a size run
 * interleaved (one step each per round) and each step's process CPU time is reported beside its wall
 * time: on the shared 2-core machine wall time swings with other processes' load, CPU time much less.
 * "step MiB" is every buffer a 4096-token training step holds, measured after the timed steps
 * (measureTrainingMemory: parameters, gradients, weight casts, activations with scratch, scaling
 * state, the addon's GEMM packing buffers — process-wide — and AdamW's state as planned, which is exact).
 * Writes bench/results/model.json. `BENCH_MODEL_SIZES=s npm run bench model` runs size s only.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { createReferenceKernels } from '../src/kernels/reference/index.js';
import type { Kernels } from '../src/kernels/types.js';
import { resolvePrecision, type PrecisionRecipe } from '../src/numerics/recipe.js';
import { resolveModelConfig } from '../src/model/config.js';
import { Model, type Batch } from '../src/model/model.js';
import { refuseEmulatedAddon } from './emulation-guard.js';
import { measureTrainingMemory, planTrainingMemory } from '../src/train/memory.js';

async function kernelsForBench(): Promise<Kernels> {
  try {
    const loader = '../src/kernels/index.js'; // not a literal: the loader may not exist yet
    const mod = (await import(loader)) as { loadKernels?: (which: string) => Kernels | Promise<Kernels> };
    if (mod.loadKernels) return await mod.loadKernels('native');
  } catch (err) {
    console.log(`native kernels unavailable (${(err as Error).message.split('\n')[0]}); using the reference backend`);
  }
  return createReferenceKernels();
}

const RECIPES: readonly PrecisionRecipe[] = ['fp32', 'bf16', 'fp8-delayed'].map((n) => resolvePrecision(n));
/** The fp32-wide twins run at `s` only: the BF16-wide preset vs the same GEMMs with float32 tensors between ops. */
const FP32_WIDE: readonly PrecisionRecipe[] = ['bf16', 'fp8-delayed'].map((base) => resolvePrecision({ base, activations: 'fp32' }));

interface Row {
  size: string;
  recipe: string;
  B: number;
  T: number;
  tokensPerStep: number;
  /** median wall time of the timed steps */
  msPerStep: number;
  /** fastest timed step (least disturbed by other processes) */
  minMsPerStep: number;
  /** median process CPU time (user + system, all threads) of the timed steps: the work done, nearly load-independent */
  cpuMsPerStep: number;
  /** cpuMsPerStep / msPerStep: close to the thread count on an idle machine, lower when cores are shared */
  cpuPerWall: number;
  tokensPerSec: number;
  activationMiB: number;
  /** every buffer a training step of this recipe holds (see the header), MiB; NaN when not timed */
  stepMiB: number;
  /** its activations part: tensors between ops, their gradients, saved tensors, scratch */
  heldActivationMiB: number;
  /** the addon's workspace (process-wide) */
  workspaceMiB: number;
}
const TOKENS_PER_STEP = 4096;

function batchFor(vocab: number, B: number, T: number, seed: number): Batch {
  const inputs = new Int32Array(B * T).map((_, i) => (i * 2654435761 + seed) % vocab >>> 0);
  const targets = new Int32Array(B * T).map((_, i) => (i * 40503 + seed * 7) % vocab >>> 0);
  return { inputs, targets, B, T };
}

async function main(): Promise<void> {
  refuseEmulatedAddon('model');
  const kernels = await kernelsForBench();
  const native = kernels.name === 'native';
  const rows: Row[] = [];
  // BENCH_MODEL_SIZES=s runs one size (the shared machine makes size m take many minutes)
  const sizes = (process.env.BENCH_MODEL_SIZES ?? 's,m').split(',').filter((x) => x !== '');
  for (const size of sizes) {
    const c = resolveModelConfig({ preset: 'llama3', size });
    const T = native ? c.seqLen : 32;
    const B = native ? TOKENS_PER_STEP / c.seqLen : 1;
    const recipes = size === 's' ? [...RECIPES, ...FP32_WIDE] : RECIPES;
    const steps = native ? (size === 's' ? 5 : 3) : 1; // timed rounds
    if (!native && size === 'm') {
      console.log('size m skipped with the reference backend (too slow); activation memory still reported');
    }
    // Recipes run interleaved, one step each per round, so a change in the machine's load (other
    // processes on the 2 shared cores) hits every recipe alike instead of whichever ran last.
    const models = recipes.map((recipe) => new Model(c, kernels, recipe, 1));
    const timed = native || size === 's';
    const batch = batchFor(c.vocabSize, B, T, 1);
    const wallMs: number[][] = recipes.map(() => []);
    const cpuMs: number[][] = recipes.map(() => []);
    if (timed) {
      for (const model of models) {
        model.beginOptimizerStep();
        model.forwardBackward(batch, 1); // warm-up: builds the graph and touches every buffer
      }
      for (let s = 0; s < steps; s++) {
        models.forEach((model, i) => {
          model.beginOptimizerStep();
          const cpu0 = process.cpuUsage();
          const t0 = performance.now();
          model.forwardBackward(batch, 1);
          model.scaling.updateForward();
          model.scaling.updateBackward();
          wallMs[i].push(performance.now() - t0);
          const cpu = process.cpuUsage(cpu0);
          cpuMs[i].push((cpu.user + cpu.system) / 1000);
        });
      }
    }
    const median = (xs: number[]): number => (xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
    for (const [i, { name: recipe }] of recipes.entries()) {
      const model = models[i];
      // Held by the B × T step just run (measured before activationBytes builds another graph).
      const held = measureTrainingMemory(model, { bytes: () => planTrainingMemory(c, recipes[i], B, T, { m1: 'fp32', m2: 'fp32' }).optimizer });
      // activation memory for the full 4096-token step: every saved buffer is linear in B at fixed T
      const memB1 = model.activationBytes(1, c.seqLen);
      const activationBytes = memB1 * (TOKENS_PER_STEP / c.seqLen);
      const msPerStep = median(wallMs[i]);
      const cpuMsPerStep = median(cpuMs[i]);
      const minMsPerStep = timed ? Math.min(...wallMs[i]) : NaN;
      rows.push({
        size, recipe, B, T, tokensPerStep: B * T, msPerStep, minMsPerStep, cpuMsPerStep, cpuPerWall: cpuMsPerStep / msPerStep,
        tokensPerSec: (B * T) / (msPerStep / 1000), activationMiB: activationBytes / 2 ** 20,
        stepMiB: timed ? held.total / 2 ** 20 : NaN, heldActivationMiB: timed ? held.activations / 2 ** 20 : NaN, workspaceMiB: held.workspace / 2 ** 20,
      });
    }
  }
  const table = rows.map((r) => {
    const base = rows.find((x) => x.size === r.size && x.recipe === 'bf16') as Row;
    const fp32 = rows.find((x) => x.size === r.size && x.recipe === 'fp32') as Row;
    return {
      ...r,
      stepVsBf16: r.msPerStep / base.msPerStep,
      cpuVsBf16: r.cpuMsPerStep / base.cpuMsPerStep,
      memVsFp32: r.activationMiB / fp32.activationMiB,
    };
  });
  console.log(`kernels: ${kernels.name} (${kernels.isa}, ${kernels.threads} threads); preset llama3`);
  console.log('size recipe                         tokens/step   ms/step  min ms  cpu ms  cpu/wall   tokens/s  step/bf16  cpu/bf16  act MiB (4096 tok)  act/fp32  step MiB (held: all)  of which act+scratch');
  for (const r of table) {
    const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '—');
    console.log(
      `${String(r.size).padEnd(4)} ${String(r.recipe).padEnd(30)} ${String(r.tokensPerStep).padStart(11)} ${f(r.msPerStep, 0).padStart(9)} ${f(r.minMsPerStep, 0).padStart(7)} ${f(r.cpuMsPerStep, 0).padStart(7)} ${f(r.cpuPerWall, 2).padStart(9)} ${f(r.tokensPerSec, 0).padStart(10)} ${f(r.stepVsBf16, 2).padStart(10)} ${f(r.cpuVsBf16, 2).padStart(9)} ${f(r.activationMiB).padStart(19)} ${f(r.memVsFp32, 2).padStart(9)} ${f(r.stepMiB).padStart(21)} ${f(r.heldActivationMiB).padStart(21)}`,
    );
  }
  // BF16 wide tensors vs float32 wide tensors, same GEMM recipe, same run (interleaved rounds)
  const wide = (sizes.includes('s') ? FP32_WIDE : []).map((twin) => {
    const base = twin.name.slice(0, twin.name.indexOf('('));
    const a = table.find((r) => r.size === 's' && r.recipe === base) as Row;
    const b = table.find((r) => r.size === 's' && r.recipe === twin.name) as Row;
    return { size: 's', bf16Wide: base, fp32Wide: twin.name, stepRatio: a.msPerStep / b.msPerStep, minRatio: a.minMsPerStep / b.minMsPerStep, cpuRatio: a.cpuMsPerStep / b.cpuMsPerStep };
  });
  console.log(`kernel workspace (GEMM packing buffers, RoPE table; process-wide, in step MiB): ${(rows.length ? rows[rows.length - 1].workspaceMiB : NaN).toFixed(1)} MiB`);
  console.log('BF16-wide vs fp32-wide (size s, same GEMMs):');
  for (const w of wide) {
    const f = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : '—');
    console.log(`  ${w.bf16Wide.padEnd(12)} / ${w.fp32Wide.padEnd(30)} step ${f(w.stepRatio)}  min ${f(w.minRatio)}  cpu ${f(w.cpuRatio)}`);
  }
  console.log('targets: FP8 step ≤ 1.10× BF16; BF16-wide step ≤ 1.10× fp32-wide; FP8 activation memory ≤ 0.5× fp32; tokens/s at s vs PyTorch bf16 9,737 (PEERS.md)');
  mkdirSync('bench/results', { recursive: true });
  writeFileSync('bench/results/model.json', JSON.stringify({ kernels: { name: kernels.name, isa: kernels.isa, threads: kernels.threads }, rows: table, wide }, null, 2));
}

await main();
