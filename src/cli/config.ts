/**
 * The training configuration: flat, typed, persisted (STYLE §9). Resolution order is
 * defaults < `--config file.json|yaml` < `--key value` flags. Keys are camelCase in files
 * (kebab-case is accepted too) and kebab-case as flags; an unknown key is an error that lists
 * the valid ones. The resolved config is validated with zod and saved as RUN_DIR/config.json.
 */
import { readFileSync, existsSync } from 'node:fs';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const positiveInt = z.number().int().positive();
const nonNegInt = z.number().int().nonnegative();
const wide = z.enum(['fp32', 'fp16', 'bf16']);
const moment = z.enum(['fp32', 'fp16', 'bf16', 'fp8']);

/** zod schema of the resolved training config (every field present). */
export const trainConfigSchema = z
  .object({
    preset: z.string(),
    size: z.string(),
    precision: z.string(),
    fp8Attention: z.boolean(),
    steps: positiveInt,
    tokens: z.number().positive().nullable(),
    lr: z.number().nonnegative(),
    minLr: z.number().nonnegative(),
    warmup: nonNegInt,
    schedule: z.enum(['wsd', 'cosine', 'constant']),
    cooldownFraction: z.number().min(0).max(1),
    batch: positiveInt,
    seq: positiveInt.nullable(),
    microBatches: positiveInt,
    runDir: z.string().nullable(),
    runName: z.string().nullable(),
    seed: z.number().int(),
    data: z.string(),
    tokenizer: z.string().nullable(),
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
    weightDecay: z.number().nonnegative(),
    gradClip: z.number().positive(),
    maxBadSteps: positiveInt,
    peakFlops: z.number().positive().nullable(),
    progress: z.enum(['auto', 'bar', 'lines', 'none']),
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
  steps: 120,
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
});

/** One line of help per key (also the order keys are listed in). */
export const TRAIN_CONFIG_HELP: Readonly<Record<TrainConfigKey, string>> = Object.freeze({
  preset: 'architecture preset (llama3, llama3-smooth-swiglu, op, fog-xielu, fog-gelu, fog-tanh)',
  size: 'model size (tiny, small, s, m, 390m, 1.5b, 8b)',
  precision: 'precision recipe (fp32, bf16, fp8-delayed, fp8-current, fp8-block)',
  fp8Attention: 'FP8 attention dot products when the recipe is FP8 (true/false)',
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
  peakFlops: 'peak FLOP/s for MFU (null: 433.5e9 per thread, the BF16-dot ceiling of PEERS.md)',
  progress: 'progress display (auto: bar on a TTY, lines otherwise; none)',
});

export const TRAIN_CONFIG_KEYS: readonly TrainConfigKey[] = Object.keys(DEFAULT_TRAIN_CONFIG) as TrainConfigKey[];

/** camelCase ↔ kebab-case. */
export function toKebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
function toCamel(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export class ConfigError extends Error {}

function unknownKeyError(key: string, where: string): ConfigError {
  const valid = TRAIN_CONFIG_KEYS.map((k) => (where === 'flag' ? `--${toKebab(k)}` : k)).join(', ');
  const shown = where === 'flag' ? `--${key}` : key;
  return new ConfigError(`unknown ${where === 'flag' ? 'option' : `key in ${where}`} ${JSON.stringify(shown)}; valid keys: ${valid}`);
}

/** The canonical key for a file key or flag name, or null. */
function canonicalKey(name: string): TrainConfigKey | null {
  const camel = toCamel(name);
  return (TRAIN_CONFIG_KEYS as readonly string[]).includes(camel) ? (camel as TrainConfigKey) : null;
}

/** Converts a flag's string to the type of the key's default (numbers, booleans, null). */
function coerceFlag(key: TrainConfigKey, raw: string): unknown {
  const def = DEFAULT_TRAIN_CONFIG[key];
  if (raw === 'null' && trainConfigSchema.shape[key].safeParse(null).success) return null;
  const numeric = typeof def === 'number' || (def === null && trainConfigSchema.shape[key].safeParse(1).success && !trainConfigSchema.shape[key].safeParse('x').success);
  if (typeof def === 'boolean') {
    if (raw === 'true') return true;
    if (raw === 'false') return false;
    throw new ConfigError(`--${toKebab(key)} must be true or false, got ${JSON.stringify(raw)}`);
  }
  if (numeric) {
    const n = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(n)) throw new ConfigError(`--${toKebab(key)} must be a number, got ${JSON.stringify(raw)}`);
    return n;
  }
  return raw;
}

/** Options of `fog8 train` that are not config keys. */
export interface TrainCliExtras {
  configFile: string | null;
  resume: string | null;
}

/**
 * Parses `--key value`, `--key=value`, `--flag` (true) and `--no-flag` (false) arguments.
 * `--config` and `--resume` are returned apart. Unknown keys and positional arguments throw.
 */
export function parseTrainFlags(args: readonly string[]): { values: Partial<Record<TrainConfigKey, unknown>>; extras: TrainCliExtras } {
  const values: Partial<Record<TrainConfigKey, unknown>> = {};
  const extras: TrainCliExtras = { configFile: null, resume: null };
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (!a.startsWith('--')) throw new ConfigError(`unexpected argument ${JSON.stringify(a)}: options are --key value`);
    let name = a.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (name === 'config' || name === 'resume') {
      if (value === undefined) value = args[++i];
      if (value === undefined || value.startsWith('--')) throw new ConfigError(`--${name} needs a value`);
      extras[name === 'config' ? 'configFile' : 'resume'] = value;
      continue;
    }
    const key = canonicalKey(name);
    if (key === null && name.startsWith('no-') && value === undefined) {
      const k = canonicalKey(name.slice(3));
      if (k !== null && typeof DEFAULT_TRAIN_CONFIG[k] === 'boolean') {
        values[k] = false;
        continue;
      }
    }
    if (key === null) throw unknownKeyError(name, 'flag');
    if (value === undefined) {
      const next = args[i + 1];
      if (typeof DEFAULT_TRAIN_CONFIG[key] === 'boolean' && (next === undefined || next.startsWith('--'))) {
        values[key] = true;
        continue;
      }
      if (next === undefined || next.startsWith('--')) throw new ConfigError(`--${toKebab(key)} needs a value`);
      value = next;
      i++;
    }
    values[key] = coerceFlag(key, value);
  }
  return { values, extras };
}

/** Reads a JSON or YAML config file into canonical keys; unknown keys throw listing the valid ones. */
export function readConfigFile(path: string): Partial<Record<TrainConfigKey, unknown>> {
  if (!existsSync(path)) throw new ConfigError(`config file ${path}: not found`);
  const text = readFileSync(path, 'utf8');
  let raw: unknown;
  try {
    raw = extname(path).toLowerCase() === '.json' ? JSON.parse(text) : parseYaml(text);
  } catch (e) {
    throw new ConfigError(`config file ${path}: cannot parse (${(e as Error).message})`);
  }
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConfigError(`config file ${path}: must hold a mapping of keys to values`);
  const out: Partial<Record<TrainConfigKey, unknown>> = {};
  for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
    const key = canonicalKey(k);
    if (key === null) throw unknownKeyError(k, path);
    out[key] = v;
  }
  return out;
}

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

/**
 * Resolves defaults < config file < flags into a validated config. `args` are the raw train
 * arguments (flags); `--config` inside them names the file.
 */
export function resolveTrainConfig(args: readonly string[], base: Readonly<TrainConfig> = DEFAULT_TRAIN_CONFIG): { config: TrainConfig; extras: TrainCliExtras } {
  const { values, extras } = parseTrainFlags(args);
  const fromFile = extras.configFile ? readConfigFile(extras.configFile) : {};
  const merged: Record<string, unknown> = { ...base, ...fromFile, ...values };
  return { config: validateTrainConfig(merged), extras };
}

/** Help text listing every key with its default. */
export function trainConfigHelp(): string {
  const lines = TRAIN_CONFIG_KEYS.map((k) => `  --${toKebab(k).padEnd(22)} ${TRAIN_CONFIG_HELP[k]} [${JSON.stringify(DEFAULT_TRAIN_CONFIG[k])}]`);
  return ['Config keys (defaults < --config file.json|yaml < --key value flags):', ...lines, '  --config FILE            JSON or YAML file of keys', '  --resume RUN_DIR         continue a run bit-identically from its newest checkpoint'].join('\n');
}
