/**
 * Typed model configuration: named architecture presets (objects of knobs) combined with named
 * sizes (shapes). The block reads knobs only; nothing downstream branches on a preset's name.
 * DESIGN §4 is the contract for what each knob means.
 */

export type PresetName = 'llama3' | 'llama3-smooth-swiglu' | 'op' | 'fog-xielu' | 'fog-gelu' | 'fog-tanh';
export type SizeName = 'tiny' | 'small' | 's' | 'm' | '390m' | '1.5b' | '8b';
export type QkNorm = 'none' | 'rmsnorm' | 'rmsnorm-gain' | 'tanh';
export type MlpKind = 'swiglu' | 'smooth-swiglu' | 'gelu' | 'xielu';

export const PRESET_NAMES: readonly PresetName[] = ['llama3', 'llama3-smooth-swiglu', 'op', 'fog-xielu', 'fog-gelu', 'fog-tanh'];
export const SIZE_NAMES: readonly SizeName[] = ['tiny', 'small', 's', 'm', '390m', '1.5b', '8b'];
const QK_NORMS: readonly QkNorm[] = ['none', 'rmsnorm', 'rmsnorm-gain', 'tanh'];
const MLP_KINDS: readonly MlpKind[] = ['swiglu', 'smooth-swiglu', 'gelu', 'xielu'];

/** The architecture knobs of a preset (DESIGN §4). */
export interface ArchitectureKnobs {
  /** RMSNorm (trainable gain) before each branch (Llama pre-norm). */
  preNorm: boolean;
  /** RMSNorm (trainable gain, init postNormGainInit) on each branch output before the residual add. */
  postNorm: boolean;
  /** Per-head QK regulariser applied to q and k before RoPE. */
  qkNorm: QkNorm;
  mlp: MlpKind;
  /** Embedding output multiplier (1/σ_init = 50 for OP and FOG, 1 for Llama). */
  inputUpscale: number;
  /** Trainable per-channel LayerScale on each branch output, init 1/√L (OP). */
  layerScale: boolean;
  /** RMSNorm (trainable gain) before the LM head. */
  finalNorm: boolean;
  /** Non-gated MLPs are widened by this factor over the size's SwiGLU width F (1.5 keeps params equal). */
  nonGatedWidthFactor: number;
  /** null → softmax scale 1/√head_dim; a number b → scale b/head_dim (max logit b after a gain-free QK norm). */
  logitBound: number | null;
  /** 'inv-sqrt-layers' → post-norm gains start at 1/√L. */
  postNormGainInit: 'one' | 'inv-sqrt-layers';
}

/** The shape of a size. ffnDim here is the SwiGLU width F; non-gated MLPs use F·nonGatedWidthFactor. */
export interface SizeShape {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  swigluDim: number;
  seqLen: number;
}

export interface ModelConfig extends ArchitectureKnobs {
  preset: PresetName;
  size: SizeName;
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  /** dModel / nHeads. */
  headDim: number;
  /** Width of the MLP hidden layer actually used (gated: F; non-gated: F·nonGatedWidthFactor). */
  ffnDim: number;
  seqLen: number;
  ropeTheta: number;
  /** Multiplies q·k before masking and softmax. */
  softmaxScale: number;
  /** RMSNorm epsilon (added to mean(x²)). */
  normEps: number;
  /** σ of the N(0, σ²) init of every matrix (residual output projections use σ/√(2L)). */
  initStd: number;
}

const FOG_BASE: Omit<ArchitectureKnobs, 'qkNorm' | 'mlp'> = {
  preNorm: false,
  postNorm: true,
  inputUpscale: 50,
  layerScale: false,
  finalNorm: false,
  nonGatedWidthFactor: 1.5,
  logitBound: 16,
  postNormGainInit: 'inv-sqrt-layers',
};
const LLAMA_BASE: Omit<ArchitectureKnobs, 'mlp'> = {
  preNorm: true,
  postNorm: false,
  qkNorm: 'none',
  inputUpscale: 1,
  layerScale: false,
  finalNorm: true,
  nonGatedWidthFactor: 1.5,
  logitBound: null,
  postNormGainInit: 'one',
};

/** Presets: named objects of knobs (DESIGN §4). OP uses a SwiGLU MLP like the Llama baseline. */
export const PRESETS: Readonly<Record<PresetName, Readonly<ArchitectureKnobs>>> = Object.freeze({
  llama3: Object.freeze({ ...LLAMA_BASE, mlp: 'swiglu' }),
  'llama3-smooth-swiglu': Object.freeze({ ...LLAMA_BASE, mlp: 'smooth-swiglu' }),
  op: Object.freeze({
    preNorm: false,
    postNorm: false,
    qkNorm: 'rmsnorm-gain',
    mlp: 'swiglu',
    inputUpscale: 50,
    layerScale: true,
    finalNorm: false,
    nonGatedWidthFactor: 1.5,
    logitBound: null,
    postNormGainInit: 'one',
  }),
  'fog-xielu': Object.freeze({ ...FOG_BASE, qkNorm: 'rmsnorm', mlp: 'xielu' }),
  'fog-gelu': Object.freeze({ ...FOG_BASE, qkNorm: 'rmsnorm', mlp: 'gelu' }),
  'fog-tanh': Object.freeze({ ...FOG_BASE, qkNorm: 'tanh', mlp: 'xielu' }),
} satisfies Record<PresetName, ArchitectureKnobs>);

/**
 * Sizes. `390m`, `1.5b`, `8b` are Llama-3-style shapes (vocab 128256, context 4096) chosen to hit
 * the named parameter counts; they could not be verified against the paper's own table.
 */
export const SIZES: Readonly<Record<SizeName, Readonly<SizeShape>>> = Object.freeze({
  tiny: Object.freeze({ vocabSize: 64, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, swigluDim: 64, seqLen: 16 }),
  small: Object.freeze({ vocabSize: 4096, dModel: 256, nLayers: 4, nHeads: 4, nKvHeads: 2, swigluDim: 768, seqLen: 256 }),
  s: Object.freeze({ vocabSize: 4096, dModel: 256, nLayers: 4, nHeads: 4, nKvHeads: 4, swigluDim: 768, seqLen: 256 }),
  m: Object.freeze({ vocabSize: 8192, dModel: 512, nLayers: 8, nHeads: 8, nKvHeads: 8, swigluDim: 1536, seqLen: 512 }),
  '390m': Object.freeze({ vocabSize: 128256, dModel: 1024, nLayers: 8, nHeads: 16, nKvHeads: 8, swigluDim: 4096, seqLen: 4096 }),
  '1.5b': Object.freeze({ vocabSize: 128256, dModel: 2048, nLayers: 16, nHeads: 32, nKvHeads: 8, swigluDim: 8192, seqLen: 4096 }),
  '8b': Object.freeze({ vocabSize: 128256, dModel: 4096, nLayers: 32, nHeads: 32, nKvHeads: 8, swigluDim: 14336, seqLen: 4096 }),
} satisfies Record<SizeName, SizeShape>);

/** True for MLPs with a [gate | up] first projection. */
export function isGatedMlp(mlp: MlpKind): boolean {
  return mlp === 'swiglu' || mlp === 'smooth-swiglu';
}

const FIELD_KINDS: Record<keyof ModelConfig, 'int' | 'positive' | 'number' | 'boolean' | 'special'> = {
  preset: 'special',
  size: 'special',
  vocabSize: 'int',
  dModel: 'int',
  nLayers: 'int',
  nHeads: 'int',
  nKvHeads: 'int',
  headDim: 'int',
  ffnDim: 'int',
  seqLen: 'int',
  ropeTheta: 'positive',
  softmaxScale: 'positive',
  normEps: 'positive',
  initStd: 'positive',
  preNorm: 'boolean',
  postNorm: 'boolean',
  qkNorm: 'special',
  mlp: 'special',
  inputUpscale: 'positive',
  layerScale: 'boolean',
  finalNorm: 'boolean',
  nonGatedWidthFactor: 'positive',
  logitBound: 'special',
  postNormGainInit: 'special',
};

function oneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new RangeError(`model config: ${field} = ${JSON.stringify(value)} is not allowed; allowed: ${allowed.join(', ')}`);
  }
  return value as T;
}

/**
 * Resolves preset + size (+ overrides of any ModelConfig field) into a validated, frozen config.
 * Unknown fields and out-of-range values throw, naming the field and what is allowed. Derived
 * fields (headDim, ffnDim, softmaxScale) follow overridden inputs unless themselves overridden.
 */
export function resolveModelConfig(input: { preset: string; size: string } & Partial<Omit<ModelConfig, 'preset' | 'size'>>): ModelConfig {
  if (input === null || typeof input !== 'object') throw new TypeError('model config: expected an object with preset and size');
  for (const key of Object.keys(input)) {
    if (!(key in FIELD_KINDS)) {
      throw new RangeError(`model config: unknown field "${key}"; allowed fields: ${Object.keys(FIELD_KINDS).join(', ')}`);
    }
  }
  const preset = oneOf('preset', input.preset, PRESET_NAMES);
  const size = oneOf('size', input.size, SIZE_NAMES);
  const o = input as Record<string, unknown>;
  for (const [key, kind] of Object.entries(FIELD_KINDS)) {
    const v = o[key];
    if (v === undefined) continue;
    if (kind === 'int' && (typeof v !== 'number' || !Number.isInteger(v) || v < 1)) {
      throw new RangeError(`model config: ${key} = ${JSON.stringify(v)} must be a positive integer`);
    }
    if (kind === 'positive' && (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)) {
      throw new RangeError(`model config: ${key} = ${JSON.stringify(v)} must be a finite number > 0`);
    }
    if (kind === 'boolean' && typeof v !== 'boolean') {
      throw new RangeError(`model config: ${key} = ${JSON.stringify(v)} must be true or false`);
    }
  }
  const knobs = PRESETS[preset];
  const shape = SIZES[size];
  const pick = <K extends keyof ModelConfig>(k: K, fallback: ModelConfig[K]): ModelConfig[K] =>
    (o[k] === undefined ? fallback : o[k]) as ModelConfig[K];
  const qkNorm = o.qkNorm === undefined ? knobs.qkNorm : oneOf('qkNorm', o.qkNorm, QK_NORMS);
  const mlp = o.mlp === undefined ? knobs.mlp : oneOf('mlp', o.mlp, MLP_KINDS);
  const postNormGainInit =
    o.postNormGainInit === undefined ? knobs.postNormGainInit : oneOf('postNormGainInit', o.postNormGainInit, ['one', 'inv-sqrt-layers'] as const);
  let logitBound = knobs.logitBound;
  if (o.logitBound !== undefined) {
    if (o.logitBound !== null && (typeof o.logitBound !== 'number' || !(o.logitBound > 0) || !Number.isFinite(o.logitBound))) {
      throw new RangeError(`model config: logitBound = ${JSON.stringify(o.logitBound)} must be null or a finite number > 0`);
    }
    logitBound = o.logitBound as number | null;
  }
  const dModel = pick('dModel', shape.dModel);
  const nHeads = pick('nHeads', shape.nHeads);
  const nKvHeads = pick('nKvHeads', shape.nKvHeads);
  const nonGatedWidthFactor = pick('nonGatedWidthFactor', knobs.nonGatedWidthFactor);
  const headDim = pick('headDim', dModel / nHeads);
  if (!Number.isInteger(headDim) || headDim < 2 || headDim % 2 !== 0) {
    throw new RangeError(`model config: headDim = ${headDim} (dModel ${dModel} / nHeads ${nHeads}) must be an even integer ≥ 2`);
  }
  if (nHeads % nKvHeads !== 0) {
    throw new RangeError(`model config: nKvHeads = ${nKvHeads} must divide nHeads = ${nHeads}`);
  }
  const ffnDefault = isGatedMlp(mlp) ? shape.swigluDim : Math.round(shape.swigluDim * nonGatedWidthFactor);
  const softmaxDefault = logitBound === null ? 1 / Math.sqrt(headDim) : logitBound / headDim;
  const config: ModelConfig = {
    preset,
    size,
    vocabSize: pick('vocabSize', shape.vocabSize),
    dModel,
    nLayers: pick('nLayers', shape.nLayers),
    nHeads,
    nKvHeads,
    headDim,
    ffnDim: pick('ffnDim', ffnDefault),
    seqLen: pick('seqLen', shape.seqLen),
    ropeTheta: pick('ropeTheta', 500000),
    softmaxScale: pick('softmaxScale', softmaxDefault),
    normEps: pick('normEps', 1e-5),
    initStd: pick('initStd', 0.02),
    preNorm: pick('preNorm', knobs.preNorm),
    postNorm: pick('postNorm', knobs.postNorm),
    qkNorm,
    mlp,
    inputUpscale: pick('inputUpscale', knobs.inputUpscale),
    layerScale: pick('layerScale', knobs.layerScale),
    finalNorm: pick('finalNorm', knobs.finalNorm),
    nonGatedWidthFactor,
    logitBound,
    postNormGainInit,
  };
  return Object.freeze(config);
}

const HF_ACT: Record<MlpKind, string> = { swiglu: 'silu', 'smooth-swiglu': 'smooth_silu', gelu: 'gelu', xielu: 'xielu' };

/**
 * Hugging Face config.json fields: LlamaConfig fields for pre-norm presets (architectures
 * LlamaForCausalLM), the authors' FOGConfig fields otherwise (DESIGN §7). A `fog8` block carries
 * the exact preset/size/knobs so fromHfConfig round-trips losslessly.
 */
export function toHfConfig(c: ModelConfig): Record<string, unknown> {
  const common = {
    vocab_size: c.vocabSize,
    hidden_size: c.dModel,
    intermediate_size: c.ffnDim,
    num_hidden_layers: c.nLayers,
    num_attention_heads: c.nHeads,
    num_key_value_heads: c.nKvHeads,
    head_dim: c.headDim,
    max_position_embeddings: c.seqLen,
    rope_theta: c.ropeTheta,
    rms_norm_eps: c.normEps,
    initializer_range: c.initStd,
    hidden_act: HF_ACT[c.mlp],
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: false,
    torch_dtype: 'float32',
  };
  const fog8 = { preset: c.preset, size: c.size, config: { ...c } };
  if (c.preNorm && !c.postNorm && c.qkNorm === 'none' && !c.layerScale && c.inputUpscale === 1 && c.finalNorm) {
    return { architectures: ['LlamaForCausalLM'], model_type: 'llama', ...common, fog8 };
  }
  return {
    architectures: ['FOGForCausalLM'],
    model_type: 'fog',
    ...common,
    pre_norm: c.preNorm,
    post_norm: c.postNorm,
    qk_norm: c.qkNorm !== 'none',
    qk_type: c.qkNorm === 'tanh' ? 'tanh' : 'rmsnorm',
    freeze_qk: c.qkNorm === 'rmsnorm',
    softmax_scale: c.softmaxScale,
    input_upscale: c.inputUpscale,
    layerscale: c.layerScale,
    final_layernorm: c.finalNorm,
    gated_mlp: isGatedMlp(c.mlp),
    fog8,
  };
}

function num(json: Record<string, unknown>, key: string): number {
  const v = json[key];
  if (typeof v !== 'number') throw new RangeError(`HF config: field "${key}" must be a number, got ${JSON.stringify(v)}`);
  return v;
}

/**
 * Inverse of toHfConfig. Uses the `fog8` block when present (exact); otherwise maps the LlamaConfig /
 * FOGConfig fields onto the closest preset with size 'tiny' as a label and explicit shape overrides.
 */
export function fromHfConfig(json: unknown): ModelConfig {
  if (json === null || typeof json !== 'object') throw new TypeError('HF config: expected a JSON object');
  const j = json as Record<string, unknown>;
  const fog8 = j.fog8 as { preset?: string; size?: string; config?: Record<string, unknown> } | undefined;
  if (fog8 && typeof fog8 === 'object' && fog8.config) {
    const cfg = fog8.config;
    const { preset, size, ...rest } = cfg;
    return resolveModelConfig({ preset: String(preset), size: String(size), ...(rest as Partial<ModelConfig>) });
  }
  const act = String(j.hidden_act ?? 'silu');
  const mlp: MlpKind = act === 'xielu' ? 'xielu' : act === 'gelu' ? 'gelu' : act === 'smooth_silu' ? 'smooth-swiglu' : 'swiglu';
  const shape = {
    vocabSize: num(j, 'vocab_size'),
    dModel: num(j, 'hidden_size'),
    ffnDim: num(j, 'intermediate_size'),
    nLayers: num(j, 'num_hidden_layers'),
    nHeads: num(j, 'num_attention_heads'),
    nKvHeads: typeof j.num_key_value_heads === 'number' ? j.num_key_value_heads : num(j, 'num_attention_heads'),
    seqLen: typeof j.max_position_embeddings === 'number' ? j.max_position_embeddings : 2048,
    ropeTheta: typeof j.rope_theta === 'number' ? j.rope_theta : 500000,
    normEps: typeof j.rms_norm_eps === 'number' ? j.rms_norm_eps : 1e-5,
  };
  if (j.model_type !== 'fog') {
    return resolveModelConfig({ preset: mlp === 'smooth-swiglu' ? 'llama3-smooth-swiglu' : 'llama3', size: 'tiny', ...shape });
  }
  const qkNorm: QkNorm = j.qk_norm !== true ? 'none' : j.qk_type === 'tanh' ? 'tanh' : j.freeze_qk === true ? 'rmsnorm' : 'rmsnorm-gain';
  const preset: PresetName = j.layerscale === true ? 'op' : qkNorm === 'tanh' ? 'fog-tanh' : mlp === 'gelu' ? 'fog-gelu' : 'fog-xielu';
  return resolveModelConfig({
    preset,
    size: 'tiny',
    ...shape,
    mlp,
    qkNorm,
    preNorm: j.pre_norm === true,
    postNorm: j.post_norm === true,
    layerScale: j.layerscale === true,
    finalNorm: j.final_layernorm === true,
    inputUpscale: typeof j.input_upscale === 'number' ? j.input_upscale : 1,
    softmaxScale: num(j, 'softmax_scale'),
  });
}
