// conv2d backward kernels, implicit GEMMs on the gemm.ts cores (no im2col buffers). Inputs with
// few channels take the column-gradient path of conv2d_col.ts for dX instead (`useColGrad` in
// src/policy/conv_choice.ts).
//
// Input gradient dX[b, ci, ih, iw] = sum_{co,kh,kw} W[co, ci, kh, kw] * dY[b, co, oh, ow] over the taps
// with oh*sh + kh = ih + ph (same for w). With stride > 1 only taps kh == (ih + ph) mod sh contribute,
// so the input pixels are split into sh*sw residue classes (rh, rw) = ((ih+ph) mod sh, (iw+pw) mod sw),
// one launch each: within a class kh = rh + sh*jh and oh = th - jh with th = (ih + ph - rh) / sh, a
// dense GEMM with no wasted taps. GEMM: z = b, rows = ci (M = Cin), cols = the class's pixels
// q = qh*QW + qw (ih = ih0 + sh*qh), K = (jh, jw, co). Every pixel is in exactly one class, so the
// launches together write all of dX. The weight is read transposed, Wt = [Cin, KH, KW, Cout] (a
// small copy made by `weightTransposeKernel`), so 4 consecutive output channels are one vec4.
//
// Weight gradient dW[co, ci, kh, kw] = sum_{b,oh,ow} dY[b, co, oh, ow] * X[b, ci, oh*sh+kh-ph, ow*sw+kw-pw]
// GEMM: rows = co (M = Cout), cols = (ci, kh, kw) (N = Cin*KH*KW), K = (b, oh, ow). The batch can be
// split over z (`bPer` images each) into partial sums [splits, Cout, N] that the caller reduces.
// x: [B, Cin, H, W]; w: [Cout, Cin, KH, KW]; dY: [B, Cout, OH, OW].
import type { NumArray } from './kernel.ts';
import { type UField, defineKernel, read, rw, u32 } from './shader.ts';
import {
  type GemmChoice, type GemmDesc, type KIdx, type Operand,
  elem, gemmBody, gemmEnables, gemmGroups, gemmSpec, outWidth, rowMajorStore, vecType,
} from './gemm.ts';
import { type Conv2dGeom, LOAD_X, geomFields } from './conv2d.ts';

// ---- input gradient ----

/** One residue class of input pixels and its taps. */
export interface InputGradClass {
  rh: number;
  rw: number;
  /** first input row / col of the class */
  ih0: number;
  iw0: number;
  /** class pixels per axis */
  qh: number;
  qw: number;
  /** taps per axis: kh = rh + sh * jh, jh < JH */
  jh: number;
  jw: number;
  /** th for qh = 0: (ih0 + ph - rh) / sh */
  th0: number;
  tw0: number;
}

export interface Conv2dInputGradParams extends Conv2dGeom, GemmChoice {
  cls: InputGradClass;
}

function axisClass(r: number, s: number, p: number, size: number, k: number) {
  const i0 = (((r - p) % s) + s) % s;
  return {
    i0,
    q: i0 < size ? Math.ceil((size - i0) / s) : 0,
    j: r < k ? Math.ceil((k - r) / s) : 0,
    t0: (i0 + p - r) / s,
  };
}

/** The sh*sw residue classes that have pixels (each needs one launch). */
export function inputGradClasses(g: Conv2dGeom): InputGradClass[] {
  const out: InputGradClass[] = [];
  for (let rh = 0; rh < g.sh; rh++)
    for (let rw = 0; rw < g.sw; rw++) {
      const a = axisClass(rh, g.sh, g.ph, g.h, g.kh);
      const b = axisClass(rw, g.sw, g.pw, g.w, g.kw);
      if (a.q === 0 || b.q === 0) continue;
      out.push({ rh, rw, ih0: a.i0, iw0: b.i0, qh: a.q, qw: b.q, jh: a.j, jw: b.j, th0: a.t0, tw0: b.t0 });
    }
  return out;
}

/** Uniform fields of one residue class (after the geometry). */
export function classFields(c: InputGradClass): UField[] {
  return [
    u32('rh', c.rh), u32('rw', c.rw), u32('ih0', c.ih0), u32('iw0', c.iw0), u32('qh', c.qh), u32('qw', c.qw),
    u32('jh', c.jh), u32('jw', c.jw), u32('th0', c.th0), u32('tw0', c.tw0),
  ];
}

/** Wt rows ([.., Cout]) are 16-byte aligned: load 4 output channels at once. */
export const vecCout = (p: Conv2dGeom) => p.cout % 4 === 0;

function inputGradDesc(p: Conv2dInputGradParams): GemmDesc {
  const wv = vecCout(p) ? 4 : 1;
  // A(ci, (jh, jw, co)) = Wt[ci, rh + sh*jh, rw + sw*jw, co]
  const wIdx = (s: string, k: KIdx) => `(w_${s} + (u.rh + u.sh * ${k.k0}) * u.kw + u.rw + u.sw * ${k.k1}) * u.cout + ${k.k2}`;
  const A: Operand = { setup: (i, s) => `let w_${s} = ${i} * KK;`, load: (s, k) => elem('WT', wIdx(s, k), wv), fast: 'k' };
  if (wv === 4) A.vecK = (s, k) => `WT[(${wIdx(s, k)}) / 4u]`;
  return {
    helpers: `
fn ldG(base: u32, oh: i32, ow: i32) -> f32 {
  let ok = (u32(oh) < u.oh) & (u32(ow) < u.ow);
  return select(0.0, G[select(0u, base + u32(oh) * u.ow + u32(ow), ok)], ok);
}`,
    prelude: 'let ohw = u.oh * u.ow; let KK = u.kh * u.kw; let gOff = z * u.cout * ohw;',
    m: 'u.cin',
    n: 'u.qh * u.qw',
    kDims: ['u.jh', 'u.jw', 'u.cout'],
    kSplit: true,
    A,
    // B((jh, jw, co), q) = dY[b, co, th - jh, tw - jw]
    B: {
      setup: (i, s) => `let qh_${s} = ${i} / u.qw;
  let th_${s} = i32(u.th0 + qh_${s});
  let tw_${s} = i32(u.tw0 + ${i} - qh_${s} * u.qw);`,
      load: (s, k) => `ldG(gOff + ${k.k2} * ohw, th_${s} - i32(${k.k0}), tw_${s} - i32(${k.k1}))`,
      fast: 'i',
    },
    store: (row, col, v) =>
      `{ let q = ${col}; let qh = q / u.qw; DX[((z * u.cin + ${row}) * u.h + u.ih0 + qh * u.sh) * u.w + u.iw0 + (q - qh * u.qw) * u.sw] = ${v}; }`,
  };
}

export const conv2dInputGradKernel = defineKernel<Conv2dInputGradParams>({
  name: 'conv2d_input_grad',
  spec: (p) => `${gemmSpec(p, p.cin)}${vecCout(p) ? ':v4' : ''}`,
  storage: (p) => [read('WT', vecType(vecCout(p) ? 4 : 1)), read('G'), rw('DX')],
  uniforms: (p) => [...geomFields(p), ...classFields(p.cls)],
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('conv2d_input_grad', p, inputGradDesc(p), p.cin, caps),
  dispatch: (p) => [...gemmGroups(p, p.cin, p.cls.qh * p.cls.qw), p.batch],
  cpu: (p, [WT, G, DX]: NumArray[]) => {
    const { cin, h, w, cout, kh, kw, oh, ow, sh, sw, ph, pw } = p;
    const c = p.cls;
    for (let b = 0; b < p.batch; b++)
      for (let ci = 0; ci < cin; ci++)
        for (let ih = c.ih0; ih < h; ih += sh)
          for (let iw = c.iw0; iw < w; iw += sw) {
            let acc = 0;
            for (let co = 0; co < cout; co++)
              for (let i = c.rh; i < kh; i += sh) {
                const y = (ih + ph - i) / sh;
                if (y < 0 || y >= oh) continue;
                for (let j = c.rw; j < kw; j += sw) {
                  const x = (iw + pw - j) / sw;
                  if (x < 0 || x >= ow) continue;
                  acc += WT[((ci * kh + i) * kw + j) * cout + co] * G[((b * cout + co) * oh + y) * ow + x];
                }
              }
            DX[((b * cin + ci) * h + ih) * w + iw] = acc;
          }
  },
});

// ---- weight gradient ----

export interface Conv2dWeightGradParams extends Conv2dGeom, GemmChoice {
  /** Images per split; the launch has ceil(batch / bPer) splits on z. */
  bPer: number;
}

export function weightGradSplits(p: Conv2dWeightGradParams): number {
  return Math.ceil(p.batch / p.bPer);
}

/** dY images are 16-byte aligned (OH*OW % 4 == 0): load 4 output pixels at once. */
const vecG = (p: Conv2dGeom) => (p.oh * p.ow) % 4 === 0;

function weightGradDesc(p: Conv2dWeightGradParams): GemmDesc {
  const gv = vecG(p) ? 4 : 1;
  const ow = outWidth(p, p.cout, p.cin * p.kh * p.kw);
  // A(co, (b, oh, ow)) = dY[b0 + b, co, oh, ow]
  const gIdx = (s: string, k: KIdx) => `(b0 + ${k.k0}) * u.cout * ohw + g_${s} + ${k.k1} * u.ow + ${k.k2}`;
  const A: Operand = { setup: (i, s) => `let g_${s} = ${i} * ohw;`, load: (s, k) => elem('G', gIdx(s, k), gv), fast: 'k' };
  if (gv === 4) A.vecK = (s, k) => `G[(${gIdx(s, k)}) / 4u]`;
  return {
    helpers: LOAD_X,
    prelude: 'let b0 = z * u.bPer; let ohw = u.oh * u.ow; let KK = u.kh * u.kw; let hw = u.h * u.w;',
    m: 'u.cout',
    n: 'u.cin * KK',
    kDims: ['min(u.bPer, u.batch - b0)', 'u.oh', 'u.ow'],
    kSplit: true,
    A,
    // B((b, oh, ow), (ci, kh, kw)) = X[b0 + b, ci, oh*sh + kh - ph, ow*sw + kw - pw]
    B: {
      setup: (i, s) => `let ci_${s} = ${i} / KK;
  let r_${s} = ${i} - ci_${s} * KK;
  let khh_${s} = r_${s} / u.kw;
  let hb_${s} = i32(khh_${s}) - i32(u.ph);
  let wb_${s} = i32(r_${s} - khh_${s} * u.kw) - i32(u.pw);
  let xc_${s} = ci_${s} * hw;`,
      load: (s, k) =>
        `ldX((b0 + ${k.k0}) * u.cin * hw + xc_${s}, hb_${s} + i32(${k.k1} * u.sh), wb_${s} + i32(${k.k2} * u.sw))`,
      fast: 'k',
    },
    ...rowMajorStore('DW', 'z * M * N', ow),
  };
}

export const conv2dWeightGradKernel = defineKernel<Conv2dWeightGradParams>({
  name: 'conv2d_weight_grad',
  spec: (p) => `${gemmSpec(p, p.cout)}${vecG(p) ? ':v4' : ''}:o${outWidth(p, p.cout, p.cin * p.kh * p.kw)}`,
  storage: (p) => [read('X'), read('G', vecG(p) ? 'vec4<f32>' : 'f32'), rw('DW', vecType(outWidth(p, p.cout, p.cin * p.kh * p.kw)))],
  uniforms: (p) => [...geomFields(p), u32('bPer', p.bPer)],
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('conv2d_weight_grad', p, weightGradDesc(p), p.cout, caps),
  dispatch: (p) => [...gemmGroups(p, p.cout, p.cin * p.kh * p.kw), weightGradSplits(p)],
  cpu: (p, [X, G, DW]: NumArray[]) => {
    const { cin, h, w, cout, kh, kw, oh, ow, sh, sw, ph, pw } = p;
    const n = cin * kh * kw;
    const splits = weightGradSplits(p);
    for (let z = 0; z < splits; z++)
      for (let co = 0; co < cout; co++)
        for (let ci = 0; ci < cin; ci++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              let acc = 0;
              for (let b = z * p.bPer; b < Math.min(p.batch, (z + 1) * p.bPer); b++)
                for (let y = 0; y < oh; y++) {
                  const ih = y * sh + i - ph;
                  if (ih < 0 || ih >= h) continue;
                  for (let x = 0; x < ow; x++) {
                    const iw = x * sw + j - pw;
                    if (iw < 0 || iw >= w) continue;
                    acc += G[((b * cout + co) * oh + y) * ow + x] * X[((b * cin + ci) * h + ih) * w + iw];
                  }
                }
              DW[(z * cout + co) * n + (ci * kh + i) * kw + j] = acc;
            }
  },
});

// ---- weight transpose for the input gradient ----

export interface TransposeParams {
  rows: number;
  cols: number;
}

const TT = 16;

/** out[c, r] = in[r, c] for in [rows, cols]: w [Cout, Cin*KH*KW] -> Wt [Cin*KH*KW, Cout]. 2-D
 * dispatch (no index division). */
export const weightTransposeKernel = defineKernel<TransposeParams>({
  name: 'conv2d_weight_t',
  spec: () => '',
  storage: () => [read('X'), rw('Y')],
  uniforms: (p) => [u32('rows', p.rows), u32('cols', p.cols)],
  dispatch: (p) => [Math.ceil(p.cols / TT), Math.ceil(p.rows / TT), 1],
  body: () => `
@compute @workgroup_size(${TT}, ${TT})
fn main(@builtin(global_invocation_id) g: vec3<u32>) {
  if (g.x < u.cols && g.y < u.rows) { Y[g.x * u.rows + g.y] = X[g.y * u.cols + g.x]; }
}`,
  cpu: (p, [X, Y]: NumArray[]) => {
    for (let r = 0; r < p.rows; r++) for (let c = 0; c < p.cols; c++) Y[c * p.rows + r] = X[r * p.cols + c];
  },
});
