// checkNumerics' probe: records the first NaN / Inf of a float tensor in a fault record (layout in
// wgsl_lib.ts: count, first element, its f32 bits, 0). Launched only when `wt.init({ checkNumerics:
// true })` is on, after loss outputs and leaf gradients.
// x: [n] f32 (f64 on the CPU), fault: [4] i32.
import type { NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, linearGid, recordFaultCpu, recordFaultWgsl } from './wgsl_lib.ts';

export interface NonfiniteParams {
  n: number;
}

const WG = 256;

/** f32 bit patterns the CPU twin records for a non-finite float64 (as the GPU would see it in f32). */
const cpuBits = (v: number): number => (Number.isNaN(v) ? 0x7fc00000 : v > 0 ? 0x7f800000 : 0xff800000 | 0);

export const nonfiniteCheckKernel = defineKernel<NonfiniteParams>({
  name: 'nonfinite_check',
  spec: () => '',
  // x [n], fault [4] i32 (atomic)
  storage: () => [read('x'), rw('fault', 'atomic<i32>')],
  uniforms: (p) => [u32('n', p.n)],
  dispatch: (p) => Math.ceil(p.n / WG),
  body: () => `${recordFaultWgsl}
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.n) { return; }
  let b = bitcast<u32>(x[gid]);
  // exponent all ones: Inf or NaN (a bit test: lavapipe folds x != x to false)
  if ((b & 0x7f800000u) == 0x7f800000u) { recordFault(gid, bitcast<i32>(b), 0); }
}`,
  cpu: (p, [x, fault]: NumArray[]) => {
    for (let i = 0; i < p.n; i++) if (!Number.isFinite(x[i])) recordFaultCpu(fault, i, cpuBits(x[i]), 0);
  },
});
