// Elementwise y = f(x[, s]) over a contiguous f32 buffer, for any expression from the pointwise op
// table (src/autograd/pointwise_table.ts): the expression and its CPU twin arrive as params, so the
// kernel is generic and the table is the one place an op is defined. `s` and `s2` are scalar uniforms
// (clamp's bounds use both).
// x, y: [n]; vec4 path when n % 4 == 0 (one load per 4 elements: lavapipe emits per-lane scalar loads);
// launched in stream.ts's geometry (each invocation loops over several units).
import type { NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { streamGeom, streamGroups, streamLoop } from './stream.ts';
import { NAN_BITS } from './wgsl_lib.ts';

export interface UnaryParams {
  /** The op's name: the pipeline cache key, with the vec4 choice. */
  op: string;
  /** WGSL expression in `v` (the input, f32 or vec4<f32>), `s`, `s2` (the scalars, same type), `zero`, `one`. */
  expr: string;
  /** WGSL helper functions the expression calls, for element type T. */
  helpers?: (T: string) => string;
  /** CPU twin of `expr`. */
  f: (v: number, s: number, s2: number) => number;
  n: number;
  s?: number;
  s2?: number;
}

const isVec4 = (p: UnaryParams) => p.n % 4 === 0;
const units = (p: UnaryParams) => (isVec4(p) ? p.n / 4 : p.n);

export const unaryKernel = defineKernel<UnaryParams>({
  name: 'unary',
  spec: (p, caps) => `${p.op}${isVec4(p) ? ':v4' : ''}:${streamGeom(caps).wg}x${streamGeom(caps).per}`,
  storage: (p) => [read('x', isVec4(p) ? 'vec4<f32>' : 'f32'), rw('y', isVec4(p) ? 'vec4<f32>' : 'f32')],
  uniforms: (p) => [u32('n', units(p)), f32('s', p.s ?? 0), u32('nanBits', NAN_BITS), f32('s2', p.s2 ?? 0)],
  // stream.ts's geometry: on lavapipe a workgroup of 8 looping over 64 units each
  dispatch: (p, caps) => streamGroups(units(p), streamGeom(caps)),
  body: (p, caps) => {
    const T = isVec4(p) ? 'vec4<f32>' : 'f32';
    const g = streamGeom(caps);
    const loop = streamLoop(g, 'u.n');
    return `${p.helpers?.(T) ?? ''}
@compute @workgroup_size(${g.wg})
fn main(${loop.params}) {
  let s = ${T}(u.s);
  let s2 = ${T}(u.s2);
  let zero = ${T}(0.0);
  let one = ${T}(1.0);
  ${loop.open}
    let v = x[i];
    y[i] = ${p.expr};
  }
}`;
  },
  cpu: (p, [x, y]: NumArray[]) => {
    const s = p.s ?? 0;
    const s2 = p.s2 ?? 0;
    for (let i = 0; i < p.n; i++) y[i] = p.f(x[i], s, s2);
  },
});
