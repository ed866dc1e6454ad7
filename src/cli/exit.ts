/**
 * A command that ends with a specific exit code and nothing more to print (its own output already
 * said why), e.g. 130 after SIGINT, as shells report a process killed by that signal.
 */
import { constants } from 'node:os';

export class ExitCode extends Error {
  constructor(readonly code: number, message = '') {
    super(message);
  }
}

/** 128 + the signal's number: the exit code of a process stopped by `signal` (SIGINT → 130, SIGTERM → 143). */
export function signalExitCode(signal: NodeJS.Signals): number {
  return 128 + (constants.signals[signal] ?? 0);
}
