// conv2d input gradient for few input channels (`useColGrad` in src/policy/conv_choice.ts): the
// class GEMM of conv2d_backward.ts has M = Cin rows there and leaves most of a register tile idle
// (conv1: Cin = 1), so dX goes through the column gradient instead, a chunk of `nb` images from
// `b0` at a time:
//   dCol[b, (ci,kh,kw), p] = sum_co Wt[(ci,kh,kw), co] * dY[b, co, p]   (GEMM: M = Cin*KH*KW, N = OH*OW, K = Cout)
//   dX[b, ci, ih, iw] = sum over the taps of dCol at (oh, ow) = ((ih+ph-kh)/sh, (iw+pw-kw)/sw)  (col2im)
// dCol: [nb, Cin*KH*KW, OH*OW]; Wt = the weight transposed to [Cin*KH*KW, Cout] (weightTransposeKernel).
import type { NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import {
  type GemmChoice, type GemmDesc, type Operand,
  elem, gemmBody, gemmEnables, gemmGroups, gemmSpec, iWidths, outWidth, rowMajorStore, vecType,
} from './gemm.ts';
import { type Conv2dGeom, geomFields } from './conv2d.ts';
import { type InputGradClass, classFields, vecCout } from './conv2d_backward.ts';

export interface Conv2dColGradParams extends Conv2dGeom, GemmChoice {
  /** first image of the chunk; the launch covers `nb` images on z */
  b0: number;
  nb: number;
}

/** Width of the dY loads across output pixels (the lanes core's columns per lane; 1 = scalar). */
function gWidth(p: Conv2dColGradParams): number {
  const iw = iWidths(p, p.cin * p.kh * p.kw).b;
  return (p.oh * p.ow) % iw === 0 && iw > 1 ? iw : 1;
}

function colGradDesc(p: Conv2dColGradParams): GemmDesc {
  const wv = vecCout(p) ? 4 : 1;
  // A((ci,kh,kw) = r, co) = Wt[r, co]
  const A: Operand = { setup: (i, s) => `let wr_${s} = ${i} * u.cout;`, load: (s, k) => elem('WT', `wr_${s} + ${k.k}`, wv), fast: 'k' };
  if (wv === 4) A.vecK = (s, k) => `WT[(wr_${s} + ${k.k}) / 4u]`;
  const ow = outWidth(p, p.cin * p.kh * p.kw, p.oh * p.ow);
  const gv = gWidth(p);
  const B: Operand = {
    setup: (i, s) => `let gp_${s} = gOff + ${i};`,
    load: (s, k) => elem('G', `gp_${s} + ${k.k} * ohw`, gv),
    fast: 'i',
  };
  if (gv > 1) B.vecI = { w: gv, load: (s, k) => `G[(gp_${s} + ${k.k} * ohw) / ${gv}u]` };
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
    const m = p.cin * p.kh * p.kw;
    return `${gemmSpec(p, m)}:${(p.oh * p.ow) % iWidths(p, m).b === 0 ? 'v' : 's'}${outWidth(p, m, p.oh * p.ow)}${vecCout(p) ? 'w4' : ''}`;
  },
  storage: (p) => [
    read('WT', vecType(vecCout(p) ? 4 : 1)),
    read('G', vecType(gWidth(p))),
    rw('COL', vecType(outWidth(p, p.cin * p.kh * p.kw, p.oh * p.ow))),
  ],
  uniforms: (p) => [...geomFields(p), u32('b0', p.b0)],
  enables: (p) => gemmEnables(p),
  body: (p, caps) => gemmBody('conv2d_col_grad', p, colGradDesc(p), p.cin * p.kh * p.kw, caps),
  dispatch: (p) => [...gemmGroups(p, p.cin * p.kh * p.kw, p.oh * p.ow), p.nb],
  cpu: (p, [WT, G, COL]: NumArray[]) => {
    const ckk = p.cin * p.kh * p.kw;
    const ohw = p.oh * p.ow;
    for (let z = 0; z < p.nb; z++)
      for (let r = 0; r < ckk; r++)
        for (let q = 0; q < ohw; q++) {
          let acc = 0;
          for (let co = 0; co < p.cout; co++) acc += WT[r * p.cout + co] * G[((p.b0 + z) * p.cout + co) * ohw + q];
          COL[(z * ckk + r) * ohw + q] = acc;
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

/** dX[b0 + z, ci, ih, iw] = sum of the column gradient over the taps that read (ih, iw), for the
 * pixels of one residue class: there the taps are kh = rh + sh*jh, kw = rw + sw*jw for every pixel
 * (uniform loops, no per-tap division). Dispatch: x over qw, y over qh, z over (image, ci). */
export const col2imKernel = defineKernel<Col2imParams>({
  name: 'conv2d_col2im',
  spec: () => '',
  storage: () => [read('COL'), rw('DX')],
  uniforms: (p) => [...geomFields(p), u32('b0', p.b0), ...classFields(p.cls)],
  dispatch: (p) => [Math.ceil(p.cls.qw / C2I_WG), p.cls.qh, p.nb * p.cin],
  body: () => `
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
}`,
  cpu: (p, [COL, DX]: NumArray[]) => {
    const ohw = p.oh * p.ow;
    const kk = p.kh * p.kw;
    const c = p.cls;
    for (let zc = 0; zc < p.nb * p.cin; zc++)
      for (let qh = 0; qh < c.qh; qh++)
        for (let qw = 0; qw < c.qw; qw++) {
          let acc = 0;
          for (let jh = 0; jh < c.jh; jh++) {
            const oh = c.th0 + qh - jh;
            if (oh < 0 || oh >= p.oh) continue;
            for (let jw = 0; jw < c.jw; jw++) {
              const ow = c.tw0 + qw - jw;
              if (ow < 0 || ow >= p.ow) continue;
              acc += COL[(zc * kk + (c.rh + p.sh * jh) * p.kw + c.rw + p.sw * jw) * ohw + oh * p.ow + ow];
            }
          }
          DX[((p.b0 * p.cin + zc) * p.h + c.ih0 + qh * p.sh) * p.w + c.iw0 + qw * p.sw] = acc;
        }
  },
});
