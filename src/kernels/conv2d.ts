// conv2d forward as an implicit GEMM (no im2col buffer; the im2col index math is in the B loader):
//   Y[b, g*Mg + co, p] = sum_{k=(ci,kh,kw)} W[g*Mg + co, k] * X[b, g*Cg + ci, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw]
//                        (+ bias) (ReLU)
// x: [B, Cin, H, W]; w: [Cout, Cin/G, KH, KW]; y: [B, Cout, OH, OW]; p = oh * OW + ow; G groups,
// Cg = Cin/G input and Mg = Cout/G output channels per group.
// GEMM: z = b, rows = co (M = Cout/G), cols = p (N = OH*OW), K = Cin/G*KH*KW split (ci, kh, kw);
// with G > 1 the groups are independent GEMMs side by side on the grid's y (`grouped` in gemm.ts).
// Groups and dilation change the WGSL only where they are used (spec flags ':g', ':d'); the plain
// convolution (G = 1, dilation 1) keeps its own WGSL and uniform struct.
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
  /** dilation per axis (tap kh reads input row oh*sh + kh*dh - ph) */
  dh: number;
  dw: number;
  /** channel groups: cin and cout are multiples of it; w is [cout, cin / groups, kh, kw] */
  groups: number;
  /** output size: (h + 2 ph - dh (kh - 1) - 1) / sh + 1, floored */
  oh: number;
  ow: number;
}

/** Output size along one axis (PyTorch's formula). */
export function convOutSize(size: number, k: number, s: number, p: number, d: number): number {
  return Math.floor((size + 2 * p - d * (k - 1) - 1) / s) + 1;
}

/** Whether the kernels need the grouped index math (G > 1). */
export const isGrouped = (g: Conv2dGeom): boolean => g.groups > 1;
/** Whether the kernels need the dilated index math (dilation > 1 on an axis). */
export const isDilated = (g: Conv2dGeom): boolean => g.dh > 1 || g.dw > 1;
/** Spec flags of the grouped / dilated variants ('' for the plain convolution). */
export const geomSpec = (g: Conv2dGeom): string => `${isGrouped(g) ? ':g' : ''}${isDilated(g) ? ':d' : ''}`;

export interface Conv2dParams extends Conv2dGeom, GemmChoice {
  /** A bias binding (length Cout) follows W. */
  bias: boolean;
  relu: boolean;
}

/** The geometry fields every conv kernel's uniform struct starts with (this order); the grouped
 * or dilated variants add dilation and groups after them. */
export function geomFields(g: Conv2dGeom): UField[] {
  const f = [
    u32('batch', g.batch), u32('cin', g.cin), u32('h', g.h), u32('w', g.w), u32('cout', g.cout),
    u32('kh', g.kh), u32('kw', g.kw), u32('sh', g.sh), u32('sw', g.sw), u32('ph', g.ph), u32('pw', g.pw),
    u32('oh', g.oh), u32('ow', g.ow),
  ];
  if (isGrouped(g) || isDilated(g)) f.push(u32('dh', g.dh), u32('dw', g.dw), u32('groups', g.groups));
  return f;
}

/** WGSL helper: one zero-padded input element X[base + ih * W + iw] (0 outside the image). */
export const LOAD_X = `
fn ldX(base: u32, ih: i32, iw: i32) -> f32 {
  let ok = (u32(ih) < u.h) & (u32(iw) < u.w);
  return select(0.0, X[select(0u, base + u32(ih) * u.w + u32(iw), ok)], ok);
}`;

/** Output channels per group (the GEMM's M) and input channels per group. */
export const coutPer = (g: Conv2dGeom): number => g.cout / g.groups;
export const cinPer = (g: Conv2dGeom): number => g.cin / g.groups;

/** W rows ([Cout, K] with K = Cin/G*KH*KW) are 16-byte aligned: load 4 taps at once. */
const vecW = (p: Conv2dParams) => (cinPer(p) * p.kh * p.kw) % 4 === 0;

function desc(p: Conv2dParams): GemmDesc {
  const ow = outWidth(p, coutPer(p), p.oh * p.ow);
  const wv = vecW(p) ? 4 : 1;
  const grouped = isGrouped(p);
  // A = W as [Cout, K] row-major; a group's rows start at row grp * M
  const wRow = (i: string) => (grouped ? `(grp * M + ${i})` : i);
  const A: Operand = { setup: (i, s) => `let w_${s} = ${wRow(i)} * K;`, load: (s, k) => elem('W', `w_${s} + ${k.k}`, wv), fast: 'k' };
  if (wv === 4) A.vecK = (s, k) => `W[(w_${s} + ${k.k}) / 4u]`;
  // taps kh, kw are dh, dw input rows / columns apart
  const [tapH, tapW] = isDilated(p) ? [(k: string) => `${k} * u.dh`, (k: string) => `${k} * u.dw`] : [(k: string) => k, (k: string) => k];
  return {
    helpers: LOAD_X,
    // x offset of the image (and of the group's first input channel, K0 = Cin/G)
    prelude: grouped ? 'let hw = u.h * u.w;' : 'let hw = u.h * u.w; let xOff = z * u.cin * hw;',
    grouped: grouped ? { prelude: 'let xOff = (z * u.cin + grp * K0) * hw;' } : undefined,
    m: grouped ? 'u.cout / u.groups' : 'u.cout',
    n: 'u.oh * u.ow',
    kDims: [grouped ? 'u.cin / u.groups' : 'u.cin', 'u.kh', 'u.kw'],
    kSplit: true,
    A,
    // B = im2col(X): column p -> top-left input corner of its window
    B: {
      setup: (i, s) => `let oh_${s} = ${i} / u.ow;
  let ih_${s} = i32(oh_${s} * u.sh) - i32(u.ph);
  let iw_${s} = i32((${i} - oh_${s} * u.ow) * u.sw) - i32(u.pw);`,
      load: (s, k) => `ldX(xOff + ${k.k0} * hw, ih_${s} + i32(${tapH(k.k1)}), iw_${s} + i32(${tapW(k.k2)}))`,
      fast: 'i',
    },
    ...rowMajorStore('Y', grouped ? '(z * u.cout + grp * M) * N' : 'z * M * N', ow),
    bias: p.bias ? 'row' : null,
    biasOffset: grouped ? 'grp * M' : undefined,
    relu: p.relu,
  };
}

export const conv2dKernel = defineKernel<Conv2dParams>({
  name: 'conv2d',
  spec: (p) =>
    `${gemmSpec(p, coutPer(p))}${vecW(p) ? ':v4' : ''}:o${outWidth(p, coutPer(p), p.oh * p.ow)}${p.bias ? '+b' : ''}${p.relu ? '+relu' : ''}${geomSpec(p)}`,
  storage: (p) => [
    read('X'),
    read('W', vecW(p) ? 'vec4<f32>' : 'f32'),
    ...(p.bias ? [read('bias')] : []),
    rw('Y', vecType(outWidth(p, coutPer(p), p.oh * p.ow))),
  ],
  uniforms: (p) => geomFields(p),
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('conv2d', p, desc(p), coutPer(p), caps),
  dispatch: (p) => {
    const [gx, gy] = gemmGroups(p, coutPer(p), p.oh * p.ow);
    return [gx, gy * p.groups, p.batch];
  },
  cpu: (p, bufs: NumArray[]) => {
    const [X, W] = bufs;
    const bias = p.bias ? bufs[2] : null;
    const Y = bufs[p.bias ? 3 : 2];
    const { cin, h, w, cout, kh, kw, oh, ow } = p;
    const cg = cinPer(p);
    const mg = coutPer(p);
    for (let b = 0; b < p.batch; b++)
      for (let co = 0; co < cout; co++)
        for (let y = 0; y < oh; y++)
          for (let x = 0; x < ow; x++) {
            let acc = 0;
            const c0 = Math.floor(co / mg) * cg; // the group's first input channel
            for (let ci = 0; ci < cg; ci++)
              for (let i = 0; i < kh; i++) {
                const ih = y * p.sh + i * p.dh - p.ph;
                if (ih < 0 || ih >= h) continue;
                for (let j = 0; j < kw; j++) {
                  const iw = x * p.sw + j * p.dw - p.pw;
                  if (iw < 0 || iw >= w) continue;
                  acc += W[((co * cg + ci) * kh + i) * kw + j] * X[((b * cin + c0 + ci) * h + ih) * w + iw];
                }
              }
            if (bias) acc += bias[co];
            if (p.relu && acc < 0) acc = 0;
            Y[((b * cout + co) * oh + y) * ow + x] = acc;
          }
  },
});
