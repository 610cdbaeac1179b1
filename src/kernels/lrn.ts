// Local response normalisation across channels (PyTorch's nn.LocalResponseNorm), x viewed as
// [B, C, S] (S = product of the trailing dims, e.g. H*W):
//   W(c)  = [c - size/2, c + (size-1)/2] (integer halves) clipped to [0, C): zero padding
//   S_c   = k + alpha/size * sum_{c' in W(c)} x_{c'}^2
//   y_c   = x_c * S_c^-beta
// Backward, with t_c = g_c * x_c * S_c^(-beta-1) (phase 'bwd1', one pass):
//   gx_j  = g_j * S_j^-beta - (2 alpha beta / size) * x_j * sum_{c : j in W(c)} t_c   (phase 'bwd2')
// where j in W(c) <=> c in [j - (size-1)/2, j + size/2]. The forward can also write S (the 'scale')
// for the backward. One invocation per element (per 4 elements along S when S % 4 == 0: vec4
// loads; neighbouring channels are S elements apart).
import { type KernelDef, type NumArray, linearIndex, linearGid } from './kernel.ts';

export interface LrnParams {
  /** fwd: x -> y; fwdScale: x -> y, scale; bwd1: g, x, scale -> t; bwd2: g, x, scale, t -> gx */
  mode: 'fwd' | 'fwdScale' | 'bwd1' | 'bwd2';
  b: number;
  c: number;
  s: number;
  size: number;
  alpha: number;
  beta: number;
  k: number;
}

const WG = 128;
const vw = (p: LrnParams) => (p.s % 4 === 0 ? 4 : 1);
const units = (p: LrnParams) => (p.b * p.c * p.s) / vw(p);

const NAMES: Record<LrnParams['mode'], [string[], string[]]> = {
  // [read bindings, written bindings]
  fwd: [['x'], ['y']],
  fwdScale: [['x'], ['y', 'scale']],
  bwd1: [['g', 'x', 'scale'], ['t']],
  bwd2: [['g', 'x', 'scale', 't'], ['gx']],
};

export const lrnKernel: KernelDef<LrnParams> = {
  name: 'lrn',
  spec: (p) => `${p.mode}${vw(p) === 4 ? ':v4' : ''}`,
  bindings: (p) => [...NAMES[p.mode][0].map(() => 'read' as const), ...NAMES[p.mode][1].map(() => 'rw' as const)],
  uniforms: (p) => [
    units(p),
    p.c,
    p.s / vw(p),
    Math.floor(p.size / 2),
    Math.floor((p.size - 1) / 2),
    { f: p.alpha / p.size },
    { f: p.beta },
    { f: p.k },
    { f: (2 * p.alpha * p.beta) / p.size },
  ],
  dispatch: (p) => Math.ceil(units(p) / WG),
  wgsl: (p) => {
    const T = vw(p) === 4 ? 'vec4<f32>' : 'f32';
    const [rd, wr] = NAMES[p.mode];
    const decl = [...rd, ...wr]
      .map((n, i) => `@group(0) @binding(${i}) var<storage, ${i < rd.length ? 'read' : 'read_write'}> ${n}: array<${T}>;`)
      .join('\n');
    // window sums over channels c' in [c - lo, c + hi] (fwd) or [c - hi, c + lo] (bwd2)
    const windowSum = (arr: string, before: string, after: string, sq: boolean) => `
  var acc = ${T}(0.0);
  let c0 = u32(max(i32(c) - i32(${before}), 0));
  let c1 = min(c + ${after}, u.c - 1u);
  for (var cc = c0; cc <= c1; cc++) {
    let v = ${arr}[plane0 + cc * u.s];
    acc += ${sq ? 'v * v' : 'v'};
  }`;
    let body: string;
    if (p.mode === 'fwd' || p.mode === 'fwdScale')
      body = `${windowSum('x', 'u.lo', 'u.hi', true)}
  let sc = u.k + u.alphaN * acc;
  y[gid] = x[gid] * pow(sc, ${T}(-u.beta));
  ${p.mode === 'fwdScale' ? 'scale[gid] = sc;' : ''}`;
    else if (p.mode === 'bwd1') body = `t[gid] = g[gid] * x[gid] * pow(scale[gid], ${T}(-u.beta - 1.0));`;
    else
      body = `${windowSum('t', 'u.hi', 'u.lo', false)}
  gx[gid] = g[gid] * pow(scale[gid], ${T}(-u.beta)) - u.coef * x[gid] * acc;`;
    return `
${decl}
struct U { n: u32, c: u32, s: u32, lo: u32, hi: u32, alphaN: f32, beta: f32, k: f32, coef: f32 }
@group(0) @binding(${rd.length + wr.length}) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(${linearIndex(WG)}) {
  ${linearGid(WG)}
  if (gid >= u.n) { return; }
  let si = gid % u.s;
  let bc = gid / u.s;
  let c = bc % u.c;
  let plane0 = (bc - c) * u.s + si;  // element (b, 0, si)
  ${body}
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const lo = Math.floor(p.size / 2);
    const hi = Math.floor((p.size - 1) / 2);
    const alphaN = p.alpha / p.size;
    const coef = (2 * p.alpha * p.beta) / p.size;
    const n = p.b * p.c * p.s;
    const chanOf = (i: number) => Math.floor(i / p.s) % p.c;
    // sum over c' in [c - before, c + after] of f(arr at (b, c', si))
    const win = (arr: NumArray, i: number, before: number, after: number, sq: boolean) => {
      const c = chanOf(i);
      const plane0 = i - c * p.s;
      let acc = 0;
      for (let cc = Math.max(c - before, 0); cc <= Math.min(c + after, p.c - 1); cc++) {
        const v = arr[plane0 + cc * p.s];
        acc += sq ? v * v : v;
      }
      return acc;
    };
    if (p.mode === 'fwd' || p.mode === 'fwdScale') {
      const [x, y, scale] = bufs;
      for (let i = 0; i < n; i++) {
        const sc = p.k + alphaN * win(x, i, lo, hi, true);
        y[i] = x[i] * Math.pow(sc, -p.beta);
        if (scale) scale[i] = sc;
      }
    } else if (p.mode === 'bwd1') {
      const [g, x, scale, t] = bufs;
      for (let i = 0; i < n; i++) t[i] = g[i] * x[i] * Math.pow(scale[i], -p.beta - 1);
    } else {
      const [g, x, scale, t, gx] = bufs;
      for (let i = 0; i < n; i++) gx[i] = g[i] * Math.pow(scale[i], -p.beta) - coef * x[i] * win(t, i, hi, lo, false);
    }
  },
};
