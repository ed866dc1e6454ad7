/**
 * Precision recipes as data (DESIGN §3): a frozen, validated object of knobs that says how every
 * GEMM is computed and how FP8 operands are scaled. The mutable scaling *state* lives apart, in
 * scaling.ts. Roles name the operands of the FP8 GEMMs; forward roles use `forwardFormat`
 * (E4M3 in HYBRID), backward roles `backwardFormat` (E5M2).
 */

export type GemmPrecision = 'fp8' | 'bf16' | 'fp32';
/** Storage of the tensors handed from one op to the next (DESIGN §3 "What stays wide"). */
export type ActivationPrecision = 'bf16' | 'fp32';
export type ScalingMode = 'delayed' | 'current' | 'block';
export type AmaxAlgorithm = 'max' | 'most_recent';
export type Fp8Name = 'e4m3' | 'e5m2';
/** Operand roles: a linear's input/weight/grad_output and FP8 attention's qkv, p, o, do, ds, dqkv. */
export type ScalingRole = 'input' | 'weight' | 'grad_output' | 'qkv' | 'p' | 'o' | 'do' | 'ds' | 'dqkv';

export interface PrecisionRecipe {
  readonly name: string;
  /** How GEMM operands are represented: FP8 codes, BF16-rounded, or plain float32. */
  readonly gemm: GemmPrecision;
  /** How FP8 scales are chosen (ignored unless gemm is 'fp8'). */
  readonly scaling: ScalingMode;
  /** Delayed scaling: length H of each operand's amax history window. */
  readonly amaxHistoryLen: number;
  /** Delayed scaling: amax* is the max over the window or the newest value. */
  readonly amaxAlgo: AmaxAlgorithm;
  /** scale = (fmax / amax) / 2^margin; a non-negative integer. */
  readonly margin: number;
  /** Format of forward operands (input, weight, qkv, p, o). */
  readonly forwardFormat: Fp8Name;
  /** Format of backward operands (grad_output, do, ds, dqkv). */
  readonly backwardFormat: Fp8Name;
  /** Block scaling: activations and gradients get one scale per 1×blockSizeActivation tile. */
  readonly blockSizeActivation: number;
  /** Block scaling: weights get one scale per blockSizeWeight×blockSizeWeight block. */
  readonly blockSizeWeight: number;
  /** Run attention's two dot products in FP8 (FP8DPA). Requires gemm 'fp8'. */
  readonly fp8Attention: boolean;
  /** Run the LM head in FP8. Requires gemm 'fp8'. */
  readonly fp8LmHead: boolean;
  /**
   * The "wide" tensors handed between ops (GEMM, norm, activation, RoPE and attention outputs, the
   * residual stream, and their gradients): 'bf16' rounds each to BF16 (RNE) where it is handed on,
   * as Megatron `--bf16` stores them; 'fp32' keeps them float32. Arithmetic inside ops, reductions
   * and parameter-gradient accumulation are float32 either way; src/model/activation-table.ts
   * says which tensor is which.
   */
  readonly activations: ActivationPrecision;
}

export type PrecisionPresetName = 'fp32' | 'bf16' | 'fp8-delayed' | 'fp8-current' | 'fp8-block';

const ROLE_DIRECTION: Readonly<Record<ScalingRole, 'forward' | 'backward'>> = Object.freeze({
  input: 'forward',
  weight: 'forward',
  qkv: 'forward',
  p: 'forward',
  o: 'forward',
  grad_output: 'backward',
  do: 'backward',
  ds: 'backward',
  dqkv: 'backward',
});

/** Every scaling role, forward roles first. */
export const SCALING_ROLES: readonly ScalingRole[] = Object.freeze(Object.keys(ROLE_DIRECTION) as ScalingRole[]);

/** True for the roles quantized in the backward pass (grad_output, do, ds, dqkv). */
export function isBackwardRole(role: ScalingRole): boolean {
  if (!Object.hasOwn(ROLE_DIRECTION, role)) {
    throw new RangeError(`isBackwardRole: role must be one of ${SCALING_ROLES.join(', ')}, got ${JSON.stringify(role)}`);
  }
  return ROLE_DIRECTION[role] === 'backward';
}

/** The FP8 format a role is cast to under `recipe` (HYBRID: forward E4M3, backward E5M2). */
export function formatForRole(recipe: PrecisionRecipe, role: ScalingRole): Fp8Name {
  return isBackwardRole(role) ? recipe.backwardFormat : recipe.forwardFormat;
}

type RecipeKey = keyof PrecisionRecipe;

// One validator per field: the mapped type makes a missing field a compile error.
const FIELD_CHECKS: Readonly<Record<RecipeKey, { allowed: string; ok: (v: unknown) => boolean }>> = {
  name: { allowed: 'a non-empty string', ok: (v) => typeof v === 'string' && v.length > 0 },
  gemm: oneOf(['fp8', 'bf16', 'fp32']),
  scaling: oneOf(['delayed', 'current', 'block']),
  amaxHistoryLen: { allowed: 'an integer in 1..65536', ok: (v) => Number.isInteger(v) && (v as number) >= 1 && (v as number) <= 65536 },
  amaxAlgo: oneOf(['max', 'most_recent']),
  margin: { allowed: 'an integer in 0..64', ok: (v) => Number.isInteger(v) && (v as number) >= 0 && (v as number) <= 64 },
  forwardFormat: oneOf(['e4m3', 'e5m2']),
  backwardFormat: oneOf(['e4m3', 'e5m2']),
  blockSizeActivation: { allowed: 'a positive integer', ok: (v) => Number.isInteger(v) && (v as number) >= 1 },
  blockSizeWeight: { allowed: 'a positive integer', ok: (v) => Number.isInteger(v) && (v as number) >= 1 },
  fp8Attention: { allowed: 'true or false', ok: (v) => typeof v === 'boolean' },
  fp8LmHead: { allowed: 'true or false', ok: (v) => typeof v === 'boolean' },
  activations: oneOf(['bf16', 'fp32']),
};

function oneOf(values: readonly string[]): { allowed: string; ok: (v: unknown) => boolean } {
  return { allowed: `one of ${values.map((v) => `'${v}'`).join(', ')}`, ok: (v) => typeof v === 'string' && values.includes(v) };
}

const RECIPE_KEYS = Object.keys(FIELD_CHECKS) as RecipeKey[];

/** Throws a TypeError/RangeError naming the first invalid field, its value and what is allowed. */
function validateRecipe(candidate: Record<string, unknown>, where: string): PrecisionRecipe {
  for (const key of Object.keys(candidate)) {
    if (!Object.hasOwn(FIELD_CHECKS, key)) {
      throw new TypeError(`${where}: unknown field '${key}'; allowed fields: ${RECIPE_KEYS.join(', ')}`);
    }
  }
  for (const key of RECIPE_KEYS) {
    const check = FIELD_CHECKS[key];
    const value = candidate[key];
    if (!check.ok(value)) {
      throw new RangeError(`${where}: ${key} must be ${check.allowed}, got ${JSON.stringify(value)}`);
    }
  }
  for (const key of ['fp8Attention', 'fp8LmHead'] as const) {
    if (candidate[key] === true && candidate.gemm !== 'fp8') {
      throw new RangeError(`${where}: ${key} true requires gemm 'fp8', got gemm ${JSON.stringify(candidate.gemm)}`);
    }
  }
  if (candidate.fp8Attention === true && candidate.scaling === 'block') {
    // The attention kernel casts P and dS with one scale per tensor: no per-block scales there.
    throw new RangeError(`${where}: fp8Attention true is not available with scaling 'block' (attention casts take one scale per tensor); use scaling 'delayed' or 'current', or fp8Attention false`);
  }
  const recipe = {} as Record<RecipeKey, unknown>;
  for (const key of RECIPE_KEYS) recipe[key] = candidate[key];
  return Object.freeze(recipe) as PrecisionRecipe;
}

const FP8_DEFAULTS = {
  amaxHistoryLen: 1024,
  amaxAlgo: 'max',
  margin: 0,
  forwardFormat: 'e4m3',
  backwardFormat: 'e5m2',
  blockSizeActivation: 128,
  blockSizeWeight: 128,
  fp8LmHead: false,
  activations: 'bf16',
} as const;

/**
 * Named recipes. fp8-delayed is the paper's recipe with Transformer Engine defaults (H = 1024,
 * `max`, margin 0, HYBRID formats, FP8 attention on, LM head wide). fp8-block keeps attention
 * wide because attention casts carry one scale per tensor. Every recipe but fp32 hands BF16
 * tensors between ops (Megatron `--bf16`, the paper's setting); fp32 is the float32 reference.
 */
export const PRECISION_PRESETS: Readonly<Record<PrecisionPresetName, PrecisionRecipe>> = Object.freeze({
  fp32: validateRecipe({ ...FP8_DEFAULTS, name: 'fp32', gemm: 'fp32', scaling: 'delayed', fp8Attention: false, activations: 'fp32' }, 'PRECISION_PRESETS.fp32'),
  bf16: validateRecipe({ ...FP8_DEFAULTS, name: 'bf16', gemm: 'bf16', scaling: 'delayed', fp8Attention: false }, 'PRECISION_PRESETS.bf16'),
  'fp8-delayed': validateRecipe(
    { ...FP8_DEFAULTS, name: 'fp8-delayed', gemm: 'fp8', scaling: 'delayed', fp8Attention: true },
    'PRECISION_PRESETS.fp8-delayed',
  ),
  'fp8-current': validateRecipe(
    { ...FP8_DEFAULTS, name: 'fp8-current', gemm: 'fp8', scaling: 'current', amaxHistoryLen: 1, fp8Attention: true },
    'PRECISION_PRESETS.fp8-current',
  ),
  'fp8-block': validateRecipe(
    { ...FP8_DEFAULTS, name: 'fp8-block', gemm: 'fp8', scaling: 'block', amaxHistoryLen: 1, fp8Attention: false },
    'PRECISION_PRESETS.fp8-block',
  ),
});

const PRESET_NAMES = Object.keys(PRECISION_PRESETS) as PrecisionPresetName[];

function presetByName(name: unknown, where: string): PrecisionRecipe {
  if (typeof name !== 'string' || !Object.hasOwn(PRECISION_PRESETS, name)) {
    throw new RangeError(`${where}: unknown precision preset ${JSON.stringify(name)}; allowed: ${PRESET_NAMES.join(', ')}`);
  }
  return PRECISION_PRESETS[name as PrecisionPresetName];
}

/**
 * A frozen, validated recipe: a preset by name, or `{ base?, ...overrides }` where `base`
 * (default 'fp8-delayed') names the preset the overrides start from. Unknown fields and invalid
 * values throw, naming the field, the value and what is allowed. Without an explicit `name`,
 * an overridden recipe is named `base(field=value,...)`.
 */
export function resolvePrecision(nameOrOverrides: string | (Partial<PrecisionRecipe> & { base?: string })): PrecisionRecipe {
  if (typeof nameOrOverrides === 'string') return presetByName(nameOrOverrides, 'resolvePrecision');
  if (typeof nameOrOverrides !== 'object' || nameOrOverrides === null || Array.isArray(nameOrOverrides)) {
    throw new TypeError(`resolvePrecision: expected a preset name or an object of overrides, got ${JSON.stringify(nameOrOverrides)}`);
  }
  const { base: baseName = 'fp8-delayed', ...overrides } = nameOrOverrides as Record<string, unknown>;
  const base = presetByName(baseName, 'resolvePrecision base');
  const changed = Object.keys(overrides)
    .filter((k) => k !== 'name' && overrides[k] !== base[k as RecipeKey])
    .sort();
  const name =
    overrides.name !== undefined
      ? overrides.name
      : changed.length === 0
        ? base.name
        : `${base.name}(${changed.map((k) => `${k}=${String(overrides[k])}`).join(',')})`;
  return validateRecipe({ ...base, ...overrides, name }, 'resolvePrecision');
}

/**
 * What a recipe saved before the `activations` field existed ran with: float32 tensors between ops.
 * Reading such a recipe as 'fp32' reproduces its numerics (and a resumed run continues bit-identically).
 */
export const LEGACY_ACTIVATIONS: ActivationPrecision = 'fp32';

/**
 * Validates an object claiming to be a PrecisionRecipe (e.g. read from a checkpoint). A missing
 * `activations` field (a recipe saved before it existed) reads as LEGACY_ACTIVATIONS.
 */
export function assertPrecisionRecipe(value: unknown, where = 'recipe'): PrecisionRecipe {
  if (typeof value !== 'object' || value === null) {
    throw new TypeError(`${where}: expected a PrecisionRecipe object, got ${JSON.stringify(value)}`);
  }
  if (Object.isFrozen(value) && Object.values(PRECISION_PRESETS).includes(value as PrecisionRecipe)) return value as PrecisionRecipe;
  const candidate = value as Record<string, unknown>;
  return validateRecipe(Object.hasOwn(candidate, 'activations') ? candidate : { ...candidate, activations: LEGACY_ACTIVATIONS }, where);
}
