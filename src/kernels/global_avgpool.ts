// Global average pooling, the adaptive average pool to 1 x 1 that ResNet, NiN, GoogLeNet and
// DenseNet end with: x [N, H, W] (N = batch * channels) -> y [N] = sum of the plane / H / W, one
// reduction per plane (the generic adaptive kernel would give each plane's whole sum to one
// invocation of a row-wise layout).
// Forward: a workgroup of `wg` invocations covers wg / lanes planes, `lanes` consecutive
// invocations per plane; each sums every lanes-th element (vec4s when H * W % 4 == 0, so each
// plane starts 16-byte aligned), then the plane's lanes add their partial sums in workgroup memory
// (log2(lanes) halving steps). lanes = 1: one invocation sums a whole plane, no workgroup memory.
// src/policy/pool_choice.ts picks wg and lanes for the plane size and the adapter.
// Backward: gx [N, H, W] = g[plane] / H / W, a broadcast over stream.ts's row layouts (one row of
// H * W per plane; vec4 stores when H * W % 4 == 0).
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type RowLayout, rowGroups, rowLayout, rowLayoutKey, rowsMain } from './stream.ts';
import { LINEAR_PARAMS } from './wgsl_lib.ts';

/**
 * Params of {@link globalAvgPoolKernel}: `n` planes (batch * channels) of `h` x `w`, with the
 * workgroup size and the invocations per plane (see globalAvgPoolParams in wt.kernels).
 */
export interface GlobalAvgPoolParams {
  /** planes (batch * channels) */
  n: number;
  h: number;
  w: number;
  /** invocations per workgroup */
  wg: number;
  /** invocations per plane: a power of two dividing wg */
  lanes: number;
}

const isVec4 = (p: { h: number; w: number }) => (p.h * p.w) % 4 === 0;
/** Loads per plane: vec4s when H * W % 4 == 0, else floats. */
export const globalAvgPoolUnits = (p: { h: number; w: number }) => (isVec4(p) ? (p.h * p.w) / 4 : p.h * p.w);
const elem = (p: { h: number; w: number }) => (isVec4(p) ? 'vec4<f32>' : 'f32');

function checkGeom(p: GlobalAvgPoolParams): void {
  const pow2 = (v: number) => Number.isInteger(v) && v >= 1 && (v & (v - 1)) === 0;
  if (!pow2(p.lanes) || !pow2(p.wg) || p.lanes > p.wg)
    throw new Error(`global_avgpool: lanes ${p.lanes} must be a power of two dividing the workgroup size ${p.wg}`);
}

/**
 * Global average pooling, y[plane] = mean of the plane (adaptive average pooling to 1 x 1).
 * Bindings: `x [N, H * W]`, `y [N]` (rw), N = batch * channels.
 */
export const globalAvgPoolKernel = defineKernel<GlobalAvgPoolParams>({
  name: 'global_avgpool',
  spec: (p) => `wg${p.wg}l${p.lanes}${isVec4(p) ? ':v4' : ''}`,
  // x [N, H*W] (vec4s when H*W % 4 == 0), y [N]
  storage: (p) => [read('x', elem(p)), rw('y')],
  uniforms: (p) => [u32('n', p.n), u32('units', globalAvgPoolUnits(p)), f32('h', p.h), f32('w', p.w)],
  dispatch: (p) => Math.ceil(p.n / (p.wg / p.lanes)),
  body: (p) => {
    checkGeom(p);
    const L = p.lanes;
    const zero = `${elem(p)}(0.0)`;
    const total = isVec4(p) ? 'dot(acc, vec4<f32>(1.0))' : 'acc';
    const steps: string[] = [];
    for (let s = L / 2; s >= 1; s /= 2)
      steps.push(`  if (lane < ${s}u) { part[lidx] += part[lidx + ${s}u]; }\n  workgroupBarrier();`);
    const finish =
      L === 1
        ? `  if (plane < u.n) { y[plane] = ${total} / u.h / u.w; }`
        : `  part[lidx] = ${total};
  workgroupBarrier();
${steps.join('\n')}
  if (lane == 0u && plane < u.n) { y[plane] = part[lidx] / u.h / u.w; }`;
    return `
${L > 1 ? `var<workgroup> part: array<f32, ${p.wg}>;` : ''}
@compute @workgroup_size(${p.wg})
fn main(${LINEAR_PARAMS}) {
  let plane = (wid.y * nwg.x + wid.x) * ${p.wg / L}u + lidx / ${L}u;
  let lane = lidx % ${L}u;
  var acc = ${zero};
  if (plane < u.n) {
    let base = plane * u.units;
    for (var i = lane; i < u.units; i += ${L}u) { acc += x[base + i]; }
  }
${finish}
}`;
  },
  cpu: (p, [x, y]: NumArray[]) => {
    const hw = p.h * p.w;
    for (let n = 0; n < p.n; n++) {
      let acc = 0;
      for (let i = 0; i < hw; i++) acc += x[n * hw + i];
      y[n] = acc / p.h / p.w;
    }
  },
});

/** Params of {@link globalAvgPoolBackwardKernel}: `n` planes of `h` x `w`. */
export interface GlobalAvgPoolBackwardParams {
  n: number;
  h: number;
  w: number;
  /** launch layout (default: the adapter's, see stream.ts) */
  layout?: RowLayout;
}

const bwdLayout = (p: GlobalAvgPoolBackwardParams, caps: Caps) => p.layout ?? rowLayout(caps);

/**
 * Global average pooling's input gradient, gx = g[plane] / (H * W). Bindings: `g [N]`, `gx [N, H * W]` (rw).
 */
export const globalAvgPoolBackwardKernel = defineKernel<GlobalAvgPoolBackwardParams>({
  name: 'global_avgpool_bwd',
  spec: (p, caps) => `${rowLayoutKey(bwdLayout(p, caps))}${isVec4(p) ? ':v4' : ''}`,
  // g [N], gx [N, H*W] (vec4s when H*W % 4 == 0)
  storage: (p) => [read('g'), rw('gx', elem(p))],
  uniforms: (p) => [u32('n', p.n), u32('units', globalAvgPoolUnits(p)), f32('h', p.h), f32('w', p.w)],
  dispatch: (p, caps) => rowGroups(bwdLayout(p, caps), p.n, globalAvgPoolUnits(p)),
  body: (p, caps) => `
${rowsMain(bwdLayout(p, caps), 'u.n', '1u', 'u.units', `gx[o] = ${elem(p)}(g[plane] / u.h / u.w);`)}`,
  cpu: (p, [g, gx]: NumArray[]) => {
    const hw = p.h * p.w;
    for (let n = 0; n < p.n; n++) {
      const v = g[n] / p.h / p.w;
      for (let i = 0; i < hw; i++) gx[n * hw + i] = v;
    }
  },
});
