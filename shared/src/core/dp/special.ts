/**
 * Special functions the privacy accountant needs, to double precision: erfc and its logarithm (through the
 * regularized incomplete gamma function Γ(1/2, x²), a series below x² = 1.5 and a Lentz continued fraction above,
 * as in Numerical Recipes §6.2, both run to machine precision), the normal CDF, and log-space addition.
 */

const EPSILON = 1e-16;
const TINY = 1e-300;
const MAX_ITERATIONS = 10_000;
/** ln Γ(1/2) = ln √π. */
const LOG_GAMMA_HALF = 0.5 * Math.log(Math.PI);

/** Regularized lower incomplete gamma P(1/2, x) by its series (x < 1.5). */
function lowerGammaHalfSeries(x: number): number {
  if (x === 0) return 0;
  let ap = 0.5;
  let del = 1 / 0.5;
  let sum = del;
  for (let n = 0; n < MAX_ITERATIONS; n++) {
    ap += 1;
    del *= x / ap;
    sum += del;
    if (Math.abs(del) < Math.abs(sum) * EPSILON) break;
  }
  return sum * Math.exp(-x + 0.5 * Math.log(x) - LOG_GAMMA_HALF);
}

/** ln Q(1/2, x), the regularized upper incomplete gamma, by its continued fraction (x >= 1.5). */
function logUpperGammaHalfFraction(x: number): number {
  const a = 0.5;
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < MAX_ITERATIONS; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < EPSILON) break;
  }
  return -x + a * Math.log(x) - LOG_GAMMA_HALF + Math.log(h);
}

/** Complementary error function erfc(x) = 1 − erf(x). */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x < 0) return 2 - erfc(-x);
  const x2 = x * x;
  return x2 < 1.5 ? 1 - lowerGammaHalfSeries(x2) : Math.exp(logUpperGammaHalfFraction(x2));
}

/** ln erfc(x), accurate where erfc(x) underflows (large x). */
export function logErfc(x: number): number {
  if (Number.isNaN(x)) return Number.NaN;
  if (x >= 0 && x * x >= 1.5) return logUpperGammaHalfFraction(x * x);
  return Math.log(erfc(x));
}

/** Standard normal CDF Φ(x). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

/** ln(e^a + e^b), exact for −∞ operands. */
export function logAdd(a: number, b: number): number {
  if (a === Number.NEGATIVE_INFINITY) return b;
  if (b === Number.NEGATIVE_INFINITY) return a;
  const hi = Math.max(a, b);
  return hi + Math.log1p(Math.exp(Math.min(a, b) - hi));
}

/** ln(e^a − e^b), or null when the difference is negative (the caller falls back to a bound). */
export function logSub(a: number, b: number): number | null {
  if (a < b) return null;
  if (b === Number.NEGATIVE_INFINITY) return a;
  if (a === b) return Number.NEGATIVE_INFINITY;
  // e^(a−b) − 1 overflows past ~709; there the difference is e^a to double precision.
  if (a - b > 700) return a;
  return Math.log(Math.expm1(a - b)) + b;
}
