/**
 * Learning-rate schedules. `step` is the 0-based index of the optimizer step about to be taken
 * (0 … totalSteps−1); each schedule reaches its end value on the last step.
 *
 * - warmup (all schedules): lr = peak·(step+1)/warmupSteps while step < warmupSteps.
 * - 'wsd' (DESIGN §5): warmup, constant peak, then a 1−√τ cooldown over the last
 *   D = round(cooldownFraction·totalSteps) steps: for step ≥ C = totalSteps − D,
 *   τ = (step − C + 1)/D and lr = minLr + (w − minLr)·(1 − √τ), w the warmed-up value.
 * - 'cosine': warmup, then lr = minLr + (peak − minLr)·(1 + cos(π·p))/2 with
 *   p = (step − W + 1)/(totalSteps − W) for step ≥ W.
 * - 'constant': warmup, then peak.
 */

export type ScheduleKind = 'wsd' | 'cosine' | 'constant';
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ['wsd', 'cosine', 'constant'];

export interface ScheduleConfig {
  kind: ScheduleKind;
  peakLr: number;
  minLr: number;
  warmupSteps: number;
  totalSteps: number;
  /** fraction of totalSteps spent in the 1−√τ cooldown ('wsd' only). */
  cooldownFraction: number;
}

/** Validates a schedule config; throws RangeError naming the field. */
export function validateSchedule(c: ScheduleConfig): void {
  if (!SCHEDULE_KINDS.includes(c.kind)) throw new RangeError(`schedule must be one of ${SCHEDULE_KINDS.join(', ')}; got ${JSON.stringify(c.kind)}`);
  if (!(c.peakLr >= 0) || !Number.isFinite(c.peakLr)) throw new RangeError(`peak lr must be a finite number ≥ 0, got ${c.peakLr}`);
  if (!(c.minLr >= 0) || c.minLr > c.peakLr) throw new RangeError(`min lr must be in [0, peak lr ${c.peakLr}], got ${c.minLr}`);
  if (!Number.isInteger(c.totalSteps) || c.totalSteps < 1) throw new RangeError(`total steps must be an integer ≥ 1, got ${c.totalSteps}`);
  if (!Number.isInteger(c.warmupSteps) || c.warmupSteps < 0) throw new RangeError(`warmup steps must be an integer ≥ 0, got ${c.warmupSteps}`);
  if (!(c.cooldownFraction >= 0 && c.cooldownFraction <= 1)) throw new RangeError(`cooldown fraction must be in [0, 1], got ${c.cooldownFraction}`);
}

/** Learning rate for 0-based optimizer step `step` (see the module comment for the formulas). */
export function learningRate(c: ScheduleConfig, step: number): number {
  if (!Number.isInteger(step) || step < 0) throw new RangeError(`learningRate: step must be an integer ≥ 0, got ${step}`);
  const s = Math.min(step, c.totalSteps - 1);
  const warm = c.warmupSteps > 0 && s < c.warmupSteps ? (c.peakLr * (s + 1)) / c.warmupSteps : c.peakLr;
  switch (c.kind) {
    case 'constant':
      return warm;
    case 'wsd': {
      const D = Math.round(c.cooldownFraction * c.totalSteps);
      const C = c.totalSteps - D;
      if (D === 0 || s < C) return warm;
      const tau = (s - C + 1) / D;
      return c.minLr + (warm - c.minLr) * (1 - Math.sqrt(tau));
    }
    case 'cosine': {
      if (s < c.warmupSteps) return warm;
      const p = (s - c.warmupSteps + 1) / (c.totalSteps - c.warmupSteps);
      return c.minLr + ((c.peakLr - c.minLr) * (1 + Math.cos(Math.PI * p))) / 2;
    }
    default: {
      const never: never = c.kind;
      throw new RangeError(`unknown schedule ${String(never)}`);
    }
  }
}
