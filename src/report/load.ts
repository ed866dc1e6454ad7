/**
 * Reading a run directory written by the trainer: RUN_DIR/metrics.jsonl (validated line by line
 * against src/monitor/schema.ts), RUN_DIR/config.json (the resolved config) and the tail of
 * RUN_DIR/train.log. Malformed or half-written lines are skipped and counted, never fatal,
 * because the dashboard reads files while the trainer is still appending to them.
 *
 * Every file is opened through src/util/safe-file.ts, confined to a root (the dashboard's runs
 * root, or the run directory itself for `fog8 report`): a symlink whose target lies outside the
 * root, a file with more than one hard link, a FIFO, device or directory is refused without
 * blocking, and sizes are bounded before reading.
 */
import { EVALS_FILE, latestTaskResultsIn, type TaskRecord } from '../eval/results.js';
import { closeSync, lstatSync, realpathSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { checkFileSafely, openFileSafely, readAt, readFileSafely, type SafeReadOptions } from '../util/safe-file.js';
import {
  metricsRecord,
  type EvalRecord,
  type EventRecord,
  type Fp8Record,
  type MetricsRecord,
  type RollbackRecord,
  type RunRecord,
  type StepRecord,
  type TensorsRecord,
} from '../monitor/schema.js';

/** Records of one metrics.jsonl grouped by `type`, in file order. */
export interface RunRecords {
  runs: RunRecord[];
  steps: StepRecord[];
  evals: EvalRecord[];
  tensors: TensorsRecord[];
  fp8: Fp8Record[];
  events: EventRecord[];
  /** rollbacks of `--on-alarm rollback`, in file order. */
  rollbacks: RollbackRecord[];
}

/** Why a line was skipped: 1-based line number and a short reason. */
export interface SkippedLine {
  line: number;
  reason: string;
}

/** Result of parsing metrics.jsonl text. */
export interface ParsedMetrics {
  records: MetricsRecord[];
  /** Complete lines that were not valid JSON or did not match the schema. */
  malformedLines: number;
  /** The first few skipped lines, for the report. */
  skippedExamples: SkippedLine[];
  /** True when the text ends in an unterminated line that does not parse (a write in progress). */
  partialTail: boolean;
}

const MAX_SKIPPED_EXAMPLES = 5;
/** Size bounds of the files a run directory holds (far above what a real run writes). */
export const MAX_METRICS_BYTES = 1 << 30;
const MAX_CONFIG_BYTES = 16 << 20;
const LOG_TAIL_BYTES = 64 << 10;

/** Read options for a file of a run directory confined to `root` (a real path). */
export function runFileOptions(root: string, what: string, maxBytes: number): SafeReadOptions {
  return { what, maxBytes, root, refuseHardLinks: true };
}

/** The real path of a directory (its resolved path when it cannot be resolved, e.g. missing). */
export function realDir(dir: string): string {
  try {
    return realpathSync(dir);
  } catch {
    return resolve(dir);
  }
}

/** True when `path` exists as a directory entry (a dangling symlink counts: it is refused later, not called missing). */
function entryExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Null when RUN_DIR/metrics.jsonl may be read under `root`, else why not (checked without opening it). */
export function metricsFileProblem(dir: string, root: string): string | null {
  try {
    checkFileSafely(join(dir, 'metrics.jsonl'), runFileOptions(root, 'metrics file', MAX_METRICS_BYTES));
    return null;
  } catch (e) {
    return (e as Error).message;
  }
}

/** Parses one line; returns the record or a reason it was rejected. */
export function parseMetricsLine(line: string): { record: MetricsRecord } | { reason: string } {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { reason: 'not valid JSON' };
  }
  const result = metricsRecord.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    return { reason: `schema: ${issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid'}` };
  }
  return { record: result.data };
}

/**
 * Parses the whole text of a metrics.jsonl. Blank lines are ignored; every other line that fails
 * JSON or schema validation is skipped and counted. A final line without a newline that fails to
 * parse is reported as `partialTail` instead (the trainer is mid-write), not as malformed.
 */
export function parseMetricsText(text: string): ParsedMetrics {
  const out: ParsedMetrics = { records: [], malformedLines: 0, skippedExamples: [], partialTail: false };
  const lines = text.split('\n');
  const endsWithNewline = text.endsWith('\n');
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const parsed = parseMetricsLine(line);
    if ('record' in parsed) {
      out.records.push(parsed.record);
      return;
    }
    if (i === lines.length - 1 && !endsWithNewline) {
      out.partialTail = true;
      return;
    }
    out.malformedLines += 1;
    if (out.skippedExamples.length < MAX_SKIPPED_EXAMPLES) out.skippedExamples.push({ line: i + 1, reason: parsed.reason });
  });
  return out;
}

/**
 * Follows a growing metrics.jsonl: each `poll()` reads only the bytes appended since the last
 * call, parses the complete lines and keeps an unterminated tail for the next call. A file that
 * shrank (rewritten or truncated) is read again from the start.
 */
export class MetricsFollower {
  readonly path: string;
  /** Real path of the directory the file must stay inside. */
  readonly root: string;
  private offset = 0;
  private pending = Buffer.alloc(0);
  private lineNumber = 0;
  private parsed: ParsedMetrics = { records: [], malformedLines: 0, skippedExamples: [], partialTail: false };

  /** `root` defaults to the real path of the file's directory. */
  constructor(path: string, root?: string) {
    this.path = path;
    this.root = root ?? realDir(resolve(path, '..'));
  }

  /**
   * Reads what was appended and returns everything parsed so far (the same object, grown).
   * Throws UnsafeFileError (without blocking) when the file is not a regular file inside the root.
   */
  poll(): ParsedMetrics {
    if (!entryExists(this.path)) return this.parsed;
    const { fd, size } = openFileSafely(this.path, runFileOptions(this.root, 'metrics file', MAX_METRICS_BYTES));
    try {
      if (size < this.offset) this.restart();
      if (size > this.offset) {
        const chunk = readAt(fd, size - this.offset, this.offset);
        this.offset += chunk.length;
        this.consume(Buffer.concat([this.pending, chunk]));
      }
    } finally {
      closeSync(fd);
    }
    this.parsed.partialTail = this.pending.length > 0 && this.pending.toString('utf8').trim() !== '' && !('record' in parseMetricsLine(this.pending.toString('utf8').trim()));
    return this.parsed;
  }

  private restart(): void {
    this.offset = 0;
    this.pending = Buffer.alloc(0);
    this.lineNumber = 0;
    this.parsed = { records: [], malformedLines: 0, skippedExamples: [], partialTail: false };
  }

  private consume(bytes: Buffer): void {
    let start = 0;
    for (let nl = bytes.indexOf(0x0a, start); nl !== -1; nl = bytes.indexOf(0x0a, start)) {
      this.lineNumber += 1;
      const line = bytes.subarray(start, nl).toString('utf8').trim();
      start = nl + 1;
      if (line === '') continue;
      const parsed = parseMetricsLine(line);
      if ('record' in parsed) this.parsed.records.push(parsed.record);
      else {
        this.parsed.malformedLines += 1;
        if (this.parsed.skippedExamples.length < MAX_SKIPPED_EXAMPLES) this.parsed.skippedExamples.push({ line: this.lineNumber, reason: parsed.reason });
      }
    }
    this.pending = Buffer.from(bytes.subarray(start));
  }
}

/**
 * Groups records by type. Records of a step that appears more than once (a resumed run redoes the
 * steps after its last checkpoint) keep only the last occurrence, so curves do not zig-zag.
 */
export function groupRecords(records: readonly MetricsRecord[]): RunRecords {
  const out: RunRecords = { runs: [], steps: [], evals: [], tensors: [], fp8: [], events: [], rollbacks: [] };
  for (const r of records) {
    switch (r.type) {
      case 'run': out.runs.push(r); break;
      case 'step': out.steps.push(r); break;
      case 'eval': out.evals.push(r); break;
      case 'tensors': out.tensors.push(r); break;
      case 'fp8': out.fp8.push(r); break;
      case 'event': out.events.push(r); break;
      case 'rollback': out.rollbacks.push(r); break;
      default: {
        const unreachable: never = r;
        throw new TypeError(`unknown record ${JSON.stringify(unreachable)}`);
      }
    }
  }
  out.steps = lastPerStep(out.steps);
  out.evals = lastPerStep(out.evals);
  out.tensors = lastPerStep(out.tensors);
  out.fp8 = lastPerStep(out.fp8);
  return out;
}

/** Keeps the last record per step, sorted by step. */
export function lastPerStep<R extends { step: number }>(records: readonly R[]): R[] {
  const byStep = new Map<number, R>();
  for (const r of records) byStep.set(r.step, r);
  return [...byStep.values()].sort((a, b) => a.step - b.step);
}

/** Everything the report needs from one run directory. */
export interface RunData {
  /** Display name: the run directory's base name. */
  name: string;
  dir: string;
  records: RunRecords;
  malformedLines: number;
  skippedExamples: SkippedLine[];
  partialTail: boolean;
  /** Parsed RUN_DIR/config.json, or null when missing or unreadable (see configError). */
  config: Record<string, unknown> | null;
  configError: string | null;
  /** Last lines of RUN_DIR/train.log (empty when absent). */
  logTail: string[];
  /** Newest result per downstream task (RUN_DIR/evals.jsonl); absent for runs built without it. */
  tasks?: Record<string, TaskRecord>;
}

const LOG_TAIL_LINES = 30;
/** evals.jsonl larger than this is not read (a run appends one short line per evaluation). */
const EVALS_MAX_BYTES = 16 * 1024 * 1024;

/** Reads config.json (confined to `root`); a missing, refused or broken file is reported, not thrown. */
export function readRunConfig(dir: string, root = realDir(dir)): { config: Record<string, unknown> | null; error: string | null } {
  const path = join(dir, 'config.json');
  if (!entryExists(path)) return { config: null, error: 'config.json missing' };
  try {
    const json: unknown = JSON.parse(readFileSafely(path, runFileOptions(root, 'config file', MAX_CONFIG_BYTES)).toString('utf8'));
    if (json === null || typeof json !== 'object' || Array.isArray(json)) return { config: null, error: 'config.json is not a JSON object' };
    return { config: json as Record<string, unknown>, error: null };
  } catch (err) {
    return { config: null, error: `config.json unreadable: ${(err as Error).message}` };
  }
}

/** The last `lines` lines of RUN_DIR/train.log (its last 64 KiB at most; confined to `root`). A refused file gives one line saying why. */
export function readLogTail(dir: string, lines = LOG_TAIL_LINES, root = realDir(dir)): string[] {
  const path = join(dir, 'train.log');
  if (!entryExists(path)) return [];
  let text: string;
  try {
    text = readFileSafely(path, { ...runFileOptions(root, 'log file', LOG_TAIL_BYTES), tailBytes: LOG_TAIL_BYTES }).toString('utf8');
  } catch (e) {
    return [`(train.log not shown: ${(e as Error).message})`];
  }
  return text.split('\n').filter((l) => l.trim() !== '').slice(-lines);
}

/** Assembles RunData from parsed metrics and the other files of the directory (confined to `root`). */
export function runDataFrom(dir: string, parsed: ParsedMetrics, root = realDir(dir)): RunData {
  const { config, error } = readRunConfig(dir, root);
  return {
    name: basename(resolve(dir)),
    dir: resolve(dir),
    records: groupRecords(parsed.records),
    malformedLines: parsed.malformedLines,
    skippedExamples: parsed.skippedExamples,
    partialTail: parsed.partialTail,
    config,
    configError: error,
    logTail: readLogTail(dir, LOG_TAIL_LINES, root),
    tasks: readTaskResults(dir, root),
  };
}

/** Newest downstream-task results of RUN_DIR/evals.jsonl (written by `fog8 eval --tasks`; confined to `root`); {} when absent or refused. */
export function readTaskResults(dir: string, root = realDir(dir)): Record<string, TaskRecord> {
  const path = join(dir, EVALS_FILE);
  if (!entryExists(path)) return {};
  try {
    return latestTaskResultsIn(readFileSafely(path, runFileOptions(root, 'evals file', EVALS_MAX_BYTES)).toString('utf8'));
  } catch {
    return {};
  }
}

/**
 * Loads one run directory; its files must lie inside it (see the module comment). Throws only
 * when RUN_DIR/metrics.jsonl does not exist or is refused.
 */
export function loadRun(dir: string): RunData {
  const path = join(dir, 'metrics.jsonl');
  if (!entryExists(path)) throw new RangeError(`run directory ${dir}: no metrics.jsonl in it (expected a directory written by fog8 train)`);
  const root = realDir(dir);
  return runDataFrom(dir, parseMetricsText(readFileSafely(path, runFileOptions(root, 'metrics file', MAX_METRICS_BYTES)).toString('utf8')), root);
}

/** Makes display names unique by appending " (2)", " (3)" to repeats. */
export function uniqueRunNames(runs: RunData[]): RunData[] {
  const seen = new Map<string, number>();
  return runs.map((r) => {
    const n = (seen.get(r.name) ?? 0) + 1;
    seen.set(r.name, n);
    return n === 1 ? r : { ...r, name: `${r.name} (${n})` };
  });
}
