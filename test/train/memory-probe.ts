/**
 * Child process of memory.test.ts (run with --expose-gc): builds a model, its optimizer and one
 * training step for CASE = [preset, size, precision, B, T, recomputeMlp?], and prints the measured ArrayBuffer
 * bytes of each part next to planTrainingMemory's figures and measureTrainingMemory's, as JSON.
 */
import { loadKernels } from '../../src/kernels/index.js';
import { resolveModelConfig } from '../../src/model/config.js';
import { Model } from '../../src/model/model.js';
import { resolvePrecision } from '../../src/numerics/recipe.js';
import { AdamW } from '../../src/optim/adamw.js';
import { optimizedTensors } from '../../src/train/session.js';
import { measureTrainingMemory, planTrainingMemory } from '../../src/train/memory.js';

declare const gc: () => void;
const used = (): number => {
  // V8 frees ArrayBuffer backing stores on a background sweeper; the second collection waits for
  // the first one's sweep, so the count no longer lags behind the garbage.
  gc();
  gc();
  return process.memoryUsage().arrayBuffers;
};
const [preset, size, precision, B, T, recomputeMlp = false] = JSON.parse(process.env.FOG8_MEMORY_CASE ?? '') as [string, string, string, number, number, boolean?];
const kernels = loadKernels();
const c = resolveModelConfig({ preset, size, seqLen: T });
const recipe = resolvePrecision(precision);
const inputs = new Int32Array(B * T).fill(3);
const targets = new Int32Array(B * T).fill(5);
// A first step of a throwaway model loads everything allocated once per process (the addon's RoPE
// frequency table on the TS side, module state), so that the deltas below are this model's alone.
const warm = new Model(c, kernels, recipe, 2, { recomputeMlp }); // kept alive to the end: freeing it would lag the counts below
warm.forwardBackward({ inputs, targets, B, T }, 1);
const a0 = used();
const model = new Model(c, kernels, recipe, 1, { recomputeMlp });
const a1 = used();
const optimizer = new AdamW(optimizedTensors(model), kernels);
const a2 = used();
model.beginOptimizerStep();
model.forwardBackward({ inputs, targets, B, T }, 1);
const a3 = used();
model.beginOptimizerStep();
model.forwardBackward({ inputs, targets, B, T }, 1); // a second step holds no more
const a4 = used();
const plan = planTrainingMemory(c, recipe, B, T, { m1: 'fp32', m2: 'fp32' }, { recomputeMlp });
const figure = measureTrainingMemory(model, optimizer);
console.log(JSON.stringify({ measured: { arenas: a1 - a0, optimizer: a2 - a1, step: a3 - a2, all: a3 - a0, secondStep: a4 - a3 }, plan, figure, keep: [model.params.size, optimizer.size, warm.params.size] }));
