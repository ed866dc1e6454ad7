/** Public surface of fog8's numerics: formats, bit-exact codecs, recipes and scaling state. */
export { E4M3, E5M2, BF16, FP16, fp8Format, type FloatFormat, type FloatFormatName } from './formats.js';
export {
  encodeFp8,
  decodeFp8,
  encodeFp8Into,
  decodeFp8Into,
  encodeFp8Scalar,
  decodeFp8Scalar,
  fp8DecodeTable,
} from './fp8.js';
export {
  roundToBf16,
  roundToBf16Into,
  roundToBf16Scalar,
  roundToFp16,
  roundToFp16Into,
  roundToFp16Scalar,
} from './bf16.js';
export { amax } from './amax.js';
export {
  PRECISION_PRESETS,
  SCALING_ROLES,
  resolvePrecision,
  assertPrecisionRecipe,
  LEGACY_ACTIVATIONS,
  formatForRole,
  isBackwardRole,
  type PrecisionRecipe,
  type PrecisionPresetName,
  type GemmPrecision,
  type ActivationPrecision,
  type ScalingMode,
  type ScalingRole,
  type AmaxAlgorithm,
  type Fp8Name,
} from './recipe.js';
export {
  FLT_MAX,
  computeScale,
  currentScale,
  ScalingSlot,
  ScalingState,
  type SerializedScalingState,
  type ScalingSnapshot,
} from './scaling.js';
export { blockGrid, blockScales, blockQuantize, blockFakeQuantize } from './block.js';
export { scalingPolicy, type ScalingPolicy, type TileKind, type Tiling } from './policy.js';
