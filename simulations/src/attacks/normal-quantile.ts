/**
 * Φ⁻¹, the standard normal quantile function, by Wichura's algorithm AS 241 (PPND16, Applied Statistics 37, 1988):
 * rational approximations accurate to about 1e-16 over (0, 1). ALIE needs it for its z_max. The coefficients are the
 * published ones rounded to the nearest double.
 */

// Numerator and denominator coefficients, constant term first: |p − ½| ≤ 0.425; then r = √(−ln min(p, 1 − p)) ≤ 5; beyond.
const CENTRAL_NUM = [3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987, 67265.7709270087, 33430.57558358813, 2509.0809287301227];
const CENTRAL_DEN = [1.0, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271, 28729.085735721943, 5226.495278852854];
const NEAR_NUM = [1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684, 0.2417807251774506, 0.022723844989269184, 0.0007745450142783414];
const NEAR_DEN = [1.0, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008, 0.015198666563616457, 0.0005475938084995345, 1.0507500716444169e-09];
const TAIL_NUM = [6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487, 0.026532189526576124, 0.0012426609473880784, 2.7115555687434876e-05, 2.0103343992922881e-07];
const TAIL_DEN = [1.0, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133, 1.8463183175100548e-05, 1.421511758316446e-07, 2.0442631033899397e-15];

/** c0 + c1·x + c2·x² + … by Horner's rule. */
function polynomial(coefficients: readonly number[], x: number): number {
  let value = 0;
  for (let i = coefficients.length - 1; i >= 0; i--) value = value * x + coefficients[i]!;
  return value;
}

/** The z with Φ(z) = p, for p in (0, 1); −Infinity at 0, +Infinity at 1; RangeError outside [0, 1]. */
export function inverseNormalCdf(p: number): number {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`inverseNormalCdf: p must be in [0, 1], got ${p}`);
  if (p === 0) return -Infinity;
  if (p === 1) return Infinity;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * polynomial(CENTRAL_NUM, r)) / polynomial(CENTRAL_DEN, r);
  }
  const r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  const value = r <= 5 ? polynomial(NEAR_NUM, r - 1.6) / polynomial(NEAR_DEN, r - 1.6) : polynomial(TAIL_NUM, r - 5) / polynomial(TAIL_DEN, r - 5);
  return q < 0 ? -value : value;
}
