// conv2d input gradient for few input channels per group with several times as many output
// channels (`useColGrad` in src/policy/conv_choice.ts): the class GEMM of conv2d_backward.ts has
// M = Cin/G rows there and leaves most of a register tile idle (conv1: Cin = 1, Cout = 96), so dX
// goes through the column gradient instead, a chunk of `nb` images from `b0` at a time:
//   dCol[b, (g*Cg + ci,kh,kw), p] = sum_co Wt[(ci,kh,kw), g*Mg + co] * dY[b, g*Mg + co, p]
//       (GEMM per group g: M = Cg*KH*KW, N = OH*OW, K = Mg; groups side by side on the grid's y)
//   dX[b, ci, ih, iw] = sum over the taps of dCol at (oh, ow) = ((ih+ph-kh*dh)/sh, (iw+pw-kw*dw)/sw)  (col2im)
// dCol: [nb, Cin*KH*KW, OH*OW]; Wt = the weight transposed to [Cg*KH*KW, Cout] (weightTransposeKernel);
// G groups, Cg = Cin/G, Mg = Cout/G.
import type { NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import {
  type GemmChoice, type GemmDesc, type Operand,
  elem, gemmBody, gemmEnables, gemmGroups, gemmSpec, iWidths, outWidth, rowMajorStore, vecType,
} from './gemm.ts';
import { type Conv2dGeom, cinPer, coutPer, geomFields, geomSpec, isDilated, isGrouped } from './conv2d.ts';
import { type InputGradClass, classFields, vecCout } from './conv2d_backward.ts';

export interface Conv2dColGradParams extends Conv2dGeom, GemmChoice {
  /** first image of the chunk; the launch covers `nb` images on z */
  b0: number;
  nb: number;
}

/** Width of the dY loads across output pixels (the lanes core's columns per lane; 1 = scalar). */
/** The GEMM's M: column-gradient rows per group. */
const colRows = (p: Conv2dGeom) => cinPer(p) * p.kh * p.kw;

function gWidth(p: Conv2dColGradParams): number {
  const iw = iWidths(p, colRows(p)).b;
  return (p.oh * p.ow) % iw === 0 && iw > 1 ? iw : 1;
}

function colGradDesc(p: Conv2dColGradParams): GemmDesc {
  const wv = vecCout(p) ? 4 : 1;
  const grouped = isGrouped(p);
  // A((ci,kh,kw) = r, co) = Wt[r, grp*Mg + co]
  const wr = (i: string) => (grouped ? `${i} * u.cout + grp * K` : `${i} * u.cout`);
  const A: Operand = { setup: (i, s) => `let wr_${s} = ${wr(i)};`, load: (s, k) => elem('WT', `wr_${s} + ${k.k}`, wv), fast: 'k' };
  if (wv === 4) A.vecK = (s, k) => `WT[(wr_${s} + ${k.k}) / 4u]`;
  const ow = outWidth(p, colRows(p), p.oh * p.ow);
  const gv = gWidth(p);
  const B: Operand = {
    setup: (i, s) => `let gp_${s} = gOff + ${i};`,
    load: (s, k) => elem('G', `gp_${s} + ${k.k} * ohw`, gv),
    fast: 'i',
  };
  if (gv > 1) B.vecI = { w: gv, load: (s, k) => `G[(gp_${s} + ${k.k} * ohw) / ${gv}u]` };
  if (grouped)
    return {
      prelude: 'let ohw = u.oh * u.ow; let ckk = (u.cin / u.groups) * u.kh * u.kw;',
      // dY offset of the image and the group's first output channel (K = Mg)
      grouped: { prelude: 'let gOff = ((u.b0 + z) * u.cout + grp * K) * ohw;' },
      m: 'ckk',
      n: 'ohw',
      kDims: ['1u', '1u', 'u.cout / u.groups'],
      kSplit: false,
      A,
      // B(co, p) = dY[b0 + z, grp*Mg + co, p]
      B,
      ...rowMajorStore('COL', '(z * u.groups + grp) * M * N', ow),
    };
  return {
    prelude: 'let ohw = u.oh * u.ow; let ckk = u.cin * u.kh * u.kw; let gOff = (u.b0 + z) * u.cout * ohw;',
    m: 'ckk',
    n: 'ohw',
    kDims: ['1u', '1u', 'u.cout'],
    kSplit: false,
    A,
    // B(co, p) = dY[b0 + z, co, p]
    B,
    ...rowMajorStore('COL', 'z * M * N', ow),
  };
}

export const conv2dColGradKernel = defineKernel<Conv2dColGradParams>({
  name: 'conv2d_col_grad',
  spec: (p) => {
    const m = colRows(p);
    return `${gemmSpec(p, m)}:${(p.oh * p.ow) % iWidths(p, m).b === 0 ? 'v' : 's'}${outWidth(p, m, p.oh * p.ow)}${vecCout(p) ? 'w4' : ''}${geomSpec(p)}`;
  },
  storage: (p) => [
    read('WT', vecType(vecCout(p) ? 4 : 1)),
    read('G', vecType(gWidth(p))),
    rw('COL', vecType(outWidth(p, colRows(p), p.oh * p.ow))),
  ],
  uniforms: (p) => [...geomFields(p), u32('b0', p.b0)],
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('conv2d_col_grad', p, colGradDesc(p), colRows(p), caps),
  dispatch: (p) => {
    const [gx, gy] = gemmGroups(p, colRows(p), p.oh * p.ow);
    return [gx, gy * p.groups, p.nb];
  },
  cpu: (p, [WT, G, COL]: NumArray[]) => {
    const rows = colRows(p); // per group
    const mg = coutPer(p);
    const ohw = p.oh * p.ow;
    for (let z = 0; z < p.nb; z++)
      for (let grp = 0; grp < p.groups; grp++)
        for (let r = 0; r < rows; r++)
          for (let q = 0; q < ohw; q++) {
            let acc = 0;
            for (let co = grp * mg; co < (grp + 1) * mg; co++) acc += WT[r * p.cout + co] * G[((p.b0 + z) * p.cout + co) * ohw + q];
            COL[((z * p.groups + grp) * rows + r) * ohw + q] = acc;
          }
  },
});

export interface Col2imParams extends Conv2dGeom {
  b0: number;
  nb: number;
  /** the residue class of input pixels this launch writes (see inputGradClasses) */
  cls: InputGradClass;
}

const C2I_WG = 64;

/** col2im without dilation: the class's taps are kh = rh + sh*jh at output rows th - jh. */
const COL2IM = `
@compute @workgroup_size(${C2I_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let qw = gid.x;
  let qh = gid.y;
  if (qw >= u.qw) { return; }
  let zc = gid.z;                 // z * Cin + ci
  let ohw = u.oh * u.ow;
  // column gradient rows (ci, kh, kw) of image z start at (z * Cin + ci) * KH*KW
  let base = zc * u.kh * u.kw;
  let th = i32(u.th0 + qh);
  let tw = i32(u.tw0 + qw);
  var acc = 0.0;
  for (var jh = 0u; jh < u.jh; jh++) {
    let oh = th - i32(jh);
    let kh = u.rh + u.sh * jh;
    for (var jw = 0u; jw < u.jw; jw++) {
      let ow = tw - i32(jw);
      let ok = (u32(oh) < u.oh) & (u32(ow) < u.ow);
      let idx = (base + kh * u.kw + u.rw + u.sw * jw) * ohw + u32(oh) * u.ow + u32(ow);
      acc += select(0.0, COL[select(0u, idx, ok)], ok);
    }
  }
  DX[((u.b0 * u.cin + zc) * u.h + u.ih0 + qh * u.sh) * u.w + u.iw0 + qw * u.sw] = acc;
}`;

/** col2im with dilation: the class's first tap and steps come from its own uniform fields. */
const COL2IM_DILATED = `
@compute @workgroup_size(${C2I_WG})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let qw = gid.x;
  let qh = gid.y;
  if (qw >= u.qw) { return; }
  let zc = gid.z;                 // z * Cin + ci
  let ohw = u.oh * u.ow;
  // column gradient rows (ci, kh, kw) of image z start at (z * Cin + ci) * KH*KW
  let base = zc * u.kh * u.kw;
  let th = u.th0 + i32(qh);
  let tw = u.tw0 + i32(qw);
  var acc = 0.0;
  for (var jh = 0u; jh < u.jh; jh++) {
    let oh = th - i32(jh * u.odh);
    let kh = u.kh0 + u.ksh * jh;
    for (var jw = 0u; jw < u.jw; jw++) {
      let ow = tw - i32(jw * u.odw);
      let ok = (u32(oh) < u.oh) & (u32(ow) < u.ow);
      let idx = (base + kh * u.kw + u.kw0 + u.ksw * jw) * ohw + u32(oh) * u.ow + u32(ow);
      acc += select(0.0, COL[select(0u, idx, ok)], ok);
    }
  }
  DX[((u.b0 * u.cin + zc) * u.h + u.ih0 + qh * u.sh) * u.w + u.iw0 + qw * u.sw] = acc;
}`;

/** dX[b0 + z, ci, ih, iw] = sum of the column gradient over the taps that read (ih, iw), for the
 * pixels of one residue class: there the taps are kh = kh0 + ksh*jh at output rows th - odh*jh (the
 * same for every pixel; without dilation kh0 = rh, ksh = sh, odh = 1), so the loops are uniform,
 * with no per-tap division. The column gradient's rows are (ci, kh, kw) over all input channels,
 * whatever the groups. Dispatch: x over qw, y over qh, z over (image, ci). */
export const col2imKernel = defineKernel<Col2imParams>({
  name: 'conv2d_col2im',
  spec: (p) => geomSpec(p),
  storage: () => [read('COL'), rw('DX')],
  uniforms: (p) => [...geomFields(p), u32('b0', p.b0), ...classFields(p.cls, isDilated(p))],
  dispatch: (p) => [Math.ceil(p.cls.qw / C2I_WG), p.cls.qh, p.nb * p.cin],
  body: (p) => (isDilated(p) ? COL2IM_DILATED : COL2IM),
  cpu: (p, [COL, DX]: NumArray[]) => {
    const ohw = p.oh * p.ow;
    const kk = p.kh * p.kw;
    const c = p.cls;
    for (let zc = 0; zc < p.nb * p.cin; zc++)
      for (let qh = 0; qh < c.qh; qh++)
        for (let qw = 0; qw < c.qw; qw++) {
          let acc = 0;
          for (let jh = 0; jh < c.jh; jh++) {
            const oh = c.th0 + qh - c.odh * jh;
            if (oh < 0 || oh >= p.oh) continue;
            for (let jw = 0; jw < c.jw; jw++) {
              const ow = c.tw0 + qw - c.odw * jw;
              if (ow < 0 || ow >= p.ow) continue;
              acc += COL[(zc * kk + (c.kh0 + c.ksh * jh) * p.kw + c.kw0 + c.ksw * jw) * ohw + oh * p.ow + ow];
            }
          }
          DX[((p.b0 * p.cin + zc) * p.h + c.ih0 + qh * p.sh) * p.w + c.iw0 + qw * p.sw] = acc;
        }
  },
});
