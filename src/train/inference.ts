/**
 * Loading a checkpoint for evaluation, generation and inspection: the model config comes from
 * config.json, the weights from model.safetensors (verified against the manifest first), the
 * FP8 scaling state from trainer_state.json when the precision recipe is compatible.
 */
import type { Kernels } from '../kernels/types.js';
import { Model } from '../model/model.js';
import { fromHfConfig } from '../model/hf-config.js';
import { ScalingState } from '../numerics/scaling.js';
import { LEGACY_ACTIVATIONS } from '../numerics/recipe.js';
import { Rng } from '../model/rng.js';
import type { TrainConfig } from './config.js';
import { modelWeightsFrom, readCheckpoint, type Checkpoint } from './checkpoint.js';
import { resolveCheckpointDir } from './checkpoint-files.js';
import { recipeOf } from './session.js';

export interface LoadedModel {
  checkpoint: Checkpoint;
  model: Model;
  /** training config saved with the checkpoint (null for weights-only checkpoints). */
  trainConfig: Partial<TrainConfig> | null;
  /** whether the FP8 scaling state of training was loaded (false: fresh scales). */
  scalingLoaded: boolean;
}

/**
 * Builds a model from a checkpoint (directory, checkpoints/ folder or run directory). The
 * precision defaults to the one it was trained in.
 */
export function loadModelForInference(path: string, kernels: Kernels, precision?: string): LoadedModel {
  const ckpt = readCheckpoint(resolveCheckpointDir(path));
  const config = fromHfConfig(ckpt.hfConfig);
  const trainConfig = (ckpt.trainerState?.config ?? null) as Partial<TrainConfig> | null;
  // A precision given here is taken as named (its own activations); otherwise the run's recipe,
  // with float32 wide tensors for a run saved before `activations` existed.
  const activations = precision !== undefined || !trainConfig ? null : (trainConfig.activations ?? LEGACY_ACTIVATIONS);
  const recipe = recipeOf({ precision: precision ?? trainConfig?.precision ?? 'fp32', fp8Attention: trainConfig?.fp8Attention ?? true, fp8LmHead: trainConfig?.fp8LmHead ?? false, activations });
  const model = new Model(config, kernels, recipe, 0);
  const weights = modelWeightsFrom(ckpt, model.params);
  model.params.data.set(weights);
  let scalingLoaded = false;
  if (ckpt.trainerState && recipe.gemm === 'fp8') {
    try {
      const saved = ScalingState.fromJSON(recipe, ckpt.trainerState.scaling);
      model.scaling.load(saved);
      scalingLoaded = true;
    } catch {
      scalingLoaded = false;
    }
  }
  return { checkpoint: ckpt, model, trainConfig, scalingLoaded };
}

export interface SampleOptions {
  temperature: number;
  topK: number;
  maxTokens: number;
  seed: number;
  /** stop when this id is sampled (not included). */
  stopId?: number;
}

/**
 * Autoregressive sampling. Each step runs the model on a fixed-length window (the last seqLen
 * tokens, padded on the right: causal attention keeps padding from touching earlier positions)
 * and samples from softmax(logits/temperature) restricted to the top-k (temperature 0: argmax).
 */
export function sample(model: Model, prompt: readonly number[], o: SampleOptions): number[] {
  if (prompt.length === 0) throw new RangeError('sample: the prompt must encode to at least one token');
  if (!(o.temperature >= 0)) throw new RangeError(`sample: temperature must be ≥ 0, got ${o.temperature}`);
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new RangeError(`sample: top-k must be an integer ≥ 0 (0 = all), got ${o.topK}`);
  const T = model.config.seqLen;
  const V = model.config.vocabSize;
  const rng = new Rng(o.seed, 0x5a3);
  const tokens = [...prompt];
  const out: number[] = [];
  const window = new Int32Array(T);
  const probs = new Float64Array(V);
  const order = new Int32Array(V);
  for (let n = 0; n < o.maxTokens; n++) {
    const ctx = tokens.slice(-T);
    window.fill(0);
    window.set(ctx);
    const logits = model.logits(window, T);
    const row = logits.subarray((ctx.length - 1) * V, ctx.length * V);
    let next = 0;
    if (o.temperature === 0) {
      for (let v = 1; v < V; v++) if (row[v] > row[next]) next = v;
    } else {
      for (let v = 0; v < V; v++) order[v] = v;
      const k = o.topK === 0 ? V : Math.min(o.topK, V);
      const sorted = Array.from(order).sort((a, b) => row[b] - row[a]).slice(0, k);
      const max = row[sorted[0]];
      let sum = 0;
      for (const v of sorted) sum += probs[v] = Math.exp((row[v] - max) / o.temperature);
      let u = rng.uniform() * sum;
      next = sorted[sorted.length - 1];
      for (const v of sorted) {
        u -= probs[v];
        if (u <= 0) {
          next = v;
          break;
        }
      }
    }
    if (o.stopId !== undefined && next === o.stopId) break;
    tokens.push(next);
    out.push(next);
  }
  return out;
}
