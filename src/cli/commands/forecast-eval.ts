/** `fog8 forecast-eval RUN…`: fit the spike forecaster on some seeds, report on the held-out seeds. */
import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { forecastEval, formatForecastEval, loadTelemetry } from '../../report/forecast-eval.js';
import { DEFAULT_SPIKE_OPTIONS } from '../../monitor/spikes.js';

const numList = (name: string) => (v: string): number[] => v.split(',').filter((s) => s.trim() !== '').map((s) => {
  const n = Number(s);
  if (!Number.isFinite(n)) throw new RangeError(`--${name}: ${JSON.stringify(s)} is not a number`);
  return n;
});

const positiveInt = (name: string) => (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`--${name} must be a positive integer, got ${JSON.stringify(v)}`);
  return n;
};

export function registerForecastEvalCommand(program: Command): void {
  program
    .command('forecast-eval')
    .description('fit the loss-spike forecaster on runs of some seeds and report, on the held-out seeds: spikes flagged, median lead time, false alarms per 1000 steps (run dirs, or a sweep dir)')
    .argument('<runs...>', 'run directories, or directories holding run directories')
    .option('--test-seeds <list>', 'seeds held out for evaluation (default: the largest seed)', numList('test-seeds'))
    .option('--horizon <steps>', 'a sample is positive when a spike starts within this many steps', positiveInt('horizon'), 50)
    .option('--window <n>', 'metrics intervals the trend features span', positiveInt('window'), 3)
    .option('--thresholds <list>', 'alarm thresholds on the forecaster probability', numList('thresholds'), [0.3, 0.5, 0.7, 0.9])
    .option('--spike-min-steps <n>', 'finite losses before a rise counts as a spike (e.g. past warmup); non-finite steps always count', (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new RangeError(`--spike-min-steps must be an integer ≥ 0, got ${JSON.stringify(v)}`);
      return n;
    }, DEFAULT_SPIKE_OPTIONS.minSteps)
    .option('--save <file>', 'write the fitted model (JSON) for fog8 train --forecaster-model')
    .option('--json', 'print the full result as JSON')
    .action((runs: string[], o: { testSeeds?: number[]; horizon: number; window: number; thresholds: number[]; spikeMinSteps: number; save?: string; json?: boolean }) => {
      const spike = { ...DEFAULT_SPIKE_OPTIONS, minSteps: o.spikeMinSteps };
      const result = forecastEval(loadTelemetry(runs), { testSeeds: o.testSeeds, horizon: o.horizon, window: o.window, thresholds: o.thresholds, spike });
      if (o.save) writeFileSync(o.save, `${JSON.stringify(result.model, null, 2)}\n`);
      console.log(o.json ? JSON.stringify(result, null, 2) : formatForecastEval(result));
    });
}
