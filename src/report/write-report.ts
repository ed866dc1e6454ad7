/** `fog8 report`: loads run directories and writes the self-contained HTML report. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { buildReportModel } from './aggregate.js';
import { reportHtml } from './html.js';
import { loadRun, uniqueRunNames } from './load.js';
import type { ReportModel } from './model.js';

/** Loads `runDirs`, writes the HTML report to `outPath` (directories created); returns the model. */
export function writeReport(runDirs: readonly string[], outPath: string, title = 'fog8 report'): ReportModel {
  if (runDirs.length === 0) throw new RangeError('writeReport: runDirs is empty; give at least one run directory');
  const model = buildReportModel(uniqueRunNames(runDirs.map((d) => loadRun(d))), title);
  const path = resolve(outPath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, reportHtml(model));
  return model;
}
