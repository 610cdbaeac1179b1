// Elementwise z = f(a, b) with NumPy broadcasting, for any expression from the pointwise op table
// (src/autograd/pointwise_table.ts); the expression and its CPU twin arrive as params.
// Layouts: same-shape operands take a flat path (vec4 when n % 4 == 0); otherwise each output index
// is decomposed with the out shape and the operands' broadcast strides (0 on broadcast dims),
// right-aligned into 6 slots (rank <= 6). One operand may be a scalar uniform `s` instead of a buffer
// (`scalar: 'a' | 'b'`): then only the other operand is bound. Launched in stream.ts's geometry
// (each invocation loops over several units).
import type { NumArray } from './kernel.ts';
import { type StorageDecl, defineKernel, f32, read, rw, u32, u32x4s } from './shader.ts';
import { streamGeom, streamGroups, streamLoop } from './stream.ts';
import { NAN_BITS } from './wgsl_lib.ts';

export interface BinaryParams {
  op: string;
  /** WGSL expression in `a`, `b` (f32 or vec4<f32>), `zero`, `one`. */
  expr: string;
  helpers?: (T: string) => string;
  f: (a: number, b: number) => number;
  /** Output shape (rank <= 6). */
  shape: readonly number[];
  /** Broadcast strides of a and b in elements, one per output dim (0 = broadcast). */
  aStrides: readonly number[];
  bStrides: readonly number[];
  /** true when the tensor operands and out are all the same contiguous shape. */
  same: boolean;
  /** Which operand is the scalar `s` (not bound), if any. */
  scalar?: 'a' | 'b' | null;
  s?: number;
}

const numelOf = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
const isVec4 = (p: BinaryParams) => p.same && numelOf(p.shape) % 4 === 0;
const units = (p: BinaryParams) => (isVec4(p) ? numelOf(p.shape) / 4 : numelOf(p.shape));

/** v right-aligned into 6 slots (leading slots `fill`), padded to 8 words (two vec4s). */
function slots(v: readonly number[], fill: number): number[] {
  const r = new Array<number>(8).fill(0);
  const off = 6 - v.length;
  for (let i = 0; i < 6; i++) r[i] = i < off ? fill : v[i - off];
  return r;
}

export const binaryKernel = defineKernel<BinaryParams>({
  name: 'binary',
  spec: (p, caps) => `${p.op}:${p.same ? (isVec4(p) ? 'v4' : 'flat') : 'bcast'}${p.scalar ? `:s${p.scalar}` : ''}:${streamGeom(caps).wg}x${streamGeom(caps).per}`,
  storage: (p) => {
    const T = isVec4(p) ? 'vec4<f32>' : 'f32';
    const ins: StorageDecl[] = [];
    if (p.scalar !== 'a') ins.push(read('A', T));
    if (p.scalar !== 'b') ins.push(read('B', T));
    return [...ins, rw('Z', T)];
  },
  uniforms: (p) => [
    u32('n', units(p)),
    u32('nanBits', NAN_BITS),
    f32('s', p.s ?? 0),
    u32x4s('shape', slots(p.shape, 1)),
    u32x4s('as_', slots(p.aStrides, 0)),
    u32x4s('bs', slots(p.bStrides, 0)),
  ],
  // stream.ts's geometry: on lavapipe a workgroup of 8 looping over 64 units each
  dispatch: (p, caps) => streamGroups(units(p), streamGeom(caps)),
  body: (p, caps) => {
    const T = isVec4(p) ? 'vec4<f32>' : 'f32';
    const g = streamGeom(caps);
    const loop = streamLoop(g, 'u.n');
    const index = p.same
      ? 'let ia = i; let ib = i;'
      : `var rem = i; var ia = 0u; var ib = 0u;
  for (var d = 5; d >= 0; d--) {
    let dim = u.shape[d / 4][d % 4];
    let c = rem % dim;
    rem = rem / dim;
    ia += c * u.as_[d / 4][d % 4];
    ib += c * u.bs[d / 4][d % 4];
  }`;
    return `${p.helpers?.(T) ?? ''}
@compute @workgroup_size(${g.wg})
fn main(${loop.params}) {
  let zero = ${T}(0.0);
  let one = ${T}(1.0);
  ${loop.open}
    ${index}
    let a = ${p.scalar === 'a' ? `${T}(u.s)` : 'A[ia]'};
    let b = ${p.scalar === 'b' ? `${T}(u.s)` : 'B[ib]'};
    Z[i] = ${p.expr};
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const s = p.s ?? 0;
    const A = p.scalar === 'a' ? null : bufs[0];
    const B = p.scalar === 'b' ? null : bufs[p.scalar === 'a' ? 0 : 1];
    const Z = bufs[bufs.length - 1];
    const n = numelOf(p.shape);
    const r = p.shape.length;
    const coord = new Array<number>(r).fill(0);
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < n; i++) {
      Z[i] = p.f(A ? A[p.same ? i : ia] : s, B ? B[p.same ? i : ib] : s);
      if (p.same) continue;
      // odometer increment over the output shape
      for (let d = r - 1; d >= 0; d--) {
        coord[d]++;
        ia += p.aStrides[d];
        ib += p.bStrides[d];
        if (coord[d] < p.shape[d]) break;
        ia -= p.aStrides[d] * p.shape[d];
        ib -= p.bStrides[d] * p.shape[d];
        coord[d] = 0;
      }
    }
  },
});
