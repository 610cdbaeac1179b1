// Local response normalisation across channels (PyTorch's nn.LocalResponseNorm), x viewed as
// [B, C, S] (S = product of the trailing dims, e.g. H*W):
//   W(c)  = [c - size/2, c + (size-1)/2] (integer halves) clipped to [0, C): zero padding
//   S_c   = k + alpha/size * sum_{c' in W(c)} x_{c'}^2
//   y_c   = x_c * S_c^-beta
// Backward, with t_c = g_c * x_c * S_c^(-beta-1):
//   gx_j  = g_j * S_j^-beta - (2 alpha beta / size) * x_j * sum_{c : j in W(c)} t_c
// where j in W(c) <=> c in [j - (size-1)/2, j + size/2]. The forward can also write S (the 'scale')
// for the backward.
// Each invocation owns one (b, s) column (4 columns as vec4 when S % 4 == 0) and walks it along
// the channels with the window held in registers (a ring of `size` values, unrolled: size is baked
// into the WGSL), so each channel costs one windowed load instead of `size` (per-invocation loads
// dominate on lavapipe); the backward's ring holds t, computed as channels enter it, so t is never
// stored. Neighbouring invocations take neighbouring columns (coalesced on GPUs).
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';
import { streamGeom } from './stream.ts';

/**
 * Params of {@link lrnKernel}: x viewed as [b, c, s] (s = the product of the trailing dimensions),
 * nn.LocalResponseNorm's `size`, `alpha`, `beta`, `k`, and the pass (`mode`).
 */
export interface LrnParams {
  /** fwd: x -> y; fwdScale: x -> y, scale; bwd: g, x, scale -> gx */
  mode: 'fwd' | 'fwdScale' | 'bwd';
  b: number;
  c: number;
  s: number;
  size: number;
  alpha: number;
  beta: number;
  k: number;
  /** invocations per workgroup (default: 8 on a software adapter, else 64) */
  wg?: number;
}

const vw = (p: LrnParams) => (p.s % 4 === 0 ? 4 : 1);
const elem = (p: LrnParams) => (vw(p) === 4 ? 'vec4<f32>' : 'f32');
const wgOf = (p: LrnParams, caps: Caps) => p.wg ?? (streamGeom(caps).wg <= 8 ? 8 : 64);
/** Work items: (b, s) columns (of vw elements). */
const items = (p: LrnParams) => (p.b * p.s) / vw(p);

const NAMES: Record<LrnParams['mode'], [string[], string[]]> = {
  // [read bindings, written bindings]
  fwd: [['x'], ['y']],
  fwdScale: [['x'], ['y', 'scale']],
  bwd: [['g', 'x', 'scale'], ['gx']],
};

/** The forward's walk: x in a ring r0..r{size-1} holding channels [c - before, c + after]
 * (before + after + 1 = size, both baked in); `step` may use `win` (the window sum of f(r_i)),
 * `mid` (x at channel c) and `o` (the element index). */
function ringWalk(size: number, before: number, T: string, src: (i: string) => string, f: (v: string) => string, step: string): string {
  const r = Array.from({ length: size }, (_, i) => `r${i}`);
  // channels outside [0, C) are zero (the clamped index keeps the unused load in bounds)
  const load = (ch: string) => `select(${T}(0.0), ${src(`col + u32(clamp(${ch}, 0, i32(u.c) - 1)) * u.s`)}, ${ch} >= 0 && ${ch} < i32(u.c))`;
  return `
  ${r.map((v, i) => `var ${v} = ${load(`${i - before}`)};`).join('\n  ')}
  for (var c = 0u; c < u.c; c++) {
    let win = ${r.map(f).join(' + ')};
    let mid = ${r[before]};
    let o = col + c * u.s;
    ${step}
    let nxt = i32(c) + ${size - before};
    ${r.slice(0, -1).map((v, i) => `${v} = ${r[i + 1]};`).join(' ')}
    ${r[size - 1]} = ${load('nxt')};
  }`;
}

/** The backward's walk: ring slots 0..size-1 hold channels [c - before, c + after] (before = hi):
 * t in every slot, a and x in the slots from the centre on (they reach the centre later), so each
 * channel is loaded (g, x, S) and raised to a power once. */
function bwdWalk(size: number, before: number, T: string): string {
  const slots = Array.from({ length: size }, (_, i) => i);
  const keep = (i: number) => i >= before; // slots whose a, x are still needed
  const vars = (i: number) => (keep(i) ? [`t${i}`, `a${i}`, `x${i}`] : [`t${i}`]);
  return `
  ${slots.map((i) => `let e${i} = enter(col, ${i - before});
  ${vars(i).map((v) => `var ${v} = e${i}.${v[0]};`).join(' ')}`).join('\n  ')}
  for (var c = 0u; c < u.c; c++) {
    let win = ${slots.map((i) => `t${i}`).join(' + ')};
    gx[col + c * u.s] = a${before} - u.coef * x${before} * win;
    ${slots.slice(0, -1).map((i) => vars(i).map((v) => `${v} = ${v[0]}${i + 1};`).join(' ')).join('\n    ')}
    let e = enter(col, i32(c) + ${size - before});
    t${size - 1} = e.t; a${size - 1} = e.a; x${size - 1} = e.x;
  }`;
}

/**
 * Local response normalisation across channels, as torch.nn.LocalResponseNorm:
 * y = x * (k + alpha / size * sum of x^2 over the channel window)^-beta. Bindings, all [B, C, S]:
 * fwd `x`, `y` (rw); fwdScale `x`, `y`, `scale` (rw, the bracket kept for the backward); bwd `g`, `x`,
 * `scale`, `gx` (rw).
 */
export const lrnKernel = defineKernel<LrnParams>({
  name: 'lrn',
  spec: (p, caps) => `${p.mode}${vw(p) === 4 ? ':v4' : ''}:n${p.size}:wg${wgOf(p, caps)}`,
  storage: (p) => [...NAMES[p.mode][0].map((n) => read(n, elem(p))), ...NAMES[p.mode][1].map((n) => rw(n, elem(p)))],
  uniforms: (p) => [
    u32('n', items(p)),
    u32('c', p.c),
    u32('s', p.s / vw(p)),
    f32('alphaN', p.alpha / p.size),
    f32('beta', p.beta),
    f32('k', p.k),
    f32('coef', (2 * p.alpha * p.beta) / p.size),
  ],
  dispatch: (p, caps) => Math.ceil(items(p) / wgOf(p, caps)),
  body: (p, caps) => {
    const T = elem(p);
    const wg = wgOf(p, caps);
    const lo = Math.floor(p.size / 2);
    const hi = Math.floor((p.size - 1) / 2);
    // column gid = (b, si): element (b, c, si) sits at col + c * S
    const head = `let col = (gid / u.s) * u.c * u.s + gid % u.s;`;
    const body =
      p.mode === 'bwd'
        ? head + bwdWalk(p.size, hi, T)
        : head +
          ringWalk(
            p.size,
            lo,
            T,
            (i) => `x[${i}]`,
            (v) => `${v} * ${v}`,
            `let sc = u.k + u.alphaN * win;
    y[o] = mid * pow(sc, ${T}(-u.beta));
    ${p.mode === 'fwdScale' ? 'scale[o] = sc;' : ''}`,
          );
    // a channel entering the backward's ring: t = g x S^(-beta-1) and, for the centre later,
    // a = g S^-beta and x (zero outside [0, C); ch is the same for every lane)
    const tOf =
      p.mode === 'bwd'
        ? `struct E { t: ${T}, a: ${T}, x: ${T} }
fn enter(col: u32, ch: i32) -> E {
  if (ch < 0 || ch >= i32(u.c)) { return E(${T}(0.0), ${T}(0.0), ${T}(0.0)); }
  let i = col + u32(ch) * u.s;
  let xv = x[i];
  let sv = scale[i];
  let a = g[i] * pow(sv, ${T}(-u.beta));
  return E(a * xv / sv, a, xv);
}`
        : '';
    return `
${tOf}
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(wg)}
  if (gid >= u.n) { return; }
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
    } else {
      const [g, x, scale, gx] = bufs;
      const t = new Float64Array(n);
      for (let i = 0; i < n; i++) t[i] = g[i] * x[i] * Math.pow(scale[i], -p.beta - 1);
      for (let i = 0; i < n; i++) gx[i] = g[i] * Math.pow(scale[i], -p.beta) - coef * x[i] * win(t, i, hi, lo, false);
    }
  },
});
