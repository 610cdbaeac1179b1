// The kernels behind clip_grad_norm_, which never reads back:
//   gradNormPartial  one per gradient: each workgroup reduces its wg * per units of x to one
//                    partial (sum of |x|^p, or max |x| for the inf-norm) in partials[offset + group]
//   gradNormFinish   one workgroup: total = (sum of partials)^(1/p) (max for inf) -> norm[0];
//                    coef[0] = min(1, maxNorm / (total + 1e-6))
//   gradScale        one per gradient: x *= coef[0], in place
// x is read as vec4 when n % 4 == 0. A NaN anywhere makes the norm, the coefficient and so every
// gradient NaN (as torch's clamp propagates it).
import type { NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type Stream, streamGroups, streamLoop } from './stream.ts';
import { isNanWgsl } from './wgsl_lib.ts';

/** 'two': sqrt of the sum of squares; 'one': sum of |x|; 'inf': max |x|; 'p': general p > 0. */
export type NormOrd = 'one' | 'two' | 'inf' | 'p';

export function normOrd(p: number): NormOrd {
  return p === 2 ? 'two' : p === 1 ? 'one' : p === Infinity ? 'inf' : 'p';
}

export interface GradNormPartialParams {
  n: number;
  ord: NormOrd;
  /** the exponent for ord 'p' */
  power: number;
  /** first partials slot of this gradient */
  offset: number;
  /** launch geometry: one partial per workgroup of wg * per units (required: the caller sizes
   * the partials buffer from it, and the CPU twin groups the same way) */
  stream: Stream;
}

const isVec4 = (p: { n: number }) => p.n % 4 === 0;
const units = (p: { n: number }) => (isVec4(p) ? p.n / 4 : p.n);

/** Partials one gradient of `n` elements writes. */
export function gradNormSlots(n: number, s: Stream): number {
  return streamGroups(units({ n }), s);
}

/** |x|^p summed over the lanes of `a` (a scalar or vec4 expression named `a`, already abs). */
function term(ord: NormOrd, v4: boolean): string {
  if (!v4) return ord === 'two' ? 'a * a' : ord === 'one' ? 'a' : 'pow(a, u.power)';
  return ord === 'two' ? 'dot(a, a)' : ord === 'one' ? 'a.x + a.y + a.z + a.w' : 'dot(pow(a, vec4<f32>(u.power)), vec4<f32>(1.0))';
}

/** Fold `v` (f32) into `acc`: sum, or a NaN-propagating max. */
const fold = (ord: NormOrd, acc: string, v: string) =>
  ord === 'inf' ? `if (isNan(${v}) || ${v} > ${acc}) { ${acc} = ${v}; }` : `${acc} = ${acc} + ${v};`;

/** Tree reduction of `sh[0..wg)` into sh[0] (wg a power of two). */
function treeReduce(ord: NormOrd, wg: number): string {
  return `workgroupBarrier();
  for (var s = ${wg / 2}u; s > 0u; s = s >> 1u) {
    if (lidx < s) {
      let o = sh[lidx + s];
      var a = sh[lidx];
      ${fold(ord, 'a', 'o')}
      sh[lidx] = a;
    }
    workgroupBarrier();
  }`;
}

/**
 * First pass of clip_grad_norm_'s total norm: each workgroup reduces its slice of one gradient to a
 * partial (sum of |x|^p, or max |x| for the inf-norm). Bindings: `x [n]`, `partials` (rw, slot
 * offset + workgroup).
 */
export const gradNormPartialKernel = defineKernel<GradNormPartialParams>({
  name: 'gradNormPartial',
  spec: (p) => `${p.ord}${isVec4(p) ? ':v4' : ''}:${p.stream.wg}x${p.stream.per}`,
  // x [n], partials [slots] (rw)
  storage: (p) => [read('x', isVec4(p) ? 'vec4<f32>' : 'f32'), rw('partials')],
  uniforms: (p) => [u32('n', units(p)), f32('power', p.power), u32('offset', p.offset)],
  dispatch: (p) => gradNormSlots(p.n, p.stream),
  body: (p) => {
    const s = p.stream;
    const loop = streamLoop(s, 'u.n');
    const v4 = isVec4(p);
    const lane =
      p.ord === 'inf'
        ? v4
          ? `let a = abs(x[i]);
    ${fold('inf', 'acc', 'a.x')} ${fold('inf', 'acc', 'a.y')} ${fold('inf', 'acc', 'a.z')} ${fold('inf', 'acc', 'a.w')}`
          : `let a = abs(x[i]);
    ${fold('inf', 'acc', 'a')}`
        : `let a = abs(x[i]);
    acc = acc + ${term(p.ord, v4)};`;
    return `
${isNanWgsl()}
var<workgroup> sh: array<f32, ${s.wg}>;
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  var acc = 0.0;
  {
  ${loop.open}
    ${lane}
  }
  }
  sh[lidx] = acc;
  ${treeReduce(p.ord, s.wg)}
  if (lidx == 0u) { partials[u.offset + wid.y * nwg.x + wid.x] = sh[0]; }
}`;
  },
  cpu: (p, [x, partials]: NumArray[]) => {
    const r = partials instanceof Float32Array ? Math.fround : (v: number) => v;
    const span = p.stream.wg * p.stream.per * (isVec4(p) ? 4 : 1);
    const groups = gradNormSlots(p.n, p.stream);
    for (let gi = 0; gi < groups; gi++) {
      let acc = 0;
      for (let i = gi * span; i < Math.min(p.n, (gi + 1) * span); i++) {
        const a = Math.abs(x[i]);
        if (p.ord === 'inf') acc = a !== a || a > acc ? a : acc;
        else acc += p.ord === 'two' ? a * a : p.ord === 'one' ? a : a ** p.power;
      }
      partials[p.offset + gi] = r(acc);
    }
  },
});

export interface GradNormFinishParams {
  /** partials to reduce */
  count: number;
  ord: NormOrd;
  power: number;
  maxNorm: number;
}

const FINISH_WG = 64;

/**
 * Second pass of clip_grad_norm_, one workgroup: norm[0] = the total norm of all partials, coef[0] =
 * min(1, maxNorm / (norm + 1e-6)). Bindings: `partials [count]`, `norm [1]` (rw), `coef [1]` (rw).
 */
export const gradNormFinishKernel = defineKernel<GradNormFinishParams>({
  name: 'gradNormFinish',
  spec: (p) => p.ord,
  // partials [count], norm [1] (rw), coef [1] (rw)
  storage: () => [read('partials'), rw('norm'), rw('coef')],
  uniforms: (p) => [u32('count', p.count), f32('power', p.power), f32('maxNorm', p.maxNorm)],
  dispatch: () => 1,
  body: (p) => {
    const root = p.ord === 'two' ? 'sqrt(t)' : p.ord === 'p' ? 'pow(t, 1.0 / u.power)' : 't';
    return `
${isNanWgsl()}
var<workgroup> sh: array<f32, ${FINISH_WG}>;
@compute @workgroup_size(${FINISH_WG})
fn main(@builtin(local_invocation_index) lidx: u32) {
  var acc = 0.0;
  for (var i = lidx; i < u.count; i += ${FINISH_WG}u) {
    let v = partials[i];
    ${fold(p.ord, 'acc', 'v')}
  }
  sh[lidx] = acc;
  ${treeReduce(p.ord, FINISH_WG)}
  if (lidx == 0u) {
    let t = sh[0];
    let total = ${root};
    norm[0] = total;
    let c = u.maxNorm / (total + 1e-6);
    coef[0] = select(min(c, 1.0), c, isNan(c));
  }
}`;
  },
  cpu: (p, [partials, norm, coef]: NumArray[]) => {
    const r = norm instanceof Float32Array ? Math.fround : (v: number) => v;
    let t = 0;
    for (let i = 0; i < p.count; i++) {
      const v = partials[i];
      if (p.ord === 'inf') t = v !== v || v > t ? v : t;
      else t += v;
    }
    t = r(t);
    const total = r(p.ord === 'two' ? Math.sqrt(t) : p.ord === 'p' ? t ** (1 / p.power) : t);
    norm[0] = total;
    const c = r(r(p.maxNorm) / r(total + r(1e-6)));
    coef[0] = c !== c ? c : Math.min(c, 1);
  },
});

export interface GradScaleParams {
  n: number;
  stream: Stream;
}

/**
 * Scales one gradient in place by the clip coefficient, x *= coef[0]. Bindings: `x [n]` (rw), `coef [1]`.
 */
export const gradScaleKernel = defineKernel<GradScaleParams>({
  name: 'gradScale',
  spec: (p) => `${isVec4(p) ? 'v4' : 'f32'}:${p.stream.wg}x${p.stream.per}`,
  // x [n] (rw), coef [1]
  storage: (p) => [rw('x', isVec4(p) ? 'vec4<f32>' : 'f32'), read('coef')],
  uniforms: (p) => [u32('n', units(p))],
  dispatch: (p) => streamGroups(units(p), p.stream),
  body: (p) => {
    const loop = streamLoop(p.stream, 'u.n');
    return `
@compute @workgroup_size(${p.stream.wg})
fn main(${loop.params}) {
  let c = coef[0];
  ${loop.open}
    x[i] = x[i] * c;
  }
}`;
  },
  cpu: (p, [x, coef]: NumArray[]) => {
    const r = x instanceof Float32Array ? Math.fround : (v: number) => v;
    for (let i = 0; i < p.n; i++) x[i] = r(x[i] * coef[0]);
  },
});
