/**
 * What a loss spike and a divergence are, as functions of a run's per-step training losses
 * (DESIGN §6 asks for a forecaster; this is what it forecasts).
 *
 * - Smoothed loss: s_t = EMA of the finite losses with factor `beta`, bias-corrected
 *   (s_t = m_t / (1 − beta^k), m the raw EMA, k the number of finite losses seen), so the first
 *   steps are not pulled towards 0.
 * - Running minimum: r_t = min over u ≤ t of s_u.
 * - A step is *in a spike* when it is non-finite (loss null / skipped) or s_t − r_t ≥ `threshold`
 *   nats (default 0.1), once at least `minSteps` finite losses were seen (the EMA needs a few).
 * - A spike *episode* starts at the first step in a spike (its onset) and ends at the first step
 *   with a finite loss whose s_t − r_t < threshold / 2 (hysteresis, so noise around the threshold
 *   is one episode, not many).
 * - A run *diverged* when it ends inside an episode (the loss never came back), or when it
 *   stopped on non-finite steps (the trainer's error event; the caller passes `stopped`).
 */

export interface SpikeOptions {
  /** EMA factor of the smoothed loss. */
  beta: number;
  /** rise of the smoothed loss above its running minimum that makes a spike, in nats. */
  threshold: number;
  /** finite losses needed before a rise counts (non-finite steps always count). */
  minSteps: number;
}

export const DEFAULT_SPIKE_OPTIONS: Readonly<SpikeOptions> = Object.freeze({ beta: 0.9, threshold: 0.1, minSteps: 10 });

/** One point of a loss curve: `step` (optimizer steps completed) and the loss, null when non-finite. */
export interface LossPoint {
  step: number;
  loss: number | null;
}

export interface SpikeEpisode {
  /** first step in the spike. */
  onset: number;
  /** first step back below threshold/2, or null when the run ended inside the episode. */
  end: number | null;
  /** largest s_t − r_t in the episode (Infinity when a step was non-finite). */
  peakRise: number;
  /** whether the onset step itself was non-finite. */
  nonFinite: boolean;
}

export interface SpikeAnalysis {
  episodes: SpikeEpisode[];
  diverged: boolean;
  /** onset of the episode the run never left, or the stop step; null when not diverged. */
  divergedAt: number | null;
  /** s_t per input point (null before the first finite loss). */
  smoothed: (number | null)[];
}

export function validateSpikeOptions(o: SpikeOptions): SpikeOptions {
  if (!(o.beta >= 0 && o.beta < 1)) throw new RangeError(`spike options: beta must be in [0, 1), got ${o.beta}`);
  if (!(o.threshold > 0)) throw new RangeError(`spike options: threshold must be > 0 nats, got ${o.threshold}`);
  if (!Number.isInteger(o.minSteps) || o.minSteps < 0) throw new RangeError(`spike options: minSteps must be an integer ≥ 0, got ${o.minSteps}`);
  return o;
}

/**
 * Online spike detector: feed steps in order; `push` returns the new episode when one starts.
 * The same object serves the offline analysis (detectSpikes) and the trainer's rollback alarm.
 */
export class SpikeDetector {
  readonly options: Readonly<SpikeOptions>;
  private m = 0;
  private k = 0;
  private runMin = Infinity;
  /** step at which the running minimum was last set (the last good step before a spike). */
  private runMinStep = -1;
  private current: SpikeEpisode | null = null;
  readonly episodes: SpikeEpisode[] = [];

  constructor(options: SpikeOptions = DEFAULT_SPIKE_OPTIONS) {
    this.options = Object.freeze({ ...validateSpikeOptions(options) });
  }

  /** The smoothed loss after the last push (null before any finite loss). */
  smoothed(): number | null {
    return this.k === 0 ? null : this.m / (1 - this.options.beta ** this.k);
  }

  /** Step of the running minimum of the smoothed loss (−1 before any). */
  minimumStep(): number {
    return this.runMinStep;
  }

  inEpisode(): boolean {
    return this.current !== null;
  }

  /** Serialisable state (checkpoints: a resumed or rolled-back run detects identically). */
  toJSON(): { m: number; k: number; runMin: number | null; runMinStep: number; current: SpikeEpisode | null; episodes: SpikeEpisode[] } {
    return { m: this.m, k: this.k, runMin: Number.isFinite(this.runMin) ? this.runMin : null, runMinStep: this.runMinStep, current: this.current ? { ...this.current, peakRise: Number.isFinite(this.current.peakRise) ? this.current.peakRise : -1 } : null, episodes: this.episodes.map((e) => ({ ...e, peakRise: Number.isFinite(e.peakRise) ? e.peakRise : -1 })) };
  }

  restore(s: unknown): void {
    const v = s as ReturnType<SpikeDetector['toJSON']> | null;
    if (!v || typeof v.m !== 'number' || typeof v.k !== 'number' || !Array.isArray(v.episodes)) throw new TypeError('SpikeDetector.restore: expected { m, k, runMin, runMinStep, current, episodes }');
    const fix = (e: SpikeEpisode): SpikeEpisode => ({ ...e, peakRise: e.peakRise < 0 ? Infinity : e.peakRise });
    this.m = v.m;
    this.k = v.k;
    this.runMin = v.runMin ?? Infinity;
    this.runMinStep = v.runMinStep;
    this.episodes.length = 0;
    for (const e of v.episodes) this.episodes.push(fix(e));
    // The open episode is the same object as the last one in the list.
    this.current = v.current ? this.episodes[this.episodes.length - 1] : null;
  }

  push(p: LossPoint): SpikeEpisode | null {
    const { beta, threshold, minSteps } = this.options;
    let rise: number;
    if (p.loss === null || !Number.isFinite(p.loss)) {
      rise = Infinity;
    } else {
      this.m = beta * this.m + (1 - beta) * p.loss;
      this.k++;
      const s = this.m / (1 - beta ** this.k);
      if (s < this.runMin) {
        this.runMin = s;
        this.runMinStep = p.step;
      }
      rise = this.k > minSteps ? s - this.runMin : 0;
    }
    if (this.current) {
      if (rise > this.current.peakRise) this.current.peakRise = rise;
      if (Number.isFinite(rise) && rise < threshold / 2) {
        this.current.end = p.step;
        this.current = null;
      }
      return null;
    }
    if (rise >= threshold) {
      this.current = { onset: p.step, end: null, peakRise: rise, nonFinite: !Number.isFinite(rise) };
      this.episodes.push(this.current);
      return this.current;
    }
    return null;
  }
}

/** Offline analysis of a whole loss curve (points in step order). */
export function detectSpikes(points: readonly LossPoint[], options: SpikeOptions = DEFAULT_SPIKE_OPTIONS, stopped: { step: number } | null = null): SpikeAnalysis {
  const d = new SpikeDetector(options);
  const smoothed: (number | null)[] = [];
  for (const p of points) {
    d.push(p);
    smoothed.push(d.smoothed());
  }
  const open = d.episodes.find((e) => e.end === null) ?? null;
  const divergedAt = open ? open.onset : stopped ? stopped.step : null;
  return { episodes: d.episodes, diverged: divergedAt !== null, divergedAt, smoothed };
}
