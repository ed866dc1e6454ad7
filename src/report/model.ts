/**
 * The report model: what the page draws, computed in Node from run directories (aggregate.ts) and
 * handed to the browser as JSON. The browser code (client.ts) only lays it out, so every number
 * in a chart is testable without a browser.
 */
import type { TensorName } from './tensors.js';

/** One line in a chart; `values` is aligned with the chart's `x` (null = no point there). */
export interface SeriesSpec {
  label: string;
  color: string;
  dash: boolean;
  /** Draw point markers (sparse series such as validation loss). */
  points: boolean;
  values: (number | null)[];
}

/** A line chart over a shared x axis. */
export interface ChartSpec {
  kind: 'chart';
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  /** 'tokens' formats the x axis with k/M/G suffixes. */
  xFormat: 'tokens' | 'step';
  yLog: boolean;
  x: number[];
  series: SeriesSpec[];
}

/** A layer × step heatmap of one statistic of one named tensor in one run. */
export interface HeatmapSpec {
  kind: 'heatmap';
  id: string;
  title: string;
  run: string;
  tensor: TensorName;
  metric: 'kurtosis' | 'rms';
  steps: number[];
  layerCount: number;
  /** values[layer][stepIndex]; null where the run recorded nothing. */
  values: (number | null)[][];
  /** Color range shared by all runs' heatmaps of this tensor and metric, so colors compare. */
  colorMin: number;
  colorMax: number;
  colorLog: boolean;
}

export type ItemSpec = ChartSpec | HeatmapSpec;

/** A titled group of figures; each becomes one <section> (and one PNG with --png). */
export interface SectionSpec {
  id: string;
  title: string;
  description: string;
  items: ItemSpec[];
}

/** One row of the resolved-config table. */
export interface ConfigRow {
  key: string;
  /** One cell per run; '—' where the run's config lacks the key. */
  values: string[];
  differs: boolean;
}

/** Final numbers of one run (see summary.ts for definitions). */
export interface RunSummary {
  name: string;
  color: string;
  preset: string;
  size: string;
  precision: string;
  steps: number;
  tokens: number;
  finalTrainLoss: number | null;
  finalValLoss: number | null;
  minValLoss: number | null;
  meanTokensPerSec: number | null;
  peakActivationKurtosis: number | null;
  finalActivationKurtosis: number | null;
  peakQkvInputKurtosis: number | null;
  finalQkvInputKurtosis: number | null;
  peakMaxAttentionLogit: number | null;
  peakOverflowPct: number | null;
  peakUnderflowPct: number | null;
  /** largest per-cast relative error ‖x − x̂‖/‖x‖ over the run (null: not measured). */
  peakRelErr: number | null;
  /** one line per rollback of --on-alarm rollback: alarm step, checkpoint step, GEMMs switched to BF16. */
  rollbacks: string[];
  diverged: boolean;
  divergedReason: string;
  malformedLines: number;
  partialTail: boolean;
  configError: string | null;
  lastEvent: string | null;
  logTail: string[];
  /** Newest downstream-task results (fog8 eval --tasks), one per task. */
  tasks: { task: string; items: number; step: number | null; acc: number; accStderr: number; accNorm: number | null; accNormStderr: number | null }[];
}

export interface ReportModel {
  title: string;
  generatedAt: string;
  runs: RunSummary[];
  sections: SectionSpec[];
  configRuns: string[];
  configRows: ConfigRow[];
}
