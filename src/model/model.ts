/**
 * The model: parameters and gradients (one arena each, same layout), the FP8 scaling state, and
 * one op graph per (B, T) shape built on first use. The trainer drives it in an explicit order:
 * beginOptimizerStep() → forwardBackward() per micro-batch (gradients summed by the trainer) →
 * the scaling updates, once per step → optimizer update.
 */
import type { FloatArray, Kernels } from '../kernels/types.js';
import type { PrecisionRecipe } from '../numerics/recipe.js';
import { ScalingState } from '../numerics/scaling.js';
import { OpContext } from '../ops/context.js';
import { WeightCastCache } from '../ops/linear.js';
import type { MonitorSink } from '../ops/monitor.js';
import type { ActivationProbe } from '../ops/boundary.js';
import { blockWidths, isGatedMlp, type ModelConfig } from './config.js';
import { ModelGraph } from './graph.js';
import { ParameterStore, buildParamSpecs } from './params.js';
import { KvCache } from './kv-cache.js';

export type { MonitorSink, CastInfo, TensorName } from '../ops/monitor.js';
export type { ActivationProbe } from '../ops/boundary.js';

export interface Batch {
  /** (B, T) token ids. */
  inputs: Int32Array;
  /** (B, T) next-token targets; −1 = ignored. */
  targets: Int32Array;
  B: number;
  T: number;
}

/** Matmul FLOPs per token, forward + backward (DESIGN §8 accounting, see flopsPerToken). */
export function flopsPerToken(c: ModelConfig): number {
  const { d, Wq, Wkv } = blockWidths(c);
  const mlpMatrices = isGatedMlp(c.mlp) ? 3 : 2;
  const perLayer = d * (Wq + 2 * Wkv) + Wq * d + mlpMatrices * d * c.ffnDim;
  const matmulParams = c.nLayers * perLayer + c.vocabSize * d;
  // 6N for the weight GEMMs; attention QKᵀ and PV: 2·2·T·Wq fwd per token, ×3 with backward.
  return 6 * matmulParams + 12 * c.nLayers * Wq * c.seqLen;
}

/** Bytes a model holds, by part (Model.memory): every buffer of the parameters, the ops and the kernels. */
export interface ModelMemory {
  /** float parameter arena. */
  parameters: number;
  /** float gradient arena. */
  gradients: number;
  /** per-step weight casts (FP8 codes, BF16 bits, block fake-quant copies). */
  weightCasts: number;
  /** every graph's buffers: tensors between ops, their gradients, what ops save for backward. */
  activations: number;
  /** the ops' growable scratch (cast codes of one GEMM, LM-head logit chunks, attention's decoded Q/K/V). */
  scratch: number;
  /** FP8 scaling state (amax histories). */
  scaling: number;
  /** held by the kernel backend between calls (native GEMM packing buffers, RoPE table). */
  kernelWorkspace: number;
}

/** How a model runs, beside its config and recipe. */
export interface ModelOptions {
  /** GEMMs that run in BF16 although the recipe is FP8 (rollback recovery). */
  gemmOverrides?: readonly string[];
  /** Recompute each MLP's fc1 output in backward instead of keeping one per layer (default false;
   *  kept as BF16 bits under BF16 wide tensors, else float32): less memory, one more fc1 fprop
   *  GEMM per layer; the same bits either way. */
  recomputeMlp?: boolean;
}

/**
 * Last weight-cast id handed to a KV cache (−2, −3, …), over every model of the process: the
 * native GEMM keeps its packed copy of frozen weights under this id and the weights' address, and
 * a later model's weights can be allocated where a collected model's were — a per-model counter
 * gave both the same id (−2), and decoding then multiplied by the stale packed weights.
 */
let lastFrozenEpoch = -1;

/**
 * Buf is the kernels' float buffer type: Float32Array normally; Float64Array when the model runs on
 * `createReferenceKernels('float64')` (fp32 recipe only), the mode gradient checks use.
 */
export class Model<Buf extends FloatArray = Float32Array> {
  readonly config: ModelConfig;
  readonly recipe: PrecisionRecipe;
  readonly kernels: Kernels<Buf>;
  readonly params: ParameterStore<Buf>;
  /** Same layout as params; forwardBackward accumulates into it. */
  readonly grads: ParameterStore<Buf>;
  readonly scaling: ScalingState;
  private readonly ctx: OpContext;
  private readonly recomputeMlp: boolean;
  private readonly graphs = new Map<string, ModelGraph>();
  private readonly weightCaches = new Map<string, WeightCastCache>();

  /** Allocates the parameter and gradient arenas and initialises parameters from `seed` (DESIGN §4). */
  constructor(config: ModelConfig, kernels: Kernels<Buf>, recipe: PrecisionRecipe, seed: number, options: ModelOptions = {}) {
    if (!Number.isInteger(seed)) throw new RangeError(`Model: seed must be an integer, got ${seed}`);
    const overrides = options.gemmOverrides ?? [];
    const valid = gemmKeys(config);
    for (const k of overrides) {
      if (!valid.includes(k)) throw new RangeError(`Model: gemmOverrides entry ${JSON.stringify(k)} is not a GEMM of this model; allowed: ${valid.join(', ')}`);
    }
    this.config = config;
    this.recipe = recipe;
    this.recomputeMlp = options.recomputeMlp ?? false;
    this.kernels = kernels;
    const specs = buildParamSpecs(config);
    this.params = new ParameterStore(specs, (n) => kernels.alloc(n));
    this.grads = new ParameterStore(specs, (n) => kernels.alloc(n));
    this.params.initialize(seed);
    this.scaling = new ScalingState(recipe);
    this.ctx = new OpContext(kernels, recipe, this.scaling, overrides);
  }

  /** GEMMs that run in BF16 by per-GEMM override (rollback recovery). */
  get gemmOverrides(): ReadonlySet<string> {
    return this.ctx.gemmOverrides;
  }

  /** Matmul FLOPs per token, forward + backward: 6·(matmul params incl. LM head) + 12·L·Hq·D·seqLen. */
  flopsPerToken(): number {
    return flopsPerToken(this.config);
  }

  /**
   * Shows every tensor of the activation table to `probe` as it is handed on (after any BF16
   * rounding), in later passes until set to null. For tests; costs nothing when null.
   */
  setActivationProbe(probe: ActivationProbe | null): void {
    this.ctx.probe = probe;
  }

  /**
   * Zeroes the gradients for the next step's first micro-batch. A linear weight whose wgrad alone
   * writes its gradient (WeightCastCache.grad) is not filled but marked pending: its first wgrad
   * overwrites it, and forwardBackward zeroes any that stayed unwritten.
   */
  zeroGrads(): void {
    const data = this.grads.data;
    const skipped: [number, number][] = [];
    for (const c of this.weightCaches.values()) {
      if (!c.grad) continue;
      c.gradPending = true;
      const start = (c.grad.byteOffset - data.byteOffset) / data.BYTES_PER_ELEMENT;
      skipped.push([start, start + c.grad.length]);
    }
    skipped.sort((a, b) => a[0] - b[0]);
    let at = 0;
    for (const [start, end] of skipped) {
      if (start > at) data.fill(0, at, start);
      at = Math.max(at, end);
    }
    data.fill(0, at);
  }

  /** Zeroes the gradients zeroGrads left to a wgrad that did not run (so forwardBackward always leaves them summed). */
  private settlePendingGrads(): void {
    for (const c of this.weightCaches.values()) {
      if (c.grad && c.gradPending) {
        c.grad.fill(0);
        c.gradPending = false;
      }
    }
  }

  /** Invalidates the per-step weight casts: the next pass casts each weight once, then reuses it. */
  beginOptimizerStep(): void {
    this.ctx.weightEpoch++;
  }

  /** The op graph of one (B, T) shape (built and cached on first use). */
  graph(B: number, T: number): ModelGraph {
    if (!Number.isInteger(B) || B < 1) throw new RangeError(`Model: B must be a positive integer, got ${B}`);
    if (!Number.isInteger(T) || T < 1 || T > this.config.seqLen) {
      throw new RangeError(`Model: T must be an integer in 1..${this.config.seqLen} (seqLen), got ${T}`);
    }
    const key = `${B}x${T}`;
    let g = this.graphs.get(key);
    if (!g) {
      g = new ModelGraph(this.ctx, this.config, this.params, this.grads, B, T, (k) => this.weightCache(k), this.recomputeMlp);
      this.graphs.set(key, g);
    }
    return g;
  }

  private weightCache(key: string): WeightCastCache {
    let c = this.weightCaches.get(key);
    if (!c) this.weightCaches.set(key, (c = new WeightCastCache()));
    return c;
  }

  private checkBatch(batch: Batch): void {
    const n = batch.B * batch.T;
    if (batch.inputs.length !== n) throw new TypeError(`Batch: inputs has length ${batch.inputs.length}, expected B·T = ${n}`);
    if (batch.targets.length !== n) throw new TypeError(`Batch: targets has length ${batch.targets.length}, expected B·T = ${n}`);
  }

  /**
   * One micro-batch: returns the mean loss and accumulates grads += ∂loss/∂θ · lossScale
   * (lossScale = 1/microBatches for accumulation). FP8 casts record amaxes into the scaling
   * slots; scales are NOT updated here (the trainer calls scaling.updateForward/updateBackward).
   */
  forwardBackward(batch: Batch, lossScale: number, monitor?: MonitorSink): number {
    this.checkBatch(batch);
    const g = this.graph(batch.B, batch.T);
    const ctx = this.ctx;
    ctx.training = true;
    ctx.monitor = monitor ?? null;
    ctx.tape.clear();
    ctx.tape.recording = true;
    try {
      const loss = g.forwardLoss(batch.inputs, batch.targets, lossScale);
      ctx.tape.recording = false;
      g.backward();
      return loss;
    } finally {
      this.settlePendingGrads();
      ctx.tape.recording = false;
      ctx.tape.clear();
      ctx.monitor = null;
    }
  }

  /** Evaluation: mean loss, no gradients, no change to the scaling state. */
  forwardLoss(batch: Batch): number {
    this.checkBatch(batch);
    const g = this.graph(batch.B, batch.T);
    this.ctx.training = false;
    try {
      return g.forwardLoss(batch.inputs, batch.targets);
    } finally {
      this.ctx.training = true;
    }
  }

  /** (T, V) logits of one sequence (B = 1), for generation; the view is reused by the next call. */
  logits(tokens: Int32Array, T: number): Buf {
    if (tokens.length !== T) throw new TypeError(`Model.logits: tokens has length ${tokens.length}, expected T = ${T}`);
    const g = this.graph(1, T);
    this.ctx.training = false;
    try {
      return g.forwardLogits(tokens) as Buf; // the graph allocates with this.kernels.alloc
    } finally {
      this.ctx.training = true;
    }
  }

  /** (B·T, V) logits of B sequences of T tokens (evaluation); the view is reused by the next call of that shape. */
  logitsBatch(tokens: Int32Array, B: number, T: number): Buf {
    if (tokens.length !== B * T) throw new TypeError(`Model.logitsBatch: tokens has length ${tokens.length}, expected B·T = ${B * T}`);
    const g = this.graph(B, T);
    this.ctx.training = false;
    try {
      return g.forwardLogits(tokens) as Buf;
    } finally {
      this.ctx.training = true;
    }
  }

  /** An empty KV cache for this model and recipe (seqLen positions per layer), for logitsCached. */
  newKvCache(): KvCache {
    const c = this.config;
    const g = this.graph(1, 1);
    return new KvCache(Array.from({ length: c.nLayers }, (_, i) => g.kvStorage(i)), c.nLayers, c.seqLen, c.nKvHeads * c.headDim, --lastFrozenEpoch);
  }

  /**
   * (n, V) logits of n new tokens appended to the cached positions (B = 1): each costs one
   * position of every op. Advances cache.length by n. The view is reused by the next call of the
   * same n. Equals logits() of the whole sequence (bit for bit on the reference backend). The
   * weights are cast once per cache: they must not change while the cache is in use.
   */
  logitsCached(tokens: Int32Array, cache: KvCache): Buf {
    const n = tokens.length;
    const g = this.graph(1, n);
    this.ctx.training = false;
    this.ctx.frozenWeightsEpoch = cache.frozenWeightsEpoch;
    try {
      return g.forwardCached(tokens, cache) as Buf;
    } finally {
      this.ctx.training = true;
      this.ctx.frozenWeightsEpoch = null;
    }
  }

  /**
   * Bytes of every buffer the model holds now (all graphs built so far, with their scratch as grown
   * by the steps run; the backend's workspace is the process's). Run a step of each shape first to
   * see a step's whole figure: scratch and packing buffers grow on first use, then are reused.
   */
  memory(): ModelMemory {
    const held = this.ctx.held.bytes;
    return {
      parameters: this.params.data.byteLength,
      gradients: this.grads.data.byteLength,
      weightCasts: held.weightCasts,
      activations: held.activations,
      scratch: held.scratch,
      scaling: this.scaling.bytes(),
      kernelWorkspace: this.kernels.workspaceBytes,
    };
  }

  /** Bytes saved from forward to backward for one (B, T) step under this recipe (builds the graph). */
  activationBytes(B: number, T: number): number {
    return this.graph(B, T).savedBytes();
  }
}

/** Keys of every GEMM a per-GEMM precision override may name: per layer the four linears and the attention, then the LM head. */
export function gemmKeys(config: Pick<ModelConfig, 'nLayers'>): string[] {
  const out: string[] = [];
  for (let i = 0; i < config.nLayers; i++) for (const g of ['attn.qkv', 'attn.dpa', 'attn.out', 'mlp.fc1', 'mlp.fc2']) out.push(`layers.${i}.${g}`);
  out.push('lm_head');
  return out;
}
