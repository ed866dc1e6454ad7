/** Public surface of fog8's models: config, presets, sizes, parameter table, the Model. */
export {
  PRESETS, SIZES, PRESET_NAMES, SIZE_NAMES, resolveModelConfig, toHfConfig, fromHfConfig, isGatedMlp,
  type ModelConfig, type PresetName, type SizeName, type ArchitectureKnobs, type SizeShape, type QkNorm, type MlpKind,
} from './config.js';
export { ParameterStore, buildParamSpecs, countParameters, layerParamNames, type ParamSpec, type ParamInit } from './params.js';
export { Model, flopsPerToken, type Batch, type MonitorSink, type CastInfo, type TensorName } from './model.js';
