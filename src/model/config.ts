/**
 * Typed model configuration: named architecture presets (objects of knobs) combined with named
 * sizes (shapes). The block reads knobs only; nothing downstream branches on a preset's name.
 * DESIGN §4 is the contract for what each knob means.
 */
import type { RopeScaling } from '../kernels/types.js';

export type { RopeScaling };

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
  /**
   * Embedding output multiplier: 'inv-init-std' → 1/initStd (the authors' `--input-upscale`, 50 at
   * σ_init 0.02, so changing initStd changes it), or a fixed number (1 for Llama).
   */
  inputUpscale: InputUpscale;
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

export type InputUpscale = 'inv-init-std' | number;

/**
 * Llama-3.1 RoPE frequency scaling (HF `rope_scaling` with `rope_type: "llama3"`, Megatron
 * `--use-rope-scaling`): wavelengths above originalContext/lowFreqFactor are divided by factor,
 * those below originalContext/highFreqFactor kept, those between interpolated smoothly.
 */

/** The authors' constants (Megatron `_apply_scaling` defaults; DESIGN §4). */
export const LLAMA31_ROPE_SCALING: Readonly<RopeScaling> = Object.freeze({ factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalContext: 8192 });

/** The shape of a size. ffnDim here is the SwiGLU width F; non-gated MLPs use F·nonGatedWidthFactor. */
export interface SizeShape {
  vocabSize: number;
  dModel: number;
  nLayers: number;
  nHeads: number;
  nKvHeads: number;
  swigluDim: number;
  seqLen: number;
  /** LM head shares the embedding matrix (the authors' 390m; Megatron without --untie-embeddings-and-output-weights). */
  tieEmbeddings: boolean;
  /** Llama-3.1 RoPE scaling, or null for plain RoPE. */
  ropeScaling: RopeScaling | null;
}

export interface ModelConfig extends Omit<ArchitectureKnobs, 'inputUpscale'> {
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
  /** The embedding multiplier actually applied (inputUpscaleRule resolved against initStd). */
  inputUpscale: number;
  /** What the preset (or an override) asked for: 'inv-init-std' or a fixed number. */
  inputUpscaleRule: InputUpscale;
  /** LM head weight = embedding matrix (one tensor, one gradient). */
  tieEmbeddings: boolean;
  /** Llama-3.1 RoPE frequency scaling, or null. */
  ropeScaling: RopeScaling | null;
}

const FOG_BASE: Omit<ArchitectureKnobs, 'qkNorm' | 'mlp'> = {
  preNorm: false,
  postNorm: true,
  inputUpscale: 'inv-init-std',
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
    inputUpscale: 'inv-init-std',
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

const SMALL = { tieEmbeddings: false, ropeScaling: null } as const;
const PAPER = { vocabSize: 131072, seqLen: 4096, ropeScaling: LLAMA31_ROPE_SCALING } as const;

/**
 * Sizes. `390m`, `1.5b`, `8b` are the authors' shapes (scripts/submit.sh; DESIGN §4): head_dim
 * 128, vocabulary 131072 (Mistral-Nemo tokenizer), sequence 4096, Llama-3.1 RoPE scaling, 390m
 * tied. The small sizes are fog8's own (untied, plain RoPE).
 */
export const SIZES: Readonly<Record<SizeName, Readonly<SizeShape>>> = Object.freeze({
  tiny: Object.freeze({ vocabSize: 64, dModel: 32, nLayers: 2, nHeads: 4, nKvHeads: 2, swigluDim: 64, seqLen: 16, ...SMALL }),
  small: Object.freeze({ vocabSize: 4096, dModel: 256, nLayers: 4, nHeads: 4, nKvHeads: 2, swigluDim: 768, seqLen: 256, ...SMALL }),
  s: Object.freeze({ vocabSize: 4096, dModel: 256, nLayers: 4, nHeads: 4, nKvHeads: 4, swigluDim: 768, seqLen: 256, ...SMALL }),
  m: Object.freeze({ vocabSize: 8192, dModel: 512, nLayers: 8, nHeads: 8, nKvHeads: 8, swigluDim: 1536, seqLen: 512, ...SMALL }),
  '390m': Object.freeze({ ...PAPER, dModel: 1024, nLayers: 16, nHeads: 8, nKvHeads: 4, swigluDim: 4096, tieEmbeddings: true }),
  '1.5b': Object.freeze({ ...PAPER, dModel: 2048, nLayers: 16, nHeads: 16, nKvHeads: 8, swigluDim: 8192, tieEmbeddings: false }),
  '8b': Object.freeze({ ...PAPER, dModel: 4096, nLayers: 32, nHeads: 32, nKvHeads: 8, swigluDim: 14336, tieEmbeddings: false }),
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
  inputUpscale: 'special',
  inputUpscaleRule: 'special',
  tieEmbeddings: 'boolean',
  ropeScaling: 'special',
  layerScale: 'boolean',
  finalNorm: 'boolean',
  nonGatedWidthFactor: 'positive',
  logitBound: 'special',
  postNormGainInit: 'special',
};

const ROPE_SCALING_FIELDS: readonly (keyof RopeScaling)[] = ['factor', 'lowFreqFactor', 'highFreqFactor', 'originalContext'];

/** Validates a RopeScaling object (or null); errors name the field. */
export function validateRopeScaling(value: unknown, where = 'model config: ropeScaling'): RopeScaling | null {
  if (value === null) return null;
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new RangeError(`${where} = ${JSON.stringify(value)} must be null or an object with ${ROPE_SCALING_FIELDS.join(', ')}`);
  }
  const v = value as Record<string, unknown>;
  for (const k of Object.keys(v)) {
    if (!(ROPE_SCALING_FIELDS as readonly string[]).includes(k)) throw new RangeError(`${where}: unknown field "${k}"; allowed fields: ${ROPE_SCALING_FIELDS.join(', ')}`);
  }
  for (const k of ROPE_SCALING_FIELDS) {
    const x = v[k];
    if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) throw new RangeError(`${where}.${k} = ${JSON.stringify(x)} must be a finite number > 0`);
  }
  const r = v as unknown as RopeScaling;
  if (!(r.factor >= 1)) throw new RangeError(`${where}.factor = ${r.factor} must be ≥ 1`);
  if (!(r.highFreqFactor > r.lowFreqFactor)) {
    throw new RangeError(`${where}.highFreqFactor = ${r.highFreqFactor} must be > lowFreqFactor = ${r.lowFreqFactor} (the interpolation band divides by their difference)`);
  }
  return Object.freeze({ factor: r.factor, lowFreqFactor: r.lowFreqFactor, highFreqFactor: r.highFreqFactor, originalContext: r.originalContext });
}

function validateInputUpscale(field: string, v: unknown): InputUpscale {
  if (v === 'inv-init-std') return v;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
    throw new RangeError(`model config: ${field} = ${JSON.stringify(v)} must be 'inv-init-std' (1/initStd) or a finite number > 0`);
  }
  return v;
}

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
  // inputUpscale overrides may be the rule itself or a number; inputUpscaleRule is what a saved config carries.
  const upscaleRule = validateInputUpscale(
    o.inputUpscaleRule !== undefined ? 'inputUpscaleRule' : 'inputUpscale',
    o.inputUpscaleRule ?? o.inputUpscale ?? knobs.inputUpscale,
  );
  const initStd = pick('initStd', 0.02);
  const inputUpscale = upscaleRule === 'inv-init-std' ? 1 / initStd : upscaleRule;
  if (o.inputUpscaleRule !== undefined && o.inputUpscale !== undefined && o.inputUpscale !== inputUpscale) {
    throw new RangeError(`model config: inputUpscale = ${JSON.stringify(o.inputUpscale)} contradicts inputUpscaleRule = ${JSON.stringify(upscaleRule)} (→ ${inputUpscale} at initStd ${initStd})`);
  }
  const ropeScaling = o.ropeScaling === undefined ? shape.ropeScaling : validateRopeScaling(o.ropeScaling);
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
    initStd,
    preNorm: pick('preNorm', knobs.preNorm),
    postNorm: pick('postNorm', knobs.postNorm),
    qkNorm,
    mlp,
    inputUpscale,
    inputUpscaleRule: upscaleRule,
    tieEmbeddings: pick('tieEmbeddings', shape.tieEmbeddings),
    ropeScaling,
    layerScale: pick('layerScale', knobs.layerScale),
    finalNorm: pick('finalNorm', knobs.finalNorm),
    nonGatedWidthFactor,
    logitBound,
    postNormGainInit,
  };
  return Object.freeze(config);
}
