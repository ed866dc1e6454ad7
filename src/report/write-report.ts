/** `fog8 report`: loads run directories and writes the self-contained HTML report. */
import { mkdirSync } from 'node:fs';
import { checkOutputPath, writeFileAtomic } from '../util/safe-file.js';
import { dirname, join, resolve } from 'node:path';
import { buildReportModel } from './aggregate.js';
import { reportHtml } from './html.js';
import { loadRun, uniqueRunNames } from './load.js';
import type { ReportModel } from './model.js';

/** Loads `runDirs`, writes the HTML report to `outPath` (directories created); returns the model. */
export function writeReport(runDirs: readonly string[], outPath: string, title = 'fog8 report'): ReportModel {
  if (runDirs.length === 0) throw new RangeError('writeReport: runDirs is empty; give at least one run directory');
  const path = resolve(outPath);
  // Refuse a directory, or a run's own file, as the output before any work; inputs are the runs' files.
  checkOutputPath(path, 'report output', runDirs.flatMap((d) => ['metrics.jsonl', 'config.json', 'train.log'].map((f) => join(d, f))));
  const model = buildReportModel(uniqueRunNames(runDirs.map((d) => loadRun(d))), title);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, reportHtml(model), 'report output');
  return model;
}
