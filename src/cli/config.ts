/**
 * `fog8 train` configuration input: flags and config files. Resolution order is
 * defaults < `--config file.json|yaml` < `--key value` flags. Keys are camelCase in files
 * (kebab-case is accepted too) and kebab-case as flags; an unknown key is an error that lists
 * the valid ones. The schema, defaults and validation live in src/train/config.ts.
 */
import { existsSync } from 'node:fs';
import { readFileSafely } from '../util/safe-file.js';
import { extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import {
  ConfigError,
  DEFAULT_TRAIN_CONFIG,
  TRAIN_CONFIG_HELP,
  TRAIN_CONFIG_KEYS,
  trainConfigSchema,
  validateTrainConfig,
  type TrainConfig,
  type TrainConfigKey,
} from '../train/config.js';

/** camelCase ↔ kebab-case. */
export function toKebab(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
function toCamel(key: string): string {
  return key.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

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
  if (Array.isArray(def)) return raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
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
  /** Stop with a checkpoint once this many steps are complete (a job's share of a longer run). */
  stopAfter: number | null;
}

/**
 * Parses `--key value`, `--key=value`, `--flag` (true) and `--no-flag` (false) arguments.
 * `--config` and `--resume` are returned apart. Unknown keys and positional arguments throw.
 */
export function parseTrainFlags(args: readonly string[]): { values: Partial<Record<TrainConfigKey, unknown>>; extras: TrainCliExtras } {
  const values: Partial<Record<TrainConfigKey, unknown>> = {};
  const extras: TrainCliExtras = { configFile: null, resume: null, stopAfter: null };
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
      // An unset shell variable (--resume "$RUN") must not silently start a fresh default run.
      if (value.trim() === '') throw new ConfigError(`--${name} needs a value, got an empty string${name === 'resume' ? ' (an unset shell variable?); give the run directory to resume' : ''}`);
      extras[name === 'config' ? 'configFile' : 'resume'] = value;
      continue;
    }
    if (name === 'stop-after') {
      if (value === undefined) value = args[++i];
      const n = Number(value);
      if (value === undefined || !Number.isInteger(n) || n < 1) throw new ConfigError(`--stop-after needs a positive integer step, got ${JSON.stringify(value)}`);
      extras.stopAfter = n;
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
  let text: string;
  try {
    text = readFileSafely(path, { what: 'config file', maxBytes: 1 << 20 }).toString('utf8');
  } catch (e) {
    throw new ConfigError((e as Error).message);
  }
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
  return ['Config keys (defaults < --config file.json|yaml < --key value flags):', ...lines, '  --config FILE            JSON or YAML file of keys', '  --resume RUN_DIR         continue a run bit-identically from its newest checkpoint', '  --stop-after N           stop with a checkpoint once N steps are complete (resume later)'].join('\n');
}
