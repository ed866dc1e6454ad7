/**
 * Sets up a training run from a resolved config: kernels, data, model, optimizer, run directory
 * (config.json, metrics.jsonl, train.log, checkpoints/), and — for `--resume` — restores every
 * piece of state after verifying all of it first (a mismatched checkpoint changes nothing).
 */
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { totalmem } from 'node:os';
import { readFileSafely } from '../util/safe-file.js';
import { join, resolve } from 'node:path';
import type { Kernels } from '../kernels/types.js';
import { createReferenceKernels } from '../kernels/reference/index.js';
import { Model, flopsPerToken } from '../model/model.js';
import { resolveModelConfig, type ModelConfig } from '../model/config.js';
import { LEGACY_ACTIVATIONS, resolvePrecision, type PrecisionRecipe } from '../numerics/recipe.js';
import { ScalingState } from '../numerics/scaling.js';
import { AdamW, type OptimizedTensor } from '../optim/adamw.js';
import { validateSchedule } from '../optim/schedule.js';
import { BatchLoader, type LoaderState } from '../data/batch-loader.js';
import { IndexedDataset } from '../data/indexed-dataset-reader.js';
import { prepareDefaultCorpus } from '../data/default-corpus.js';
import { loadTokenizer } from '../data/tokenizer.js';
import { DivergenceForecaster } from '../monitor/divergence.js';
import { MetricsWriter } from '../monitor/metrics-writer.js';
import { TrainLog } from '../monitor/train-log.js';
import { METRICS_SCHEMA_VERSION } from '../monitor/schema.js';
import { ConfigError, DEFAULT_TRAIN_CONFIG, TRAIN_CONFIG_KEYS, validateTrainConfig, type TrainConfig, type TrainConfigKey } from './config.js';
import { silentProgress, type TrainProgressFactory } from './progress.js';
import { checkModelTensors, checkOptimizerState, modelWeightsFrom, moveCheckpointInto, readCheckpoint, type Checkpoint } from './checkpoint.js';
import { checkpointDirName, listCheckpointSteps, MANIFEST_FILE, resolveCheckpointDir, runDirOfCheckpoint } from './checkpoint-files.js';
import { Trainer, type RollbackInfo, type TrainResult } from './trainer.js';
import { assertSameFingerprint, soloCommunicator, type Communicator } from './distributed.js';
import { hfWeightsFor, isHfModelDir, readHfModel } from './hf-import.js';
import { fromHfConfig } from '../model/hf-config.js';
import type { ParamTable } from './checkpoint.js';
import { describeMemoryPlan, formatBytes, planTrainingMemory, recomputeSavings } from './memory.js';
import { validateForecastModel, type ForecastModel } from '../monitor/forecast.js';

/** Reads a fitted forecaster (fog8 forecast-eval --save); errors name the file. */
function readForecastModel(path: string): ForecastModel {
  if (!existsSync(path)) throw new ConfigError(`forecasterModel: ${path} not found (write one with fog8 forecast-eval RUN… --save FILE)`);
  try {
    return validateForecastModel(JSON.parse(readFileSafely(path, { what: 'forecaster model', maxBytes: 1 << 20 }).toString('utf8')));
  } catch (e) {
    throw new ConfigError(`forecasterModel: ${path}: ${(e as Error).message}`);
  }
}

/** Chooses the kernel backend ('auto' = native when it loads, else reference). */
export type KernelLoader = (kind: TrainConfig['kernels'], threads: number | null) => Promise<Kernels>;

/** Parameter table → the optimizer's tensor list (same arena layout). */
export function optimizedTensors(model: Model): OptimizedTensor[] {
  return model.params.specs.map((s) => ({
    name: s.name,
    shape: s.shape,
    offset: model.params.offsets.get(s.name) as number,
    size: s.shape.reduce((a, b) => a * b, 1),
    weightDecay: s.weightDecay,
  }));
}

/**
 * The precision recipe of a config: fp8Attention and fp8LmHead applied to FP8 recipes (like the
 * authors' --fp8-dpa and --fp8-lmhead, they only mean something with FP8 GEMMs), `activations`
 * (null or absent: the recipe's own) to any.
 */
export function recipeOf(
  config: Pick<TrainConfig, 'precision' | 'fp8Attention'> & { activations?: TrainConfig['activations']; fp8LmHead?: TrainConfig['fp8LmHead'] },
): PrecisionRecipe {
  const base = resolvePrecision(config.precision);
  const overrides: { -readonly [K in keyof PrecisionRecipe]?: PrecisionRecipe[K] } = {};
  // Block scaling has no FP8 attention (the recipe refuses it); the startup line says "FP8 attention off".
  if (base.gemm === 'fp8' && base.scaling !== 'block' && base.fp8Attention !== config.fp8Attention) overrides.fp8Attention = config.fp8Attention;
  if (base.gemm === 'fp8' && config.fp8LmHead !== undefined && config.fp8LmHead !== base.fp8LmHead) overrides.fp8LmHead = config.fp8LmHead;
  if (config.activations != null && config.activations !== base.activations) overrides.activations = config.activations;
  return Object.keys(overrides).length === 0 ? base : resolvePrecision({ base: config.precision, ...overrides });
}

/** The training data: loaders, tokenizer bytes (for checkpoints) and the vocabulary size. */
export interface TrainingData {
  vocabSize: number;
  train: BatchLoader;
  validation: () => BatchLoader;
  tokenizerJson: Uint8Array | null;
  description: string;
  /** What identifies the data bytes (compared across data-parallel ranks): sizes and SHA-256s. */
  fingerprint: { tokens: number; documents: number; trainSequences: number; index: string; data: string; tokenizer: string | null };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** SHA-256 of a file's size, its first and its last MiB (cheap on large token files, still catches different data). */
function fileFingerprint(path: string): string {
  const size = statSync(path).size;
  const hash = createHash('sha256').update(String(size));
  const fd = openSync(path, 'r');
  try {
    const chunk = Buffer.alloc(Math.min(size, 1 << 20));
    for (const at of size > chunk.length ? [0, size - chunk.length] : [0]) {
      const n = readSync(fd, chunk, 0, chunk.length, at);
      hash.update(chunk.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Smallest byte-level BPE vocabulary: the 256 byte tokens and the end-of-document token. */
const MIN_BROWN_VOCAB = 257;
/** What a size whose default vocabulary is below MIN_BROWN_VOCAB (tiny: 64) gets on the embedded corpus. */
export const SMALL_SIZE_BROWN_VOCAB = 512;

/** Opens the configured data: 'brown' (prepared and cached on first use) or a dataset prefix. */
export async function openTrainingData(config: TrainConfig, T: number, modelVocab: number, log: (s: string) => void, comm: Communicator = soloCommunicator): Promise<TrainingData> {
  let prefix: string;
  let tokenizerPath: string | null;
  let vocabSize: number;
  if (config.data === 'brown') {
    if (config.tokenizer !== null) throw new ConfigError(`tokenizer (${JSON.stringify(config.tokenizer)}) applies only to --data PREFIX; the embedded corpus uses its own BPE of --vocab-size tokens`);
    let bpeVocab = config.vocabSize ?? modelVocab;
    if (config.vocabSize === null && bpeVocab < MIN_BROWN_VOCAB) {
      // The size's default vocabulary cannot hold a byte-level BPE: pick one that can and say so.
      bpeVocab = SMALL_SIZE_BROWN_VOCAB;
      log(`vocabulary: size '${config.size}' defaults to ${modelVocab} tokens, fewer than the ${MIN_BROWN_VOCAB} a byte-level BPE of the embedded corpus needs; using ${bpeVocab} (set --vocab-size to choose)`);
    }
    if (bpeVocab < MIN_BROWN_VOCAB) {
      throw new ConfigError(
        `vocabSize: the embedded corpus needs a byte-level BPE of at least ${MIN_BROWN_VOCAB} tokens (256 bytes + <|endoftext|>), ` +
          `but ${config.vocabSize === null ? `size '${config.size}' defaults to ${modelVocab}` : `got ${bpeVocab}`}; pass --vocab-size N with N ≥ ${MIN_BROWN_VOCAB} (e.g. 512)`,
      );
    }
    // One rank builds the cached corpus; the others wait for it and then only read the cache.
    if (comm.rank !== 0) comm.allgather(new Uint8Array(0));
    const corpus = await prepareDefaultCorpus({ vocabSize: bpeVocab, log });
    if (comm.rank === 0 && comm.size > 1) comm.allgather(new Uint8Array(0));
    prefix = corpus.datasetPrefix;
    tokenizerPath = corpus.tokenizerPath;
    vocabSize = corpus.vocabSize;
  } else {
    prefix = config.data;
    tokenizerPath = config.tokenizer;
    vocabSize = tokenizerPath ? loadTokenizer(tokenizerPath).vocabSize : (config.vocabSize ?? modelVocab);
    // With a tokenizer its vocabulary is the model's; a different --vocab-size would be recorded but not used.
    if (tokenizerPath && config.vocabSize !== null && config.vocabSize !== vocabSize) {
      throw new ConfigError(`vocabSize (${config.vocabSize}) conflicts with tokenizer ${tokenizerPath}, which has ${vocabSize} tokens; omit --vocab-size or give ${vocabSize}`);
    }
  }
  const dataset = IndexedDataset.open(prefix, { vocabSize });
  const B = config.batch / config.microBatches;
  const opts = { dataset, B, T, seed: config.seed, validationFraction: config.valFraction };
  const train = new BatchLoader({ ...opts, split: 'train' });
  const validation = (): BatchLoader => new BatchLoader({ ...opts, split: 'validation' });
  validation(); // fail now, not at the first eval, if the split is empty
  const tokenizerJson = tokenizerPath ? readFileSafely(tokenizerPath, { what: 'tokenizer file', maxBytes: 512 << 20 }) : null;
  return {
    vocabSize,
    train,
    validation,
    tokenizerJson,
    fingerprint: {
      tokens: dataset.tokenCount,
      documents: dataset.documentCount,
      trainSequences: train.sampleCount,
      index: fileFingerprint(dataset.idxPath),
      data: fileFingerprint(dataset.binPath),
      tokenizer: tokenizerJson ? sha256(tokenizerJson) : null,
    },
    description: `${config.data === 'brown' ? 'Brown corpus' : prefix} (${train.sampleCount} training sequences of ${T} tokens)`,
  };
}

/** Keys that may differ from the checkpoint's config on --resume (they do not change the numbers). */
export const RESUME_OVERRIDABLE: readonly TrainConfigKey[] = ['threads', 'kernels', 'progress', 'checkpointInterval', 'keepCheckpoints', 'metricsInterval', 'evalInterval', 'runDir'];

export interface RunOptions {
  /** Resolved config (ignored on resume except RESUME_OVERRIDABLE keys given in `explicit`). */
  config: TrainConfig;
  /** Keys the user set explicitly (flags or file), to check resume overrides. */
  explicit?: ReadonlySet<TrainConfigKey>;
  resume?: string | null;
  stopAfterStep?: number | null;
  loadKernels: KernelLoader;
  /** Builds the receiver of run messages and per-step progress (default: silent). The CLI passes a terminal renderer. */
  progress?: TrainProgressFactory;
  /** Install SIGINT/SIGTERM handlers that checkpoint and stop cleanly (CLI: true). */
  handleSignals?: boolean;
  /** Internal (runTraining's rollback): resume with this override set and rollback history. */
  rollback?: { history: RollbackInfo[]; gemmOverrides: string[] };
  /**
   * Data-parallel ranks (default: this process alone). Every rank calls runTraining with the same
   * config; rank 0 alone writes the run directory. With N ranks the config's microBatches must be
   * a multiple of N; a fresh run that did not set it explicitly gets microBatches = N.
   */
  comm?: Communicator;
  /** Bytes the memory plan may use before the run is refused (default: this machine's RAM, os.totalmem()). */
  memoryLimit?: number;
}

export interface RunOutcome extends TrainResult {
  runDir: string;
  /** rollbacks of the run so far (`--on-alarm rollback`). */
  rollbacks: RollbackInfo[];
  /** GEMMs in BF16 by override at the end. */
  gemmOverrides: string[];
  /** The signal that interrupted the run (handleSignals), or null. */
  signal: NodeJS.Signals | null;
}

function timestampName(): string {
  return new Date().toISOString().replace(/[:]/g, '-').replace(/\..*$/, '');
}

/** A run that is set up and ready to start, with its parts exposed for callers that look at them (tests, tools). */
export interface PreparedRun {
  config: TrainConfig;
  runDir: string;
  model: Model;
  optimizer: AdamW;
  trainer: Trainer;
  /** Runs to completion, interruption or divergence, then closes the run's files. Call it once. */
  run(): Promise<RunOutcome>;
}

/**
 * The resolved config of a resumed run: the saved one, with the keys the user gave explicitly
 * checked (only RESUME_OVERRIDABLE keys may change). `source` names where `saved` came from.
 */
function resumeConfig(saved: Record<string, unknown>, opts: RunOptions, source: string): TrainConfig {
  // A run saved before `activations` existed ran with float32 wide tensors: it resumes so.
  const merged: Record<string, unknown> = { ...DEFAULT_TRAIN_CONFIG, activations: LEGACY_ACTIVATIONS, ...saved };
  for (const k of opts.explicit ?? []) {
    if (!RESUME_OVERRIDABLE.includes(k)) {
      if (JSON.stringify(opts.config[k]) !== JSON.stringify(saved[k])) {
        throw new Error(`--resume: ${k} cannot change on resume (${source} has ${JSON.stringify(saved[k])}, got ${JSON.stringify(opts.config[k])}); only ${RESUME_OVERRIDABLE.join(', ')} may`);
      }
    } else merged[k] = opts.config[k];
  }
  return validateTrainConfig(merged);
}

/**
 * When `dir` is a run directory (config.json and metrics.jsonl) without any complete checkpoint
 * (killed before its first one), its saved training config; otherwise null.
 */
export function runWithoutCheckpoint(dir: string): { config: Record<string, unknown> } | null {
  if (!existsSync(join(dir, 'metrics.jsonl')) || existsSync(join(dir, MANIFEST_FILE))) return null;
  if (listCheckpointSteps(join(dir, 'checkpoints')).length > 0 || listCheckpointSteps(dir).length > 0) return null;
  const configPath = join(dir, 'config.json');
  if (!existsSync(configPath)) throw new Error(`run directory ${dir}: no checkpoint and no config.json to start it over from; use another --run-dir`);
  const json = JSON.parse(readFileSafely(configPath, { what: 'run config', maxBytes: 16 << 20 }).toString('utf8')) as { train?: unknown };
  if (json.train === null || typeof json.train !== 'object') throw new Error(`${configPath}: no "train" config to start the run over from`);
  return { config: json.train as Record<string, unknown> };
}

const LOCK_FILE = 'train.pid';

/** Records this process as the one training in `runDir` (removed when the run ends; a kill -9 leaves it stale, which is detected). */
function writeRunLock(runDir: string): void {
  writeFileSync(join(runDir, LOCK_FILE), `${process.pid}\n`);
}

function removeRunLock(runDir: string): void {
  try {
    if (readFileSync(join(runDir, LOCK_FILE), 'utf8').trim() === String(process.pid)) unlinkSync(join(runDir, LOCK_FILE));
  } catch {
    // already gone
  }
}

/** True when Linux reports `pid` as a zombie (ended, not yet reaped); false where /proc is unavailable. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Format: "pid (comm) state …"; comm may itself contain ") ", so read after the last one.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch {
    return false;
  }
}

/** Refuses to resume or start over a run that another live process is still training (its train.pid names a running process). */
function checkNotRunning(runDir: string): void {
  let pid: number;
  try {
    pid = Number(readFileSync(join(runDir, LOCK_FILE), 'utf8').trim());
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return;
  try {
    process.kill(pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return; // stale: that process is gone
  }
  if (isZombie(pid)) return; // it ended but nobody reaped it (e.g. an MPI rank orphaned in a container without an init that reaps)
  throw new Error(`run directory ${runDir} is being trained by process ${pid} (${join(runDir, LOCK_FILE)}); stop it first`);
}

/** Sets up and runs one training run (fresh or resumed) to completion, interruption or divergence. */
export async function runTraining(opts: RunOptions): Promise<RunOutcome> {
  let outcome = await (await prepareTraining(opts)).run();
  // --on-alarm rollback: the trainer stopped on an alarm; go back to the newest good checkpoint
  // with the implicated GEMMs in BF16 and continue (the trainer bounds the count: maxRollbacks).
  while (outcome.status === 'alarm' && outcome.alarm) {
    const a = outcome.alarm;
    const parent = join(outcome.runDir, 'checkpoints');
    const steps = listCheckpointSteps(parent);
    if (steps.length === 0) throw new Error(`rollback at step ${a.step}: no checkpoint in ${parent} to go back to`);
    const good = steps.filter((s) => s <= a.goodStep);
    const target = good.length > 0 ? Math.max(...good) : Math.min(...steps);
    // Checkpoints after the target belong to the abandoned branch: never roll back into them.
    for (const s of steps) if (s > target) rmSync(join(parent, checkpointDirName(s)), { recursive: true, force: true });
    const rollback: RollbackInfo = { alarmStep: a.step, reason: a.reason, checkpointStep: target, added: a.implicated };
    const history = [...outcome.rollbacks, rollback];
    const overrides = [...new Set([...outcome.gemmOverrides, ...a.implicated])];
    outcome = await (await prepareTraining({ ...opts, resume: join(parent, checkpointDirName(target)), explicit: new Set(), rollback: { history, gemmOverrides: overrides } })).run();
  }
  return outcome;
}

/**
 * Sets up one training run (fresh or resumed): kernels, data, model, optimizer, restored state,
 * run directory with config.json, the `run` record of metrics.jsonl and train.log.
 */
export async function prepareTraining(opts: RunOptions): Promise<PreparedRun> {
  let config = opts.config;
  const comm = opts.comm ?? soloCommunicator;
  const writer = comm.rank === 0; // only rank 0 writes the run directory
  let checkpoint: Checkpoint | null = null;
  let runDir: string;
  if (opts.resume === '') throw new ConfigError('--resume needs a run or checkpoint directory, got an empty string');
  // A run killed before its first checkpoint has only config.json, metrics.jsonl and train.log:
  // both `--resume DIR` and the original command start it over from step 0 in the same directory.
  let restartedFrom: string | null = null;
  if (opts.resume != null) {
    const stopped = runWithoutCheckpoint(opts.resume);
    if (stopped) {
      config = resumeConfig(stopped.config, opts, 'the run\'s config.json');
      runDir = resolve(opts.resume);
      restartedFrom = runDir;
    } else {
      const dir = resolveCheckpointDir(opts.resume);
      checkpoint = readCheckpoint(dir, true);
      config = resumeConfig(checkpoint.trainerState?.config as Record<string, unknown>, opts, 'checkpoint');
      runDir = runDirOfCheckpoint(dir);
    }
    // A rollback resumes with its own override set (the checkpoint's may be older).
    if (opts.rollback) config = validateTrainConfig({ ...config, gemmOverrides: opts.rollback.gemmOverrides });
    if (config.microBatches % comm.size !== 0) {
      throw new ConfigError(`microBatches: the run has ${config.microBatches} micro-batches per step, which ${comm.size} ranks cannot share; resume it on a number of ranks that divides ${config.microBatches}`);
    }
  } else {
    if (comm.size > 1 && config.microBatches % comm.size !== 0) {
      if (config.microBatches === 1 && !(opts.explicit?.has('microBatches') ?? false)) {
        // One micro-batch per rank: the run equals one process running N micro-batches of batch/N.
        config = validateTrainConfig({ ...config, microBatches: comm.size });
      } else {
        throw new ConfigError(`microBatches: ${config.microBatches} micro-batches per step cannot be split over ${comm.size} ranks; use a multiple of ${comm.size} (batch ${config.batch} must divide by it)`);
      }
    }
    const runName = config.runName ?? timestampName();
    runDir = resolve(config.runDir ?? join('runs', runName));
    if (existsSync(join(runDir, 'metrics.jsonl'))) {
      const stopped = runWithoutCheckpoint(runDir);
      if (!stopped) throw new Error(`run directory ${runDir} already holds a run; use --resume ${runDir} or another --run-dir`);
      // Compare as config.json records it: activations resolved from the recipe, steps from tokens.
      const asSaved: TrainConfig = { ...config, activations: recipeOf(config).activations };
      const changed = TRAIN_CONFIG_KEYS.filter((k) => !RESUME_OVERRIDABLE.includes(k) && !(k === 'steps' && config.tokens !== null) && JSON.stringify(asSaved[k]) !== JSON.stringify(stopped.config[k]));
      if (changed.length > 0) {
        throw new Error(`run directory ${runDir} holds a run stopped before its first checkpoint with a different config (${changed.join(', ')}); use another --run-dir, or --resume ${runDir} to start that run over`);
      }
      restartedFrom = runDir;
    }
  }
  // Two processes appending to one run would interleave its files: a live trainer's run is not touched.
  // The lock is rank 0's (process ids are per machine): rank 0 checks it; a refusal there ends every rank.
  if (writer && (restartedFrom !== null || checkpoint !== null)) checkNotRunning(runDir);
  const runName = config.runName ?? runDir.split(/[\\/]/).pop() ?? 'run';
  const progress = opts.progress && writer ? opts.progress(config.progress) : silentProgress;
  // A fresh run's directory is created only once setup has succeeded, so a bad config or data
  // error found late leaves nothing behind; lines said before that are kept with their times.
  const early: { message: string; at: Date }[] = [];
  let log: TrainLog | null = null;
  const say = (s: string): void => {
    if (log) log.line(s);
    else early.push({ message: s, at: new Date() });
    progress.message(s);
  };

  // A rollback is decided from rank 0's view of the step; ranks would have to agree on it first.
  if (config.onAlarm === 'rollback' && comm.size > 1) throw new ConfigError(`onAlarm: 'rollback' is not supported with ${comm.size} data-parallel ranks yet; use 'warn'`);
  const sizeSeq = resolveModelConfig({ preset: config.preset, size: config.size }).seqLen;
  const T = config.seq ?? sizeSeq;
  const sizeVocab = resolveModelConfig({ preset: config.preset, size: config.size }).vocabSize;
  // --init-from: the architecture and weights of another model (fresh runs; a resume has its own).
  const init = !checkpoint && config.initFrom !== null ? readInitWeights(config.initFrom) : null;
  const initT = config.seq ?? init?.config.seqLen ?? T;
  const data = await openTrainingData(config, init ? initT : T, init?.config.vocabSize ?? sizeVocab, say, comm);
  if (init && data.vocabSize !== init.config.vocabSize) {
    throw new ConfigError(`initFrom: ${config.initFrom} has a vocabulary of ${init.config.vocabSize} tokens but the data's tokenizer has ${data.vocabSize}; prepare the data with the model's tokenizer (--tokenizer)`);
  }
  const modelConfig: ModelConfig = init
    ? { ...init.config, seqLen: initT }
    : resolveModelConfig({ preset: config.preset, size: config.size, vocabSize: data.vocabSize, seqLen: T });
  const recipe = recipeOf(config);
  if (recipe.fp8LmHead && modelConfig.tieEmbeddings) {
    // Megatron turns --lm-head-in-fp8 off for tied embeddings (arguments.py); fog8 refuses instead of silently ignoring it.
    throw new ConfigError(`fp8LmHead: true is not available with tied embeddings (size '${config.size}' ties the LM head to the embedding, which stays wide); use fp8LmHead false`);
  }
  const steps = config.tokens !== null ? Math.ceil(config.tokens / (config.batch * T)) : config.steps;
  // saved with the run as resolved: the wide-tensor dtype the run actually used, never null
  config = validateTrainConfig({ ...config, steps, activations: recipe.activations });
  validateSchedule({ kind: config.schedule, peakLr: config.lr, minLr: config.minLr, warmupSteps: config.warmup, totalSteps: config.steps, cooldownFraction: config.cooldownFraction });
  // The plan comes before any allocation: a size this machine cannot hold is refused here, not by the OS.
  const microB = config.batch / config.microBatches;
  const plan = planTrainingMemory(modelConfig, recipe, microB, T, { m1: config.m1Precision, m2: config.m2Precision }, { recomputeMlp: config.recomputeMlp });
  say(`  model: vocabulary ${modelConfig.vocabSize}, ${(flopsPerToken(modelConfig) / 1e9).toFixed(3)} GFLOP per token (matmul, fwd+bwd); memory plan for micro-batch ${microB}×${T}: ${describeMemoryPlan(plan)}`);
  const ram = opts.memoryLimit ?? totalmem();
  if (plan.total > ram) {
    throw new ConfigError(
      `memory plan ≈${formatBytes(plan.total)} exceeds ${opts.memoryLimit === undefined ? "this machine's" : 'the limit of'} ${formatBytes(ram)} of RAM (${config.preset}/${config.size}, micro-batch ${microB}×${T}): ` +
        `parameters, gradients and optimizer state alone take ${formatBytes(plan.parameters + plan.gradients + plan.optimizer)}; ` +
        `use ${config.recomputeMlp ? '' : '--recompute-mlp (saves ≈' + formatBytes(recomputeSavings(modelConfig, recipe, microB, T)) + '), '}more --micro-batches (smaller micro-batch), a shorter --seq, fp16/fp8 --m1-precision/--m2-precision, or a smaller --size`,
    );
  }
  // Kernels (and a first-use GEMM tune) only once every config, data and memory check has passed.
  const kernels = await opts.loadKernels(config.kernels, config.threads);
  const model = new Model(modelConfig, kernels, recipe, config.seed, { gemmOverrides: config.gemmOverrides, recomputeMlp: config.recomputeMlp });
  const forecastModel = config.forecasterModel === null ? null : readForecastModel(config.forecasterModel);
  const optimizer = new AdamW(optimizedTensors(model), kernels, { beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay }, {
    master: config.masterPrecision,
    m1: config.m1Precision,
    m2: config.m2Precision,
    grads: config.gradPrecision,
  });
  const forecaster = new DivergenceForecaster();
  let restoredAlarmState: { spike?: unknown; features?: unknown } | null = null;
  let rollbacks: RollbackInfo[] = [];
  // Ranks that would compute different things are refused before any step (and before rank 0
  // writes anything): resolved config, data bytes, kernels, model and resume point must agree.
  const numbersOnly = new Set<string>(['threads', 'progress', 'runDir', 'runName', 'metricsInterval', 'evalInterval', 'checkpointInterval', 'keepCheckpoints']);
  assertSameFingerprint(comm, {
    ...Object.fromEntries(Object.entries(config).filter(([k]) => !numbersOnly.has(k))),
    ...Object.fromEntries(Object.entries(data.fingerprint).map(([k, v]) => [`data.${k}`, v])),
    'kernels.backend': `${kernels.name}/${kernels.isa}`,
    parameters: model.params.size,
    resumeStep: checkpoint?.trainerState?.step ?? 0,
    resumeCheckpoint: checkpoint ? sha256(readFileSync(join(checkpoint.dir, 'manifest.json'))) : null,
  });
  let startStep = 0;
  let startTokens = 0;
  let startElapsed = 0;
  if (checkpoint) {
    // Verify every piece before applying any.
    const st = checkpoint.trainerState!;
    // Shapes and dtypes only: the tensors are copied straight into the live arenas below (no
    // third copy of the weights or moments, which the 1.5b resume could not afford).
    checkModelTensors(checkpoint, model.params.specs);
    checkOptimizerState(checkpoint, optimizer);
    const where = join(checkpoint.dir, 'trainer_state.json');
    let scaling: ScalingState;
    try {
      scaling = ScalingState.fromJSON(recipe, st.scaling);
    } catch (e) {
      throw new Error(`${where}: scaling state does not fit this run (${(e as Error).message})`);
    }
    const loaderState = st.data as LoaderState;
    try {
      const trial = new BatchLoader({ dataset: data.train.samples.dataset, split: 'train', B: data.train.B, T: data.train.T, seed: config.seed, validationFraction: config.valFraction });
      trial.restore(loaderState);
    } catch (e) {
      throw new Error(`${where}: data position does not fit this data (${(e as Error).message})`);
    }
    // Apply.
    moveCheckpointInto(checkpoint, model.params, optimizer);
    model.scaling.load(scaling);
    data.train.restore(loaderState);
    if (st.divergence) forecaster.restore(st.divergence);
    restoredAlarmState = { spike: st.spike, features: st.features };
    rollbacks = opts.rollback ? opts.rollback.history : Array.isArray(st.rollbacks) ? (st.rollbacks as RollbackInfo[]) : [];
    startStep = st.step;
    startTokens = st.tokens;
    startElapsed = st.elapsedSeconds;
  } else {
    if (init) {
      model.params.data.set(init.weights(model.params));
      say(`  init: weights from ${init.dir} (${init.config.preset} shape, ${(model.params.size / 1e6).toFixed(2)} M parameters)`);
    }
    optimizer.roundMaster(model.params.data);
  }

  let metrics: Pick<MetricsWriter, 'write' | 'close'>;
  if (writer) {
    mkdirSync(runDir, { recursive: true });
    log = new TrainLog(join(runDir, 'train.log'));
    for (const e of early) log.line(e.message, e.at);
    if (restartedFrom !== null) say(`run directory ${runDir} holds a run stopped before its first checkpoint: starting it over from step 0 (its records stay in metrics.jsonl; later ones replace them)`);
    writeRunLock(runDir);
    const distributed = comm.size > 1 ? { distributed: { ranks: comm.size, microBatchesPerRank: config.microBatches / comm.size } } : {};
    writeFileSync(join(runDir, 'config.json'), JSON.stringify({ train: config, model: modelConfig, precision: recipe, kernels: { name: kernels.name, isa: kernels.isa, threads: kernels.threads }, ...distributed }, null, 2) + '\n');
    const writerOfRank0 = new MetricsWriter(join(runDir, 'metrics.jsonl'));
    if (writerOfRank0.truncatedBytes > 0) log.line(`metrics.jsonl: removed a half-written last line (${writerOfRank0.truncatedBytes} bytes) left by an interrupted run`);
    metrics = writerOfRank0;
  } else {
    metrics = { write: () => {}, close: () => {} };
  }
  const runLog: Pick<TrainLog, 'line' | 'close'> = log ?? { line: () => {}, close: () => {} };
  const parameters = model.params.size;
  metrics.write({
    type: 'run', step: startStep, tokens: startTokens, time: Date.now() / 1000, schemaVersion: METRICS_SCHEMA_VERSION, runName, preset: config.preset, size: config.size,
    precision: recipe.name, parameters, flopsPerToken: model.flopsPerToken(), resumed: checkpoint !== null, kernels: `${kernels.name}/${kernels.isa}/${kernels.threads}t`,
  });
  if (opts.rollback) {
    const r = opts.rollback.history[opts.rollback.history.length - 1];
    metrics.write({ type: 'rollback', step: startStep, tokens: startTokens, time: Date.now() / 1000, alarmStep: r.alarmStep, reason: r.reason, added: r.added, overrides: config.gemmOverrides });
    say(`rollback ${opts.rollback.history.length}: alarm at step ${r.alarmStep} (${r.reason}); back to the checkpoint of step ${r.checkpointStep}; BF16 from now on: ${config.gemmOverrides.join(', ')}`);
  }
  say(`fog8 train: ${config.preset}/${config.size} (${(parameters / 1e6).toFixed(2)} M parameters) in ${recipe.name}${recipe.gemm === 'fp8' ? `, FP8 attention ${recipe.fp8Attention ? 'on' : 'off'}, FP8 LM head ${recipe.fp8LmHead ? 'on' : 'off'}` : ''}`);
  say(`  data: ${data.description}; ${config.steps} steps of ${config.batch}×${T} tokens; kernels ${kernels.name} (${kernels.isa}, ${kernels.threads} threads)`);
  say(`  run directory: ${runDir}${checkpoint ? ` (resumed from step ${startStep}: ${checkpoint.dir})` : ''}`);
  if (comm.size > 1) say(`  data parallel: ${comm.size} MPI ranks × ${config.microBatches / comm.size} micro-batch(es) of ${config.batch / config.microBatches} sequences; gradients summed in rank order; rank 0 writes`);
  const trainer = new Trainer({
    config, runName, runDir, model, kernels, optimizer, train: data.train, validation: writer ? data.validation : null, tokenizerJson: data.tokenizerJson,
    metrics, log: runLog, progress, startStep, startTokens, startElapsedSeconds: startElapsed, forecaster, stopAfterStep: opts.stopAfterStep ?? null, comm,
    rollbacks, forecastModel, restoredAlarmState,
  });
  const run = async (): Promise<RunOutcome> => {
    let signal: NodeJS.Signals | null = null;
    const onSignal = (sig: NodeJS.Signals): void => {
      signal = sig;
      trainer.requestStop(sig);
    };
    if (opts.handleSignals) {
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    }
    try {
      const result = await trainer.run();
      const fmt = (v: number | null) => (v === null ? 'n/a' : v.toFixed(4));
      say(`${result.status} at step ${result.steps} in ${result.seconds.toFixed(1)} s; val loss ${fmt(result.initialValLoss)} → ${fmt(result.finalValLoss)}`);
      if (result.diagnosis) say(result.diagnosis);
      say(`results: ${runDir} (metrics.jsonl, train.log, config.json${result.checkpoint ? `, ${result.checkpoint}` : ''})`);
      if (result.status === 'interrupted') say(`resume with: ${comm.size > 1 ? `mpirun -np ${comm.size} ` : ''}npx fog8 train --resume ${runDir}`);
      if (comm.size > 1 && result.stepSeconds > 0) say(`communication: ${((100 * result.commSeconds) / result.stepSeconds).toFixed(1)}% of step time on rank 0 (${result.commSeconds.toFixed(2)} s of ${result.stepSeconds.toFixed(2)} s)`);
      metrics.write({ type: 'event', step: result.steps, tokens: result.tokens, time: Date.now() / 1000, level: result.status === 'diverged' ? 'error' : result.status === 'alarm' ? 'warn' : 'info', message: `run ${result.status}` });
      return { ...result, runDir, rollbacks, gemmOverrides: [...config.gemmOverrides], signal: result.status === 'interrupted' ? signal : null };
    } finally {
      if (opts.handleSignals) {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
      metrics.close();
      runLog.close();
      if (writer) removeRunLock(runDir);
    }
  };
  return { config, runDir, model, optimizer, trainer, run };
}

/** Architecture and weights of --init-from: a Hugging Face model directory or a fog8 checkpoint. */
function readInitWeights(path: string): { dir: string; config: ModelConfig; weights: (params: ParamTable) => Float32Array } {
  if (isHfModelDir(path)) {
    const hf = readHfModel(path);
    return { dir: hf.dir, config: hf.config, weights: (p) => hfWeightsFor(hf, p) };
  }
  const ckpt = readCheckpoint(resolveCheckpointDir(path));
  return { dir: ckpt.dir, config: fromHfConfig(ckpt.hfConfig), weights: (p) => modelWeightsFrom(ckpt, p) };
}

/** Kernel loader with only the reference backend (tests; `auto` falls back to it). */
export const referenceKernelLoader: KernelLoader = async () => createReferenceKernels();
