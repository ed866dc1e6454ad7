/**
 * What a training run reports while it runs, as an interface the caller implements: the CLI
 * renders it as a progress bar or plain lines (src/cli/progress.ts), tests and benchmarks pass
 * `silentProgress`. The trainer never writes to a terminal itself.
 */
import type { TrainConfig } from './config.js';

/** The state after one optimizer step. */
export interface ProgressUpdate {
  /** completed steps. */
  step: number;
  /** steps the run will take in total. */
  totalSteps: number;
  /** mean training loss of the step (null: non-finite). */
  loss: number | null;
  tokensPerSec: number;
  /** seconds since this process started training. */
  elapsedSeconds: number;
  /** steps completed by this process (an ETA uses the current rate). */
  stepsThisSession: number;
}

/** Receives run information and per-step updates. */
export interface TrainProgress {
  /** One line of run information: setup, evals, warnings, the final summary. */
  message(line: string): void;
  /** Called once after every optimizer step. */
  update(u: ProgressUpdate): void;
  /** The run is over (end any live display). */
  finish(): void;
}

/** Builds the progress receiver of a run from its config's `progress` request. */
export type TrainProgressFactory = (request: TrainConfig['progress']) => TrainProgress;

/** Reports nothing. */
export const silentProgress: TrainProgress = Object.freeze({
  message: () => {},
  update: () => {},
  finish: () => {},
});
