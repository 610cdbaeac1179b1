// Strided copy: out[idx] = x[offset + sum_d coord_d(idx) * stride_d], on raw 32-bit words so it
// serves every dtype. Materialises permute/transpose, broadcastTo (stride 0) and slices.
import type { NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32, u32x4s } from './shader.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';

export interface GatherParams {
  /** Output shape (rank <= 6). */
  shape: readonly number[];
  /** Source strides in elements, one per output dim. */
  strides: readonly number[];
  offset: number;
}

const WG = 256;
const numelOf = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);

function pad8(v: readonly number[], fill: number): number[] {
  const r = new Array(8).fill(0);
  const off = 6 - v.length;
  for (let i = 0; i < 6; i++) r[i] = i < off ? fill : v[i - off];
  return r;
}

export const gatherKernel = defineKernel<GatherParams>({
  name: 'gather',
  spec: () => '',
  storage: () => [read('x', 'u32'), rw('y', 'u32')],
  uniforms: (p) => [u32('n', numelOf(p.shape)), u32('offset', p.offset), u32x4s('shape', pad8(p.shape, 1)), u32x4s('st', pad8(p.strides, 0))],
  dispatch: (p) => Math.ceil(numelOf(p.shape) / WG),
  body: () => `
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.n) { return; }
  var rem = gid;
  var src = u.offset;
  for (var d = 5; d >= 0; d--) {
    let dim = u.shape[d / 4][d % 4];
    src += (rem % dim) * u.st[d / 4][d % 4];
    rem = rem / dim;
  }
  y[gid] = x[src];
}`,
  cpu: (p, [x, y]: NumArray[]) => {
    const n = numelOf(p.shape);
    const r = p.shape.length;
    const coord = new Array<number>(r).fill(0);
    let src = p.offset;
    for (let i = 0; i < n; i++) {
      y[i] = x[src];
      for (let d = r - 1; d >= 0; d--) {
        coord[d]++;
        src += p.strides[d];
        if (coord[d] < p.shape[d]) break;
        src -= p.strides[d] * p.shape[d];
        coord[d] = 0;
      }
    }
  },
});

export interface FillParams {
  n: number;
  /** 'fill': y = start; 'arange': y = start + i * step. */
  mode: 'fill' | 'arange';
  start: number;
  step: number;
}

export const fillKernel = defineKernel<FillParams>({
  name: 'fill',
  spec: (p) => p.mode,
  storage: () => [rw('y')],
  uniforms: (p) => [u32('n', p.n), f32('start', p.start), f32('step', p.step)],
  dispatch: (p) => Math.ceil(p.n / WG),
  body: (p) => `
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.n) { return; }
  y[gid] = ${p.mode === 'fill' ? 'u.start' : 'u.start + f32(gid) * u.step'};
}`,
  cpu: (p, [y]: NumArray[]) => {
    for (let i = 0; i < p.n; i++) y[i] = p.mode === 'fill' ? p.start : p.start + i * p.step;
  },
});
