/** Public surface of fog8's training system: config, run, checkpoints, inference. */
export { DEFAULT_TRAIN_CONFIG, TRAIN_CONFIG_KEYS, validateTrainConfig, ConfigError, type TrainConfig, type TrainConfigKey } from './config.js';
export { runTraining, prepareTraining, type RunOptions, type RunOutcome, type PreparedRun } from './session.js';
export { readCheckpoint } from './checkpoint.js';
export { resolveCheckpointDir } from './checkpoint-files.js';
export { loadModelForInference, sample, sampleFullWindow, type LoadedModel, type SampleOptions } from './inference.js';
export { encodeSafetensors, decodeSafetensors, readSafetensorsFile, writeSafetensorsFile, type SafetensorsTensor, type SafetensorsFile } from './safetensors.js';
export type { TrainProgress, ProgressUpdate } from './progress.js';
