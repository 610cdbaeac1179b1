// conv2d backward kernels, implicit GEMMs on the gemm.ts cores (no im2col buffers). Inputs with
// few channels per group (and several times as many output channels) take the column-gradient
// path of conv2d_col.ts for dX instead (`useColGrad` in src/policy/conv_choice.ts). With G > 1 channel groups every GEMM below is one
// independent GEMM per group, side by side on the grid's y (`grouped` in gemm.ts); Cg = Cin/G and
// Mg = Cout/G are the channels per group, ci / co below index within the group.
//
// Input gradient dX[b, ci, ih, iw] = sum_{co,kh,kw} W[co, ci, kh, kw] * dY[b, co, oh, ow] over the taps
// with oh*sh + kh*dh = ih + ph (same for w). With stride > 1 only some taps reach a given input
// row, so the input pixels are split into sh*sw residue classes (rh, rw) = ((ih+ph) mod sh, (iw+pw) mod sw),
// one launch each. Within a class the taps are kh = kh0 + ksh*jh (kh0: the first tap with
// kh*dh = rh mod sh; ksh = sh / gcd(sh, dh)) and oh = th - odh*jh (odh = dh / gcd(sh, dh)), with
// th = (ih + ph - kh0*dh) / sh: a dense GEMM with no wasted taps. Without dilation kh0 = rh, ksh = sh,
// odh = 1. GEMM: z = b, rows = ci (M = Cg), cols = the class's pixels q = qh*QW + qw
// (ih = ih0 + sh*qh), K = (jh, jw, co) (co < Mg). Every pixel is in exactly one class, so the
// launches together write all of dX (classes without taps write zeros). The weight is read
// transposed, Wt = [Cg, KH, KW, Cout] (a small copy made by `weightTransposeKernel`), so 4
// consecutive output channels are one vec4.
//
// Weight gradient dW[co, ci, kh, kw] = sum_{b,oh,ow} dY[b, co, oh, ow] * X[b, ci, oh*sh+kh*dh-ph, ow*sw+kw*dw-pw]
// GEMM: rows = co (M = Mg), cols = (ci, kh, kw) (N = Cg*KH*KW), K = (b, oh, ow). The batch can be
// split over z (`bPer` images each) into partial sums [splits, Cout, N] that the caller reduces.
// x: [B, Cin, H, W]; w: [Cout, Cg, KH, KW]; dY: [B, Cout, OH, OW].
import type { NumArray } from './kernel.ts';
import { type UField, defineKernel, i32, read, rw, u32 } from './shader.ts';
import {
  type GemmChoice, type GemmDesc, type KIdx, type Operand,
  elem, gemmBody, gemmEnables, gemmGroups, gemmSpec, outWidth, rowMajorStore, vecType,
} from './gemm.ts';
import {
  type Conv2dGeom, LOAD_X, cinPer, coutPer, geomFields, geomSpec, isDilated, isGrouped,
} from './conv2d.ts';

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
  /** taps per axis: kh = kh0 + ksh * jh, jh < JH */
  jh: number;
  jw: number;
  /** first tap and tap step per axis (without dilation: rh and sh) */
  kh0: number;
  kw0: number;
  ksh: number;
  ksw: number;
  /** output-row step per tap step: oh = th - odh * jh (without dilation: 1) */
  odh: number;
  odw: number;
  /** th for qh = 0: (ih0 + ph - kh0*dh) / sh (negative only with dilation) */
  th0: number;
  tw0: number;
}

export interface Conv2dInputGradParams extends Conv2dGeom, GemmChoice {
  cls: InputGradClass;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Residue class r along one axis (stride s, padding p, dilation d, input size, kernel size k). */
function axisClass(r: number, s: number, p: number, d: number, size: number, k: number) {
  const i0 = (((r - p) % s) + s) % s;
  // taps t with t*d = r (mod s): none unless gcd(s, d) divides r, else t = t0 + (s/e)*j
  const e = gcd(s, d);
  const ks = s / e;
  let k0 = -1;
  if (r % e === 0) for (let t = 0; t < ks; t++) if ((t * d) % s === r) { k0 = t; break; }
  const j = k0 >= 0 && k0 < k ? Math.ceil((k - k0) / ks) : 0;
  const kf = Math.max(k0, 0);
  return {
    i0,
    q: i0 < size ? Math.ceil((size - i0) / s) : 0,
    j,
    k0: kf,
    ks,
    od: d / e,
    t0: (i0 + p - kf * d) / s,
  };
}

/** The sh*sw residue classes that have pixels (each needs one launch). */
export function inputGradClasses(g: Conv2dGeom): InputGradClass[] {
  const out: InputGradClass[] = [];
  for (let rh = 0; rh < g.sh; rh++)
    for (let rw = 0; rw < g.sw; rw++) {
      const a = axisClass(rh, g.sh, g.ph, g.dh, g.h, g.kh);
      const b = axisClass(rw, g.sw, g.pw, g.dw, g.w, g.kw);
      if (a.q === 0 || b.q === 0) continue;
      out.push({
        rh, rw, ih0: a.i0, iw0: b.i0, qh: a.q, qw: b.q, jh: a.j, jw: b.j,
        kh0: a.k0, kw0: b.k0, ksh: a.ks, ksw: b.ks, odh: a.od, odw: b.od,
        // th0 is an integer (an empty class's value is unused)
        th0: a.j ? a.t0 : 0, tw0: b.j ? b.t0 : 0,
      });
    }
  return out;
}

/** Uniform fields of one residue class (after the geometry). The dilated variant has its own
 * list: the first taps and steps, and th0 / tw0 signed. */
export function classFields(c: InputGradClass, dilated: boolean): UField[] {
  if (dilated)
    return [
      u32('ih0', c.ih0), u32('iw0', c.iw0), u32('qh', c.qh), u32('qw', c.qw), u32('jh', c.jh), u32('jw', c.jw),
      u32('kh0', c.kh0), u32('kw0', c.kw0), u32('ksh', c.ksh), u32('ksw', c.ksw), u32('odh', c.odh), u32('odw', c.odw),
      i32('th0', c.th0), i32('tw0', c.tw0),
    ];
  return [
    u32('rh', c.rh), u32('rw', c.rw), u32('ih0', c.ih0), u32('iw0', c.iw0), u32('qh', c.qh), u32('qw', c.qw),
    u32('jh', c.jh), u32('jw', c.jw), u32('th0', c.th0), u32('tw0', c.tw0),
  ];
}

/** Wt rows ([.., Cout]) are 16-byte aligned and a group's channels start on a multiple of 4: load
 * 4 output channels at once. */
export const vecCout = (p: Conv2dGeom) => coutPer(p) % 4 === 0;

function inputGradDesc(p: Conv2dInputGradParams): GemmDesc {
  const wv = vecCout(p) ? 4 : 1;
  const grouped = isGrouped(p);
  const dilated = isDilated(p);
  // A(ci, (jh, jw, co)) = Wt[ci, kh0 + ksh*jh, kw0 + ksw*jw, grp*Mg + co]
  const tap = dilated
    ? (k: KIdx) => `(u.kh0 + u.ksh * ${k.k0}) * u.kw + u.kw0 + u.ksw * ${k.k1}`
    : (k: KIdx) => `(u.rh + u.sh * ${k.k0}) * u.kw + u.rw + u.sw * ${k.k1}`;
  const wIdx = (s: string, k: KIdx) => `(w_${s} + ${tap(k)}) * u.cout + ${grouped ? `grp * K2 + ${k.k2}` : k.k2}`;
  const A: Operand = { setup: (i, s) => `let w_${s} = ${i} * KK;`, load: (s, k) => elem('WT', wIdx(s, k), wv), fast: 'k' };
  if (wv === 4) A.vecK = (s, k) => `WT[(${wIdx(s, k)}) / 4u]`;
  // B((jh, jw, co), q) = dY[b, grp*Mg + co, th - odh*jh, tw - odw*jw]
  const bSetup = dilated
    ? (i: string, s: string) => `let qh_${s} = ${i} / u.qw;
  let th_${s} = u.th0 + i32(qh_${s});
  let tw_${s} = u.tw0 + i32(${i} - qh_${s} * u.qw);`
    : (i: string, s: string) => `let qh_${s} = ${i} / u.qw;
  let th_${s} = i32(u.th0 + qh_${s});
  let tw_${s} = i32(u.tw0 + ${i} - qh_${s} * u.qw);`;
  const bLoad = dilated
    ? (s: string, k: KIdx) => `ldG(gOff + ${k.k2} * ohw, th_${s} - i32(${k.k0} * u.odh), tw_${s} - i32(${k.k1} * u.odw))`
    : (s: string, k: KIdx) => `ldG(gOff + ${k.k2} * ohw, th_${s} - i32(${k.k0}), tw_${s} - i32(${k.k1}))`;
  const dxRow = (row: string) => (grouped ? `z * u.cin + grp * M + ${row}` : `z * u.cin + ${row}`);
  return {
    helpers: `
fn ldG(base: u32, oh: i32, ow: i32) -> f32 {
  let ok = (u32(oh) < u.oh) & (u32(ow) < u.ow);
  return select(0.0, G[select(0u, base + u32(oh) * u.ow + u32(ow), ok)], ok);
}`,
    prelude: grouped ? 'let ohw = u.oh * u.ow; let KK = u.kh * u.kw;' : 'let ohw = u.oh * u.ow; let KK = u.kh * u.kw; let gOff = z * u.cout * ohw;',
    // dY offset of the image and the group's first output channel (K2 = Mg)
    grouped: grouped ? { prelude: 'let gOff = (z * u.cout + grp * K2) * ohw;' } : undefined,
    m: grouped ? 'u.cin / u.groups' : 'u.cin',
    n: 'u.qh * u.qw',
    kDims: ['u.jh', 'u.jw', grouped ? 'u.cout / u.groups' : 'u.cout'],
    kSplit: true,
    A,
    B: { setup: bSetup, load: bLoad, fast: 'i' },
    store: (row, col, v) =>
      `{ let q = ${col}; let qh = q / u.qw; DX[((${dxRow(row)}) * u.h + u.ih0 + qh * u.sh) * u.w + u.iw0 + (q - qh * u.qw) * u.sw] = ${v}; }`,
  };
}

export const conv2dInputGradKernel = defineKernel<Conv2dInputGradParams>({
  name: 'conv2d_input_grad',
  spec: (p) => `${gemmSpec(p, cinPer(p))}${vecCout(p) ? ':v4' : ''}${geomSpec(p)}`,
  storage: (p) => [read('WT', vecType(vecCout(p) ? 4 : 1)), read('G'), rw('DX')],
  uniforms: (p) => [...geomFields(p), ...classFields(p.cls, isDilated(p))],
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('conv2d_input_grad', p, inputGradDesc(p), cinPer(p), caps),
  dispatch: (p) => {
    const [gx, gy] = gemmGroups(p, cinPer(p), p.cls.qh * p.cls.qw);
    return [gx, gy * p.groups, p.batch];
  },
  cpu: (p, [WT, G, DX]: NumArray[]) => {
    const { cin, h, w, cout, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw } = p;
    const c = p.cls;
    const cg = cinPer(p);
    const mg = coutPer(p);
    for (let b = 0; b < p.batch; b++)
      for (let ci = 0; ci < cin; ci++)
        for (let ih = c.ih0; ih < h; ih += sh)
          for (let iw = c.iw0; iw < w; iw += sw) {
            let acc = 0;
            const grp = Math.floor(ci / cg);
            for (let co = grp * mg; co < (grp + 1) * mg; co++)
              for (let jh = 0; jh < c.jh; jh++) {
                const i = c.kh0 + c.ksh * jh;
                const y = (ih + ph - i * dh) / sh;
                if (y < 0 || y >= oh) continue;
                for (let jw = 0; jw < c.jw; jw++) {
                  const j = c.kw0 + c.ksw * jw;
                  const x = (iw + pw - j * dw) / sw;
                  if (x < 0 || x >= ow) continue;
                  acc += WT[(((ci - grp * cg) * kh + i) * kw + j) * cout + co] * G[((b * cout + co) * oh + y) * ow + x];
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
  const ow = outWidth(p, coutPer(p), cinPer(p) * p.kh * p.kw);
  const grouped = isGrouped(p);
  const dilated = isDilated(p);
  // A(co, (b, oh, ow)) = dY[b0 + b, grp*Mg + co, oh, ow]
  const gIdx = (s: string, k: KIdx) => `(b0 + ${k.k0}) * u.cout * ohw + g_${s} + ${k.k1} * u.ow + ${k.k2}`;
  const A: Operand = {
    setup: (i, s) => `let g_${s} = ${grouped ? `(grp * M + ${i})` : i} * ohw;`,
    load: (s, k) => elem('G', gIdx(s, k), gv),
    fast: 'k',
  };
  if (gv === 4) A.vecK = (s, k) => `G[(${gIdx(s, k)}) / 4u]`;
  // the tap's input offset: kh*dh - ph (dilated) or kh - ph
  const [tapH, tapW] = dilated ? [(k: string) => `${k} * u.dh`, (k: string) => `(${k}) * u.dw`] : [(k: string) => k, (k: string) => k];
  return {
    helpers: LOAD_X,
    prelude: 'let b0 = z * u.bPer; let ohw = u.oh * u.ow; let KK = u.kh * u.kw; let hw = u.h * u.w;',
    m: grouped ? 'u.cout / u.groups' : 'u.cout',
    n: grouped ? '(u.cin / u.groups) * KK' : 'u.cin * KK',
    kDims: ['min(u.bPer, u.batch - b0)', 'u.oh', 'u.ow'],
    kSplit: true,
    grouped: grouped ? { prelude: 'let ci0 = grp * (N / KK);' } : undefined,
    A,
    // B((b, oh, ow), (ci, kh, kw)) = X[b0 + b, grp*Cg + ci, oh*sh + kh*dh - ph, ow*sw + kw*dw - pw]
    B: {
      setup: (i, s) => `let ci_${s} = ${i} / KK;
  let r_${s} = ${i} - ci_${s} * KK;
  let khh_${s} = r_${s} / u.kw;
  let hb_${s} = i32(${tapH(`khh_${s}`)}) - i32(u.ph);
  let wb_${s} = i32(${tapW(`r_${s} - khh_${s} * u.kw`)}) - i32(u.pw);
  let xc_${s} = ${grouped ? `(ci0 + ci_${s})` : `ci_${s}`} * hw;`,
      load: (s, k) =>
        `ldX((b0 + ${k.k0}) * u.cin * hw + xc_${s}, hb_${s} + i32(${k.k1} * u.sh), wb_${s} + i32(${k.k2} * u.sw))`,
      fast: 'k',
    },
    ...rowMajorStore('DW', grouped ? '(z * u.cout + grp * M) * N' : 'z * M * N', ow),
  };
}

export const conv2dWeightGradKernel = defineKernel<Conv2dWeightGradParams>({
  name: 'conv2d_weight_grad',
  spec: (p) => `${gemmSpec(p, coutPer(p))}${vecG(p) ? ':v4' : ''}:o${outWidth(p, coutPer(p), cinPer(p) * p.kh * p.kw)}${geomSpec(p)}`,
  storage: (p) => [read('X'), read('G', vecG(p) ? 'vec4<f32>' : 'f32'), rw('DW', vecType(outWidth(p, coutPer(p), cinPer(p) * p.kh * p.kw)))],
  uniforms: (p) => [...geomFields(p), u32('bPer', p.bPer)],
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('conv2d_weight_grad', p, weightGradDesc(p), coutPer(p), caps),
  dispatch: (p) => {
    const [gx, gy] = gemmGroups(p, coutPer(p), cinPer(p) * p.kh * p.kw);
    return [gx, gy * p.groups, weightGradSplits(p)];
  },
  cpu: (p, [X, G, DW]: NumArray[]) => {
    const { cin, h, w, cout, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw } = p;
    const cg = cinPer(p);
    const mg = coutPer(p);
    const n = cg * kh * kw;
    const splits = weightGradSplits(p);
    for (let z = 0; z < splits; z++)
      for (let co = 0; co < cout; co++)
        for (let ci = 0; ci < cg; ci++)
          for (let i = 0; i < kh; i++)
            for (let j = 0; j < kw; j++) {
              let acc = 0;
              const cx = Math.floor(co / mg) * cg + ci; // input channel of (co, ci)
              for (let b = z * p.bPer; b < Math.min(p.batch, (z + 1) * p.bPer); b++)
                for (let y = 0; y < oh; y++) {
                  const ih = y * sh + i * dh - ph;
                  if (ih < 0 || ih >= h) continue;
                  for (let x = 0; x < ow; x++) {
                    const iw = x * sw + j * dw - pw;
                    if (iw < 0 || iw >= w) continue;
                    acc += G[((b * cout + co) * oh + y) * ow + x] * X[((b * cin + cx) * h + ih) * w + iw];
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
