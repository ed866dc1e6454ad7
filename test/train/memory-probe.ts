/**
 * Child process of memory.test.ts (run with --expose-gc): builds a model, its optimizer and one
 * training step for CASE = [preset, size, precision, B, T], and prints the measured ArrayBuffer
 * bytes of each part next to planTrainingMemory's figures as JSON.
 */
import { loadKernels } from '../../src/kernels/index.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { Model } from '../../src/model/model.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { AdamW } from '../../src/optim/adamw.js';
import { optimizedTensors } from '../../src/train/session.js';
import { planTrainingMemory } from '../../src/train/memory.js';

declare const gc: () => void;
const used = (): number => {
  gc();
  return process.memoryUsage().arrayBuffers;
};
const [preset, size, precision, B, T] = JSON.parse(process.env.FOG8_MEMORY_CASE ?? '') as [string, string, string, number, number];
const kernels = loadKernels();
const c = resolveModelConfig({ preset, size, seqLen: T });
const recipe = resolvePrecision(precision);
const a0 = used();
const model = new Model(c, kernels, recipe, 1);
const a1 = used();
const optimizer = new AdamW(optimizedTensors(model), kernels);
const a2 = used();
const inputs = new Int32Array(B * T).fill(3);
const targets = new Int32Array(B * T).fill(5);
model.beginOptimizerStep();
model.forwardBackward({ inputs, targets, B, T }, 1);
const a3 = used();
const plan = planTrainingMemory(c, recipe, B, T, { m1: 'fp32', m2: 'fp32' });
console.log(JSON.stringify({ measured: { arenas: a1 - a0, optimizer: a2 - a1, step: a3 - a2 }, plan, keep: [model.params.size, optimizer.size] }));
