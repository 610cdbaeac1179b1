// Strided copy: out[idx] = x[offset + sum_d coord_d(idx) * stride_d], on raw 32-bit words so it
// serves every dtype. Materialises permute/transpose, broadcastTo (stride 0) and slices.
// Before generating code the dims are collapsed (collapseGather): size-1 dims dropped, neighbours
// merged where the source runs on contiguously across them (the output always does), so the WGSL
// decomposes an index over the few real dims only (its rank is baked in). Two layouts:
//   'flat' (hardware GPUs): one invocation per output element (consecutive lanes write
//          consecutive words);
//   'rows' (software adapters): one invocation per run of up to ROW_RUN elements of an innermost
//          row, the source address stepping by the row's stride. lavapipe turns each vector u32
//          division into per-lane scalar code, and 'flat' paid two per dim per element (a batched
//          [64, 16, 80] -> [64, 80, 16] transpose: 2.4 ms); here they are paid once per run.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32, u32x4s } from './shader.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';

/**
 * Params of {@link gatherKernel}: the output shape (rank <= 6), the source strides per output dim
 * (elements) and the source offset; `layout` defaults to 'rows' on software adapters, else 'flat'.
 */
export interface GatherParams {
  /** Output shape (rank <= 6). */
  shape: readonly number[];
  /** Source strides in elements, one per output dim. */
  strides: readonly number[];
  offset: number;
  /** 'flat': an invocation per element; 'rows': per run of a row (default by the adapter). */
  layout?: 'flat' | 'rows';
}

const WG = 256;
/** Elements per invocation at most in the 'rows' layout (a long contiguous run is split). */
export const ROW_RUN = 64;
const numelOf = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);

/** The copy's dims with size-1 dims dropped and neighbours merged where the source is contiguous
 * across them (stride[d] == stride[d + 1] * shape[d + 1]); at least one dim. */
export function collapseGather(shape: readonly number[], strides: readonly number[]): { shape: number[]; strides: number[] } {
  const sh: number[] = [];
  const st: number[] = [];
  shape.forEach((n, d) => {
    if (n === 1) return;
    const last = sh.length - 1;
    if (last >= 0 && st[last] === strides[d] * n) {
      sh[last] *= n;
      st[last] = strides[d];
    } else {
      sh.push(n);
      st.push(strides[d]);
    }
  });
  return sh.length ? { shape: sh, strides: st } : { shape: [1], strides: [0] };
}

const layoutOf = (p: GatherParams, caps: Caps) => p.layout ?? (caps.software ? 'rows' : 'flat');
const dimsOf = (p: GatherParams) => collapseGather(p.shape, p.strides);

function pad8(v: readonly number[], fill: number): number[] {
  const r = new Array(8).fill(fill);
  v.forEach((x, i) => (r[i] = x));
  return r;
}

/** Launch geometry: invocations, and the runs per row ('rows'). */
function geom(p: GatherParams, caps: Caps): { items: number; runs: number } {
  const { shape } = dimsOf(p);
  const n = numelOf(p.shape);
  if (layoutOf(p, caps) === 'flat') return { items: n, runs: 1 };
  const len = shape[shape.length - 1];
  const runs = Math.ceil(len / ROW_RUN);
  return { items: n === 0 ? 0 : (n / len) * runs, runs };
}

/** WGSL: src += the source offset of index `v` over dims [0, upTo), innermost first. */
const decompose = (v: string, upTo: number) =>
  Array.from({ length: upTo }, (_, j) => upTo - 1 - j)
    .map((d) => `src += (${v} % u.shape[${d >> 2}][${d & 3}]) * u.st[${d >> 2}][${d & 3}]; ${v} = ${v} / u.shape[${d >> 2}][${d & 3}];`)
    .join('\n  ');

export const gatherKernel = defineKernel<GatherParams>({
  name: 'gather',
  spec: (p, caps) => `${layoutOf(p, caps)}${dimsOf(p).shape.length}`,
  storage: () => [read('x', 'u32'), rw('y', 'u32')],
  uniforms: (p, caps) => {
    const d = dimsOf(p);
    const g = geom(p, caps);
    return [u32('n', numelOf(p.shape)), u32('items', g.items), u32('runs', g.runs), u32('offset', p.offset), u32x4s('shape', pad8(d.shape, 1)), u32x4s('st', pad8(d.strides, 0))];
  },
  dispatch: (p, caps) => Math.ceil(geom(p, caps).items / WG),
  body: (p, caps) => {
    const r = dimsOf(p).shape.length;
    const inner = `u.shape[${(r - 1) >> 2}][${(r - 1) & 3}]`;
    if (layoutOf(p, caps) === 'flat')
      return `
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.n) { return; }
  var rem = gid;
  var src = u.offset;
  ${decompose('rem', r)}
  y[gid] = x[src];
}`;
    // item = (row, run): elements [k0, k1) of output row `row`
    return `
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.items) { return; }
  let len = ${inner};
  let step = u.st[${(r - 1) >> 2}][${(r - 1) & 3}];
  let row = gid / u.runs;
  let k0 = (gid - row * u.runs) * ${ROW_RUN}u;
  let k1 = min(k0 + ${ROW_RUN}u, len);
  var rem = row;
  var src = u.offset + k0 * step;
  ${decompose('rem', r - 1)}
  var dst = row * len + k0;
  for (var k = k0; k < k1; k++) {
    y[dst] = x[src];
    dst++;
    src += step;
  }
}`;
  },
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
