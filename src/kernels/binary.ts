// Elementwise z = f(a, b) with NumPy broadcasting. Same-shape operands take a flat (vec4 when
// n % 4 == 0) path; otherwise each output index is decomposed with the out shape and the operands'
// broadcast strides (0 on broadcast dims), passed as uniforms (rank <= 6).
import { type KernelDef, type NumArray } from './kernel.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';
import { POWI_WGSL } from './unary.ts';

export const BINARY_OPS = {
  add: { wgsl: 'a + b', cpu: (a: number, b: number) => a + b },
  sub: { wgsl: 'a - b', cpu: (a: number, b: number) => a - b },
  mul: { wgsl: 'a * b', cpu: (a: number, b: number) => a * b },
  div: { wgsl: 'a / b', cpu: (a: number, b: number) => a / b },
  pow: { wgsl: 'powi(a, b)', cpu: (a: number, b: number) => Math.pow(a, b) },
  maximum: { wgsl: 'select(max(a, b), a + b, isNan(a) | isNan(b))', cpu: (a: number, b: number) => (a !== a || b !== b ? NaN : Math.max(a, b)) },
  minimum: { wgsl: 'select(min(a, b), a + b, isNan(a) | isNan(b))', cpu: (a: number, b: number) => (a !== a || b !== b ? NaN : Math.min(a, b)) },
  eq: { wgsl: 'select(zero, one, a == b)', cpu: (a: number, b: number) => (a === b ? 1 : 0) },
  gt: { wgsl: 'select(zero, one, a > b)', cpu: (a: number, b: number) => (a > b ? 1 : 0) },
  lt: { wgsl: 'select(zero, one, a < b)', cpu: (a: number, b: number) => (a < b ? 1 : 0) },
} as const;

export type BinaryOp = keyof typeof BINARY_OPS;

export interface BinaryParams {
  op: BinaryOp;
  /** Output shape (rank <= 6). */
  shape: readonly number[];
  /** Broadcast strides of a and b in elements, one per output dim (0 = broadcast). */
  aStrides: readonly number[];
  bStrides: readonly number[];
  /** true when a, b and out are all the same contiguous shape. */
  same: boolean;
}

const WG = 256;
const numelOf = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
const vec4 = (p: BinaryParams) => p.same && numelOf(p.shape) % 4 === 0;

function pad6(v: readonly number[]): number[] {
  const r = new Array(8).fill(0);
  const off = 6 - v.length;
  v.forEach((x, i) => (r[off + i] = x));
  return r;
}

export const binaryKernel: KernelDef<BinaryParams> = {
  name: 'binary',
  spec: (p) => `${p.op}:${p.same ? (vec4(p) ? 'v4' : 'flat') : 'bcast'}`,
  bindings: () => ['read', 'read', 'rw'],
  uniforms: (p) => {
    const n = numelOf(p.shape);
    // shape/strides are right-aligned into 6 slots, 8 words each (two vec4s); leading dims are 1/0.
    const shape = pad6(p.shape).map((d, i) => (i < 6 - p.shape.length ? 1 : d));
    return [vec4(p) ? n / 4 : n, 0x7fc00000, 0, 0, ...shape, ...pad6(p.aStrides), ...pad6(p.bStrides)];
  },
  dispatch: (p) => Math.ceil((vec4(p) ? numelOf(p.shape) / 4 : numelOf(p.shape)) / WG),
  wgsl: (p) => {
    const T = vec4(p) ? 'vec4<f32>' : 'f32';
    const index = p.same
      ? 'let ia = gid; let ib = gid;'
      : `var rem = gid; var ia = 0u; var ib = 0u;
  for (var d = 5; d >= 0; d--) {
    let dim = u.shape[d / 4][d % 4];
    let c = rem % dim;
    rem = rem / dim;
    ia += c * u.as_[d / 4][d % 4];
    ib += c * u.bs[d / 4][d % 4];
  }`;
    return `
@group(0) @binding(0) var<storage, read> A: array<${T}>;
@group(0) @binding(1) var<storage, read> B: array<${T}>;
@group(0) @binding(2) var<storage, read_write> Z: array<${T}>;
struct U { n: u32, nanBits: u32, p0: u32, p1: u32, shape: array<vec4<u32>, 2>, as_: array<vec4<u32>, 2>, bs: array<vec4<u32>, 2> }
@group(0) @binding(3) var<uniform> u: U;
${POWI_WGSL(T)}
// NaN by bit pattern: lavapipe folds \`v != v\` to false
fn isNan(v: ${T}) -> ${vec4(p) ? 'vec4<bool>' : 'bool'} {
  return (bitcast<${vec4(p) ? 'vec4<u32>' : 'u32'}>(v) & ${vec4(p) ? 'vec4<u32>(0x7fffffffu)' : '0x7fffffffu'}) > ${vec4(p) ? 'vec4<u32>(0x7f800000u)' : '0x7f800000u'};
}
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.n) { return; }
  ${index}
  let a = A[ia];
  let b = B[ib];
  let zero = ${T}(0.0);
  let one = ${T}(1.0);
  Z[gid] = ${BINARY_OPS[p.op].wgsl};
}`;
  },
  cpu: (p, [A, B, Z]: NumArray[]) => {
    const f = BINARY_OPS[p.op].cpu;
    const n = numelOf(p.shape);
    if (p.same) {
      for (let i = 0; i < n; i++) Z[i] = f(A[i], B[i]);
      return;
    }
    const r = p.shape.length;
    const coord = new Array<number>(r).fill(0);
    let ia = 0;
    let ib = 0;
    for (let i = 0; i < n; i++) {
      Z[i] = f(A[ia], B[ib]);
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
};
