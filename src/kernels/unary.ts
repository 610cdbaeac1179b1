// Elementwise y = f(x[, s]) over a contiguous f32 buffer; `s` is a scalar uniform.
// vec4 path when n % 4 == 0 (one load per 4 elements: lavapipe emits per-lane scalar loads).
import { type KernelDef, type NumArray } from './kernel.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';

export const UNARY_OPS = {
  neg: { wgsl: '-v', cpu: (v: number) => -v },
  exp: { wgsl: 'exp(v)', cpu: Math.exp },
  log: { wgsl: 'log(v)', cpu: Math.log },
  sqrt: { wgsl: 'sqrt(v)', cpu: Math.sqrt },
  abs: { wgsl: 'abs(v)', cpu: Math.abs },
  sign: { wgsl: 'sign(v)', cpu: Math.sign },
  square: { wgsl: 'v * v', cpu: (v: number) => v * v },
  recip: { wgsl: '1.0 / v', cpu: (v: number) => 1 / v },
  /** 1 where v > 0, else 0 (ReLU's derivative). */
  step: { wgsl: 'select(zero, one, v > zero)', cpu: (v: number) => (v > 0 ? 1 : 0) },
  addS: { wgsl: 'v + s', cpu: (v: number, s: number) => v + s },
  mulS: { wgsl: 'v * s', cpu: (v: number, s: number) => v * s },
  /** s - v */
  rsubS: { wgsl: 's - v', cpu: (v: number, s: number) => s - v },
  /** v ** s with PyTorch's rules for negative bases and integer exponents. */
  powS: { wgsl: 'powi(v, s)', cpu: (v: number, s: number) => Math.pow(v, s) },
  /** s ** v */
  rpowS: { wgsl: 'powi(s, v)', cpu: (v: number, s: number) => Math.pow(s, v) },
  maxS: { wgsl: 'max(v, s)', cpu: (v: number, s: number) => (Number.isNaN(v) ? v : Math.max(v, s)) },
  minS: { wgsl: 'min(v, s)', cpu: (v: number, s: number) => (Number.isNaN(v) ? v : Math.min(v, s)) },
} as const;

export type UnaryOp = keyof typeof UNARY_OPS;

export interface UnaryParams {
  op: UnaryOp;
  n: number;
  s?: number;
}

const WG = 256;

/** WGSL pow that matches Math.pow for negative bases with integer exponents and 0^0 = 1. */
export const POWI_WGSL = (T: string) => `
fn powi(b: ${T}, e: ${T}) -> ${T} {
  let p = pow(abs(b), e);
  let ei = round(e);
  let isInt = ei == e;
  let odd = isInt & (abs(ei - 2.0 * floor(ei * 0.5)) == ${T}(1.0));
  var r = select(p, -p, (b < ${T}(0.0)) & odd);
  r = select(r, ${T}(bitcast<f32>(u.nanBits)), (b < ${T}(0.0)) & !isInt);
  r = select(r, ${T}(1.0), e == ${T}(0.0));
  return r;
}`;

export const unaryKernel: KernelDef<UnaryParams> = {
  name: 'unary',
  spec: (p) => `${p.op}${p.n % 4 === 0 ? ':v4' : ''}`,
  bindings: () => ['read', 'rw'],
  uniforms: (p) => [p.n % 4 === 0 ? p.n / 4 : p.n, { f: p.s ?? 0 }, 0x7fc00000],
  dispatch: (p) => Math.ceil((p.n % 4 === 0 ? p.n / 4 : p.n) / WG),
  wgsl: (p) => {
    const T = p.n % 4 === 0 ? 'vec4<f32>' : 'f32';
    return `
@group(0) @binding(0) var<storage, read> x: array<${T}>;
@group(0) @binding(1) var<storage, read_write> y: array<${T}>;
struct U { n: u32, s: f32, nanBits: u32 }
@group(0) @binding(2) var<uniform> u: U;
fn splat(a: f32) -> ${T} { return ${T}(a); }
${POWI_WGSL(T)}
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  if (gid >= u.n) { return; }
  let v = x[gid];
  let s = splat(u.s);
  let zero = ${T}(0.0);
  let one = ${T}(1.0);
  y[gid] = ${UNARY_OPS[p.op].wgsl};
}`;
  },
  cpu: (p, [x, y]: NumArray[]) => {
    const f = UNARY_OPS[p.op].cpu as (v: number, s: number) => number;
    const s = p.s ?? 0;
    for (let i = 0; i < p.n; i++) y[i] = f(x[i], s);
  },
};
