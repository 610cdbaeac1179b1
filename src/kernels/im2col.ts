// Explicit im2col for convolutions on small feature maps (see `useSmallMaps` in src/policy/conv_choice.ts):
//   colT[pix, k] = X[b, ci, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw] (0 in the padding)
// pix = b*OH*OW + oh*OW + ow (rows: output pixels of the whole batch), k = ci*KH*KW + kh*KW + kw.
// With colT, the convolution is a plain GEMM over the whole batch (N = B*OH*OW instead of OH*OW per
// image, so a 3x3 map no longer pads a 16- or 64-wide tile with idle columns), and both of its
// operands load as contiguous vec4 along K, without per-element padding checks.
// The buffer covers all input channels, whatever the groups (the small-map path itself serves
// groups = 1 only, see the policy). Also the weight flip used to express a stride-1 input gradient
// as a convolution.
import type { NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import { type Conv2dGeom, geomFields, geomSpec, isDilated } from './conv2d.ts';

const WG = 64;

export interface Im2colParams extends Conv2dGeom {
  /** false: colT [B*OH*OW, K] (row per pixel); true: col [K, B*OH*OW] (row per tap). */
  kMajor: boolean;
}

/** colT [B*OH*OW, Cin*KH*KW] (or col, its transpose: `kMajor`) from x [B, Cin, H, W]. One
 * invocation per (pixel, ci) writes that channel's KH*KW taps (uniform loops; the index division
 * is done once per invocation, not per element). Dispatch: x over pixels, y over ci. */
export const im2colKernel = defineKernel<Im2colParams>({
  name: 'conv2d_im2col',
  spec: (p) => `${p.kMajor ? 'k' : 'p'}${geomSpec(p)}`,
  storage: () => [read('X'), rw('COL')],
  uniforms: (g) => geomFields(g),
  dispatch: (g) => [Math.ceil((g.batch * g.oh * g.ow) / WG), g.cin, 1],
  body: (p) => `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let ohw = u.oh * u.ow;
  let P = u.batch * ohw;
  let pix = gid.x;
  if (pix >= P) { return; }
  let ci = gid.y;
  let KK = u.kh * u.kw;
  let b = pix / ohw;
  let p = pix - b * ohw;
  let oh = p / u.ow;
  let ow = p - oh * u.ow;
  let ih0 = i32(oh * u.sh) - i32(u.ph);
  let iw0 = i32(ow * u.sw) - i32(u.pw);
  let xb = (b * u.cin + ci) * u.h;
  // destination of tap 0 and the step between taps
  ${p.kMajor ? 'var dst = ci * KK * P + pix; let step = P;' : 'var dst = pix * u.cin * KK + ci * KK; let step = 1u;'}
  for (var i = 0u; i < u.kh; i++) {
    let ih = ih0 + i32(${isDilated(p) ? 'i * u.dh' : 'i'});
    let okh = u32(ih) < u.h;
    let row = (xb + u32(ih)) * u.w;
    for (var j = 0u; j < u.kw; j++) {
      let iw = iw0 + i32(${isDilated(p) ? 'j * u.dw' : 'j'});
      let ok = okh & (u32(iw) < u.w);
      COL[dst] = select(0.0, X[select(0u, row + u32(iw), ok)], ok);
      dst += step;
    }
  }
}`,
  cpu: (g, [X, COL]: NumArray[]) => {
    const K = g.cin * g.kh * g.kw;
    const P = g.batch * g.oh * g.ow;
    let pix = 0;
    for (let b = 0; b < g.batch; b++)
      for (let oh = 0; oh < g.oh; oh++)
        for (let ow = 0; ow < g.ow; ow++, pix++)
          for (let ci = 0; ci < g.cin; ci++)
            for (let i = 0; i < g.kh; i++)
              for (let j = 0; j < g.kw; j++) {
                const ih = oh * g.sh + i * g.dh - g.ph;
                const iw = ow * g.sw + j * g.dw - g.pw;
                const ok = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
                const k = (ci * g.kh + i) * g.kw + j;
                COL[g.kMajor ? k * P + pix : pix * K + k] = ok ? X[((b * g.cin + ci) * g.h + ih) * g.w + iw] : 0;
              }
  },
});

export interface FlipParams {
  cout: number;
  cin: number;
  kh: number;
  kw: number;
}

/** wf[ci, co, i, j] = w[co, ci, KH-1-i, KW-1-j] (the weight of the stride-1 input gradient seen as
 * a convolution of dY). One invocation per element of wf. */
export const weightFlipKernel = defineKernel<FlipParams>({
  name: 'conv2d_weight_flip',
  spec: () => '',
  storage: () => [read('W'), rw('WF')],
  uniforms: (p) => [u32('cout', p.cout), u32('cin', p.cin), u32('kh', p.kh), u32('kw', p.kw)],
  dispatch: (p) => [Math.ceil((p.cout * p.kh * p.kw) / WG), p.cin, 1],
  body: () => `
@compute @workgroup_size(${WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let KK = u.kh * u.kw;
  let e = gid.x;                 // co * KK + i * KW + j
  if (e >= u.cout * KK) { return; }
  let ci = gid.y;
  let co = e / KK;
  let r = e - co * KK;
  WF[ci * u.cout * KK + e] = W[(co * u.cin + ci) * KK + KK - 1u - r];
}`,
  cpu: (p, [W, WF]: NumArray[]) => {
    const KK = p.kh * p.kw;
    for (let ci = 0; ci < p.cin; ci++)
      for (let co = 0; co < p.cout; co++)
        for (let r = 0; r < KK; r++) WF[(ci * p.cout + co) * KK + r] = W[(co * p.cin + ci) * KK + KK - 1 - r];
  },
});
