// 2-D max pooling over planes: x [N, H, W] (N = batch * channels) -> y [N, OH, OW], with the argmax
// of each window as a flat index ih * W + iw into its input plane (int32, like PyTorch's indices).
// Padding is -infinity (it never wins), and so is the part of a ceil-mode window past the input;
// ties keep the first maximum in row-major window order;
// NaN wins and propagates (PyTorch's rule: `v > max || isnan(v)`).
// Backward, race-free and deterministic without atomics, two ways:
//   gather ('flat' layout): one invocation per input element visits the (few) outputs whose windows
//     contain it and sums the gradients whose argmax is that element (PyTorch's CUDA scheme);
//   scatter ('rows' layout): zero gx, then ceil(kh/sh) * ceil(kw/sw) passes, one per output
//     residue class (oy mod ceil(kh/sh), ox mod ceil(kw/sw)); windows within a class are disjoint,
//     so each pass does gx[argmax] += g with no two outputs of the pass touching the same input.
//     4 memory ops per output instead of up to 8 loads per input: lavapipe's cost is per load.
// Window size, stride and padding are baked into the WGSL (constant loops the compiler unrolls; no
// bounds checks at all without padding); the image sizes are uniforms. Launch layouts 'flat'
// (hardware GPUs) and 'rows' (software adapters) are described in stream.ts.
// On lavapipe (subgroups of exactly 8) src/policy/pool_choice.ts picks the subgroup sliding-window
// kernels of maxpool_lanes.ts instead, ~2x faster there; these serve the geometries those do not
// cover (stride 3 or > 4, wide windows, very wide rows) and GPUs.
import type { Caps, NumArray } from './kernel.ts';
import { type StorageDecl, type UField, defineKernel, read, rw, u32 } from './shader.ts';
import { type RowLayout, rowGroups, rowLayout, rowLayoutKey, rowsMain, streamGeom, streamGroups, streamLoop } from './stream.ts';
import { isNanWgsl } from './wgsl_lib.ts';

/**
 * The geometry of a 2-D pooling over `n` planes (batch * channels): input `h` x `w`, output `oh` x
 * `ow`, window `kh` x `kw`, stride `sh`, `sw`, padding `ph`, `pw` (see {@link poolOut}).
 */
export interface PoolGeom {
  /** planes (batch * channels) */
  n: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  /** launch layout (default: 'rows' on a software adapter, else 'flat') */
  layout?: PoolLayout;
}

export type PoolLayout = RowLayout;

/** Params of {@link maxPoolKernel}: the pooling geometry, and whether to write the argmax. */
export interface MaxPoolParams extends PoolGeom {
  /** also write the argmax (needed only when a backward will run) */
  withIdx: boolean;
}

/** The launch layout: the caller's, else the adapter's (see stream.ts). */
export const poolLayout = (p: PoolGeom, caps: Caps): RowLayout => p.layout ?? rowLayout(caps);
const layoutKey = rowLayoutKey;
/** Window, stride, padding, and 'c' when ceil-mode windows overhang the input (bounds checks). */
export const geomKey = (p: PoolGeom) => `k${p.kh}x${p.kw}s${p.sh}x${p.sw}p${p.ph}x${p.pw}${overhangs(p) ? 'c' : ''}`;

/** The image sizes, the uniforms shared by the forward and the gather backward. */
const sizeFields = (p: PoolGeom): UField[] => [u32('n', p.n), u32('h', p.h), u32('w', p.w), u32('oh', p.oh), u32('ow', p.ow)];
/** g [N,OH,OW], idx [N,OH,OW] int32, gx [N,H,W]: the bindings of both backwards. */
const bwdStorage = (): StorageDecl[] => [read('g'), read('idx', 'i32'), rw('gx')];

const groups = rowGroups;
/** main() over N planes of `rowsPerPlane` rows (see stream.ts). */
const mainFor = (l: RowLayout, rowsPerPlane: string, rowLen: string, item: string) => rowsMain(l, 'u.n', rowsPerPlane, rowLen, item);

/** Output size along one axis (dilation 1), PyTorch's rule: floor((size + 2 pad - k) / s) + 1,
 * or in ceil mode ceil(...) + 1 less one when the last window would start past the input and its
 * left padding (so every window holds at least one input element). Below 1: input too small. */
export function poolOut(size: number, k: number, s: number, pad: number, ceilMode = false): number {
  const span = size + 2 * pad - k;
  let out = Math.floor((span + (ceilMode ? s - 1 : 0)) / s) + 1;
  if (ceilMode && (out - 1) * s >= size + pad) out--;
  return out;
}

/** Does a window run past the bottom or right edge of the input without padding there? (ceil
 * mode; with padding <= k / 2 a floor-mode window never does.) */
export function overhangs(p: PoolGeom): boolean {
  return (p.oh - 1) * p.sh - p.ph + p.kh > p.h + p.ph || (p.ow - 1) * p.sw - p.pw + p.kw > p.w + p.pw;
}

/** Can a window reach outside the input (padding, or a ceil-mode window past the edge)? Then the
 * kernels bounds-check every row and column; otherwise they read without checks. */
export const clipped = (p: PoolGeom) => p.ph > 0 || p.pw > 0 || overhangs(p);

/**
 * 2-D max pooling over planes, as torch.nn.functional.max_pool2d (dilation 1): padding never wins,
 * ties keep the first maximum, NaN propagates. Bindings: `x [N, H, W]`, `y [N, OH, OW]` (rw) and,
 * with `withIdx`, `idx [N, OH, OW]` (rw, int32 flat indices ih * W + iw into the input plane).
 */
export const maxPoolKernel = defineKernel<MaxPoolParams>({
  name: 'maxpool',
  spec: (p, caps) => `${geomKey(p)}:${layoutKey(poolLayout(p, caps))}${p.withIdx ? ':idx' : ''}`,
  // x [N,H,W], y [N,OH,OW], idx [N,OH,OW] (int32, optional)
  storage: (p) => [read('x'), rw('y'), ...(p.withIdx ? [rw('idx', 'i32')] : [])],
  uniforms: sizeFields,
  dispatch: (p, caps) => groups(poolLayout(p, caps), p.n * p.oh, p.ow),
  body: (p, caps) => {
    const padded = clipped(p);
    // the clipped window start is always inside the image (padding <= kernel / 2, and ceil mode
    // drops a last window that would start past the input) and seeds the maximum; re-visiting it in the loop changes nothing (a NaN start stays the argmax until a
    // later NaN, as in PyTorch)
    const item = `
      let y0 = i32(ry * ${p.sh}u) - ${p.ph};
      let x0 = i32(rx * ${p.sw}u) - ${p.pw};
      let base = plane * u.h * u.w;
      var bi = u32(max(y0, 0)) * u.w + u32(max(x0, 0));
      var best = x[base + bi];
      for (var a = 0; a < ${p.kh}; a++) {
        let iy = y0 + a;
        ${padded ? 'if (iy < 0 || iy >= i32(u.h)) { continue; }' : ''}
        for (var b = 0; b < ${p.kw}; b++) {
          let ix = x0 + b;
          ${padded ? 'if (ix < 0 || ix >= i32(u.w)) { continue; }' : ''}
          let i = u32(iy) * u.w + u32(ix);
          let v = x[base + i];
          if (v > best || isNan(v)) { best = v; bi = i; }
        }
      }
      y[o] = best;
      ${p.withIdx ? 'idx[o] = i32(bi);' : ''}`;
    return `
${isNanWgsl('f32')}
${mainFor(poolLayout(p, caps), 'u.oh', 'u.ow', item)}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    const [x, y, idx] = bufs;
    const plane = p.h * p.w;
    let o = 0;
    for (let n = 0; n < p.n; n++)
      for (let oy = 0; oy < p.oh; oy++)
        for (let ox = 0; ox < p.ow; ox++, o++) {
          const y0 = oy * p.sh - p.ph;
          const x0 = ox * p.sw - p.pw;
          const ys = Math.max(y0, 0);
          const xs = Math.max(x0, 0);
          const ye = Math.min(y0 + p.kh, p.h);
          const xe = Math.min(x0 + p.kw, p.w);
          let best = -Infinity;
          let bi = ys * p.w + xs;
          let first = true;
          for (let iy = ys; iy < ye; iy++)
            for (let ix = xs; ix < xe; ix++) {
              const i = iy * p.w + ix;
              const v = x[n * plane + i];
              if (first || v > best || v !== v) {
                best = v;
                bi = i;
              }
              first = false;
            }
          y[o] = best;
          if (p.withIdx) idx[o] = bi;
        }
  },
});

export interface ScatterParams extends PoolGeom {
  /** the residue class (oy mod my, ox mod mx) handled by this pass */
  cy: number;
  cx: number;
}

/** Passes of the scatter backward along each axis: outputs this far apart have disjoint windows. */
export const scatterClasses = (p: PoolGeom): [number, number] => [Math.ceil(p.kh / p.sh), Math.ceil(p.kw / p.sw)];
const classSize = (p: ScatterParams): [number, number] => {
  const [my, mx] = scatterClasses(p);
  return [Math.ceil((p.oh - p.cy) / my), Math.ceil((p.ow - p.cx) / mx)];
};

/** One scatter pass: gx[plane, idx[o]] += g[o] for the outputs o of class (cy, cx). */
export const maxPoolScatterKernel = defineKernel<ScatterParams>({
  name: 'maxpool_scatter',
  spec: (p, caps) => `${geomKey(p)}:${layoutKey(poolLayout(p, caps))}`,
  // g [N,OH,OW], idx [N,OH,OW] int32, gx [N,H,W] (accumulated in place)
  storage: bwdStorage,
  uniforms: (p) => {
    const [ny, nx] = classSize(p);
    return [...sizeFields(p), u32('ny', ny), u32('nx', nx), u32('cy', p.cy), u32('cx', p.cx)];
  },
  dispatch: (p, caps) => {
    const [ny, nx] = classSize(p);
    return ny > 0 && nx > 0 ? groups(poolLayout(p, caps), p.n * ny, nx) : 0;
  },
  body: (p, caps) => {
    const [my, mx] = scatterClasses(p);
    const item = `
      let k = (plane * u.oh + u.cy + ry * ${my}u) * u.ow + u.cx + rx * ${mx}u;
      let t = plane * u.h * u.w + u32(idx[k]);
      gx[t] = gx[t] + g[k];`;
    return `
${mainFor(poolLayout(p, caps), 'u.ny', 'u.nx', item)}`;
  },
  cpu: (p, [g, idx, gx]: NumArray[]) => {
    const [my, mx] = scatterClasses(p);
    for (let n = 0; n < p.n; n++)
      for (let oy = p.cy; oy < p.oh; oy += my)
        for (let ox = p.cx; ox < p.ow; ox += mx) {
          const k = (n * p.oh + oy) * p.ow + ox;
          gx[n * p.h * p.w + idx[k]] += g[k];
        }
  },
});

export interface ZeroParams {
  n: number;
}

const zeroElem = (p: ZeroParams) => (p.n % 4 === 0 ? 'vec4<f32>' : 'f32');
const zeroUnits = (p: ZeroParams) => (p.n % 4 === 0 ? p.n / 4 : p.n);

/** gx = 0 (vec4 stores when n % 4 == 0) before the scatter passes. */
export const zeroKernel = defineKernel<ZeroParams>({
  name: 'zero_fill',
  spec: (p, caps) => `${p.n % 4 === 0 ? 'v4' : 's'}:${streamGeom(caps).wg}x${streamGeom(caps).per}`,
  // y [n]
  storage: (p) => [rw('y', zeroElem(p))],
  uniforms: (p) => [u32('n', zeroUnits(p))],
  dispatch: (p, caps) => streamGroups(zeroUnits(p), streamGeom(caps)),
  body: (p, caps) => {
    const s = streamGeom(caps);
    const loop = streamLoop(s, 'u.n');
    return `
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  ${loop.open}
    y[i] = ${zeroElem(p)}(0.0);
  }
}`;
  },
  cpu: (p, [y]: NumArray[]) => y.fill(0),
});

/** The range [lo, hi) of output positions along one axis whose window covers input position i. */
export function coveringRange(i: number, k: number, s: number, pad: number, outSize: number): [number, number] {
  const lo = i + pad < k ? 0 : Math.floor((i + pad - k) / s) + 1;
  const hi = Math.min(Math.floor((i + pad) / s) + 1, outSize);
  return [lo, hi];
}

export const maxPoolBackwardKernel = defineKernel<PoolGeom>({
  name: 'maxpool_bwd',
  spec: (p, caps) => `${geomKey(p)}:${layoutKey(poolLayout(p, caps))}`,
  // g [N,OH,OW], idx [N,OH,OW] int32, gx [N,H,W]
  storage: bwdStorage,
  uniforms: sizeFields,
  dispatch: (p, caps) => groups(poolLayout(p, caps), p.n * p.h, p.w),
  body: (p, caps) => {
    // at most ceil(k / s) outputs cover an input along each axis
    const my = Math.ceil(p.kh / p.sh);
    const mx = Math.ceil(p.kw / p.sw);
    const item = `
      let me = i32(ry * u.w + rx);
      // outputs whose window covers (ry, rx): oy in [oy0, oy1), ox in [ox0, ox1)
      let py = ry + ${p.ph}u;
      let px = rx + ${p.pw}u;
      let oy0 = select((py - ${p.kh}u) / ${p.sh}u + 1u, 0u, py < ${p.kh}u);
      let ox0 = select((px - ${p.kw}u) / ${p.sw}u + 1u, 0u, px < ${p.kw}u);
      let oy1 = min(py / ${p.sh}u + 1u, u.oh);
      let ox1 = min(px / ${p.sw}u + 1u, u.ow);
      let base = plane * u.oh * u.ow;
      // fixed trip counts and clamped indices: every lane runs the same loads (no divergent loops)
      var acc = 0.0;
      for (var dy = 0u; dy < ${my}u; dy++) {
        let oy = oy0 + dy;
        let row = base + min(oy, u.oh - 1u) * u.ow;
        for (var dx = 0u; dx < ${mx}u; dx++) {
          let ox = ox0 + dx;
          let k = row + min(ox, u.ow - 1u);
          let hit = oy < oy1 && ox < ox1 && idx[k] == me;
          acc += select(0.0, g[k], hit);
        }
      }
      gx[o] = acc;`;
    return `
${mainFor(poolLayout(p, caps), 'u.h', 'u.w', item)}`;
  },
  cpu: (p, [g, idx, gx]: NumArray[]) => {
    let i = 0;
    for (let n = 0; n < p.n; n++)
      for (let iy = 0; iy < p.h; iy++)
        for (let ix = 0; ix < p.w; ix++, i++) {
          const me = iy * p.w + ix;
          const [oy0, oy1] = coveringRange(iy, p.kh, p.sh, p.ph, p.oh);
          const [ox0, ox1] = coveringRange(ix, p.kw, p.sw, p.pw, p.ow);
          let acc = 0;
          for (let oy = oy0; oy < oy1; oy++)
            for (let ox = ox0; ox < ox1; ox++) {
              const o = (n * p.oh + oy) * p.ow + ox;
              if (idx[o] === me) acc += g[o];
            }
          gx[i] = acc;
        }
  },
});
