// Adaptive 2-D pooling over planes: x [N, H, W] (N = batch * channels) -> y [N, OH, OW] for any
// output size (larger than the input too), as torch's adaptive_avg_pool2d / adaptive_max_pool2d.
// Output row i pools input rows [floor(i H / OH), ceil((i + 1) H / OH)), columns likewise (PyTorch's
// bin edges; neighbouring bins may overlap by one row or column).
//   avg: the bin's sum / bin height / bin width;
//   max: the bin's maximum (NaN wins, ties keep the first in row-major order) and its argmax as a
//        flat index ih * W + iw into the input plane (int32, like PyTorch's indices).
// Backward, a gather (deterministic, no atomics): one invocation per input element visits the
// output rows [floor(ih OH / H), ceil((ih + 1) OH / H)) and columns likewise, exactly the bins that
// contain it, and sums g / bin size (avg; g divided by the bin sizes in a first pass over the
// outputs) or g where the argmax is that element (max).
// Bin loops are dynamic (bin sizes vary along an axis); sizes are uniforms, so one pipeline per op
// and layout serves every shape. Layouts 'flat' / 'rows' are stream.ts's. Global average pooling
// (OH = OW = 1) has its own kernel in global_avgpool.ts.
import type { Caps, NumArray } from './kernel.ts';
import { type StorageDecl, defineKernel, read, rw, u32 } from './shader.ts';
import { type RowLayout, rowGroups, rowLayout, rowLayoutKey, rowsMain } from './stream.ts';
import { isNanWgsl } from './wgsl_lib.ts';

/**
 * Params of {@link adaptivePoolKernel}: `op` over `n` planes (batch * channels) of `h` x `w`, pooled
 * to `oh` x `ow` with PyTorch's adaptive bin edges.
 */
export interface AdaptivePoolParams {
  op: 'avg' | 'max';
  /** planes (batch * channels) */
  n: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  /** max only: also write the argmax (needed only when a backward will run) */
  withIdx?: boolean;
  /** launch layout (default: the adapter's, see stream.ts) */
  layout?: RowLayout;
}

const layoutOf = (p: AdaptivePoolParams, caps: Caps) => p.layout ?? rowLayout(caps);
const withIdx = (p: AdaptivePoolParams) => p.op === 'max' && !!p.withIdx;

/** First input index of bin i of `outSize` bins over `inSize` (also: first bin covering input i,
 * with the sizes swapped). */
export const binStart = (i: number, outSize: number, inSize: number) => Math.floor((i * inSize) / outSize);
/** One past the last input index of bin i (also: one past the last bin covering input i). */
export const binEnd = (i: number, outSize: number, inSize: number) => Math.ceil(((i + 1) * inSize) / outSize);

/** The window (size k, stride s) whose windows are exactly the adaptive bins of `outSize` over
 * `inSize` (bin i = [i s, i s + k) for every i), or null when the bins are not evenly spaced or
 * not all the same size. Divisible sizes give k = s = in / out; others can too: 13 -> 6 (AlexNet's
 * head) has bins [2i, 2i + 3), k 3 s 2. Growing (out > in) never does (s would be 0). */
export function adaptiveUniformWindow(inSize: number, outSize: number): { k: number; s: number } | null {
  const s = binStart(1, outSize, inSize) - binStart(0, outSize, inSize);
  const k = binEnd(0, outSize, inSize);
  if (s < 1) return null;
  for (let i = 0; i < outSize; i++) if (binStart(i, outSize, inSize) !== i * s || binEnd(i, outSize, inSize) !== i * s + k) return null;
  return { k, s };
}

/** Every quotient the bin edges need is exact through f32 division (one correction step) when the
 * numerators stay below 2^24 (exact as f32) and the quotients below 2^22 (f32 division is within
 * 2.5 ulp, under 1 there). Why: lavapipe scalarises per-lane integer division (x86 has no vector
 * one), ~8 of them per element made the backward ~50x slower than a copy; f32 division is a
 * vector instruction there, and cheaper than emulated u32 division on GPUs too. */
export function floatDivExact(p: { h: number; w: number; oh: number; ow: number }): boolean {
  const small = (a: number, b: number) => (a + 2) * (b + 2) <= 2 ** 24 && Math.max(a, b) < 2 ** 22;
  return small(p.h, p.oh) && small(p.w, p.ow);
}

/** WGSL binStart / binEnd (see the TS twins above), with floor(a / b) by f32 division when
 * `fast` (see floatDivExact), else by u32 division. */
function binWgsl(fast: boolean): string {
  const div = fast
    ? `fn udiv(a: u32, b: u32) -> u32 {
  let q = u32(i32(f32(i32(a)) / f32(i32(b))));  // floor(a / b) - 1, + 0 or + 1
  return select(select(q, q + 1u, (q + 1u) * b <= a), q - 1u, q * b > a);
}`
    : 'fn udiv(a: u32, b: u32) -> u32 { return a / b; }';
  return `
${div}
fn binStart(i: u32, outSize: u32, inSize: u32) -> u32 { return udiv(i * inSize, outSize); }
fn binEnd(i: u32, outSize: u32, inSize: u32) -> u32 { return udiv((i + 1u) * inSize + outSize - 1u, outSize); }`;
}

const sizes = (p: AdaptivePoolParams) => [u32('n', p.n), u32('h', p.h), u32('w', p.w), u32('oh', p.oh), u32('ow', p.ow)];
/** The bits of -infinity, a uniform: WGSL constant expressions may not be infinite. */
const NEG_INF_BITS = 0xff800000;

/**
 * Adaptive 2-D average or max pooling, as torch's adaptive_avg_pool2d / adaptive_max_pool2d, to any
 * output size. Bindings: `x [N, H, W]`, `y [N, OH, OW]` (rw), and for max with `withIdx` the argmax
 * `idx [N, OH, OW]` (rw, int32 flat indices ih * W + iw into the input plane).
 */
export const adaptivePoolKernel = defineKernel<AdaptivePoolParams>({
  name: 'adaptive_pool',
  spec: (p, caps) => `${p.op}${withIdx(p) ? ':idx' : ''}:${rowLayoutKey(layoutOf(p, caps))}${floatDivExact(p) ? ':fdiv' : ''}`,
  // x [N,H,W], y [N,OH,OW], idx [N,OH,OW] int32 (max with withIdx)
  storage: (p) => [read('x'), rw('y'), ...(withIdx(p) ? [rw('idx', 'i32')] : [])],
  uniforms: (p) => [...sizes(p), ...(p.op === 'max' ? [u32('negInf', NEG_INF_BITS)] : [])],
  dispatch: (p, caps) => rowGroups(layoutOf(p, caps), p.n * p.oh, p.ow),
  body: (p, caps) => {
    const head = `
      let ys = binStart(ry, u.oh, u.h);
      let ye = binEnd(ry, u.oh, u.h);
      let xs = binStart(rx, u.ow, u.w);
      let xe = binEnd(rx, u.ow, u.w);
      let base = plane * u.h * u.w;`;
    const item =
      p.op === 'avg'
        ? `${head}
      var acc = 0.0;
      for (var iy = ys; iy < ye; iy++) {
        let row = base + iy * u.w;
        for (var ix = xs; ix < xe; ix++) { acc += x[row + ix]; }
      }
      y[o] = acc / f32(ye - ys) / f32(xe - xs);`
        : `${head}
      var best = bitcast<f32>(u.negInf);
      var bi = ys * u.w + xs;
      for (var iy = ys; iy < ye; iy++) {
        for (var ix = xs; ix < xe; ix++) {
          let i = iy * u.w + ix;
          let v = x[base + i];
          if (v > best || isNan(v)) { best = v; bi = i; }
        }
      }
      y[o] = best;
      ${withIdx(p) ? 'idx[o] = i32(bi);' : ''}`;
    return `
${p.op === 'max' ? isNanWgsl('f32') : ''}
${binWgsl(floatDivExact(p))}
${rowsMain(layoutOf(p, caps), 'u.n', 'u.oh', 'u.ow', item)}`;
  },
  cpu: (p, [x, y, idx]: NumArray[]) => {
    const plane = p.h * p.w;
    let o = 0;
    for (let n = 0; n < p.n; n++)
      for (let oy = 0; oy < p.oh; oy++)
        for (let ox = 0; ox < p.ow; ox++, o++) {
          const [ys, ye] = [binStart(oy, p.oh, p.h), binEnd(oy, p.oh, p.h)];
          const [xs, xe] = [binStart(ox, p.ow, p.w), binEnd(ox, p.ow, p.w)];
          if (p.op === 'avg') {
            let acc = 0;
            for (let iy = ys; iy < ye; iy++) for (let ix = xs; ix < xe; ix++) acc += x[n * plane + iy * p.w + ix];
            y[o] = acc / (ye - ys) / (xe - xs);
          } else {
            let best = -Infinity;
            let bi = ys * p.w + xs;
            for (let iy = ys; iy < ye; iy++)
              for (let ix = xs; ix < xe; ix++) {
                const i = iy * p.w + ix;
                const v = x[n * plane + i];
                if (v > best || v !== v) {
                  best = v;
                  bi = i;
                }
              }
            y[o] = best;
            if (withIdx(p)) idx[o] = bi;
          }
        }
  },
});

/** avg backward, first pass: gs [N,OH,OW] = g / bin height / bin width (PyTorch's grad_delta):
 * the bin sizes once per output instead of once per (input, covering output) pair in the gather,
 * whose bin-edge divisions made it ~4x slower than the max backward on lavapipe. */
export const adaptiveAvgGradScaleKernel = defineKernel<AdaptivePoolParams>({
  name: 'adaptive_avgpool_gscale',
  spec: (p, caps) => `${rowLayoutKey(layoutOf(p, caps))}${floatDivExact(p) ? ':fdiv' : ''}`,
  // g [N,OH,OW], gs [N,OH,OW]
  storage: () => [read('g'), rw('gs')],
  uniforms: sizes,
  dispatch: (p, caps) => rowGroups(layoutOf(p, caps), p.n * p.oh, p.ow),
  body: (p, caps) => `
${binWgsl(floatDivExact(p))}
${rowsMain(layoutOf(p, caps), 'u.n', 'u.oh', 'u.ow', `
      let bh = f32(binEnd(ry, u.oh, u.h) - binStart(ry, u.oh, u.h));
      let bw = f32(binEnd(rx, u.ow, u.w) - binStart(rx, u.ow, u.w));
      gs[o] = g[o] / bh / bw;`)}`,
  cpu: (p, [g, gs]: NumArray[]) => {
    let o = 0;
    for (let n = 0; n < p.n; n++)
      for (let oy = 0; oy < p.oh; oy++)
        for (let ox = 0; ox < p.ow; ox++, o++)
          gs[o] = g[o] / (binEnd(oy, p.oh, p.h) - binStart(oy, p.oh, p.h)) / (binEnd(ox, p.ow, p.w) - binStart(ox, p.ow, p.w));
  },
});

/** Backward bindings: avg gs (from adaptiveAvgGradScaleKernel), gx; max g, idx, gx. */
const bwdStorage = (p: AdaptivePoolParams): StorageDecl[] => (p.op === 'avg' ? [read('g'), rw('gx')] : [read('g'), read('idx', 'i32'), rw('gx')]);

/** The gather: gx[i] = sum of g over the bins containing input i (avg, g pre-scaled by
 * adaptiveAvgGradScaleKernel), or over those whose argmax is i (max). */
export const adaptivePoolBackwardKernel = defineKernel<AdaptivePoolParams>({
  name: 'adaptive_pool_bwd',
  spec: (p, caps) => `${p.op}:${rowLayoutKey(layoutOf(p, caps))}${floatDivExact(p) ? ':fdiv' : ''}`,
  // avg: gs [N,OH,OW], gx [N,H,W]; max: g [N,OH,OW], idx [N,OH,OW] int32, gx [N,H,W]
  storage: bwdStorage,
  uniforms: sizes,
  dispatch: (p, caps) => rowGroups(layoutOf(p, caps), p.n * p.h, p.w),
  body: (p, caps) => {
    const term = p.op === 'avg' ? 'acc += g[row + ox];' : 'if (idx[row + ox] == me) { acc += g[row + ox]; }';
    const item = `
      // the bins containing (ry, rx): rows [oy0, oy1), columns [ox0, ox1)
      let oy0 = binStart(ry, u.h, u.oh);
      let oy1 = binEnd(ry, u.h, u.oh);
      let ox0 = binStart(rx, u.w, u.ow);
      let ox1 = binEnd(rx, u.w, u.ow);
      let me = i32(ry * u.w + rx);
      let base = plane * u.oh * u.ow;
      var acc = 0.0;
      for (var oy = oy0; oy < oy1; oy++) {
        let row = base + oy * u.ow;
        for (var ox = ox0; ox < ox1; ox++) { ${term} }
      }
      gx[o] = acc;`;
    return `
${binWgsl(floatDivExact(p))}
${rowsMain(layoutOf(p, caps), 'u.n', 'u.h', 'u.w', item)}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const g = bufs[0];
    const idx = p.op === 'max' ? bufs[1] : null;
    const gx = bufs[p.op === 'max' ? 2 : 1];
    let i = 0;
    for (let n = 0; n < p.n; n++)
      for (let iy = 0; iy < p.h; iy++)
        for (let ix = 0; ix < p.w; ix++, i++) {
          const me = iy * p.w + ix;
          let acc = 0;
          for (let oy = binStart(iy, p.h, p.oh); oy < binEnd(iy, p.h, p.oh); oy++)
            for (let ox = binStart(ix, p.w, p.ow); ox < binEnd(ix, p.w, p.ow); ox++) {
              const o = (n * p.oh + oy) * p.ow + ox;
              if (idx === null || idx[o] === me) acc += g[o];
            }
          gx[i] = acc;
        }
  },
});
