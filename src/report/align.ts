/** Aligning several (x, y) series onto one sorted x axis, as uPlot's aligned data requires. */

/** One series before alignment: xs[i] pairs with ys[i]. */
export interface XYSeries {
  xs: readonly number[];
  ys: readonly (number | null)[];
}

/**
 * Merges the series' x values into one ascending axis without duplicates and places each series'
 * y at its x (null elsewhere). Non-finite x values are dropped; non-finite y values become null.
 * A repeated x within one series keeps the last y.
 */
export function alignSeries(series: readonly XYSeries[]): { x: number[]; ys: (number | null)[][] } {
  for (const [i, s] of series.entries()) {
    if (s.xs.length !== s.ys.length) throw new RangeError(`alignSeries: series ${i} has ${s.xs.length} x values but ${s.ys.length} y values`);
  }
  const x = [...new Set(series.flatMap((s) => s.xs.filter((v) => Number.isFinite(v))))].sort((a, b) => a - b);
  const index = new Map(x.map((v, i) => [v, i]));
  const ys = series.map((s) => {
    const row: (number | null)[] = new Array<number | null>(x.length).fill(null);
    s.xs.forEach((xv, i) => {
      const at = index.get(xv);
      const y = s.ys[i];
      if (at !== undefined) row[at] = y !== null && Number.isFinite(y) ? y : null;
    });
    return row;
  });
  return { x, ys };
}
