/**
 * The memory plan of a training run, computed from the configs alone (nothing is allocated), so
 * a run at a size this machine cannot hold is refused before it allocates gigabytes. Parameters,
 * gradients and optimizer state are exact (they follow the parameter table and AdamW's layout);
 * activations are an estimate from the graph's buffer list and what each op saves for backward
 * (test/train/memory.test.ts holds it to the measured allocation).
 *
 * measureTrainingMemory is the same figure taken from the buffers a model and its optimizer
 * actually hold (every op allocates through OpContext, which counts): what `fog8 train` prints after
 * its first step next to the plan, and what the model benchmark reports as a step's memory.
 */
import { blockWidths, type ModelConfig } from '../model/config.js';
import { buildParamSpecs, shapeSize } from '../model/params.js';
import { isRoundedBf16 } from '../model/activation-table.js';
import type { PrecisionRecipe } from '../numerics/recipe.js';
import { CHUNK_ELEMENTS } from '../ops/lm-head-loss.js';
import type { AdamW, OptimizerPrecision } from '../optim/adamw.js';
import type { Model } from '../model/model.js';

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
  /** FP8 scaling state: one amax history (float32) per scaled operand. */
  scaling: number;
  /** Estimated: what the native kernels hold between calls (GEMM packing buffers, RoPE table). */
  workspace: number;
  total: number;
}

/** The same parts as MemoryPlan, measured from the buffers held; `scratch` is the part of `activations` that is growable scratch. */
export interface MeasuredMemory extends MemoryPlan {
  scratch: number;
}

/** Every buffer a model (all graphs built so far) and its optimizer hold now; run one step first (scratch grows on first use). */
export function measureTrainingMemory(model: Pick<Model, 'memory'>, optimizer: Pick<AdamW, 'bytes'> | null): MeasuredMemory {
  const m = model.memory();
  const optimizerBytes = optimizer ? optimizer.bytes() : 0;
  const activations = m.activations + m.scratch;
  const total = m.parameters + m.gradients + optimizerBytes + m.weightCasts + activations + m.scaling + m.kernelWorkspace;
  return {
    parameters: m.parameters, gradients: m.gradients, optimizer: optimizerBytes, weightCasts: m.weightCasts,
    activations, scaling: m.scaling, workspace: m.kernelWorkspace, total, scratch: m.scratch,
  };
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
export function planTrainingMemory(
  c: ModelConfig, recipe: PrecisionRecipe, B: number, T: number, optimizer: Pick<OptimizerPrecision, 'm1' | 'm2'>,
  options: { recomputeMlp?: boolean } = {},
): MemoryPlan {
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
  // Each weight is cast once per step and kept (one copy: FP8 codes or BF16 bits; dgrad reads it transposed).
  // The embedding table is never cast (untied: a matrix of its own; tied: it is the head).
  const castElements = matrixElements - headElements - (c.tieEmbeddings ? 0 : headElements);
  const weightCasts = recipe.gemm === 'fp32' ? 0 : castElements * ob + headElements * (headWide ? 2 : ob);

  const R = B * T;
  const { d, Wq, Wkv, F, F1 } = blockWidths(c);
  const qk = c.qkNorm !== 'none';
  const branchPost = c.postNorm || c.layerScale;
  // graph.ts: forward buffers shared by all layers, then their gradients (float32 per row); q, k, v
  // and their gradients are views of the QKV projection's planar output and its gradient.
  const forwardRow = d + (c.preNorm ? d : 0) + (Wq + 2 * Wkv) + (qk ? Wq + Wkv : 0) + Wq + d + (branchPost ? d : 0) + F1 + F + d + (branchPost ? d : 0) + (c.finalNorm ? d : 0);
  const backwardRow = 2 * d + (Wq + 2 * Wkv) + (qk ? Wq + Wkv : 0) + Wq + (branchPost ? 2 * d : 0) + (c.preNorm ? d : 0) + F1 + F + (c.mlp === 'smooth-swiglu' ? d : 0) + (c.finalNorm ? d : 0);
  // Saved per layer: the four linears' inputs in their operand dtype, attention's q/k/v/o and lse,
  // norm inputs (float32) where a norm or LayerScale sits on a shared buffer.
  const attnSaved = (recipe.gemm === 'fp8' && recipe.fp8Attention ? 1 : 4) * (2 * Wq + 2 * Wkv) + 4 * c.nHeads;
  const savedRow = ob * (d + Wq + d + F) + attnSaved + 4 * ((c.preNorm ? 2 * d : 0) + (branchPost ? 2 * d : 0) + (qk ? Wq + Wkv : 0)) + 4 * 4;
  const headRow = 4 * d; // the fused head keeps dx (R, d)
  // Cast scratch: the largest operand codes of one GEMM (input and gradient), the logits and dlogits
  // chunks, the QKV rows in float32 (the monitor's copy; the gathered dqkv of a non-FP8 cast), and
  // fc1's grad codes that the activation's backward casts (FP8).
  const scratch = 2 * R * Math.max(F1, Wq + 2 * Wkv, d) * 4 + 2 * 4 * Math.min(CHUNK_ELEMENTS, R * c.vocabSize) + 4 * R * (Wq + 2 * Wkv) +
    (recipe.gemm === 'fp8' ? R * F1 : 0);
  const activations = R * (4 * (forwardRow + backwardRow) + c.nLayers * savedRow + headRow) + scratch + (options.recomputeMlp ? 0 : recomputeSavings(c, recipe, B, T));
  // Scaling state: an amax history per scaled operand (3 per FP8 linear, 6 for FP8 attention).
  const slots = recipe.gemm !== 'fp8' ? 0 : c.nLayers * (4 * 3 + (recipe.fp8Attention ? 6 : 0)) + (recipe.fp8LmHead ? 3 : 0);
  const scaling = 4 * recipe.amaxHistoryLen * slots;
  // Native workspace: the GEMM's packed B (BF16 pairs, 2 bytes per element; float32 under fp32) of
  // the largest B operand — a wgrad's input activation (R, max(F, d, Wq)) or a weight — plus the
  // per-thread packed A and accumulator blocks (≈ 0.9 MiB on 2 threads).
  const largestB = Math.max(R * Math.max(F, d, Wq), largest);
  const workspace = (recipe.gemm === 'fp32' ? 4 : 2) * largestB + 2 ** 20;
  const total = parameters + gradients + optimizerBytes + weightCasts + activations + scaling + workspace;
  return { parameters, gradients, optimizer: optimizerBytes, weightCasts, activations, scaling, workspace, total };
}

/**
 * Bytes recomputeMlp saves (graph.ts): without it every layer keeps its fc1 output (R × F1) for
 * backward — as BF16 bits when the recipe's tensors are BF16, else float32 beside the one buffer
 * the forward writes anyway.
 */
export function recomputeSavings(c: ModelConfig, recipe: Pick<PrecisionRecipe, 'activations'>, B: number, T: number): number {
  const perLayer = B * T * blockWidths(c).F1;
  return isRoundedBf16(c, recipe.activations, 'fc1.out') ? 2 * perLayer * c.nLayers : 4 * perLayer * (c.nLayers - 1);
}

/** "1.23 GiB" */
export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(2)} GiB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MiB`;
  return `${(n / 2 ** 10).toFixed(1)} KiB`;
}

/** One line of every part: the plan's estimated parts marked ≈, a measured figure's scratch shown within its activations. */
function describeParts(p: MemoryPlan, scratch: number | null): string {
  const est = scratch === null ? '≈' : '';
  return `parameters ${formatBytes(p.parameters)}, gradients ${formatBytes(p.gradients)}, optimizer ${formatBytes(p.optimizer)}, ` +
    `weight casts ${formatBytes(p.weightCasts)}, activations ${est}${formatBytes(p.activations)}${scratch === null ? '' : ` (scratch ${formatBytes(scratch)})`}, ` +
    `scaling ${formatBytes(p.scaling)}, kernel workspace ${est}${formatBytes(p.workspace)}; total ${est}${formatBytes(p.total)}`;
}

/** One line: every part of the plan. */
export function describeMemoryPlan(p: MemoryPlan): string {
  return describeParts(p, null);
}

/** One line: every part of a measured figure (the same parts as the plan). */
export function describeMeasuredMemory(p: MeasuredMemory): string {
  return describeParts(p, p.scratch);
}
