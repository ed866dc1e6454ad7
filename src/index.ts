/** fog8 public API. Each module re-exports its narrow public surface here. */
export type { Kernels, CastStats, GemmOperand, OperandDtype, Fp8FormatName } from './kernels/types.js';
export * as metricsSchema from './monitor/schema.js';
export * from './numerics/index.js';
export * from './model/index.js';
