/**
 * The training configuration as data: flat, typed, persisted (STYLE §9). This module holds the
 * zod schema, the defaults (the main job), one line of help per key and validation; reading
 * flags and files and resolving defaults < file < flags is the CLI's job (src/cli/config.ts).
 * The resolved config is saved as RUN_DIR/config.json and in every checkpoint.
 */
import { z } from 'zod';

/** A training config that is invalid or cannot be resolved (bad key, bad value, bad file). */
export class ConfigError extends Error {}

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const wide = z.enum(['fp32', 'fp16', 'bf16']);
const moment = z.enum(['fp32', 'fp16', 'bf16', 'fp8']);
/**
 * Largest accepted learning rate. An AdamW step moves a weight by at most a few times lr, so up to
 * this the float32 weights stay finite and an absurd lr ends in the skip-and-diagnose path
 * (non-finite loss, `--max-bad-steps`); beyond it (e.g. 1e308) the first update overflowed the
 * weights to ±Infinity and the run died inside a kernel instead.
 */
export const MAX_LR = 1e30;
/** A run name is one path segment: letters, digits, '.', '_', '-' (not '.' or '..'), so runs/<name> stays in runs/. */
const RUN_NAME = /^(?!\.\.?$)[A-Za-z0-9._-]{1,128}$/;

/** zod schema of the resolved training config (every field present). */
export const trainConfigSchema = z
  .object({
    preset: z.string(),
    size: z.string(),
    precision: z.string(),
    fp8Attention: z.boolean(),
    fp8LmHead: z.boolean(),
    activations: z.enum(['bf16', 'fp32']).nullable(),
    steps: positiveInt,
    tokens: z.number().positive().nullable(),
    lr: z.number().nonnegative().max(MAX_LR, `must be at most ${MAX_LR} (a larger AdamW step overflows the float32 weights)`),
    minLr: z.number().nonnegative().max(MAX_LR, `must be at most ${MAX_LR}`),
    warmup: nonNegInt,
    schedule: z.enum(['wsd', 'cosine', 'constant']),
    cooldownFraction: z.number().min(0).max(1),
    batch: positiveInt,
    seq: positiveInt.nullable(),
    microBatches: positiveInt,
    runDir: z.string().min(1, 'must not be empty (omit it for runs/<run-name>)').nullable(),
    runName: z.string().regex(RUN_NAME, "must be one path segment of letters, digits, '.', '_' or '-' (not '.' or '..'); use --run-dir for a path").nullable(),
    seed: z.number().int(),
    data: z.string(),
    tokenizer: z.string().nullable(),
    initFrom: z.string().min(1, 'must not be empty (omit it to initialise from the seed)').nullable(),
    vocabSize: positiveInt.nullable(),
    valFraction: z.number().gt(0).lt(1),
    metricsInterval: positiveInt,
    evalInterval: nonNegInt,
    evalBatches: positiveInt,
    checkpointInterval: nonNegInt,
    keepCheckpoints: positiveInt,
    threads: positiveInt.nullable(),
    kernels: z.enum(['auto', 'native', 'reference']),
    masterPrecision: wide,
    m1Precision: moment,
    m2Precision: moment,
    gradPrecision: wide,
    beta1: z.number().min(0).lt(1),
    beta2: z.number().min(0).lt(1),
    eps: z.number().positive(),
    weightDecay: z.number().nonnegative().max(1, 'must be at most 1 (decoupled decay removes lr·weightDecay of each weight per step)'),
    gradClip: z.number().positive(),
    maxBadSteps: positiveInt,
    peakFlops: z.number().positive().nullable(),
    progress: z.enum(['auto', 'bar', 'lines', 'none']),
    onAlarm: z.enum(['warn', 'rollback']),
    gemmOverrides: z.array(z.string()),
    recomputeMlp: z.boolean(),
    maxRollbacks: nonNegInt,
    forecasterModel: z.string().nullable(),
    alarmThreshold: z.number().gt(0).lt(1),
    lrSpikeStep: nonNegInt.nullable(),
    lrSpikeSteps: positiveInt,
    lrSpikeFactor: z.number().positive(),
  })
  .strict();

export type TrainConfig = z.infer<typeof trainConfigSchema>;
export type TrainConfigKey = keyof TrainConfig;

/**
 * Defaults: the main job (`npx fog8 train`): fog-xielu / small in fp8-delayed with FP8 attention
 * on the embedded Brown corpus, sized to finish in about 5 minutes on 2 cores.
 */
export const DEFAULT_TRAIN_CONFIG: Readonly<TrainConfig> = Object.freeze({
  preset: 'fog-xielu',
  size: 'small',
  precision: 'fp8-delayed',
  fp8Attention: true,
  fp8LmHead: false,
  activations: null,
  steps: 400,
  tokens: null,
  lr: 3e-3,
  minLr: 1e-8,
  warmup: 10,
  schedule: 'wsd',
  cooldownFraction: 0.2,
  batch: 8,
  seq: 128,
  microBatches: 1,
  runDir: null,
  runName: null,
  initFrom: null,
  seed: 1234,
  data: 'brown',
  tokenizer: null,
  vocabSize: null,
  valFraction: 0.02,
  metricsInterval: 10,
  evalInterval: 40,
  evalBatches: 8,
  checkpointInterval: 60,
  keepCheckpoints: 2,
  threads: null,
  kernels: 'auto',
  masterPrecision: 'fp32',
  m1Precision: 'fp32',
  m2Precision: 'fp32',
  gradPrecision: 'fp32',
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  weightDecay: 0.1,
  gradClip: 1.0,
  maxBadSteps: 10,
  peakFlops: null,
  progress: 'auto',
  onAlarm: 'warn',
  gemmOverrides: [],
  recomputeMlp: false,
  maxRollbacks: 3,
  forecasterModel: null,
  alarmThreshold: 0.5,
  lrSpikeStep: null,
  lrSpikeSteps: 1,
  lrSpikeFactor: 100,
});

/** One line of help per key (also the order keys are listed in). */
export const TRAIN_CONFIG_HELP: Readonly<Record<TrainConfigKey, string>> = Object.freeze({
  preset: 'architecture preset (llama3, llama3-smooth-swiglu, op, fog-xielu, fog-gelu, fog-tanh)',
  size: 'model size (tiny, small, s, m, 390m, 1.5b, 8b)',
  precision: 'precision recipe (fp32, bf16, fp8-delayed, fp8-current, fp8-block)',
  fp8Attention: 'FP8 attention dot products when the recipe is FP8 (true/false)',
  fp8LmHead: 'LM head GEMMs in FP8 when the recipe is FP8 (the authors\' --fp8-lmhead; not with tied embeddings)',
  activations: 'tensors handed between ops: bf16 (Megatron --bf16) or fp32 (null: the recipe\'s own, bf16 except for fp32)',
  steps: 'optimizer steps',
  tokens: 'training tokens; when set, steps = ceil(tokens / (batch·seq))',
  lr: 'peak learning rate',
  minLr: 'final learning rate of the cooldown',
  warmup: 'linear warmup steps',
  schedule: 'learning-rate schedule (wsd, cosine, constant)',
  cooldownFraction: 'fraction of steps in the WSD 1−√τ cooldown',
  batch: 'sequences per optimizer step (split over micro-batches)',
  seq: 'sequence length (null: the model size default)',
  microBatches: 'gradient-accumulation micro-batches per step (must divide batch)',
  runDir: 'run directory (default runs/<run-name>)',
  runName: 'run name (default: a timestamp)',
  seed: 'seed of weights init and data shuffle',
  data: "'brown' (embedded corpus) or a Megatron dataset prefix (PREFIX.bin/.idx)",
  tokenizer: 'tokenizer.json for --data PREFIX (copied into checkpoints for generate)',
  initFrom: 'start from the weights of a Hugging Face model directory (config.json + safetensors) or a fog8 checkpoint; its config replaces preset/size',
  vocabSize: 'BPE vocabulary trained on the embedded corpus (null: the model size default)',
  valFraction: 'fraction of documents held out for validation (embedded corpus)',
  metricsInterval: 'steps between tensor and FP8 statistics',
  evalInterval: 'steps between validation evals (0: only at the end)',
  evalBatches: 'validation batches per eval',
  checkpointInterval: 'steps between checkpoints (0: only at the end)',
  keepCheckpoints: 'checkpoints kept (the newest K)',
  threads: 'kernel threads (null: all cores)',
  kernels: 'kernel backend (auto, native, reference)',
  masterPrecision: 'master weight precision (fp32, fp16, bf16)',
  m1Precision: 'Adam first moment precision (fp32, fp16, bf16, fp8 = E4M3)',
  m2Precision: 'Adam second moment precision (fp32, fp16, bf16, fp8 = E5M2)',
  gradPrecision: 'gradient buffer precision (fp32, fp16, bf16)',
  beta1: 'AdamW β1',
  beta2: 'AdamW β2',
  eps: 'AdamW ε',
  weightDecay: 'AdamW weight decay (2-D matrices only)',
  gradClip: 'global gradient-norm clip',
  maxBadSteps: 'consecutive non-finite steps before the run stops with a diagnosis',
  peakFlops: 'peak FLOP/s for MFU (null: measured by the native addon\'s peak loop for its instruction path; 433.5e9 per thread on the reference kernels)',
  progress: 'progress display (auto: bar on a TTY, lines otherwise; none)',
  onAlarm: 'on a non-finite step, a loss spike or a forecaster alarm: warn, or rollback (to the newest good checkpoint, implicated FP8 GEMM switched to BF16, continue)',
  recomputeMlp: 'recompute each MLP\'s fc1 output in backward instead of keeping it per layer (BF16 bits under BF16 tensors, else float32): less memory, one more fc1 fprop GEMM per layer; bit-identical either way',
  gemmOverrides: "GEMMs run in BF16 although the recipe is FP8, comma-separated (layers.N.attn.qkv|attn.dpa|attn.out|mlp.fc1|mlp.fc2, lm_head); rollback adds to it",
  maxRollbacks: 'rollbacks per run before alarms only warn',
  forecasterModel: 'fitted spike forecaster (fog8 forecast-eval --save FILE) whose alarms also trigger --on-alarm (null: loss spikes and non-finite steps only)',
  alarmThreshold: 'forecaster probability that raises an alarm',
  lrSpikeStep: 'fault injection for testing recovery: multiply the lr by lrSpikeFactor from this step for lrSpikeSteps steps, until the first rollback (null: off)',
  lrSpikeSteps: 'steps of the injected lr spike',
  lrSpikeFactor: 'factor of the injected lr spike',
});

export const TRAIN_CONFIG_KEYS: readonly TrainConfigKey[] = Object.keys(DEFAULT_TRAIN_CONFIG) as TrainConfigKey[];

/** Validates a complete candidate config; errors name each bad key with what was given. */
export function validateTrainConfig(candidate: Record<string, unknown>): TrainConfig {
  const parsed = trainConfigSchema.safeParse(candidate);
  if (!parsed.success) {
    const msgs = parsed.error.issues.map((iss) => {
      const key = String(iss.path[0] ?? '');
      if (iss.code === 'unrecognized_keys') return iss.message;
      return `${key} (${JSON.stringify(candidate[key])}): ${iss.message}`;
    });
    throw new ConfigError(`invalid training config: ${msgs.join('; ')}`);
  }
  const c = parsed.data;
  if (c.batch % c.microBatches !== 0) throw new ConfigError(`invalid training config: batch (${c.batch}) must be divisible by microBatches (${c.microBatches})`);
  if (c.minLr > c.lr) throw new ConfigError(`invalid training config: minLr (${c.minLr}) must be ≤ lr (${c.lr})`);
  return c;
}
