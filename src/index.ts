/** fog8 public API. Each module re-exports its narrow public surface here. */
export type { Kernels, CastStats, GemmOperand, OperandDtype, Fp8FormatName } from './kernels/types.js';
export { loadKernels, nativeAvailability, type KernelsKind, type NativeAvailability } from './kernels/index.js';
export { createReferenceKernels } from './kernels/reference/index.js';
export * as metricsSchema from './monitor/schema.js';
export * from './numerics/index.js';
export * from './model/index.js';
export * as data from './data/index.js';
export * as optim from './optim/index.js';
export * as monitor from './monitor/index.js';
export * as train from './train/index.js';
export * as evaluation from './eval/index.js';
