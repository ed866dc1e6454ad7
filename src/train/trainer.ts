/**
 * The training loop. One optimizer step runs in this explicit order:
 *   1. lr ← schedule(step)                              (0-based index of the step being taken)
 *   2. model.beginOptimizerStep(); zero gradients      (weights are cast to FP8 once per step)
 *   3. per micro-batch j of M: batch ← loader.next();
 *        forward + backward into zeroed gradients: g_j = ∂loss_j/∂θ · 1/M (amaxes recorded);
 *        grads ← 0 + g_0 + g_1 + … in float32, in micro-batch order (M = 1: grads = g_0)
 *      With N data-parallel ranks, rank r runs micro-batches r·L … r·L+L−1 (L = M/N) and skips
 *      the others' batches; the ranks then sum their gradients in rank order (Communicator.
 *      sumOrdered) and max-reduce the recorded amaxes, so every rank holds what one process
 *      running the M micro-batches holds (bit for bit when L = 1).
 *      scaling.updateForward(); scaling.updateBackward()   (once per step: the one point scales change)
 *      round the gradient buffer to its precision
 *   4. loss = mean_j loss_j (summed in micro-batch order); global gradient norm; clip factor min(1, gradClip / (norm + 1e-6))
 *   5. if the loss or the norm is not finite: skip the update and undo the step's scaling-state
 *      updates (diagnose the first GEMM operand
 *      that saw a non-finite or saturated value; stop after maxBadSteps in a row)
 *      else AdamW update of the clipped gradients (each tensor's gradient is scaled by the clip
 *      factor right before its update; moments and master weights re-encoded in their precision)
 *   6. step ← step + 1, then metrics, eval, checkpoint as their intervals say.
 * Steps draw no random numbers (no dropout), so a resumed run — weights, optimizer state,
 * scaling state, data position, schedule step restored — repeats the straight run bit for bit.
 */
import type { Kernels } from '../kernels/types.js';
import { measuredPeakFlops } from '../kernels/index.js';
import type { Model, Batch } from '../model/model.js';
import { toHfConfig } from '../model/hf-config.js';
import type { AdamW } from '../optim/adamw.js';
import { clipFactor, globalGradNorm } from '../optim/clip.js';
import { learningRate, type ScheduleConfig } from '../optim/schedule.js';
import { StepMonitor, type BadCast } from '../monitor/step-monitor.js';
import { isBackwardRole, type ScalingRole } from '../numerics/recipe.js';
import type { ScalingSnapshot } from '../numerics/scaling.js';
import { DivergenceForecaster } from '../monitor/divergence.js';
import { SpikeDetector } from '../monitor/spikes.js';
import { FeatureTracker, score, type ForecastModel } from '../monitor/forecast.js';
import type { CastStat } from '../monitor/schema.js';
import type { MetricsWriter } from '../monitor/metrics-writer.js';
import type { TrainLog } from '../monitor/train-log.js';
import { allgatherFloat64, soloCommunicator, type Communicator } from './distributed.js';
import type { TrainConfig } from './config.js';
import { describeMeasuredMemory, measureTrainingMemory } from './memory.js';
import type { TrainProgress } from './progress.js';
import { buildCheckpointFiles, type TrainerStateJson } from './checkpoint.js';
import { pruneCheckpoints, writeCheckpointFiles } from './checkpoint-files.js';
import { planEvalBatches } from './eval-limits.js';
import { join } from 'node:path';

/** What the trainer needs of a batch loader (src/data BatchLoader satisfies it). */
export interface TrainLoader {
  next(): Batch;
  state(): unknown;
  /** Moves past the next batch without reading it (data-parallel ranks skip the others' micro-batches). */
  skip?(): void;
  /** Sequences in the split and per batch (BatchLoader has both): eval never wraps around the validation split. */
  readonly sampleCount?: number;
  readonly B?: number;
}

/** Declared peak per kernel thread: the BF16 dot-product ceiling of reference/PEERS.md (867 GFLOP/s on 2 threads). */
export const PEAK_FLOPS_PER_THREAD = 433.5e9;

export interface TrainerParts {
  config: TrainConfig;
  runName: string;
  runDir: string;
  model: Model;
  kernels: Kernels;
  optimizer: AdamW;
  train: TrainLoader;
  /** Builds a validation loader positioned at its start (null: no validation data). */
  validation: (() => TrainLoader) | null;
  tokenizerJson: Uint8Array | null;
  metrics: Pick<MetricsWriter, 'write' | 'close'>;
  log: Pick<TrainLog, 'line' | 'close'>;
  progress: TrainProgress;
  /** resume point (0 for a fresh run). */
  startStep: number;
  startTokens: number;
  startElapsedSeconds: number;
  forecaster: DivergenceForecaster;
  /** stop (with a checkpoint) once this many steps are complete, as if interrupted. */
  stopAfterStep?: number | null;
  /** rollbacks so far (`--on-alarm rollback`), oldest first. */
  rollbacks?: readonly RollbackInfo[];
  /** fitted spike forecaster whose alarms trigger --on-alarm (null: none). */
  forecastModel?: ForecastModel | null;
  /** detector / feature state restored from a checkpoint. */
  restoredAlarmState?: { spike?: unknown; features?: unknown } | null;
  /** The data-parallel ranks (default: this process alone). Only rank 0 evaluates and writes checkpoints. */
  comm?: Communicator;
}

/** One rollback: the alarm, the checkpoint step gone back to, the GEMMs switched to BF16. */
export interface RollbackInfo {
  alarmStep: number;
  reason: string;
  checkpointStep: number;
  added: string[];
}

/** An alarm that stopped the run for a rollback (session.ts performs it). */
export interface Alarm {
  step: number;
  reason: string;
  /** newest step known good: the rollback goes to the newest checkpoint at or before it. */
  goodStep: number;
  /** GEMM keys to switch to BF16. */
  implicated: string[];
}

/** The override key of the GEMM a cast belongs to (layers.N.<gemm>, or lm_head). */
export function gemmKeyOfCast(c: Pick<CastStat, 'layer' | 'gemm'>): string {
  return c.layer < 0 ? c.gemm : `layers.${c.layer}.${c.gemm}`;
}

/**
 * Which FP8 GEMM to switch to BF16 after an alarm: the GEMM of the step's first non-finite or
 * saturated cast, else the one with the most overflow, else the one whose cast did the most
 * harm (largest relative error). Empty when the step had no FP8 cast (nothing to switch).
 */
export function implicatedGemm(first: BadCast | null, casts: readonly CastStat[]): string[] {
  if (first) return [gemmKeyOfCast(first)];
  let best: CastStat | null = null;
  for (const c of casts) if (c.overflowPct > 0 && (best === null || c.overflowPct > best.overflowPct)) best = c;
  if (!best) for (const c of casts) if ((c.relErr ?? -1) > (best?.relErr ?? -1)) best = c;
  if (!best && casts.length > 0) best = casts[0];
  return best ? [gemmKeyOfCast(best)] : [];
}

export interface TrainResult {
  steps: number;
  tokens: number;
  status: 'completed' | 'interrupted' | 'diverged' | 'alarm';
  /** set when status is 'alarm': the run stopped for a rollback. */
  alarm: Alarm | null;
  initialValLoss: number | null;
  finalValLoss: number | null;
  lastLoss: number | null;
  checkpoint: string | null;
  seconds: number;
  diagnosis: string | null;
  /** Seconds this rank spent in the gradient sum and the step exchange (0 on one process). */
  commSeconds: number;
  /** Seconds of the steps themselves (compute and communication; no eval or checkpoints). */
  stepSeconds: number;
}

/**
 * Human-readable diagnosis of a bad step from its first bad cast; `pass` says where it was
 * looked for (forward operands for a non-finite loss, all operands for a non-finite gradient).
 */
export function describeBadCast(b: BadCast | null, pass: 'forward' | 'any' = 'any'): string {
  if (b === null) {
    return pass === 'forward'
      ? 'no FP8 forward cast saw a non-finite or saturated value (the overflow happened in a wide op: embedding, norm, activation, softmax, the LM head or the loss)'
      : 'no FP8 cast saw a non-finite or saturated value (the overflow happened in a wide op: embedding, norm, activation, softmax, the LM head or the loss, or their gradients)';
  }
  const where = b.layer < 0 ? b.gemm : `layer ${b.layer} ${b.gemm}`;
  if (b.kind === 'non-finite') return `first non-finite value: ${where} operand '${b.role}' (${b.format}, amax ${b.amax}, scale ${b.scale})`;
  return `first saturated cast: ${where} operand '${b.role}' (${b.format}, ${b.overflow} of ${b.count} values clipped to ±max, amax ${b.amax}, scale ${b.scale})`;
}

export class Trainer {
  private readonly p: TrainerParts;
  private readonly monitor: StepMonitor;
  private readonly schedule: ScheduleConfig;
  private step: number;
  private tokens: number;
  private consecutiveBad = 0;
  private interrupted: string | null = null;
  private readonly peakFlops: number;
  private readonly spikes = new SpikeDetector();
  private readonly features = new FeatureTracker();
  private forecastOn = false;
  private readonly comm: Communicator;
  private accumulated: Float32Array | null = null; // sum of the micro-batch gradients (L > 1)
  private amaxes: Float32Array | undefined;

  constructor(parts: TrainerParts) {
    this.p = parts;
    this.monitor = new StepMonitor(parts.kernels, (role) => isBackwardRole(role as ScalingRole));
    const c = parts.config;
    this.schedule = { kind: c.schedule, peakLr: c.lr, minLr: c.minLr, warmupSteps: c.warmup, totalSteps: c.steps, cooldownFraction: c.cooldownFraction };
    this.step = parts.startStep;
    this.tokens = parts.startTokens;
    this.peakFlops = c.peakFlops ?? measuredPeakFlops(parts.kernels) ?? PEAK_FLOPS_PER_THREAD * parts.kernels.threads;
    const restored = parts.restoredAlarmState;
    if (restored?.spike) this.spikes.restore(restored.spike);
    if (restored?.features) this.features.restore(restored.features);
    this.comm = parts.comm ?? soloCommunicator;
    if (c.microBatches % this.comm.size !== 0) {
      throw new RangeError(`Trainer: microBatches (${c.microBatches}) must be a multiple of the number of ranks (${this.comm.size})`);
    }
  }

  /** The injected lr spike's factor at this step (fault injection; off after the first rollback). */
  private lrFactor(step: number): number {
    const c = this.p.config;
    if (c.lrSpikeStep === null || (this.p.rollbacks?.length ?? 0) > 0) return 1;
    return step >= c.lrSpikeStep && step < c.lrSpikeStep + c.lrSpikeSteps ? c.lrSpikeFactor : 1;
  }

  /** Optimizer steps completed so far (the step in progress is this + 1). */
  get currentStep(): number {
    return this.step;
  }

  /** Requests a clean stop (checkpoint, then return) after the current step; used by signal handlers. */
  requestStop(reason: string): void {
    this.interrupted = reason;
  }

  /**
   * Mean validation loss over config.evalBatches batches from the start of the validation split,
   * or over the whole batches the split holds when it holds fewer (noted once in train.log), so
   * no validation sequence is counted twice — as `fog8 eval` does for a default --batches.
   */
  evaluate(): number | null {
    if (!this.p.validation) return null;
    const loader = this.p.validation();
    const batches = this.evalBatchCount(loader);
    let sum = 0;
    for (let i = 0; i < batches; i++) sum += this.p.model.forwardLoss(loader.next());
    return sum / batches;
  }

  private evalBatches: number | null = null;

  private evalBatchCount(loader: TrainLoader): number {
    if (this.evalBatches !== null) return this.evalBatches;
    let batches = this.p.config.evalBatches;
    if (loader.sampleCount !== undefined && loader.B !== undefined) {
      const plan = planEvalBatches({ sampleCount: loader.sampleCount, batch: loader.B, batches, explicit: false, flags: { batch: '--batch', batches: '--eval-batches' } });
      if (plan.note !== null) this.p.log.line(`NOTE ${plan.note}`);
      batches = plan.batches;
    }
    this.evalBatches = batches;
    return batches;
  }

  private base(): { step: number; tokens: number; time: number } {
    return { step: this.step, tokens: this.tokens, time: Date.now() / 1000 };
  }

  private event(level: 'info' | 'warn' | 'error', message: string): void {
    this.p.metrics.write({ type: 'event', ...this.base(), level, message });
    this.p.log.line(`${level.toUpperCase()} step ${this.step}: ${message}`);
    if (level !== 'info') this.p.progress.message(`${level}: ${message}`);
  }

  private runEval(): number | null {
    const v = this.evaluate();
    if (v === null) return null;
    const ppl = Math.exp(v);
    if (Number.isFinite(v)) this.p.metrics.write({ type: 'eval', ...this.base(), valLoss: v, valPerplexity: Number.isFinite(ppl) ? ppl : Number.MAX_VALUE });
    this.p.log.line(`eval step ${this.step}: val loss ${v.toFixed(4)}, perplexity ${ppl.toFixed(2)}`);
    this.p.progress.message(`eval @ step ${this.step}: val loss ${v.toFixed(4)} (perplexity ${ppl.toFixed(2)})`);
    return v;
  }

  /** Writes a checkpoint of the current state and prunes old ones; returns its directory. */
  checkpoint(elapsedSeconds: number): string {
    const { model, optimizer, config } = this.p;
    const state: TrainerStateJson = {
      formatVersion: 1,
      step: this.step,
      tokens: this.tokens,
      consecutiveBadSteps: this.consecutiveBad,
      elapsedSeconds,
      data: this.p.train.state(),
      rng: { seed: config.seed },
      scaling: model.scaling.toJSON(),
      config: { ...config },
      optimizer: {
        stepCount: optimizer.stepCount,
        m1Dtype: optimizer.m1Dtype,
        m2Dtype: optimizer.m2Dtype,
        precision: { ...optimizer.precision },
      },
      divergence: this.p.forecaster.toJSON(),
      spike: this.spikes.toJSON(),
      features: this.features.toJSON(),
      rollbacks: [...(this.p.rollbacks ?? [])],
    };
    const files = buildCheckpointFiles({ params: model.params, hfConfig: toHfConfig(model.config), optimizer, trainerState: state, tokenizerJson: this.p.tokenizerJson ?? undefined });
    const parent = join(this.p.runDir, 'checkpoints');
    const dir = writeCheckpointFiles(parent, this.step, files);
    pruneCheckpoints(parent, config.keepCheckpoints);
    this.p.log.line(`checkpoint step ${this.step}: ${dir}`);
    return dir;
  }

  /** Runs until config.steps, an interrupt, stopAfterStep, or divergence. */
  async run(): Promise<TrainResult> {
    const { config, model, kernels, optimizer, metrics, progress } = this.p;
    const comm = this.comm;
    const M = config.microBatches;
    const N = comm.size;
    const L = M / N; // micro-batches of this rank per step
    const firstMicroBatch = comm.rank * L;
    let commSeconds = 0;
    let stepSeconds = 0;
    const started = performance.now();
    const sessionStartStep = this.step;
    let lastLoss: number | null = null;
    let lastCheckpoint: string | null = null;
    let status: TrainResult['status'] = 'completed';
    let diagnosis: string | null = null;
    const elapsed = (): number => this.p.startElapsedSeconds + (performance.now() - started) / 1000;
    const initialValLoss = this.step === 0 && config.evalInterval >= 0 ? this.runEval() : null;
    let finalValLoss: number | null = initialValLoss;
    let lastEvalStep = this.step;
    const loopStarted = performance.now();
    let scalingBefore: ScalingSnapshot | undefined; // reused every step
    let alarm: Alarm | null = null;
    const rollbackArmed = (): boolean => config.onAlarm === 'rollback' && (this.p.rollbacks?.length ?? 0) < config.maxRollbacks;
    // A rollback needs somewhere to go back to: a fresh run checkpoints its initial state.
    if (config.onAlarm === 'rollback' && this.step === 0) lastCheckpoint = this.checkpoint(elapsed());

    while (this.step < config.steps) {
      const t0 = performance.now();
      comm.setStep(this.step + 1);
      const lr = learningRate(this.schedule, this.step) * this.lrFactor(this.step);
      const collect = (this.step + 1) % config.metricsInterval === 0 || this.step === 0;
      model.beginOptimizerStep();
      model.zeroGrads();
      this.monitor.beginStep(collect);
      let stepTokens = 0;
      scalingBefore = model.scaling.snapshot(scalingBefore);
      const localLosses = new Float64Array(L);
      const grads = model.grads.data;
      if (L > 1) (this.accumulated ??= new Float32Array(grads.length)).fill(0);
      for (let j = 0; j < M; j++) {
        if (j < firstMicroBatch || j >= firstMicroBatch + L) {
          if (this.p.train.skip) this.p.train.skip();
          else this.p.train.next();
          continue;
        }
        if (L > 1) model.zeroGrads();
        const batch = this.p.train.next();
        localLosses[j - firstMicroBatch] = model.forwardBackward(batch, 1 / M, this.monitor);
        if (L > 1) {
          // Accumulate in float32, micro-batch order (each micro-batch's gradient on its own first);
          // the kernel's float32 add is what `acc[i] += grads[i]` stores, threaded.
          kernels.addInPlace(this.accumulated as Float32Array, grads);
        }
        stepTokens += batch.B * batch.T * N;
      }
      if (L > 1) grads.set(this.accumulated as Float32Array);
      let stopAgreed: string | null = null;
      let lossSum = 0;
      if (N > 1) {
        // Signals that arrived during the compute are seen now and travel with this exchange.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const c0 = performance.now();
        comm.sumOrdered(grads);
        this.amaxes = model.scaling.pendingAmaxes(this.amaxes);
        const mine = new Float64Array(2 + L + this.amaxes.length);
        mine[0] = this.interrupted !== null ? 1 : 0;
        mine[1] = this.amaxes.length;
        mine.set(localLosses, 2);
        mine.set(this.amaxes, 2 + L);
        const all = allgatherFloat64(comm, mine);
        commSeconds += (performance.now() - c0) / 1000;
        for (let r = 0; r < N; r++) {
          if (all[r][0] !== 0 && stopAgreed === null) stopAgreed = r === comm.rank ? (this.interrupted as string) : `stop requested by rank ${r}`;
          for (let i = 0; i < L; i++) lossSum += all[r][2 + i];
        }
        // Max over ranks; Math.max keeps a NaN (a NaN amax must reach every rank's window, as on one process).
        for (let i = 0; i < this.amaxes.length; i++) {
          let v = all[0][2 + L + i];
          for (let r = 1; r < N; r++) v = Math.max(v, all[r][2 + L + i]);
          this.amaxes[i] = v;
        }
        model.scaling.setPendingAmaxes(this.amaxes);
      } else {
        for (let i = 0; i < L; i++) lossSum += localLosses[i];
      }
      model.scaling.updateForward();
      model.scaling.updateBackward();
      optimizer.roundGrads(grads);
      const loss = lossSum / M;
      const gradNorm = globalGradNorm(kernels, model.grads.data);
      const bad = !Number.isFinite(loss) || !Number.isFinite(gradNorm);
      if (bad) {
        // A skipped step leaves no trace in the FP8 scaling state either: its NaN/Inf amaxes would
        // otherwise sit in the `max` window and freeze those scales for up to H passes.
        model.scaling.restore(scalingBefore);
        this.consecutiveBad++;
      } else {
        // Clipping is applied inside the update: grads ×= min(1, gradClip / (norm + 1e-6)).
        optimizer.step(model.params.data, model.grads.data, lr, clipFactor(gradNorm, config.gradClip));
        this.consecutiveBad = 0;
      }
      this.step++;
      this.tokens += stepTokens;
      const seconds = (performance.now() - t0) / 1000;
      stepSeconds += seconds;
      const tokensPerSec = stepTokens / seconds;
      lastLoss = Number.isFinite(loss) ? loss : null;
      metrics.write({
        type: 'step',
        ...this.base(),
        loss: lastLoss,
        lr,
        gradNorm: Number.isFinite(gradNorm) ? gradNorm : null,
        tokensPerSec,
        mfu: (model.flopsPerToken() * tokensPerSec) / this.peakFlops,
        skipped: bad,
        stepTimeMs: seconds * 1000,
      });
      const spikeOnset = this.spikes.push({ step: this.step, loss: bad ? null : loss });
      this.features.step(Number.isFinite(gradNorm) ? gradNorm : null);
      let alarmReason: string | null = null;
      if (bad) alarmReason = `non-finite ${!Number.isFinite(loss) ? 'loss' : 'gradient norm'} at step ${this.step}`;
      else if (spikeOnset) alarmReason = `loss spike at step ${this.step}: smoothed loss ${this.spikes.smoothed()?.toFixed(4)} is ≥ ${this.spikes.options.threshold} nat above its minimum (step ${this.spikes.minimumStep()})`;
      if (bad && rollbackArmed()) {
        // Rolling back instead of skipping: the step's scaling state was restored above already.
        const pass = Number.isFinite(loss) ? 'any' : 'forward';
        const implicated = implicatedGemm(this.monitor.firstBadCast(pass), this.monitor.castStats());
        // Nothing left in FP8 to switch: rolling back would repeat the same steps; skip as usual.
        if (implicated.length > 0) alarm = { step: this.step, reason: alarmReason as string, goodStep: this.step - 1, implicated };
      }
      if (bad && alarm === null) {
        // A non-finite loss comes from the forward pass; its NaN then reaches every backward cast.
        const pass = Number.isFinite(loss) ? 'any' : 'forward';
        const culprit = describeBadCast(this.monitor.firstBadCast(pass), pass);
        const why = `${!Number.isFinite(loss) ? `loss ${loss}` : `gradient norm ${gradNorm}`}; step skipped (${this.consecutiveBad} in a row); ${culprit}`;
        this.event('warn', why);
        if (this.consecutiveBad >= config.maxBadSteps) {
          diagnosis = `stopped after ${this.consecutiveBad} consecutive non-finite steps: ${culprit}. Try a lower --lr, --precision bf16 to compare, or a FOG preset.`;
          this.event('error', diagnosis);
          status = 'diverged';
          break;
        }
      }
      if (collect) {
        const stats = this.monitor.tensorStats();
        metrics.write({ type: 'tensors', ...this.base(), stats, maxAttentionLogit: this.monitor.maxLogits() });
        const casts = this.monitor.castStats();
        if (casts.length > 0) metrics.write({ type: 'fp8', ...this.base(), casts });
        for (const w of this.p.forecaster.observe(this.step, stats)) this.event('warn', w.message);
        if (casts.length > 0) this.features.fp8({ type: 'fp8', ...this.base(), casts });
        const sample = this.features.interval({ type: 'tensors', ...this.base(), stats, maxAttentionLogit: this.monitor.maxLogits() });
        const model = this.p.forecastModel;
        if (model) {
          const p = score(model, sample.x);
          const on = p >= config.alarmThreshold;
          if (on && !this.forecastOn && alarmReason === null) alarmReason = `forecaster alarm at step ${this.step}: spike probability ${p.toFixed(3)} ≥ ${config.alarmThreshold}`;
          this.forecastOn = on;
        }
      }
      if (alarm === null && alarmReason !== null) {
        if (rollbackArmed()) {
          const implicated = implicatedGemm(this.monitor.firstBadCast('any'), this.monitor.castStats());
          const goodStep = spikeOnset ? this.spikes.minimumStep() : this.step - 1;
          if (implicated.length > 0) alarm = { step: this.step, reason: alarmReason, goodStep, implicated };
          else this.event('warn', `${alarmReason}; no FP8 GEMM left to switch to BF16, training continues`);
        } else if (!bad) this.event('warn', alarmReason);
      }
      if (alarm !== null) {
        status = 'alarm';
        this.event('warn', `${alarm.reason}; rolling back (GEMM to BF16: ${alarm.implicated.join(', ')})`);
        break;
      }
      progress.update({ step: this.step, totalSteps: config.steps, loss: lastLoss, tokensPerSec, elapsedSeconds: (performance.now() - loopStarted) / 1000, stepsThisSession: this.step - sessionStartStep });
      if (this.step === sessionStartStep + 1) {
        // The plan's figure, measured: every buffer held once a step has run (scratch and packing buffers have grown).
        const held = `memory held after the first step (every buffer, the plan's parts): ${describeMeasuredMemory(measureTrainingMemory(model, optimizer))}`;
        this.p.log.line(held);
        progress.message(held);
      }
      if ((config.evalInterval > 0 && this.step % config.evalInterval === 0) || this.step === config.steps) {
        finalValLoss = this.runEval();
        lastEvalStep = this.step;
      }
      // Let signal handlers run between steps (the step itself is synchronous).
      await new Promise<void>((resolve) => setImmediate(resolve));
      // With several ranks only the stop agreed in the step exchange counts, so all stop together.
      const stopReason = N > 1 ? stopAgreed : this.interrupted;
      const stopHere = stopReason !== null || (this.p.stopAfterStep != null && this.step >= this.p.stopAfterStep);
      if ((config.checkpointInterval > 0 && this.step % config.checkpointInterval === 0) || this.step === config.steps || stopHere) {
        if (comm.rank === 0) lastCheckpoint = this.checkpoint(elapsed());
      }
      if (stopHere) {
        status = 'interrupted';
        this.event('info', `stopped at step ${this.step} (${stopReason ?? 'stop-after'}); checkpoint ${lastCheckpoint}`);
        break;
      }
    }
    if (status === 'completed' && lastEvalStep !== this.step) finalValLoss = this.runEval();
    progress.finish();
    return { steps: this.step, tokens: this.tokens, status, alarm, initialValLoss, finalValLoss, lastLoss, checkpoint: lastCheckpoint, seconds: (performance.now() - started) / 1000, diagnosis, commSeconds, stepSeconds };
  }
}
