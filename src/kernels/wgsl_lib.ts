// WGSL snippets shared by many kernels, each defined once. A leaf of the kernel core.

/** The quiet-NaN bit pattern, for kernels that must write NaN (WGSL has no NaN literal). */
export const NAN_BITS = 0x7fc00000;

/** isNan(v) by bit pattern for f32 (`T` = 'f32') or vec4<f32>: lavapipe folds `v != v` to false. */
export function isNanWgsl(T: 'f32' | 'vec4<f32>' = 'f32'): string {
  if (T === 'f32') return 'fn isNan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }';
  return 'fn isNan(v: vec4<f32>) -> vec4<bool> { return (bitcast<vec4<u32>>(v) & vec4<u32>(0x7fffffffu)) > vec4<u32>(0x7f800000u); }';
}

/** Entry-point parameters of a 1-D kernel whose dispatch may be split over x and y (`split1D`). */
export const LINEAR_PARAMS =
  '@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lidx: u32';

/** The flat invocation index `gid` of a split 1-D dispatch with `wgSize` invocations per group. */
export function linearGid(wgSize: number): string {
  return `let gid = (wid.y * nwg.x + wid.x) * ${wgSize}u + lidx;`;
}

/** powi(b, e): pow that matches Math.pow for negative bases with integer exponents and 0^0 = 1;
 * NaN (from the uniform `u.nanBits`) for a negative base with a fractional exponent. */
export function powiWgsl(T: string): string {
  return `
fn powi(b: ${T}, e: ${T}) -> ${T} {
  let p = pow(abs(b), e);
  let ei = round(e);
  let isInt = ei == e;
  let odd = isInt & (abs(ei - 2.0 * floor(ei * 0.5)) == ${T}(1.0));
  var r = select(p, -p, (b < ${T}(0.0)) & odd);
  r = select(r, ${T}(bitcast<f32>(u.nanBits)), (b < ${T}(0.0)) & !isInt);
  r = select(r, ${T}(1.0), e == ${T}(0.0));
  return r;
}`;
}

/** erf(x) for f32 or vec4<f32> (WGSL has none): Abramowitz-Stegun 7.1.26 refined to |error| < 1.5e-7
 * by the Numerical Recipes erfc form (Chebyshev fit of exp(-z^2) * t * poly(t)). */
export function erfWgsl(T: string): string {
  return `
fn erf_(x: ${T}) -> ${T} {
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.5 * z);
  let r = t * exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
      t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
      t * (-0.82215223 + t * 0.17087277)))))))));
  return sign(x) * (1.0 - r);
}`;
}

/** The CPU twin of erfWgsl (same formula, in float64). */
export function erfCpu(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 +
        t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return Math.sign(x) * (1 - r);
}

/**
 * A fault record, written by kernels that can detect bad data (src/backend/faults.ts reads it back
 * with the next readback and raises): i32 words
 *   [0] count       bad rows / elements, atomically incremented
 *   [1] firstIndex  row or element of the invocation whose increment found count 0
 *   [2] firstValue  the bad value there (a label, or the f32 bits of a NaN / Inf)
 *   [3] extra       what the message needs besides (the class count C for labels)
 * `recordFault` expects the binding `fault: array<atomic<i32>>` (declare `rw('fault', 'atomic<i32>')`).
 */
export const FAULT_RECORD_WORDS = 4;

export const recordFaultWgsl = `
fn recordFault(index: u32, value: i32, extra: i32) {
  if (atomicAdd(&fault[0], 1) == 0) {
    atomicStore(&fault[1], i32(index));
    atomicStore(&fault[2], value);
    atomicStore(&fault[3], extra);
  }
}`;

/** The CPU twin of `recordFault` (writes past a shorter record are dropped, as typed arrays do). */
export function recordFaultCpu(fault: ArrayLike<number> & { [i: number]: number }, index: number, value: number, extra: number): void {
  if (fault[0]++ === 0) {
    fault[1] = index;
    fault[2] = value;
    fault[3] = extra;
  }
}
