/** Signal-to-quantisation-noise ratio in dB of `actual` against `expected` (Infinity when they are equal). */
export function sqnrDb(expected: ArrayLike<number>, actual: ArrayLike<number>): number {
  let signal = 0;
  let noise = 0;
  for (let i = 0; i < expected.length; i++) {
    signal += expected[i] ** 2;
    noise += (actual[i] - expected[i]) ** 2;
  }
  return noise === 0 ? Infinity : 10 * Math.log10(signal / noise);
}
