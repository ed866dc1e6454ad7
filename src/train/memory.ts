/**
 * The memory plan of a training run, computed from the configs alone (nothing is allocated), so
 * a run at a size this machine cannot hold is refused before it allocates gigabytes. Parameters,
 * gradients and optimizer state are exact (they follow the parameter table and AdamW's layout);
 * activations are an estimate from the graph's buffer list and what each op saves for backward
 * (test/train/memory.test.ts holds it to the measured allocation).
 */
import { blockWidths, type ModelConfig } from '../model/config.js';
import { buildParamSpecs, shapeSize } from '../model/params.js';
import type { PrecisionRecipe } from '../numerics/recipe.js';
import { CHUNK_ELEMENTS } from '../ops/lm-head-loss.js';
import type { OptimizerPrecision } from '../optim/adamw.js';

export interface MemoryPlan {
  /** float32 parameter arena. */
  parameters: number;
  /** float32 gradient arena. */
  gradients: number;
  /** AdamW moments in their storage dtypes plus its per-tensor scratch (sized by the largest tensor). */
  optimizer: number;
  /** FP8/BF16 weight copies cast once per step. */
  weightCasts: number;
  /** Estimated: the graph's activation and gradient buffers, saved tensors and cast scratch for one micro-batch. */
  activations: number;
  total: number;
}

const BYTES: Readonly<Record<string, number>> = { fp32: 4, fp16: 2, bf16: 2, fp8: 1 };

/** Bytes per element of a GEMM operand stored under the recipe. */
function operandBytes(gemm: PrecisionRecipe['gemm']): number {
  return gemm === 'fp8' ? 1 : gemm === 'bf16' ? 2 : 4;
}

/**
 * Memory of a run: model config, recipe, micro-batch B × T and optimizer state precisions.
 * Bytes; `activations` is an estimate (graph.ts buffers + each op's saved tensors + scratch).
 */
export function planTrainingMemory(c: ModelConfig, recipe: PrecisionRecipe, B: number, T: number, optimizer: Pick<OptimizerPrecision, 'm1' | 'm2'>): MemoryPlan {
  const specs = buildParamSpecs(c);
  let n = 0;
  let largest = 0;
  let matrixElements = 0;
  for (const s of specs) {
    const k = shapeSize(s.shape);
    n += k;
    largest = Math.max(largest, k);
    if (s.shape.length === 2) matrixElements += k;
  }
  const parameters = 4 * n;
  const gradients = 4 * n;
  // Moments in their dtype; scratch: two float32 moment stages, one float32 stage, one 16-bit code buffer.
  const optimizerBytes = (BYTES[optimizer.m1] + BYTES[optimizer.m2]) * n + (3 * 4 + 2) * largest;
  const headElements = c.vocabSize * c.dModel;
  const headWide = recipe.gemm === 'fp8' && !recipe.fp8LmHead;
  const ob = operandBytes(recipe.gemm);
  // Each weight is cast once per step and kept (FP8: codes and a transposed copy for dgrad; BF16: one copy).
  const copies = recipe.gemm === 'fp8' ? 2 : 1;
  const weightCasts = recipe.gemm === 'fp32' ? 0 : copies * ((matrixElements - headElements) * ob + headElements * (headWide ? 2 : ob));

  const R = B * T;
  const { d, Wq, Wkv, F, F1 } = blockWidths(c);
  const qk = c.qkNorm !== 'none';
  const branchPost = c.postNorm || c.layerScale;
  // graph.ts: forward buffers shared by all layers, then their gradients (float32 per row).
  const forwardRow = d + (c.preNorm ? d : 0) + 2 * (Wq + 2 * Wkv) + (qk ? Wq + Wkv : 0) + Wq + d + (branchPost ? d : 0) + F1 + F + d + (branchPost ? d : 0) + (c.finalNorm ? d : 0);
  const backwardRow = 2 * d + 2 * (Wq + 2 * Wkv) + (qk ? Wq + Wkv : 0) + Wq + (branchPost ? 2 * d : 0) + (c.preNorm ? d : 0) + F1 + F + (c.mlp === 'smooth-swiglu' ? d : 0) + (c.finalNorm ? d : 0);
  // Saved per layer: the four linears' inputs in their operand dtype, attention's q/k/v/o and lse,
  // norm inputs (float32) where a norm or LayerScale sits on a shared buffer.
  const attnSaved = (recipe.gemm === 'fp8' && recipe.fp8Attention ? 1 : 4) * (2 * Wq + 2 * Wkv) + 4 * c.nHeads;
  const savedRow = ob * (d + Wq + d + F) + attnSaved + 4 * ((c.preNorm ? 2 * d : 0) + (branchPost ? 2 * d : 0) + (qk ? Wq + Wkv : 0)) + 4 * 4;
  const headRow = 4 * d; // the fused head keeps dx (R, d)
  // Cast scratch: the largest operand codes of one GEMM (input and gradient) plus the logits and dlogits chunks.
  const scratch = 2 * R * Math.max(F1, Wq + 2 * Wkv, d) * 4 + 2 * 4 * Math.min(CHUNK_ELEMENTS, R * c.vocabSize);
  const activations = R * (4 * (forwardRow + backwardRow) + c.nLayers * savedRow + headRow) + scratch;
  const total = parameters + gradients + optimizerBytes + weightCasts + activations;
  return { parameters, gradients, optimizer: optimizerBytes, weightCasts, activations, total };
}

/** "1.23 GiB" */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 10).toFixed(1)} KiB`;
}

/** One line: every part of the plan. */
export function describeMemoryPlan(p: MemoryPlan): string {
  return `parameters ${formatBytes(p.parameters)}, gradients ${formatBytes(p.gradients)}, optimizer ${formatBytes(p.optimizer)}, ` +
    `weight casts ${formatBytes(p.weightCasts)}, activations ≈${formatBytes(p.activations)}; total ≈${formatBytes(p.total)}`;
}
