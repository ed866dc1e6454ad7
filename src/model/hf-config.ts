/**
 * Hugging Face `config.json` ↔ ModelConfig. Two dialects:
 * - **LlamaConfig** (`model_type: "llama"`) for plain Llama presets: the standard fields, with
 *   Llama-3.1 RoPE scaling in `rope_scaling` (`rope_type: "llama3"`).
 * - **FOGConfig** (`model_type: "fog"`) for every other preset, with exactly the field names and
 *   values of the authors' fog_transformers `FOGConfig`, as their Megatron→HF saver writes them:
 *   `hidden_act` "xielu" | "gelu" | "silu" | "smoothswiglu", `qk_type` "rms" | "dyt", `freeze_qk`,
 *   `pre_norm`, `post_norm`, `layerscale`, `final_layernorm`, `input_upscale`, `softmax_scale`.
 *   Their FOGConfig accepts `rope_scaling` only as a two-field linear/dynamic dict, so the
 *   Llama-3.1 scaling of a FOG model is kept in the `fog8` block, which their code ignores (it
 *   becomes an unused attribute).
 * Every file fog8 writes also carries a `fog8` block (preset, size, the full ModelConfig) so its
 * own checkpoints round-trip exactly; configs without it (the authors', or any LlamaConfig) are
 * mapped field by field, and a field fog8 cannot represent is refused by name.
 */
import {
  PRESETS, SIZE_NAMES, resolveModelConfig, validateRopeScaling,
  type InputUpscale, type MlpKind, type ModelConfig, type PresetName, type QkNorm, type RopeScaling, type SizeName,
} from './config.js';

/** Our MLP kind → the authors' `hidden_act` (their FOGMLP branches on these strings). */
const FOG_ACT: Readonly<Record<MlpKind, string>> = { swiglu: 'silu', 'smooth-swiglu': 'smoothswiglu', gelu: 'gelu', xielu: 'xielu' };
/** Our QK regulariser → the authors' `qk_type` (FOGAttention accepts exactly "rms" and "dyt"). */
const FOG_QK_TYPE: Readonly<Record<Exclude<QkNorm, 'none'>, string>> = { rmsnorm: 'rms', 'rmsnorm-gain': 'rms', tanh: 'dyt' };

/** A config.json field fog8 cannot represent or that is malformed; the message names the field. */
export class HfConfigError extends RangeError {
  constructor(readonly field: string, message: string) {
    super(`HF config: ${field} ${message}`);
  }
}

/** True when the config is a plain Llama (standard LlamaForCausalLM can run it). */
export function isLlamaConfig(c: ModelConfig): boolean {
  return c.preNorm && !c.postNorm && c.qkNorm === 'none' && !c.layerScale && c.inputUpscale === 1 && c.finalNorm && c.mlp === 'swiglu' &&
    c.softmaxScale === 1 / Math.sqrt(c.headDim);
}

/** HF `rope_scaling` of a Llama config (`rope_type: "llama3"`), or null. */
export function toHfRopeScaling(s: RopeScaling | null): Record<string, unknown> | null {
  if (s === null) return null;
  return {
    rope_type: 'llama3',
    factor: s.factor,
    low_freq_factor: s.lowFreqFactor,
    high_freq_factor: s.highFreqFactor,
    original_max_position_embeddings: s.originalContext,
  };
}

/** Reads a Llama `rope_scaling` (null or `rope_type`/`type` "llama3"); anything else is refused by name. */
export function fromHfRopeScaling(v: unknown): RopeScaling | null {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw new HfConfigError('rope_scaling', `= ${JSON.stringify(v)} must be null or an object`);
  const r = v as Record<string, unknown>;
  const kind = r.rope_type ?? r.type;
  if (kind !== 'llama3') {
    throw new HfConfigError('rope_scaling.rope_type', `= ${JSON.stringify(kind)} cannot be represented; fog8 supports null (plain RoPE) and "llama3" (Llama-3.1 scaling)`);
  }
  const field = (k: string): number => {
    const x = r[k];
    if (typeof x !== 'number') throw new HfConfigError(`rope_scaling.${k}`, `must be a number, got ${JSON.stringify(x)}`);
    return x;
  };
  const known = new Set(['rope_type', 'type', 'factor', 'low_freq_factor', 'high_freq_factor', 'original_max_position_embeddings']);
  for (const k of Object.keys(r)) if (!known.has(k)) throw new HfConfigError(`rope_scaling.${k}`, `is not a Llama-3.1 scaling field; fog8 cannot represent it`);
  try {
    return validateRopeScaling({
      factor: field('factor'),
      lowFreqFactor: field('low_freq_factor'),
      highFreqFactor: field('high_freq_factor'),
      originalContext: field('original_max_position_embeddings'),
    }, 'HF config: rope_scaling');
  } catch (e) {
    if (e instanceof HfConfigError) throw e;
    throw new HfConfigError('rope_scaling', `is invalid: ${(e as Error).message}`);
  }
}

/**
 * The config.json fields of a model (DESIGN §7): a standard LlamaConfig for plain Llama configs,
 * the authors' FOGConfig fields for every other one; both with a `fog8` block for exact round trips.
 */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  const fog8 = { preset: c.preset, size: c.size, config: { ...c } };
  if (isLlamaConfig(c)) {
    return {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      vocab_size: c.vocabSize,
      hidden_size: c.dModel,
      intermediate_size: c.ffnDim,
      num_hidden_layers: c.nLayers,
      num_attention_heads: c.nHeads,
      num_key_value_heads: c.nKvHeads,
      head_dim: c.headDim,
      hidden_act: 'silu',
      max_position_embeddings: c.seqLen,
      initializer_range: c.initStd,
      rms_norm_eps: c.normEps,
      rope_theta: c.ropeTheta,
      rope_scaling: toHfRopeScaling(c.ropeScaling),
      attention_bias: false,
      attention_dropout: 0.0,
      mlp_bias: false,
      pretraining_tp: 1,
      tie_word_embeddings: c.tieEmbeddings,
      use_cache: true,
      torch_dtype: 'float32',
      fog8,
    };
  }
  // The authors' saver writes softmax_scale = Megatron's --softmax-scale, None unless set.
  const defaultScale = c.logitBound === null && c.softmaxScale === 1 / Math.sqrt(c.headDim);
  return {
    architectures: ['FOGForCausalLM'],
    model_type: 'fog',
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    intermediate_size: c.ffnDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    // FOGAttention reads getattr(config, "head_dim", hidden_size // heads); only needed when they differ.
    ...(c.headDim * c.nHeads !== c.dModel ? { head_dim: c.headDim } : {}),
    hidden_act: FOG_ACT[c.mlp],
    max_position_embeddings: c.seqLen,
    initializer_range: c.initStd,
    rms_norm_eps: c.normEps,
    tie_word_embeddings: c.tieEmbeddings,
    rope_theta: c.ropeTheta,
    rope_scaling: null, // FOGConfig validates a two-field linear/dynamic dict; Llama-3.1 scaling lives in fog8.config.ropeScaling
    attention_bias: false,
    mlp_bias: false,
    attention_dropout: 0.0,
    hidden_dropout: 0.0,
    torch_dtype: 'float32',
    qk_norm: c.qkNorm !== 'none',
    freeze_qk: c.qkNorm === 'rmsnorm',
    qk_type: c.qkNorm === 'none' ? 'rms' : FOG_QK_TYPE[c.qkNorm],
    pre_norm: c.preNorm,
    post_norm: c.postNorm,
    input_upscale: c.inputUpscale,
    // With post_norm the authors' LayerScale is fused into the post-norm gains (init 1/√L), and
    // FOGForCausalLM expects layerscale: true for that; without post_norm it is a separate vector.
    layerscale: c.layerScale || (c.postNorm && c.postNormGainInit === 'inv-sqrt-layers'),
    final_layernorm: c.finalNorm,
    softmax_scale: defaultScale ? null : c.softmaxScale,
    fog8,
  };
}

type Json = Record<string, unknown>;

function optional<T>(j: Json, key: string, check: (v: unknown) => v is T, what: string, fallback: T): T {
  const v = j[key];
  if (v === undefined) return fallback;
  if (!check(v)) throw new HfConfigError(key, `must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;
const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
const isNumOrNull = (v: unknown): v is number | null => v === null || isNum(v);

function requiredInt(j: Json, key: string): number {
  const v = j[key];
  if (!isPosInt(v)) throw new HfConfigError(key, `must be a positive integer, got ${JSON.stringify(v)}`);
  return v;
}

/** Fields that must be off (fog8 has no biases, no dropout). */
function refuseUnsupported(j: Json): void {
  for (const key of ['attention_bias', 'mlp_bias']) {
    if (optional(j, key, isBool, 'true or false', false)) throw new HfConfigError(key, '= true cannot be represented: fog8 models have no biases');
  }
  for (const key of ['attention_dropout', 'hidden_dropout']) {
    if (optional(j, key, isNum, 'a number', 0) !== 0) throw new HfConfigError(key, `= ${JSON.stringify(j[key])} cannot be represented: fog8 has no dropout (allowed: 0)`);
  }
  const tp = optional(j, 'pretraining_tp', isPosInt, 'a positive integer', 1);
  if (tp !== 1) throw new HfConfigError('pretraining_tp', `= ${tp} cannot be represented (allowed: 1)`);
}

/** The shape fields common to both dialects. */
function shapeOf(j: Json) {
  const dModel = requiredInt(j, 'hidden_size');
  const nHeads = requiredInt(j, 'num_attention_heads');
  const headDim = optional(j, 'head_dim', isPosInt, 'a positive integer', 0) || dModel / nHeads;
  if (!Number.isInteger(headDim)) throw new HfConfigError('hidden_size', `= ${dModel} is not a multiple of num_attention_heads = ${nHeads} and no head_dim is given`);
  const initStd = optional(j, 'initializer_range', isNum, 'a number', 0.02);
  return {
    vocabSize: requiredInt(j, 'vocab_size'),
    dModel,
    ffnDim: requiredInt(j, 'intermediate_size'),
    nLayers: requiredInt(j, 'num_hidden_layers'),
    nHeads,
    nKvHeads: optional(j, 'num_key_value_heads', isPosInt, 'a positive integer', nHeads),
    headDim,
    seqLen: optional(j, 'max_position_embeddings', isPosInt, 'a positive integer', 2048),
    ropeTheta: optional(j, 'rope_theta', isNum, 'a number', 10000),
    normEps: optional(j, 'rms_norm_eps', isNum, 'a number', 1e-6),
    initStd,
    tieEmbeddings: optional(j, 'tie_word_embeddings', isBool, 'true or false', false),
  };
}

/** A named size whose resolved shape equals these fields (so the label means something), else 'tiny'. */
function sizeLabel(preset: PresetName, fields: Partial<ModelConfig>): SizeName {
  const keys = ['vocabSize', 'dModel', 'nLayers', 'nHeads', 'nKvHeads', 'headDim', 'ffnDim', 'seqLen', 'tieEmbeddings'] as const;
  for (const size of SIZE_NAMES) {
    const c = resolveModelConfig({ preset, size });
    if (keys.every((k) => c[k] === fields[k])) return size;
  }
  return 'tiny';
}

function resolveMapped(preset: PresetName, fields: Partial<ModelConfig>): ModelConfig {
  try {
    return resolveModelConfig({ preset, size: sizeLabel(preset, fields), ...fields });
  } catch (e) {
    throw new HfConfigError('(mapped fields)', `do not form a valid fog8 model: ${(e as Error).message}`);
  }
}

/** LlamaConfig → llama3 (hidden_act "silu" only; Llama-3.1 rope_scaling carried over). */
function fromLlama(j: Json): ModelConfig {
  refuseUnsupported(j);
  const act = j.hidden_act ?? 'silu';
  if (act !== 'silu') throw new HfConfigError('hidden_act', `= ${JSON.stringify(act)} cannot be represented for model_type "llama" (allowed: "silu")`);
  const shape = shapeOf(j);
  return resolveMapped('llama3', { ...shape, ropeScaling: fromHfRopeScaling(j.rope_scaling) });
}

/** The authors' FOGConfig → the preset of that variant, with every field applied as an override. */
function fromFog(j: Json): ModelConfig {
  refuseUnsupported(j);
  const shape = shapeOf(j);
  // FOGConfig's own defaults where a field is absent (configuration_fog.py).
  const act = optional(j, 'hidden_act', (v): v is string => typeof v === 'string', 'a string', 'xielu');
  const mlpEntry = Object.entries(FOG_ACT).find(([, a]) => a === act);
  if (!mlpEntry) throw new HfConfigError('hidden_act', `= ${JSON.stringify(act)} cannot be represented; allowed: ${Object.values(FOG_ACT).map((a) => JSON.stringify(a)).join(', ')}`);
  const mlp = mlpEntry[0] as MlpKind;
  const qkOn = optional(j, 'qk_norm', isBool, 'true or false', true);
  const qkType = optional(j, 'qk_type', (v): v is string => typeof v === 'string', 'a string', 'rms');
  const freeze = optional(j, 'freeze_qk', isBool, 'true or false', true);
  let qkNorm: QkNorm = 'none';
  if (qkOn) {
    if (qkType === 'rms') qkNorm = freeze ? 'rmsnorm' : 'rmsnorm-gain';
    else if (qkType === 'dyt') qkNorm = 'tanh';
    else throw new HfConfigError('qk_type', `= ${JSON.stringify(qkType)} cannot be represented; allowed: "rms", "dyt"`);
  }
  const preNorm = optional(j, 'pre_norm', isBool, 'true or false', false);
  const postNorm = optional(j, 'post_norm', isBool, 'true or false', true);
  if (preNorm && postNorm) throw new HfConfigError('post_norm', '= true together with pre_norm = true cannot be represented (FOGConfig asserts they differ)');
  const layerscale = optional(j, 'layerscale', isBool, 'true or false', true);
  const finalNorm = optional(j, 'final_layernorm', isBool, 'true or false', true);
  const upscale = optional(j, 'input_upscale', isNum, 'a number', 1);
  if (!(upscale > 0)) throw new HfConfigError('input_upscale', `= ${upscale} must be > 0`);
  const softmax = optional(j, 'softmax_scale', isNumOrNull, 'a number or null', null);
  if (softmax !== null && !(softmax > 0)) throw new HfConfigError('softmax_scale', `= ${softmax} must be > 0 or null`);
  if (j.rope_scaling !== undefined && j.rope_scaling !== null) {
    // FOGConfig only allows {type: linear|dynamic, factor}; fog8 has neither (its Llama-3.1 scaling lives in the fog8 block).
    throw new HfConfigError('rope_scaling', `= ${JSON.stringify(j.rope_scaling)} cannot be represented: fog8 implements no linear/dynamic RoPE scaling (allowed: null)`);
  }
  // 1/σ_init written as a float (e.g. 49.99999 from Python's 1/0.02) is the inverse-init rule.
  const rule: InputUpscale = Math.abs(upscale * shape.initStd - 1) < 1e-6 ? 'inv-init-std' : upscale;

  let preset: PresetName;
  if (postNorm) preset = qkNorm === 'tanh' ? 'fog-tanh' : mlp === 'gelu' ? 'fog-gelu' : 'fog-xielu';
  else if (preNorm) preset = mlp === 'smooth-swiglu' ? 'llama3-smooth-swiglu' : 'llama3';
  else preset = 'op';
  const knobs = PRESETS[preset];
  const fields: Partial<ModelConfig> = {
    ...shape,
    mlp,
    qkNorm,
    preNorm,
    postNorm,
    // With post_norm the authors fuse LayerScale into the post-norm gains: no separate vector.
    layerScale: layerscale && !postNorm,
    postNormGainInit: postNorm ? (layerscale ? 'inv-sqrt-layers' : 'one') : knobs.postNormGainInit,
    finalNorm,
    inputUpscaleRule: rule,
    inputUpscale: rule === 'inv-init-std' ? 1 / shape.initStd : upscale,
    softmaxScale: softmax ?? 1 / Math.sqrt(shape.headDim),
    // The preset's logit bound (16 for FOG) is kept when softmax_scale·head_dim equals it, so the config reads as that preset's own.
    logitBound: softmax !== null && knobs.logitBound !== null && softmax * shape.headDim === knobs.logitBound ? knobs.logitBound : null,
    ropeScaling: null,
  };
  return resolveMapped(preset, fields);
}

/**
 * Inverse of toHfConfig. A `fog8` block (fog8's own checkpoints) is exact. Otherwise `model_type`
 * "llama" maps to llama3 and "fog" (the authors' FOGConfig) to the preset of that variant:
 * post_norm → fog-xielu / fog-gelu (hidden_act "gelu") / fog-tanh (qk_type "dyt"); pre_norm →
 * llama3 / llama3-smooth-swiglu (hidden_act "smoothswiglu"); neither → op. Every field is applied
 * as an override; one fog8 cannot represent throws HfConfigError naming it.
 */
export function fromHfConfig(json: unknown): ModelConfig {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) throw new TypeError('HF config: expected a JSON object');
  const j = json as Json;
  const fog8 = j.fog8 as { config?: Record<string, unknown> } | undefined;
  if (fog8 !== undefined) {
    if (fog8 === null || typeof fog8 !== 'object' || fog8.config === null || typeof fog8.config !== 'object') {
      throw new HfConfigError('fog8', 'must be an object with a config object');
    }
    const { preset, size, ...rest } = fog8.config;
    // Blocks written before these knobs existed: untied (as tie_word_embeddings said) and plain RoPE.
    const legacy: Partial<ModelConfig> = {};
    if (!('tieEmbeddings' in rest)) legacy.tieEmbeddings = j.tie_word_embeddings === true;
    if (!('ropeScaling' in rest)) legacy.ropeScaling = null;
    return resolveModelConfig({ preset: String(preset), size: String(size), ...legacy, ...(rest as Partial<ModelConfig>) });
  }
  if (j.model_type === 'llama') return fromLlama(j);
  if (j.model_type === 'fog') return fromFog(j);
  throw new HfConfigError('model_type', `= ${JSON.stringify(j.model_type)} cannot be represented; allowed: "llama", "fog"`);
}
