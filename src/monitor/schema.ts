/**
 * The schema of RUN_DIR/metrics.jsonl: one JSON object per line, discriminated by `type`.
 * The trainer writes it, the report and dashboard read it; both validate with these zod schemas.
 * Every record carries `step` (optimizer steps completed) and `tokens` (training tokens consumed).
 * Changing a field is a schema change: bump METRICS_SCHEMA_VERSION.
 */
import { z } from 'zod';

export const METRICS_SCHEMA_VERSION = 1;

const base = { step: z.number().int().nonnegative(), tokens: z.number().nonnegative(), time: z.number() };

/** First line of a run (and of each resumed segment). */
export const runRecord = z.object({
  type: z.literal('run'),
  ...base,
  schemaVersion: z.literal(METRICS_SCHEMA_VERSION),
  runName: z.string(),
  preset: z.string(),
  size: z.string(),
  precision: z.string(),
  parameters: z.number().int().positive(),
  flopsPerToken: z.number().positive(),
  resumed: z.boolean(),
  kernels: z.string(),
});

/** Every optimizer step. */
export const stepRecord = z.object({
  type: z.literal('step'),
  ...base,
  loss: z.number().nullable(), // null when non-finite
  lr: z.number(),
  gradNorm: z.number().nullable(),
  tokensPerSec: z.number(),
  mfu: z.number(), // model FLOPs utilisation against the measured/declared peak
  skipped: z.boolean(),
  stepTimeMs: z.number(),
});

/** Every eval interval. */
export const evalRecord = z.object({
  type: z.literal('eval'),
  ...base,
  valLoss: z.number(),
  valPerplexity: z.number(),
});

/** Per layer and named tensor (DESIGN §6), every metrics interval. */
export const tensorStat = z.object({
  layer: z.number().int().nonnegative(),
  tensor: z.enum(['activation', 'qkv_input', 'qkv', 'q', 'k', 'mlp_intermediate', 'mlp_post_act', 'mlp_out']),
  mean: z.number(),
  rms: z.number(),
  kurtosis: z.number(),
});
export const tensorsRecord = z.object({
  type: z.literal('tensors'),
  ...base,
  stats: z.array(tensorStat),
  /** max of softmax_scale·q·k per layer. */
  maxAttentionLogit: z.array(z.number()),
});

/** FP8 cast statistics per scaled operand, every metrics interval. */
export const castStat = z.object({
  layer: z.number().int(), // −1 for operands outside the blocks (LM head)
  gemm: z.string(), // e.g. 'attn.qkv', 'attn.out', 'mlp.fc1', 'mlp.fc2', 'attn.dpa', 'lm_head'
  role: z.string(), // 'input' | 'weight' | 'grad_output' | 'qkv' | 'p' | 'o' | 'do' | 'ds' | 'dqkv'
  format: z.enum(['e4m3', 'e5m2']),
  amax: z.number().nullable(),
  scale: z.number(),
  /** % of the non-zero inputs whose FP8 value is 0 (DESIGN §6). */
  underflowPct: z.number(),
  overflowPct: z.number(),
  /** ‖x − dequant(quant(x))‖ / ‖x‖ over the finite inputs (absent: the kernel did not measure it). */
  relErr: z.number().optional(),
  /** % of Σ|x| (finite inputs) in values that underflowed to 0. */
  massLostPct: z.number().optional(),
});
export const fp8Record = z.object({ type: z.literal('fp8'), ...base, casts: z.array(castStat) });

/** A skipped/bad step diagnosis, and the end of a run. */
export const eventRecord = z.object({
  type: z.literal('event'),
  ...base,
  level: z.enum(['info', 'warn', 'error']),
  message: z.string(),
});

/**
 * A rollback (`--on-alarm rollback`): at `alarmStep` an alarm fired; the run went back to the
 * checkpoint of `step` and continues with the GEMMs of `overrides` in BF16 (`added`: new this time).
 */
export const rollbackRecord = z.object({
  type: z.literal('rollback'),
  ...base,
  alarmStep: z.number().int().nonnegative(),
  reason: z.string(),
  added: z.array(z.string()),
  overrides: z.array(z.string()),
});

export const metricsRecord = z.discriminatedUnion('type', [runRecord, stepRecord, evalRecord, tensorsRecord, fp8Record, eventRecord, rollbackRecord]);

export type RunRecord = z.infer<typeof runRecord>;
export type StepRecord = z.infer<typeof stepRecord>;
export type EvalRecord = z.infer<typeof evalRecord>;
export type TensorStat = z.infer<typeof tensorStat>;
export type TensorsRecord = z.infer<typeof tensorsRecord>;
export type CastStat = z.infer<typeof castStat>;
export type Fp8Record = z.infer<typeof fp8Record>;
export type EventRecord = z.infer<typeof eventRecord>;
export type RollbackRecord = z.infer<typeof rollbackRecord>;
export type MetricsRecord = z.infer<typeof metricsRecord>;
