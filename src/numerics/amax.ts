/** amax = max |x|, the statistic every FP8 scale is derived from (DESIGN §3). */

/** max |values[i]| over (n) values; NaN if any value is NaN; may be Infinity; 0 for n = 0. */
export function amax(values: Float32Array): number {
  if (!(values instanceof Float32Array)) throw new TypeError('amax: values must be a Float32Array');
  let m = 0;
  for (let i = 0; i < values.length; i++) {
    const a = Math.abs(values[i]);
    if (a > m) m = a;
    else if (a !== a) return NaN; // NaN fails a > m, so it is looked for only on that branch
  }
  return m;
}
