// Elementwise z = f(a, b) with NumPy broadcasting, for any expression from the pointwise op table
// (src/autograd/pointwise_table.ts); the expression and its CPU twin arrive as params.
// Layouts: same-shape operands take a flat path (vec4 when n % 4 == 0); broadcasts where each
// operand is indexed by i, i % c (a repeated row) or i / c (a per-row value) take that index
// directly (`operandWalk`; vec4 when every c % 4 == 0); otherwise each output index is decomposed
// with the out shape and the operands' broadcast strides (0 on broadcast dims), right-aligned into
// 6 slots (rank <= 6). One operand may be a scalar uniform `s` instead of a buffer
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

/** How a broadcast operand's element index follows from the flat output index i (size-1 dims
 * dropped): 'full' i; 'mod' i % c (the operand repeats along the leading dims: a bias row);
 * 'div' i / c (each operand element spans the trailing c outputs: a per-row value); null when
 * neither (the general per-dim decomposition). */
export type OperandWalk = { mode: 'full' | 'mod' | 'div'; c: number } | null;

export function operandWalk(shape: readonly number[], strides: readonly number[]): OperandWalk {
  const dims = shape.map((n, d) => [n, strides[d]] as const).filter(([n]) => n !== 1);
  const contiguous = (ds: (readonly [number, number])[]) => {
    let st = 1;
    for (let j = ds.length - 1; j >= 0; j--) {
      if (ds[j][1] !== st) return false;
      st *= ds[j][0];
    }
    return true;
  };
  const zero = (ds: (readonly [number, number])[]) => ds.every(([, st]) => st === 0);
  for (let k = 0; k <= dims.length; k++) {
    const [lead, trail] = [dims.slice(0, k), dims.slice(k)];
    const c = trail.reduce((x, [n]) => x * n, 1);
    if (zero(lead) && contiguous(trail)) return k === 0 ? { mode: 'full', c: 1 } : { mode: 'mod', c };
    if (contiguous(lead) && zero(trail)) return { mode: 'div', c };
  }
  return null;
}

/** Both bound operands' walks when every one has one (the broadcast fast path), else null. */
function walks(p: BinaryParams): [OperandWalk, OperandWalk] | null {
  if (p.same) return null;
  const wa = p.scalar === 'a' ? { mode: 'full' as const, c: 1 } : operandWalk(p.shape, p.aStrides);
  const wb = p.scalar === 'b' ? { mode: 'full' as const, c: 1 } : operandWalk(p.shape, p.bStrides);
  return wa && wb ? [wa, wb] : null;
}
/** The broadcast fast path in vec4s: every walk's c a multiple of 4 (a 'div' operand is then one
 * value per output vec4, a 'mod' one starts each repeat on a vec4). */
const walkVec4 = (p: BinaryParams) => {
  const w = walks(p);
  return !!w && numelOf(p.shape) % 4 === 0 && w.every((x) => x!.mode === 'full' || x!.c % 4 === 0);
};
const isVec4 = (p: BinaryParams) => (p.same ? numelOf(p.shape) % 4 === 0 : walkVec4(p));
const units = (p: BinaryParams) => (isVec4(p) ? numelOf(p.shape) / 4 : numelOf(p.shape));
const walkKey = (w: OperandWalk) => (w ? (w.mode === 'full' ? 'f' : w.mode === 'mod' ? 'm' : 'd') : 'g');

/** v right-aligned into 6 slots (leading slots `fill`), padded to 8 words (two vec4s). */
function slots(v: readonly number[], fill: number): number[] {
  const r = new Array<number>(8).fill(0);
  const off = 6 - v.length;
  for (let i = 0; i < 6; i++) r[i] = i < off ? fill : v[i - off];
  return r;
}

export const binaryKernel = defineKernel<BinaryParams>({
  name: 'binary',
  spec: (p, caps) => {
    const w = walks(p);
    const layout = p.same ? (isVec4(p) ? 'v4' : 'flat') : w ? `walk${walkKey(w[0])}${walkKey(w[1])}${isVec4(p) ? 'v4' : ''}` : 'bcast';
    return `${p.op}:${layout}${p.scalar ? `:s${p.scalar}` : ''}:${streamGeom(caps).wg}x${streamGeom(caps).per}`;
  },
  storage: (p) => {
    const T = isVec4(p) ? 'vec4<f32>' : 'f32';
    const w = walks(p);
    // a 'div' operand in the vec4 path: one f32 per output vec4, splatted
    const typeOf = (k: 0 | 1) => (w && w[k]!.mode === 'div' ? 'f32' : T);
    const ins: StorageDecl[] = [];
    if (p.scalar !== 'a') ins.push(read('A', typeOf(0)));
    if (p.scalar !== 'b') ins.push(read('B', typeOf(1)));
    return [...ins, rw('Z', T)];
  },
  uniforms: (p) => [
    u32('n', units(p)),
    u32('nanBits', NAN_BITS),
    f32('s', p.s ?? 0),
    u32x4s('shape', slots(p.shape, 1)),
    u32x4s('as_', slots(p.aStrides, 0)),
    u32x4s('bs', slots(p.bStrides, 0)),
    // the walks' c, in units (vec4s in the vec4 path)
    ...(['ca', 'cb'] as const).map((name, k) => {
      const w = walks(p)?.[k];
      return u32(name, w && w.mode !== 'full' ? (isVec4(p) ? w.c / 4 : w.c) : 1);
    }),
  ],
  // stream.ts's geometry: on lavapipe a workgroup of 8 looping over 64 units each
  dispatch: (p, caps) => streamGroups(units(p), streamGeom(caps)),
  body: (p, caps) => {
    const T = isVec4(p) ? 'vec4<f32>' : 'f32';
    const g = streamGeom(caps);
    const loop = streamLoop(g, 'u.n');
    const w = walks(p);
    const walkIndex = (x: OperandWalk, c: string) => (x!.mode === 'full' ? 'i' : x!.mode === 'mod' ? `i % ${c}` : `i / ${c}`);
    const index = p.same
      ? 'let ia = i; let ib = i;'
      : w
        ? `let ia = ${walkIndex(w[0], 'u.ca')}; let ib = ${walkIndex(w[1], 'u.cb')};`
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
    let a = ${p.scalar === 'a' ? `${T}(u.s)` : w && w[0]!.mode === 'div' ? `${T}(A[ia])` : 'A[ia]'};
    let b = ${p.scalar === 'b' ? `${T}(u.s)` : w && w[1]!.mode === 'div' ? `${T}(B[ib])` : 'B[ib]'};
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
