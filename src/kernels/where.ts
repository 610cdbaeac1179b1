// z = where(cond, a, b): a where cond is nonzero (NaN counts as nonzero, as bool(nan) in torch),
// else b, with NumPy broadcasting among all three. cond is f32 or i32; a and b are f32 (f64 on the
// CPU), and either may be a scalar uniform instead of a buffer (then it is not bound).
// Layouts: when every bound operand has the output's shape, a flat path (vec4 when n % 4 == 0);
// otherwise each output index is decomposed with the out shape and the operands' broadcast strides
// (0 on broadcast dims), right-aligned into 6 slots (rank <= 6). Launched in stream.ts's geometry
// (each invocation loops over several units).
import type { NumArray } from './kernel.ts';
import { type StorageDecl, defineKernel, f32, read, rw, u32, u32x4s } from './shader.ts';
import { streamGeom, streamGroups, streamLoop } from './stream.ts';
import { isNanWgsl } from './wgsl_lib.ts';

export interface WhereParams {
  /** Output shape (rank <= 6). */
  shape: readonly number[];
  /** Broadcast strides of cond, a and b in elements, one per output dim (0 = broadcast). */
  cStrides: readonly number[];
  aStrides: readonly number[];
  bStrides: readonly number[];
  /** Every bound operand has the output's shape. */
  same: boolean;
  /** cond is int32 (else float). */
  condInt: boolean;
  /** a or b as a number (not bound), when given. */
  aScalar?: number | null;
  bScalar?: number | null;
}

const numelOf = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
const isVec4 = (p: WhereParams) => p.same && numelOf(p.shape) % 4 === 0;
const units = (p: WhereParams) => (isVec4(p) ? numelOf(p.shape) / 4 : numelOf(p.shape));
const hasA = (p: WhereParams) => p.aScalar === undefined || p.aScalar === null;
const hasB = (p: WhereParams) => p.bScalar === undefined || p.bScalar === null;

/** v right-aligned into 6 slots (leading slots `fill`), padded to 8 words (two vec4s). */
function slots(v: readonly number[], fill: number): number[] {
  const r = new Array<number>(8).fill(0);
  const off = 6 - v.length;
  for (let i = 0; i < 6; i++) r[i] = i < off ? fill : v[i - off];
  return r;
}

export const whereKernel = defineKernel<WhereParams>({
  name: 'where',
  spec: (p, caps) =>
    `${p.condInt ? 'i' : 'f'}:${p.same ? (isVec4(p) ? 'v4' : 'flat') : 'bcast'}${hasA(p) ? '' : ':sa'}${hasB(p) ? '' : ':sb'}:${streamGeom(caps).wg}x${streamGeom(caps).per}`,
  // cond, a (unless scalar), b (unless scalar), z
  storage: (p) => {
    const v = isVec4(p);
    const T = v ? 'vec4<f32>' : 'f32';
    const out: StorageDecl[] = [read('C', p.condInt ? (v ? 'vec4<i32>' : 'i32') : T)];
    if (hasA(p)) out.push(read('A', T));
    if (hasB(p)) out.push(read('B', T));
    return [...out, rw('Z', T)];
  },
  uniforms: (p) => [
    u32('n', units(p)),
    f32('sa', p.aScalar ?? 0),
    f32('sb', p.bScalar ?? 0),
    u32x4s('shape', slots(p.shape, 1)),
    u32x4s('cs', slots(p.cStrides, 0)),
    u32x4s('as_', slots(p.aStrides, 0)),
    u32x4s('bs', slots(p.bStrides, 0)),
  ],
  dispatch: (p, caps) => streamGroups(units(p), streamGeom(caps)),
  body: (p, caps) => {
    const v = isVec4(p);
    const T = v ? 'vec4<f32>' : 'f32';
    const g = streamGeom(caps);
    const loop = streamLoop(g, 'u.n');
    const index = p.same
      ? 'let ic = i; let ia = i; let ib = i;'
      : `var rem = i; var ic = 0u; var ia = 0u; var ib = 0u;
  for (var d = 5; d >= 0; d--) {
    let dim = u.shape[d / 4][d % 4];
    let c = rem % dim;
    rem = rem / dim;
    ic += c * u.cs[d / 4][d % 4];
    ia += c * u.as_[d / 4][d % 4];
    ib += c * u.bs[d / 4][d % 4];
  }`;
    // NaN is nonzero; tested by bit pattern (lavapipe folds comparisons with NaN)
    const test = p.condInt ? `c != ${v ? 'vec4<i32>(0)' : '0'}` : `(c != ${T}(0.0)) | isNan(c)`;
    return `${p.condInt ? '' : isNanWgsl(v ? 'vec4<f32>' : 'f32')}
@compute @workgroup_size(${g.wg})
fn main(${loop.params}) {
  ${loop.open}
    ${index}
    let c = C[ic];
    let a = ${hasA(p) ? 'A[ia]' : `${T}(u.sa)`};
    let b = ${hasB(p) ? 'B[ib]' : `${T}(u.sb)`};
    Z[i] = select(b, a, ${test});
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const C = bufs[0];
    const A = hasA(p) ? bufs[1] : null;
    const B = hasB(p) ? bufs[hasA(p) ? 2 : 1] : null;
    const Z = bufs[bufs.length - 1];
    const n = numelOf(p.shape);
    const r = p.shape.length;
    const coord = new Array<number>(r).fill(0);
    let [ic, ia, ib] = [0, 0, 0];
    for (let i = 0; i < n; i++) {
      const c = C[p.same ? i : ic];
      Z[i] = c !== 0 ? (A ? A[p.same ? i : ia] : p.aScalar!) : B ? B[p.same ? i : ib] : p.bScalar!;
      if (p.same) continue;
      // odometer increment over the output shape
      for (let d = r - 1; d >= 0; d--) {
        coord[d]++;
        ic += p.cStrides[d];
        ia += p.aStrides[d];
        ib += p.bStrides[d];
        if (coord[d] < p.shape[d]) break;
        ic -= p.cStrides[d] * p.shape[d];
        ia -= p.aStrides[d] * p.shape[d];
        ib -= p.bStrides[d] * p.shape[d];
        coord[d] = 0;
      }
    }
  },
});
