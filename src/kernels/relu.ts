// ReLU forward y = max(x, 0) and backward gx = g * (y > 0), over contiguous f32 buffers.
// vec4 path when n % 4 == 0 (lavapipe turns per-invocation addresses into per-lane scalar loads, so
// one vec4 load per invocation moves 4x the data per address computation); scalar path otherwise.
// NaN stays NaN in the forward (like torch.relu); the backward passes no gradient through NaN.
import type { KernelDef, NumArray } from './kernel.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

export interface ReluParams {
  mode: 'fwd' | 'bwd';
  n: number;
  /** launch geometry (default: the adapter's, see stream.ts) */
  stream?: Stream;
}

const geo = (p: ReluParams) => p.stream ?? streamGeom();
const isVec4 = (p: ReluParams) => p.n % 4 === 0;
const units = (p: ReluParams) => (isVec4(p) ? p.n / 4 : p.n);

export const reluKernel: KernelDef<ReluParams> = {
  name: 'relu',
  spec: (p) => `${p.mode}${isVec4(p) ? ':v4' : ''}:${geo(p).wg}x${geo(p).per}`,
  // fwd: x, y.  bwd: g, y (forward output), gx.
  bindings: (p) => (p.mode === 'fwd' ? ['read', 'rw'] : ['read', 'read', 'rw']),
  uniforms: (p) => [units(p)],
  dispatch: (p) => streamGroups(units(p), geo(p)),
  wgsl: (p) => {
    const T = isVec4(p) ? 'vec4<f32>' : 'f32';
    const bufs =
      p.mode === 'fwd'
        ? `@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> y: array<${T}>;
@group(0) @binding(2) var<uniform> u: U;`
        : `@group(0) @binding(0) var<storage, read> g: array<${T}>;
@group(0) @binding(1) var<storage, read> y: array<${T}>;
@group(0) @binding(2) var<storage, read_write> gx: array<${T}>;
@group(0) @binding(3) var<uniform> u: U;`;
    // select(f, t, cond): keep v unless v < 0, so NaN passes through the forward
    const body = p.mode === 'fwd' ? 'let v = x[i]; y[i] = select(v, zero, v < zero);' : 'gx[i] = select(zero, g[i], y[i] > zero);';
    const s = geo(p);
    const loop = streamLoop(s, 'u.n');
    return `
struct U { n: u32 }
${bufs}
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  let zero = ${T}(0.0);
  ${loop.open}
    ${body}
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    if (p.mode === 'fwd') {
      const [x, y] = bufs;
      for (let i = 0; i < p.n; i++) {
        const v = x[i];
        y[i] = v < 0 ? 0 : v;
      }
    } else {
      const [g, y, gx] = bufs;
      for (let i = 0; i < p.n; i++) gx[i] = y[i] > 0 ? g[i] : 0;
    }
  },
};
