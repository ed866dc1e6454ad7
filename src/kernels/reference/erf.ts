/**
 * The error function erf(x) in float64, |error| < 1e-14 over the whole real line (the GeLU
 * kernels need < 1e-7). |x| < 3: the all-positive series erf(x) = 2/√π·e^(−x²)·Σ (2x²)ⁿ·x/(1·3·…·(2n+1)),
 * which has no cancellation; |x| ≥ 3: 1 − erfc(x) with erfc from its continued fraction.
 */
export function erf(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const ax = Math.abs(x);
  if (ax >= 6) return Math.sign(x); // erfc(6) ≈ 2e-17, below float64 resolution of 1
  if (ax < 3) return seriesErf(x);
  const value = 1 - continuedFractionErfc(ax);
  return x < 0 ? -value : value;
}

/** The complementary error function 1 − erf(x), accurate also in the tail (x ≥ 3). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x >= 3) return x >= 27 ? 0 : continuedFractionErfc(x);
  return 1 - erf(x);
}

const TWO_OVER_SQRT_PI = 1.1283791670955126;
const ONE_OVER_SQRT_PI = 0.5641895835477563;

function seriesErf(x: number): number {
  const x2 = x * x;
  let term = x; // n = 0 term of Σ (2x²)ⁿ·x / (2n+1)!!
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x2) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
}

// erfc(x) = e^(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …))))), evaluated bottom-up;
// 80 levels converge to full float64 precision for x ≥ 3.
function continuedFractionErfc(x: number): number {
  let tail = x;
  for (let n = 80; n >= 1; n--) tail = x + n / 2 / tail;
  return (ONE_OVER_SQRT_PI * Math.exp(-x * x)) / tail;
}
