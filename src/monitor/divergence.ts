/**
 * A divergence forecaster (DESIGN §6: kurtosis of the tensors fed to FP8 casts grows long before
 * an FP8 run diverges). Rule, deliberately simple: for each named tensor, take the layer-averaged
 * kurtosis at every metrics interval; flag the tensor when its last `window` measurements each
 * rose (strictly increasing) and the newest is at least `growth` × the oldest of the window.
 * A flag is raised once when the condition starts to hold and re-armed when it stops.
 */
import type { TensorStat } from './schema.js';
import { layerAveragedKurtosis, type TensorName } from './step-monitor.js';

export interface ForecastWarning {
  step: number;
  tensor: TensorName;
  from: number;
  to: number;
  message: string;
}

export interface ForecasterOptions {
  /** measurements in the window (≥ 2). */
  window: number;
  /** required ratio newest/oldest over the window. */
  growth: number;
}

export const DEFAULT_FORECASTER: Readonly<ForecasterOptions> = Object.freeze({ window: 5, growth: 1.5 });

export class DivergenceForecaster {
  readonly options: Readonly<ForecasterOptions>;
  private history = new Map<TensorName, number[]>();
  private flagged = new Set<TensorName>();

  constructor(options: ForecasterOptions = DEFAULT_FORECASTER) {
    if (!Number.isInteger(options.window) || options.window < 2) throw new RangeError(`DivergenceForecaster: window must be an integer ≥ 2, got ${options.window}`);
    if (!(options.growth > 1)) throw new RangeError(`DivergenceForecaster: growth must be > 1, got ${options.growth}`);
    this.options = Object.freeze({ ...options });
  }

  /** Feeds one metrics-interval's tensor statistics; returns newly raised warnings. */
  observe(step: number, stats: readonly TensorStat[]): ForecastWarning[] {
    const out: ForecastWarning[] = [];
    const W = this.options.window;
    for (const [tensor, k] of layerAveragedKurtosis(stats)) {
      const h = this.history.get(tensor) ?? [];
      h.push(k);
      if (h.length > W) h.shift();
      this.history.set(tensor, h);
      let rising = h.length === W;
      for (let i = 1; rising && i < W; i++) rising = h[i] > h[i - 1];
      const holds = rising && h[W - 1] >= this.options.growth * h[0];
      if (holds && !this.flagged.has(tensor)) {
        this.flagged.add(tensor);
        out.push({
          step,
          tensor,
          from: h[0],
          to: h[W - 1],
          message: `divergence warning: kurtosis of ${tensor} (layer average) rose ${(h[W - 1] / h[0]).toFixed(2)}× over the last ${W} measurements (${h[0].toFixed(2)} → ${h[W - 1].toFixed(2)}); sustained kurtosis growth precedes FP8 divergence`,
        });
      } else if (!holds) {
        this.flagged.delete(tensor);
      }
    }
    return out;
  }

  /** Serialisable state (for checkpoints, so a resumed run forecasts identically). */
  toJSON(): { history: Record<string, number[]>; flagged: string[] } {
    return { history: Object.fromEntries(this.history), flagged: [...this.flagged] };
  }

  restore(s: unknown): void {
    const v = s as { history?: Record<string, number[]>; flagged?: string[] } | null;
    if (!v || typeof v.history !== 'object' || !Array.isArray(v.flagged)) throw new TypeError('DivergenceForecaster.restore: expected { history, flagged }');
    this.history = new Map(Object.entries(v.history).map(([k, a]) => [k as TensorName, a.slice()]));
    this.flagged = new Set(v.flagged as TensorName[]);
  }
}
