// Reduction over the middle axis of x viewed as [outer, R, inner] -> y [outer, C, inner], where each
// of the C chunks covers `chunk` consecutive r (C = ceil(R / chunk)). A long reduction runs as two
// passes (chunked, then over C) so no single invocation loops over millions of elements.
// Also argmax (first maximum, int32 index in the reduced axis; single pass, chunk = R).
import type { NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, isNanWgsl, linearGid } from './wgsl_lib.ts';

export type ReduceOp = 'sum' | 'max' | 'min' | 'argmax';

export interface ReduceParams {
  op: ReduceOp;
  outer: number;
  r: number;
  inner: number;
  chunk: number;
  /** Multiplies the result (1/R for a mean). */
  scale: number;
}

const WG = 64;
const chunks = (p: ReduceParams) => Math.ceil(p.r / p.chunk);

export const reduceKernel = defineKernel<ReduceParams>({
  name: 'reduce',
  spec: (p) => p.op,
  storage: (p) => [read('x'), rw('y', p.op === 'argmax' ? 'i32' : 'f32')],
  uniforms: (p) => [u32('outer', p.outer), u32('r', p.r), u32('inner', p.inner), u32('chunk', p.chunk), u32('c', chunks(p)), f32('scale', p.scale)],
  dispatch: (p) => Math.ceil((p.outer * chunks(p) * p.inner) / WG),
  body: (p) => {
    const isArg = p.op === 'argmax';
    const init = p.op === 'sum' ? '0.0' : p.op === 'min' ? '3.4028234e38' : '-3.4028234e38';
    const step =
      p.op === 'sum'
        ? 'acc += v;'
        : p.op === 'max'
          ? 'if (v > acc || isNan(v)) { acc = v; }'
          : p.op === 'min'
            ? 'if (v < acc || isNan(v)) { acc = v; }'
            : 'if (v > acc || (isNan(v) && !isNan(acc))) { acc = v; best = r; }';
    return `
${isNanWgsl()}
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.outer * u.c * u.inner) { return; }
  let i = gid % u.inner;
  let oc = gid / u.inner;
  let c = oc % u.c;
  let o = oc / u.c;
  let r0 = c * u.chunk;
  let r1 = min(u.r, r0 + u.chunk);
  var acc: f32 = ${init};
  var best: u32 = r0;
  var idx = (o * u.r + r0) * u.inner + i;
  for (var r = r0; r < r1; r++) {
    let v = x[idx];
    ${step}
    idx += u.inner;
  }
  y[gid] = ${isArg ? 'i32(best)' : 'acc * u.scale'};
}`;
  },
  cpu: (p, [x, y]: NumArray[]) => {
    const C = chunks(p);
    for (let o = 0; o < p.outer; o++)
      for (let c = 0; c < C; c++)
        for (let i = 0; i < p.inner; i++) {
          const r0 = c * p.chunk;
          const r1 = Math.min(p.r, r0 + p.chunk);
          let acc = p.op === 'sum' ? 0 : p.op === 'min' ? Infinity : -Infinity;
          let best = r0;
          for (let r = r0; r < r1; r++) {
            const v = x[(o * p.r + r) * p.inner + i];
            if (p.op === 'sum') acc += v;
            else if (p.op === 'max') acc = v > acc || v !== v ? v : acc;
            else if (p.op === 'min') acc = v < acc || v !== v ? v : acc;
            else if (v > acc || (v !== v && acc === acc)) {
              acc = v;
              best = r;
            }
          }
          y[(o * C + c) * p.inner + i] = p.op === 'argmax' ? best : acc * p.scale;
        }
  },
});
