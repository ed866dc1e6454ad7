/** Per-record reductions the report plots: layer averages and extremes over layers. */
import type { Fp8Record, TensorsRecord } from '../monitor/schema.js';
import type { TensorName } from './tensors.js';

/** Mean over layers of one statistic of one named tensor; null when the record has none. */
export function layerAverage(record: TensorsRecord, tensor: TensorName, metric: 'kurtosis' | 'rms'): number | null {
  let sum = 0;
  let n = 0;
  for (const s of record.stats) {
    if (s.tensor !== tensor || !Number.isFinite(s[metric])) continue;
    sum += s[metric];
    n += 1;
  }
  return n === 0 ? null : sum / n;
}

/** Number of layers covered by the tensor records (1 + the largest layer index seen). */
export function layerCount(records: readonly TensorsRecord[]): number {
  let max = -1;
  for (const r of records) {
    for (const s of r.stats) max = Math.max(max, s.layer);
    max = Math.max(max, r.maxAttentionLogit.length - 1);
  }
  return max + 1;
}

/** Largest finite value of a cast statistic over all operands of one record; null if none. */
export function maxCastStat(record: Fp8Record, field: 'underflowPct' | 'overflowPct' | 'relErr' | 'massLostPct'): number | null {
  let best: number | null = null;
  for (const c of record.casts) {
    const v = c[field];
    if (v !== undefined && Number.isFinite(v) && (best === null || v > best)) best = v;
  }
  return best;
}

/** Largest finite value of a list, null when there is none. */
export function finiteMax(values: readonly (number | null)[]): number | null {
  let best: number | null = null;
  for (const v of values) if (v !== null && Number.isFinite(v) && (best === null || v > best)) best = v;
  return best;
}

/** Last finite value of a list, null when there is none. */
export function lastFinite(values: readonly (number | null)[]): number | null {
  for (let i = values.length - 1; i >= 0; i--) {
    const v = values[i];
    if (v !== null && v !== undefined && Number.isFinite(v)) return v;
  }
  return null;
}
