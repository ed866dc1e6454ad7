/** Public surface of fog8's models: config, presets, sizes, parameter table, the Model. */
export {
  PRESETS, SIZES, PRESET_NAMES, SIZE_NAMES, LLAMA31_ROPE_SCALING, resolveModelConfig, validateRopeScaling, isGatedMlp,
  type ModelConfig, type PresetName, type SizeName, type ArchitectureKnobs, type SizeShape, type QkNorm, type MlpKind, type RopeScaling, type InputUpscale,
} from './config.js';
export { toHfConfig, fromHfConfig, toHfRopeScaling, fromHfRopeScaling, isLlamaConfig, HfConfigError } from './hf-config.js';
export { ParameterStore, buildParamSpecs, countParameters, layerParamNames, type ParamSpec, type ParamInit } from './params.js';
export { Model, flopsPerToken, type Batch, type MonitorSink, type CastInfo, type TensorName } from './model.js';
