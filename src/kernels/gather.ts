// Strided copy: out[idx] = x[offset + sum_d coord_d(idx) * stride_d], on raw 32-bit words so it
// serves every dtype. Materialises permute/transpose, broadcastTo (stride 0) and slices.
import { type KernelDef, type NumArray } from './kernel.ts';
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

export const gatherKernel: KernelDef<GatherParams> = {
  name: 'gather',
  spec: () => '',
  bindings: () => ['read', 'rw'],
  uniforms: (p) => [numelOf(p.shape), p.offset, 0, 0, ...pad8(p.shape, 1), ...pad8(p.strides, 0)],
  dispatch: (p) => Math.ceil(numelOf(p.shape) / WG),
  wgsl: () => `
@group(0) @binding(0) var<storage, read> x: array<u32>;
@group(0) @binding(1) var<storage, read_write> y: array<u32>;
struct U { n: u32, offset: u32, p0: u32, p1: u32, shape: array<vec4<u32>, 2>, st: array<vec4<u32>, 2> }
@group(0) @binding(2) var<uniform> u: U;
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
};

export interface FillParams {
  n: number;
  /** 'fill': y = start; 'arange': y = start + i * step. */
  mode: 'fill' | 'arange';
  start: number;
  step: number;
}

export const fillKernel: KernelDef<FillParams> = {
  name: 'fill',
  spec: (p) => p.mode,
  bindings: () => ['rw'],
  uniforms: (p) => [p.n, { f: p.start }, { f: p.step }],
  dispatch: (p) => Math.ceil(p.n / WG),
  wgsl: (p) => `
@group(0) @binding(0) var<storage, read_write> y: array<f32>;
struct U { n: u32, start: f32, step: f32 }
@group(0) @binding(1) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.n) { return; }
  y[gid] = ${p.mode === 'fill' ? 'u.start' : 'u.start + f32(gid) * u.step'};
}`,
  cpu: (p, [y]: NumArray[]) => {
    for (let i = 0; i < p.n; i++) y[i] = p.mode === 'fill' ? p.start : p.start + i * p.step;
  },
};
