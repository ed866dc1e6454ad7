/** RUN_DIR/train.log: a human-readable, timestamped account of the run (appended on resume). */
import { closeSync, writeSync } from 'node:fs';
import { openAppendSafely, writeError } from '../util/safe-file.js';

export class TrainLog {
  readonly path: string;
  private fd: number | null;

  constructor(path: string) {
    this.path = path;
    this.fd = openAppendSafely(path, 'train log');
  }

  /** Appends `[ISO time] message` (one line per line of the message); `at` defaults to now. */
  line(message: string, at: Date = new Date()): void {
    if (this.fd === null) return;
    const stamp = at.toISOString();
    try {
      writeSync(this.fd, message.split('\n').map((l) => `[${stamp}] ${l}`).join('\n') + '\n');
    } catch (e) {
      throw writeError('train log', this.path, e);
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}
