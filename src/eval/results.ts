/**
 * `fog8 eval` results kept with a run: RUN_DIR/evals.jsonl, one JSON record per evaluation
 * (`type: 'data'` for loss/perplexity/bits per byte on a dataset, `type: 'task'` for a downstream
 * task), appended by `fog8 eval` when the checkpoint lies in a run directory. The report and
 * `fog8 compare` read the newest record per task.
 */
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskResult } from './tasks.js';

export const EVALS_FILE = 'evals.jsonl';

export interface TaskRecord extends TaskResult {
  type: 'task';
  time: number;
  step: number | null;
  checkpoint: string;
  precision: string;
}

export interface DataRecord {
  type: 'data';
  time: number;
  step: number | null;
  checkpoint: string;
  precision: string;
  data: string;
  split: string;
  documents: number;
  tokens: number;
  loss: number;
  perplexity: number;
  bitsPerByte: number | null;
}

export type EvalRecord = TaskRecord | DataRecord;

export function appendEvalRecord(runDir: string, record: EvalRecord): void {
  appendFileSync(join(runDir, EVALS_FILE), JSON.stringify(record) + '\n');
}

/** The newest task record per task name of a run directory (empty without evals.jsonl; bad lines are skipped). */
export function latestTaskResults(runDir: string): Record<string, TaskRecord> {
  const path = join(runDir, EVALS_FILE);
  return existsSync(path) ? latestTaskResultsIn(readFileSync(path, 'utf8')) : {};
}

/** The newest task record per task name in the text of an evals.jsonl. */
export function latestTaskResultsIn(text: string): Record<string, TaskRecord> {
  const out: Record<string, TaskRecord> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const r = JSON.parse(line) as EvalRecord;
      if (r.type === 'task' && typeof r.task === 'string' && typeof r.acc === 'number') out[r.task] = r;
    } catch {
      // a torn last line (killed mid-write) is skipped
    }
  }
  return out;
}

/** One line per task result, e.g. "brown-cloze: acc 0.4125 ± 0.0390, acc_norm 0.4000 ± 0.0388 (160 items)". */
export function formatTaskResult(r: TaskResult): string {
  const pm = (v: number, se: number | undefined) => `${v.toFixed(4)}${se !== undefined && Number.isFinite(se) ? ` ± ${se.toFixed(4)}` : ''}`;
  const parts = [`acc ${pm(r.acc, r.accStderr)}`];
  if (r.accNorm !== undefined) parts.push(`acc_norm ${pm(r.accNorm, r.accNormStderr)}`);
  if (r.accMutualInfo !== undefined) parts.push(`acc_mutual_info ${pm(r.accMutualInfo, r.accMutualInfoStderr)}`);
  if (r.perplexity !== undefined) parts.push(`perplexity ${r.perplexity.toFixed(2)}`);
  return `${r.task}: ${parts.join(', ')} (${r.items} items)`;
}
