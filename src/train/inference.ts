/**
 * Loading a checkpoint for evaluation, generation and inspection: the model config comes from
 * config.json, the weights from model.safetensors (verified against the manifest first), the
 * FP8 scaling state from trainer_state.json when the precision recipe is compatible.
 */
import { join } from 'node:path';
import type { Kernels } from '../kernels/types.js';
import { Model } from '../model/model.js';
import { fromHfConfig } from '../model/hf-config.js';
import { ScalingState } from '../numerics/scaling.js';
import { LEGACY_ACTIVATIONS } from '../numerics/recipe.js';
import { Rng } from '../model/rng.js';
import type { TrainConfig } from './config.js';
import { moveModelWeightsInto, readCheckpoint, type Checkpoint } from './checkpoint.js';
import { resolveCheckpointDir } from './checkpoint-files.js';
import { recipeOf } from './session.js';
import { hfWeightsFor, isHfModelDir, readHfModel } from './hf-import.js';

export interface LoadedModel {
  /** The fog8 checkpoint, or for a Hugging Face directory its path and tokenizer (no trainer state). */
  checkpoint: Pick<Checkpoint, 'dir' | 'trainerState' | 'tokenizerJson'>;
  model: Model;
  /** training config saved with the checkpoint (null for weights-only checkpoints). */
  trainConfig: Partial<TrainConfig> | null;
  /** whether the FP8 scaling state of training was loaded (false: fresh scales). */
  scalingLoaded: boolean;
}

/** Forward passes only: one shared fc1-output buffer (recomputeMlp), not one per layer. */
const INFERENCE_OPTIONS = { recomputeMlp: true } as const;

/**
 * Builds a model from a checkpoint (directory, checkpoints/ folder or run directory). The
 * precision defaults to the one it was trained in.
 */
export function loadModelForInference(path: string, kernels: Kernels, precision?: string, options: { freshScales?: boolean } = {}): LoadedModel {
  if (isHfModelDir(path)) {
    // A Hugging Face model directory: weights only, no training state (FP8 needs --fresh-scales).
    const hf = readHfModel(path);
    const recipe = recipeOf({ precision: precision ?? 'fp32', fp8Attention: true, fp8LmHead: false, activations: null });
    if (recipe.gemm === 'fp8' && recipe.scaling === 'delayed' && !options.freshScales) {
      throw new Error(`${path}: a Hugging Face model has no FP8 scaling state; evaluating ${recipe.name} needs --fresh-scales (or --precision bf16/fp32)`);
    }
    const model = new Model(hf.config, kernels, recipe, 0, INFERENCE_OPTIONS);
    model.params.data.set(hfWeightsFor(hf, model.params));
    return { checkpoint: { dir: hf.dir, trainerState: null, tokenizerJson: hf.tokenizerJson }, model, trainConfig: null, scalingLoaded: false };
  }
  const ckpt = readCheckpoint(resolveCheckpointDir(path));
  const config = fromHfConfig(ckpt.hfConfig);
  const trainConfig = (ckpt.trainerState?.config ?? null) as Partial<TrainConfig> | null;
  // A precision given here is taken as named (its own activations); otherwise the run's recipe,
  // with float32 wide tensors for a run saved before `activations` existed.
  const activations = precision !== undefined || !trainConfig ? null : (trainConfig.activations ?? LEGACY_ACTIVATIONS);
  const recipe = recipeOf({ precision: precision ?? trainConfig?.precision ?? 'fp32', fp8Attention: trainConfig?.fp8Attention ?? true, fp8LmHead: trainConfig?.fp8LmHead ?? false, activations });
  // GEMMs a rollback switched to BF16 stay BF16 when the run's own precision is evaluated.
  const gemmOverrides = precision === undefined && Array.isArray(trainConfig?.gemmOverrides) ? trainConfig.gemmOverrides : [];
  const model = new Model(config, kernels, recipe, 0, { ...INFERENCE_OPTIONS, gemmOverrides });
  // A fresh model, discarded if anything below fails: the weights go straight into its arena.
  moveModelWeightsInto(ckpt, model.params);
  let scalingLoaded = false;
  // Delayed scaling evaluates with the scales training reached; without them every FP8 cast
  // would run at scale 1 (overflowing or underflowing), so a missing or unfitting state is an
  // error unless the user asks for fresh scales.
  if (recipe.gemm === 'fp8' && recipe.scaling === 'delayed') {
    const where = join(ckpt.dir, 'trainer_state.json');
    let problem: string | null = null;
    if (!ckpt.trainerState) problem = `${where} is missing (a weights-only checkpoint)`;
    else {
      try {
        const saved = ScalingState.fromJSON(recipe, ckpt.trainerState.scaling);
        model.scaling.load(saved);
        scalingLoaded = true;
      } catch (e) {
        problem = `${where}: the FP8 scaling state does not fit ${recipe.name} (${(e as Error).message})`;
      }
    }
    if (problem !== null && !options.freshScales) {
      throw new Error(`${problem}; evaluating ${recipe.name} needs it. Pass --fresh-scales to evaluate with fresh scales (1), or --precision bf16/fp32`);
    }
  }
  return { checkpoint: ckpt, model, trainConfig, scalingLoaded };
}

export interface SampleOptions {
  /** 0: greedy (argmax). */
  temperature: number;
  /** Sample among the k most likely tokens (0: all). */
  topK: number;
  /** Nucleus sampling: the smallest set of most likely tokens whose probability reaches topP (1: all). */
  topP?: number;
  maxTokens: number;
  seed: number;
  /** stop when this id is sampled (not included). */
  stopId?: number;
  /** Called with each new token as soon as it is chosen (streaming). */
  onToken?: (id: number) => void;
}

function checkSampleOptions(prompt: readonly number[], o: SampleOptions): void {
  if (prompt.length === 0) throw new RangeError('sample: the prompt must encode to at least one token');
  if (!(o.temperature >= 0)) throw new RangeError(`sample: temperature must be ≥ 0, got ${o.temperature}`);
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new RangeError(`sample: top-k must be an integer ≥ 0 (0 = all), got ${o.topK}`);
  const topP = o.topP ?? 1;
  if (!(topP > 0 && topP <= 1)) throw new RangeError(`sample: top-p must be in (0, 1], got ${o.topP}`);
}

/**
 * Picks the next token from one row of logits: argmax at temperature 0; otherwise softmax(logits/T)
 * restricted to the top-k, then to the top-p nucleus (the order of Hugging Face's samplers), and
 * one uniform draw from `rng`.
 */
function pickToken(row: ArrayLike<number>, V: number, o: SampleOptions, rng: Rng): number {
  if (o.temperature === 0) {
    let next = 0;
    for (let v = 1; v < V; v++) if (row[v] > row[next]) next = v;
    return next;
  }
  const k = o.topK === 0 ? V : Math.min(o.topK, V);
  const sorted = Array.from({ length: V }, (_, v) => v).sort((a, b) => row[b] - row[a]).slice(0, k);
  const max = row[sorted[0]];
  const probs = sorted.map((v) => Math.exp((row[v] - max) / o.temperature));
  let sum = probs.reduce((a, b) => a + b, 0);
  const topP = o.topP ?? 1;
  let keep = sorted.length;
  if (topP < 1) {
    let cumulative = 0;
    for (let i = 0; i < sorted.length; i++) {
      cumulative += probs[i] / sum;
      if (cumulative >= topP) {
        keep = i + 1;
        break;
      }
    }
    sum = probs.slice(0, keep).reduce((a, b) => a + b, 0);
  }
  let u = rng.uniform() * sum;
  for (let i = 0; i < keep; i++) {
    u -= probs[i];
    if (u <= 0) return sorted[i];
  }
  return sorted[keep - 1];
}

/**
 * Autoregressive sampling with a KV cache: the prompt (its last seqLen tokens) runs once, then
 * each new token costs one position (Model.logitsCached). At temperature 0 the tokens equal
 * sampleFullWindow's while prompt + output fit in seqLen. When the cache is full it restarts from
 * the last ⌈seqLen/2⌉ tokens (a full-window sampler slides by one token instead, so beyond seqLen
 * the two see different contexts).
 */
export function sample(model: Model, prompt: readonly number[], o: SampleOptions): number[] {
  checkSampleOptions(prompt, o);
  const T = model.config.seqLen;
  const V = model.config.vocabSize;
  const rng = new Rng(o.seed, 0x5a3);
  const tokens = [...prompt];
  const out: number[] = [];
  const cache = model.newKvCache();
  const one = new Int32Array(1);
  let logits = model.logitsCached(Int32Array.from(tokens.slice(-T)), cache);
  let row = logits.subarray(logits.length - V);
  for (let n = 0; n < o.maxTokens; n++) {
    const next = pickToken(row, V, o, rng);
    if (o.stopId !== undefined && next === o.stopId) break;
    tokens.push(next);
    out.push(next);
    o.onToken?.(next);
    if (n === o.maxTokens - 1) break;
    if (cache.length === T) {
      cache.reset();
      logits = model.logitsCached(Int32Array.from(tokens.slice(-Math.ceil(T / 2))), cache);
    } else {
      one[0] = next;
      logits = model.logitsCached(one, cache);
    }
    row = logits.subarray(logits.length - V);
  }
  return out;
}

/**
 * The slow twin of sample (the reference for its tests and benchmark): each step runs the model on
 * a fixed-length window (the last seqLen tokens, padded on the right: causal attention keeps
 * padding from touching earlier positions) and picks from the last real position's logits.
 */
export function sampleFullWindow(model: Model, prompt: readonly number[], o: SampleOptions): number[] {
  checkSampleOptions(prompt, o);
  const T = model.config.seqLen;
  const V = model.config.vocabSize;
  const rng = new Rng(o.seed, 0x5a3);
  const tokens = [...prompt];
  const out: number[] = [];
  const window = new Int32Array(T);
  for (let n = 0; n < o.maxTokens; n++) {
    const ctx = tokens.slice(-T);
    window.fill(0);
    window.set(ctx);
    const logits = model.logits(window, T);
    const next = pickToken(logits.subarray((ctx.length - 1) * V, ctx.length * V), V, o, rng);
    if (o.stopId !== undefined && next === o.stopId) break;
    tokens.push(next);
    out.push(next);
    o.onToken?.(next);
  }
  return out;
}
