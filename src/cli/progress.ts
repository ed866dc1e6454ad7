/**
 * Progress display for long work: step, loss, tokens/s and ETA — the terminal renderer of the
 * trainer's `TrainProgress` interface. On a TTY it redraws one live line with a bar (carriage
 * return + erase line); when the stream is not a terminal (a log file, CI, a pipe) it degrades
 * to plain lines, at most one every `lineIntervalSeconds`.
 */
import type { ProgressUpdate, TrainProgress, TrainProgressFactory } from '../train/progress.js';

export type ProgressMode = 'bar' | 'lines' | 'none';

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Picks the mode: 'auto' → bar on a TTY, lines otherwise. */
export function progressMode(requested: 'auto' | ProgressMode, stream: ProgressStream): ProgressMode {
  if (requested !== 'auto') return requested;
  return stream.isTTY ? 'bar' : 'lines';
}

/** "1h02m", "3m07s", "42s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m`;
  if (m > 0) return `${m}m${String(r).padStart(2, '0')}s`;
  return `${r}s`;
}

export class ProgressDisplay implements TrainProgress {
  readonly mode: ProgressMode;
  private readonly stream: ProgressStream;
  private readonly lineIntervalSeconds: number;
  private lastLineAt = -Infinity;
  private live = false;

  constructor(opts: { mode: ProgressMode; stream: ProgressStream; lineIntervalSeconds?: number }) {
    this.mode = opts.mode;
    this.stream = opts.stream;
    this.lineIntervalSeconds = opts.lineIntervalSeconds ?? 10;
  }

  /** The status text of one update (without bar). */
  describe(u: ProgressUpdate): string {
    const rate = u.stepsThisSession > 0 ? u.elapsedSeconds / u.stepsThisSession : NaN;
    const eta = formatDuration(rate * (u.totalSteps - u.step));
    const loss = u.loss === null ? 'nan' : u.loss.toFixed(4);
    return `step ${u.step}/${u.totalSteps} | loss ${loss} | ${Math.round(u.tokensPerSec).toLocaleString('en-US')} tok/s | elapsed ${formatDuration(u.elapsedSeconds)} | ETA ${eta}`;
  }

  update(u: ProgressUpdate): void {
    if (this.mode === 'none') return;
    const text = this.describe(u);
    if (this.mode === 'bar') {
      const width = Math.max(10, Math.min(30, (this.stream.columns ?? 100) - text.length - 10));
      const filled = Math.round((width * Math.min(u.step, u.totalSteps)) / u.totalSteps);
      const pct = Math.floor((100 * u.step) / u.totalSteps);
      this.stream.write(`\r\x1b[K[${'█'.repeat(filled)}${'░'.repeat(width - filled)}] ${String(pct).padStart(3)}% ${text}`);
      this.live = true;
      return;
    }
    if (u.elapsedSeconds - this.lastLineAt >= this.lineIntervalSeconds || u.step === u.totalSteps || u.stepsThisSession === 1) {
      this.stream.write(text + '\n');
      this.lastLineAt = u.elapsedSeconds;
    }
  }

  /** Prints a message on its own line without breaking the live bar. */
  message(line: string): void {
    if (this.mode === 'none') return;
    if (this.live) this.stream.write('\r\x1b[K');
    this.stream.write(line + '\n');
    this.live = false;
  }

  /** Ends the live line. */
  finish(): void {
    if (this.live) this.stream.write('\n');
    this.live = false;
  }
}

/** The CLI's progress factory: a bar or plain lines on `stream` as the config's request says. */
export function terminalProgress(stream: ProgressStream = process.stdout): TrainProgressFactory {
  return (request) => new ProgressDisplay({ mode: progressMode(request, stream), stream });
}
