/** `fog8 report RUN_DIR [RUN_DIR…] [-o report.html] [--png DIR]`. */
import type { Command } from 'commander';
import { DEFAULT_CHROMIUM } from '../../report/browser.js';
import { renderPngFigures } from '../../report/png.js';
import { writeReport } from '../../report/write-report.js';

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description('write one self-contained HTML report (charts inlined, opens offline) of one or more run directories, overlaid')
    .argument('<runDirs...>', 'run directories written by fog8 train')
    .option('-o, --output <file>', 'HTML file to write', 'report.html')
    .option('--png <dir>', 'also write the main figures as PNG (headless Chromium)')
    .option('--title <text>', 'page title', 'fog8 report')
    .option('--chromium <path>', 'Chromium executable for --png', DEFAULT_CHROMIUM)
    .action(async (runDirs: string[], opts: { output: string; png?: string; title: string; chromium: string }) => {
      const model = writeReport(runDirs, opts.output, opts.title);
      const skipped = model.runs.reduce((a, r) => a + r.malformedLines, 0);
      console.log(`report: ${opts.output} (${model.runs.length} run(s), ${model.sections.length} sections${skipped > 0 ? `, ${skipped} malformed metrics line(s) skipped` : ''})`);
      if (opts.png !== undefined) {
        const files = await renderPngFigures(opts.output, opts.png, { chromium: opts.chromium });
        console.log(`figures: ${files.length} PNG file(s) in ${opts.png}`);
      }
    });
}
