// conv2d forward as an implicit GEMM (no im2col buffer; the im2col index math is in the B loader):
//   Y[b, co, p] = sum_{k=(ci,kh,kw)} W[co, k] * X[b, ci, oh*sh + kh - ph, ow*sw + kw - pw] (+ bias[co]) (ReLU)
// x: [B, Cin, H, W]; w: [Cout, Cin, KH, KW]; y: [B, Cout, OH, OW]; p = oh * OW + ow.
// GEMM: z = b, rows = co (M = Cout), cols = p (N = OH*OW), K = Cin*KH*KW split (ci, kh, kw).
import type { NumArray } from './kernel.ts';
import { type UField, defineKernel, read, rw, u32 } from './shader.ts';
import {
  type GemmChoice, type GemmDesc, type Operand,
  elem, gemmBody, gemmEnables, gemmGroups, gemmSpec, outWidth, rowMajorStore, vecType,
} from './gemm.ts';

/** Convolution geometry shared by the forward and both backward kernels. */
export interface Conv2dGeom {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  kh: number;
  kw: number;
  /** stride and zero padding, per axis */
  sh: number;
  sw: number;
  ph: number;
  pw: number;
  /** output size: (h + 2 ph - kh) / sh + 1, floored */
  oh: number;
  ow: number;
}

export interface Conv2dParams extends Conv2dGeom, GemmChoice {
  /** A bias binding (length Cout) follows W. */
  bias: boolean;
  relu: boolean;
}

/** The geometry fields every conv kernel's uniform struct starts with (this order). */
export function geomFields(g: Conv2dGeom): UField[] {
  return [
    u32('batch', g.batch), u32('cin', g.cin), u32('h', g.h), u32('w', g.w), u32('cout', g.cout),
    u32('kh', g.kh), u32('kw', g.kw), u32('sh', g.sh), u32('sw', g.sw), u32('ph', g.ph), u32('pw', g.pw),
    u32('oh', g.oh), u32('ow', g.ow),
  ];
}

/** WGSL helper: one zero-padded input element X[base + ih * W + iw] (0 outside the image). */
export const LOAD_X = `
fn ldX(base: u32, ih: i32, iw: i32) -> f32 {
  let ok = (u32(ih) < u.h) & (u32(iw) < u.w);
  return select(0.0, X[select(0u, base + u32(ih) * u.w + u32(iw), ok)], ok);
}`;

/** W rows ([Cout, K] with K = Cin*KH*KW) are 16-byte aligned: load 4 taps at once. */
const vecW = (p: Conv2dParams) => (p.cin * p.kh * p.kw) % 4 === 0;

function desc(p: Conv2dParams): GemmDesc {
  const ow = outWidth(p, p.cout, p.oh * p.ow);
  const wv = vecW(p) ? 4 : 1;
  // A = W as [Cout, K] row-major
  const A: Operand = { setup: (i, s) => `let w_${s} = ${i} * K;`, load: (s, k) => elem('W', `w_${s} + ${k.k}`, wv), fast: 'k' };
  if (wv === 4) A.vecK = (s, k) => `W[(w_${s} + ${k.k}) / 4u]`;
  return {
    helpers: LOAD_X,
    prelude: 'let hw = u.h * u.w; let xOff = z * u.cin * hw;',
    m: 'u.cout',
    n: 'u.oh * u.ow',
    kDims: ['u.cin', 'u.kh', 'u.kw'],
    kSplit: true,
    A,
    // B = im2col(X): column p -> top-left input corner of its window
    B: {
      setup: (i, s) => `let oh_${s} = ${i} / u.ow;
  let ih_${s} = i32(oh_${s} * u.sh) - i32(u.ph);
  let iw_${s} = i32((${i} - oh_${s} * u.ow) * u.sw) - i32(u.pw);`,
      load: (s, k) => `ldX(xOff + ${k.k0} * hw, ih_${s} + i32(${k.k1}), iw_${s} + i32(${k.k2}))`,
      fast: 'i',
    },
    ...rowMajorStore('Y', 'z * M * N', ow),
    bias: p.bias ? 'row' : null,
    relu: p.relu,
  };
}

export const conv2dKernel = defineKernel<Conv2dParams>({
  name: 'conv2d',
  spec: (p) => `${gemmSpec(p, p.cout)}${vecW(p) ? ':v4' : ''}:o${outWidth(p, p.cout, p.oh * p.ow)}${p.bias ? '+b' : ''}${p.relu ? '+relu' : ''}`,
  storage: (p) => [
    read('X'),
    read('W', vecW(p) ? 'vec4<f32>' : 'f32'),
    ...(p.bias ? [read('bias')] : []),
    rw('Y', vecType(outWidth(p, p.cout, p.oh * p.ow))),
  ],
  uniforms: (p) => geomFields(p),
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('conv2d', p, desc(p), p.cout, caps),
  dispatch: (p) => [...gemmGroups(p, p.cout, p.oh * p.ow), p.batch],
  cpu: (p, bufs: NumArray[]) => {
    const [X, W] = bufs;
    const bias = p.bias ? bufs[2] : null;
    const Y = bufs[p.bias ? 3 : 2];
    const { cin, h, w, cout, kh, kw, oh, ow } = p;
    for (let b = 0; b < p.batch; b++)
      for (let co = 0; co < cout; co++)
        for (let y = 0; y < oh; y++)
          for (let x = 0; x < ow; x++) {
            let acc = 0;
            for (let ci = 0; ci < cin; ci++)
              for (let i = 0; i < kh; i++) {
                const ih = y * p.sh + i - p.ph;
                if (ih < 0 || ih >= h) continue;
                for (let j = 0; j < kw; j++) {
                  const iw = x * p.sw + j - p.pw;
                  if (iw < 0 || iw >= w) continue;
                  acc += W[((co * cin + ci) * kh + i) * kw + j] * X[((b * cin + ci) * h + ih) * w + iw];
                }
              }
            if (bias) acc += bias[co];
            if (p.relu && acc < 0) acc = 0;
            Y[((b * cout + co) * oh + y) * ow + x] = acc;
          }
  },
});
