/**
 * `fog8 study stability [--out DIR] [--shard K/N] [--summary-only] [--presets …] [--lrs …] [--seeds …]
 * [train flags…]`: trains the stability protocol (src/report/study.ts) as a resumable sweep, then
 * writes OUT/study.html, OUT/study.md (and the sweep's summary.json, sweep.html, run reports).
 * Train flags given here override the protocol's (e.g. --steps 400).
 */
import type { Command } from 'commander';
import { runSweep } from '../../report/sweep.js';
import { STABILITY_PROTOCOL, writeStudy } from '../../report/study.js';
import { checkSweepTrainFlags, parseShard, sweepTrainInProcess } from './sweep.js';
import { hasResumableCheckpoint } from './compare.js';

const list = (v: string): string[] => v.split(',').map((s) => s.trim()).filter((s) => s !== '');
const numList = (name: string) => (v: string): number[] => list(v).map((s) => {
  const x = Number(s);
  if (!Number.isFinite(x)) throw new RangeError(`--${name}: ${JSON.stringify(s)} is not a number`);
  return x;
});

export function registerStudyCommand(program: Command): void {
  const study = program.command('study').description('named experiments built on fog8 sweep');
  const p = STABILITY_PROTOCOL;
  study
    .command('stability')
    .description(`architectures × {bf16, fp8-delayed + FP8DPA} × lrs × seeds (default ${p.presets.join(',')} × ${p.precisions.join(',')} × ${p.lrs.join(',')} × seeds ${p.seeds.join(',')}; ${p.train.join(' ')}), then study.html + study.md`)
    .option('--out <dir>', 'study directory', 'runs/study-stability')
    .option('--presets <list>', 'override the protocol presets', list)
    .option('--precisions <list>', 'override the protocol precisions', list)
    .option('--lrs <list>', 'override the protocol learning rates', numList('lrs'))
    .option('--seeds <list>', 'override the protocol seeds', numList('seeds'))
    .option('--test-seeds <list>', 'seeds held out for the forecaster evaluation (default: the largest)', numList('test-seeds'))
    .option('--shard <k/n>', 'train only every n-th run starting at k (parallel processes); no study page', parseShard)
    .option('--summary-only', 'train nothing; summarise the finished runs')
    .option('--machine <text>', 'the machine that trained the runs, for study.md (default: this one)')
    .option('--wall-seconds <s>', 'wall time of the training, for study.md (with --summary-only)', Number)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (o: { out: string; presets?: string[]; precisions?: string[]; lrs?: number[]; seeds?: number[]; testSeeds?: number[]; shard?: [number, number]; summaryOnly?: boolean; machine?: string; wallSeconds?: number }, command: Command) => {
      const shared = [...p.train, ...command.args];
      checkSweepTrainFlags(shared);
      const started = Date.now();
      const command_ = `fog8 ${process.argv.slice(2).join(' ')}`;
      const result = await runSweep({
        presets: o.presets ?? p.presets, precisions: o.precisions ?? p.precisions, lrs: o.lrs ?? p.lrs, seeds: o.seeds ?? p.seeds, outDir: o.out,
        shard: o.shard, summaryOnly: o.summaryOnly, command: command_, runReports: o.shard === undefined,
        runTraining: sweepTrainInProcess({ shared, handleSignals: true }),
        hasCheckpoint: hasResumableCheckpoint,
        log: (line) => console.log(`study ${line}`),
      });
      if (o.shard !== undefined) {
        console.log(`study shard ${o.shard[0]}/${o.shard[1]} done; run without --shard (or with --summary-only) to write the study page`);
        return;
      }
      const out = writeStudy({ outDir: o.out, summary: result.summary, command: command_, wallSeconds: o.wallSeconds ?? (o.summaryOnly ? null : (Date.now() - started) / 1000), testSeeds: o.testSeeds, machine: o.machine });
      console.log(`${out.markdown}\n\nstudy: ${out.htmlPath}\nsummary: ${out.markdownPath}`);
    });
}
