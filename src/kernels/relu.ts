// ReLU forward y = max(x, 0) and backward gx = g * (y > 0), over contiguous f32 buffers.
// vec4 path when n % 4 == 0 (lavapipe turns per-invocation addresses into per-lane scalar loads, so
// one vec4 load per invocation moves 4x the data per address computation); scalar path otherwise.
// NaN stays NaN in the forward (like torch.relu); the backward passes no gradient through NaN.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

/**
 * Params of {@link reluKernel}: `mode` 'fwd' (y = max(x, 0)) or 'bwd' (gx = g * (y > 0)), over `n` contiguous f32 elements.
 */
export interface ReluParams {
  mode: 'fwd' | 'bwd';
  n: number;
  /** launch geometry (default: the adapter's, see stream.ts) */
  stream?: Stream;
}

const geo = (p: ReluParams, caps: Caps) => p.stream ?? streamGeom(caps);
const isVec4 = (p: ReluParams) => p.n % 4 === 0;
const units = (p: ReluParams) => (isVec4(p) ? p.n / 4 : p.n);
const elem = (p: ReluParams) => (isVec4(p) ? 'vec4<f32>' : 'f32');

/**
 * ReLU forward and backward over flat f32 buffers. Bindings: fwd `x [n]`, `y [n]` (rw); bwd `g [n]`,
 * `y [n]` (the forward output), `gx [n]` (rw). NaN passes through the forward.
 */
export const reluKernel = defineKernel<ReluParams>({
  name: 'relu',
  spec: (p, caps) => `${p.mode}${isVec4(p) ? ':v4' : ''}:${geo(p, caps).wg}x${geo(p, caps).per}`,
  // fwd: x, y.  bwd: g, y (forward output), gx.
  storage: (p) => (p.mode === 'fwd' ? [read('x', elem(p)), rw('y', elem(p))] : [read('g', elem(p)), read('y', elem(p)), rw('gx', elem(p))]),
  uniforms: (p) => [u32('n', units(p))],
  dispatch: (p, caps) => streamGroups(units(p), geo(p, caps)),
  body: (p, caps) => {
    // select(f, t, cond): keep v unless v < 0, so NaN passes through the forward
    const body = p.mode === 'fwd' ? 'let v = x[i]; y[i] = select(v, zero, v < zero);' : 'gx[i] = select(zero, g[i], y[i] > zero);';
    const s = geo(p, caps);
    const loop = streamLoop(s, 'u.n');
    return `
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  let zero = ${elem(p)}(0.0);
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
});
