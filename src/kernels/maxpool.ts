// 2-D max pooling over planes: x [N, H, W] (N = batch * channels) -> y [N, OH, OW], with the argmax
// of each window as a flat index ih * W + iw into its input plane (int32, like PyTorch's indices).
// Padding is -infinity (it never wins); ties keep the first maximum in row-major window order;
// NaN wins and propagates (PyTorch's rule: `v > max || isnan(v)`).
// Backward gathers instead of scattering: one invocation per input element visits the (few) outputs
// whose windows contain it and sums the gradients whose argmax is that element, so overlapping
// windows (kernel 3, stride 2) need no atomics and the result is deterministic.
import { type KernelDef, type NumArray, linearIndex, linearGid } from './kernel.ts';

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
}

export interface MaxPoolParams extends PoolGeom {
  /** also write the argmax (needed only when a backward will run) */
  withIdx: boolean;
}

const WG = 128;
const geomWords = (p: PoolGeom) => [p.n, p.h, p.w, p.oh, p.ow, p.kh, p.kw, p.sh, p.sw, p.ph, p.pw];
const GEOM_STRUCT = 'n: u32, h: u32, w: u32, oh: u32, ow: u32, kh: u32, kw: u32, sh: u32, sw: u32, ph: u32, pw: u32';

/** Output size along one axis (floor mode, dilation 1). */
export function poolOut(size: number, k: number, s: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / s) + 1;
}

export const maxPoolKernel: KernelDef<MaxPoolParams> = {
  name: 'maxpool',
  spec: (p) => (p.withIdx ? 'idx' : ''),
  // x [N,H,W], y [N,OH,OW], idx [N,OH,OW] (int32, optional)
  bindings: (p) => (p.withIdx ? ['read', 'rw', 'rw'] : ['read', 'rw']),
  uniforms: geomWords,
  dispatch: (p) => Math.ceil((p.n * p.oh * p.ow) / WG),
  wgsl: (p) => `
@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> y: array<f32>;
${p.withIdx ? '@group(0) @binding(2) var<storage, read_write> idx: array<i32>;' : ''}
struct U { ${GEOM_STRUCT} }
@group(0) @binding(${p.withIdx ? 3 : 2}) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(${linearIndex(WG)}) {
  ${linearGid(WG)}
  if (gid >= u.n * u.oh * u.ow) { return; }
  let ox = gid % u.ow;
  let t = gid / u.ow;
  let oy = t % u.oh;
  let plane = t / u.oh;
  // window clipped to the image (padding never wins, so it is simply skipped)
  let y0 = i32(oy * u.sh) - i32(u.ph);
  let x0 = i32(ox * u.sw) - i32(u.pw);
  let ys = u32(max(y0, 0));
  let xs = u32(max(x0, 0));
  let ye = u32(min(y0 + i32(u.kh), i32(u.h)));
  let xe = u32(min(x0 + i32(u.kw), i32(u.w)));
  let base = plane * u.h * u.w;
  var best = -3.4028234663852886e38;
  var bi = ys * u.w + xs;
  var first = true;
  for (var iy = ys; iy < ye; iy++) {
    for (var ix = xs; ix < xe; ix++) {
      let i = iy * u.w + ix;
      let v = x[base + i];
      if (first || v > best || v != v) { best = v; bi = i; }
      first = false;
    }
  }
  y[gid] = best;
  ${p.withIdx ? 'idx[gid] = i32(bi);' : ''}
}`,
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
};

/** The range [lo, hi) of output positions along one axis whose window covers input position i. */
function coveringRange(i: number, k: number, s: number, pad: number, outSize: number): [number, number] {
  const lo = i + pad < k ? 0 : Math.floor((i + pad - k) / s) + 1;
  const hi = Math.min(Math.floor((i + pad) / s) + 1, outSize);
  return [lo, hi];
}

export const maxPoolBackwardKernel: KernelDef<PoolGeom> = {
  name: 'maxpool_bwd',
  spec: () => '',
  // g [N,OH,OW], idx [N,OH,OW] int32, gx [N,H,W]
  bindings: () => ['read', 'read', 'rw'],
  uniforms: geomWords,
  dispatch: (p) => Math.ceil((p.n * p.h * p.w) / WG),
  wgsl: () => `
@group(0) @binding(0) var<storage, read> g: array<f32>;
@group(0) @binding(1) var<storage, read> idx: array<i32>;
@group(0) @binding(2) var<storage, read_write> gx: array<f32>;
struct U { ${GEOM_STRUCT} }
@group(0) @binding(3) var<uniform> u: U;
@compute @workgroup_size(${WG})
fn main(${linearIndex(WG)}) {
  ${linearGid(WG)}
  if (gid >= u.n * u.h * u.w) { return; }
  let ix = gid % u.w;
  let t = gid / u.w;
  let iy = t % u.h;
  let plane = t / u.h;
  let me = i32(iy * u.w + ix);
  // outputs whose window covers (iy, ix): oy in [oy0, oy1), ox in [ox0, ox1)
  let py = iy + u.ph;
  let px = ix + u.pw;
  let oy0 = select((py - u.kh) / u.sh + 1u, 0u, py < u.kh);
  let ox0 = select((px - u.kw) / u.sw + 1u, 0u, px < u.kw);
  let oy1 = min(py / u.sh + 1u, u.oh);
  let ox1 = min(px / u.sw + 1u, u.ow);
  let base = plane * u.oh * u.ow;
  var acc = 0.0;
  for (var oy = oy0; oy < oy1; oy++) {
    for (var ox = ox0; ox < ox1; ox++) {
      let o = base + oy * u.ow + ox;
      if (idx[o] == me) { acc += g[o]; }
    }
  }
  gx[gid] = acc;
}`,
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
};
