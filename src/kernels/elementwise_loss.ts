// Element-wise losses, fused: one pass reads the two operands (and optional weights) and writes
// either the per-element loss ('none') or one partial sum per workgroup ('partial', reduced after
// by scalarSumKernel), so the 'mean' / 'sum' reductions never write or re-read an [n] temporary.
// One backward pass writes the input gradient and/or the target gradient.
//   mse: (a - b)^2                        d/da = 2 (a - b),       d/db = -d/da
//   l1:  |a - b|                          d/da = sign(a - b),     d/db = -d/da
//   bce (a = logits x, b = targets t, weight w, pos_weight p, all multiplied by w):
//        without p: max(x, 0) - x t + log1p(exp(-|x|))
//        with p:    (1 - t) x + (1 + (p - 1) t) softplus(-x),  softplus(-x) = max(-x, 0) + log1p(exp(-|x|))
//        d/dx = (1 + (p - 1) t) sigmoid(x) - p t  (sigmoid(x) - t without p)
//        d/dt = -x + (p - 1) softplus(-x)       (-x without p)
// a, b [n] contiguous; w read at w[i % wn], p at p[i % pn] (a weight that broadcasts over the
// leading axes: [C] against [N, C]). vec4 path when n % 4 == 0 and there are no weights (one
// address computation per 4 elements; see relu.ts), scalar otherwise.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type Stream, streamGeom, streamGroups, streamLoop } from './stream.ts';

export type ElementwiseLossOp = 'mse' | 'l1' | 'bce';

export interface ElementwiseLossParams {
  op: ElementwiseLossOp;
  n: number;
  /** 'none': per-element loss y [n]; 'partial': per-workgroup sums part [elementwiseLossGroups]
   * (on the CPU the total lands in part[0], the rest 0) */
  out: 'none' | 'partial';
  /** bce: elements of the weight w (0: none) */
  wn?: number;
  /** bce: elements of pos_weight p (0: none) */
  pn?: number;
  /** launch geometry (default: the adapter's, see stream.ts) */
  stream?: Stream;
}

export interface ElementwiseLossBackwardParams extends Omit<ElementwiseLossParams, 'out'> {
  /** multiplies the upstream gradient (1/n for the mean) */
  scale: number;
  /** g holds one value per element ('none') instead of one scalar */
  perElement: boolean;
  /** write d/da (binding ga) */
  ga: boolean;
  /** write d/db (binding gb) */
  gb: boolean;
}

type AnyParams = ElementwiseLossParams | ElementwiseLossBackwardParams;
const geo = (p: AnyParams, caps: Caps) => p.stream ?? streamGeom(caps);
const weighted = (p: AnyParams) => (p.wn ?? 0) > 0;
const posWeighted = (p: AnyParams) => (p.pn ?? 0) > 0;
const isVec4 = (p: AnyParams) => p.n % 4 === 0 && !weighted(p) && !posWeighted(p);
const units = (p: AnyParams) => (isVec4(p) ? p.n / 4 : p.n);
const T = (p: AnyParams) => (isVec4(p) ? 'vec4<f32>' : 'f32');
const key = (p: AnyParams, caps: Caps) =>
  `${p.op}${weighted(p) ? ':w' : ''}${posWeighted(p) ? ':pw' : ''}${isVec4(p) ? ':v4' : ''}:${geo(p, caps).wg}x${geo(p, caps).per}`;

/** Workgroups of the forward (the length of the 'partial' output). */
export function elementwiseLossGroups(p: ElementwiseLossParams, caps: Caps): number {
  return streamGroups(units(p), geo(p, caps));
}

const weightDecls = (p: AnyParams) => [...(weighted(p) ? [read('w')] : []), ...(posWeighted(p) ? [read('pw')] : [])];
const weightUniforms = (p: AnyParams) => [u32('wn', Math.max(1, p.wn ?? 0)), u32('pn', Math.max(1, p.pn ?? 0))];

/** log1p(e) for 0 <= e <= 1 (WGSL has none; here e = exp(-|x|)): 2 atanh(s) with s = e / (2 + e)
 * <= 1/3, by its odd series to s^15 (next term < 2e-9 relative). No 1 + e is formed, so nothing
 * rounds away for tiny e (the (1 + e) - 1 correction trick is folded away by some compilers). */
const log1pWgsl = (t: string) => `
fn log1p_(e: ${t}) -> ${t} {
  let s = e / (2.0 + e);
  let z = s * s;
  return 2.0 * s * (1.0 + z * (0.33333333 + z * (0.2 + z * (0.14285714 + z * (0.11111111 +
      z * (0.09090909 + z * (0.07692308 + z * 0.06666667)))))));
}`;

/** WGSL statements defining `l`, the loss of element i (operands in `x`, `t`). */
function lossWgsl(p: AnyParams): string {
  const pw = posWeighted(p) ? 'pw[i % u.pn]' : '';
  const w = weighted(p) ? ' * w[i % u.wn]' : '';
  if (p.op === 'mse') return 'let d = x - t;\n    let l = d * d;';
  if (p.op === 'l1') return 'let l = abs(x - t);';
  if (!pw) return `let l = (max(x, ${T(p)}(0.0)) - x * t + log1p_(exp(-abs(x))))${w};`;
  return `let sp = max(-x, ${T(p)}(0.0)) + log1p_(exp(-abs(x)));  // softplus(-x)
    let l = ((1.0 - t) * x + (1.0 + (${pw} - 1.0) * t) * sp)${w};`;
}

/**
 * Fused MSE, L1 or binary cross entropy with logits over two [n] operands, writing the per-element
 * losses or one partial sum per workgroup. Bindings: `a [n]`, `b [n]`, `w [wn]` and `pw [pn]` (bce
 * weights, when set), then `y [n]` ('none') or `part [elementwiseLossGroups]` ('partial'), rw.
 */
export const elementwiseLossKernel = defineKernel<ElementwiseLossParams>({
  name: 'elementwise_loss',
  spec: (p, caps) => `${p.out}:${key(p, caps)}`,
  // a [n], b [n], [w [wn]], [pw [pn]], then y [n] ('none') or part [groups] ('partial')
  storage: (p) => [read('a', T(p)), read('b', T(p)), ...weightDecls(p), p.out === 'none' ? rw('y', T(p)) : rw('part')],
  uniforms: (p) => [u32('n', units(p)), ...weightUniforms(p)],
  dispatch: (p, caps) => streamGroups(units(p), geo(p, caps)),
  body: (p, caps) => {
    const s = geo(p, caps);
    const loop = streamLoop(s, 'u.n');
    const partial = p.out === 'partial';
    const hsum = isVec4(p) ? 'l.x + l.y + l.z + l.w' : 'l';
    return `
${p.op === 'bce' ? log1pWgsl(T(p)) : ''}
${partial ? `var<workgroup> sh: array<f32, ${s.wg}>;` : ''}
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  var acc = 0.0;
  ${loop.open}
    let x = a[i];
    let t = b[i];
    ${lossWgsl(p)}
    ${partial ? `acc += ${hsum};` : 'y[i] = l;'}
  }
  ${
    partial
      ? `sh[lidx] = acc;
  for (var h = ${s.wg / 2}u; h > 0u; h >>= 1u) {
    workgroupBarrier();
    if (lidx < h) { sh[lidx] += sh[lidx + h]; }
  }
  if (lidx == 0u) { part[wid.y * nwg.x + wid.x] = sh[0]; }`
      : ''
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const [a, b] = bufs;
    let k = 2;
    const w = weighted(p) ? bufs[k++] : null;
    const pw = posWeighted(p) ? bufs[k++] : null;
    const out = bufs[k];
    // on the CPU the whole sum lands in part[0] (the partials only have to add up to the total)
    if (p.out === 'partial') out.fill(0);
    let total = 0;
    for (let i = 0; i < p.n; i++) {
      const l = lossCpu(p.op, a[i], b[i], w ? w[i % w.length] : 1, pw ? pw[i % pw.length] : null);
      if (p.out === 'none') out[i] = l;
      else total += l;
    }
    if (p.out === 'partial' && out.length) out[0] = total;
  },
});

function softplusNeg(x: number): number {
  return Math.max(-x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
}

export function lossCpu(op: ElementwiseLossOp, x: number, t: number, w: number, pw: number | null): number {
  if (op === 'mse') return (x - t) * (x - t);
  if (op === 'l1') return Math.abs(x - t);
  if (pw === null) return (Math.max(x, 0) - x * t + Math.log1p(Math.exp(-Math.abs(x)))) * w;
  return ((1 - t) * x + (1 + (pw - 1) * t) * softplusNeg(x)) * w;
}

/** WGSL statements defining `da` and `db` (per unit of upstream gradient). */
function gradWgsl(p: ElementwiseLossBackwardParams): string {
  const w = weighted(p) ? ' * w[i % u.wn]' : '';
  if (p.op === 'mse') return 'let da = 2.0 * (x - t);\n    let db = -da;';
  if (p.op === 'l1') return 'let da = sign(x - t);\n    let db = -da;';
  const sig = `let e = exp(-abs(x));
    let sg = select(e / (1.0 + e), 1.0 / (1.0 + e), x >= ${T(p)}(0.0));  // sigmoid(x)`;
  if (!posWeighted(p)) return `${sig}\n    let da = (sg - t)${w};\n    let db = -x${w};`;
  return `${sig}
    let pw_ = pw[i % u.pn];
    let da = ((1.0 + (pw_ - 1.0) * t) * sg - pw_ * t)${w};
    let db = (-x + (pw_ - 1.0) * (max(-x, ${T(p)}(0.0)) + log1p_(e)))${w};`;
}

export function gradCpu(op: ElementwiseLossOp, x: number, t: number, w: number, pw: number | null): [number, number] {
  if (op === 'mse') return [2 * (x - t), -2 * (x - t)];
  if (op === 'l1') {
    const s = Math.sign(x - t);
    return [s, -s];
  }
  const e = Math.exp(-Math.abs(x));
  const sg = x >= 0 ? 1 / (1 + e) : e / (1 + e);
  if (pw === null) return [(sg - t) * w, -x * w];
  return [((1 + (pw - 1) * t) * sg - pw * t) * w, (-x + (pw - 1) * softplusNeg(x)) * w];
}

/**
 * Gradients of {@link elementwiseLossKernel} with respect to either operand. Bindings: `a [n]`, `b [n]`,
 * `w [wn]`, `pw [pn]` (when set), `g [1]` or `[n]` (perElement), `ga [n]` and/or `gb [n]` (rw).
 */
export const elementwiseLossBackwardKernel = defineKernel<ElementwiseLossBackwardParams>({
  name: 'elementwise_loss_bwd',
  spec: (p, caps) => `${key(p, caps)}${p.perElement ? ':el' : ''}${p.ga ? ':ga' : ''}${p.gb ? ':gb' : ''}`,
  // a [n], b [n], [w [wn]], [pw [pn]], g [1] or [n], [ga [n]], [gb [n]]
  storage: (p) => [
    read('a', T(p)), read('b', T(p)), ...weightDecls(p), read('g', p.perElement ? T(p) : 'f32'),
    ...(p.ga ? [rw('ga', T(p))] : []), ...(p.gb ? [rw('gb', T(p))] : []),
  ],
  uniforms: (p) => [u32('n', units(p)), ...weightUniforms(p), f32('scale', p.scale)],
  dispatch: (p, caps) => streamGroups(units(p), geo(p, caps)),
  body: (p, caps) => {
    if (!p.ga && !p.gb) throw new Error('elementwise_loss_bwd: nothing to write (ga and gb are both false)');
    const s = geo(p, caps);
    const loop = streamLoop(s, 'u.n');
    return `
${p.op === 'bce' ? log1pWgsl(T(p)) : ''}
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  ${p.perElement ? '' : 'let k = g[0] * u.scale;'}
  ${loop.open}
    ${p.perElement ? 'let k = g[i] * u.scale;' : ''}
    let x = a[i];
    let t = b[i];
    ${gradWgsl(p)}
    ${p.ga ? 'ga[i] = k * da;' : ''}
    ${p.gb ? 'gb[i] = k * db;' : ''}
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const [a, b] = bufs;
    let k = 2;
    const w = weighted(p) ? bufs[k++] : null;
    const pw = posWeighted(p) ? bufs[k++] : null;
    const g = bufs[k++];
    const ga = p.ga ? bufs[k++] : null;
    const gb = p.gb ? bufs[k++] : null;
    for (let i = 0; i < p.n; i++) {
      const kk = (p.perElement ? g[i] : g[0]) * p.scale;
      const [da, db] = gradCpu(p.op, a[i], b[i], w ? w[i % w.length] : 1, pw ? pw[i % pw.length] : null);
      if (ga) ga[i] = kk * da;
      if (gb) gb[i] = kk * db;
    }
  },
});
