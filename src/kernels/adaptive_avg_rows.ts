// Adaptive average pooling by rows, with the sizes baked into the WGSL: x [N, H, W] -> y [N, OH, OW]
// with PyTorch's bin edges (adaptive_pool.ts), for narrow planes whose sizes do not divide evenly
// (AlexNet's 13 x 13 -> 6 x 6). The generic kernels give each output (or input) its own bin loops,
// whose trip counts and bin edges differ from lane to lane; here
//   forward:  one invocation per run of `perLane` output rows (lavapipe pays per invocation);
//             each row (plane, oy) is a loop over the rows of its row bin, each input row's W
//             columns loaded once and added to the OW column-bin sums (unrolled, bins known at
//             compile time); y = sum / bin height / bin width;
//   backward: one invocation per run of `perLane` input rows; each row (plane, iy) is a loop over
//             the output rows whose bins contain it, each loading its OW values of g once, scaled
//             by 1 / bin height / bin width, and adding them to the W inputs under their column
//             bins (unrolled).
// Both add in the generic kernels' order (rows, then columns, ascending; the backward scales g
// first, as adaptiveAvgGradScaleKernel), so their CPU twins are adaptive_pool.ts's. The code grows with W + the column bins' total width: src/policy/pool_choice.ts
// keeps it to narrow planes.
import { type Caps, type NumArray, like } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import { adaptiveAvgGradScaleKernel, adaptivePoolBackwardKernel, adaptivePoolKernel, binEnd, binStart } from './adaptive_pool.ts';
import { rowLayout } from './stream.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';

/** Params of {@link adaptiveAvgRowsKernel} and {@link adaptiveAvgRowsBackwardKernel}. */
export interface AdaptiveAvgRowsParams {
  /** planes (batch * channels) */
  n: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  /** consecutive rows (forward: output rows, backward: input rows) each invocation takes in turn
   * (default 1) */
  perLane?: number;
}
const perLaneOf = (p: AdaptiveAvgRowsParams) => p.perLane ?? 1;

const rng = (n: number) => [...Array(n).keys()];
const wgOf = (caps: Caps) => rowLayout(caps).wg;
const generic = (p: AdaptiveAvgRowsParams) => ({ op: 'avg' as const, n: p.n, h: p.h, w: p.w, oh: p.oh, ow: p.ow });
const colBins = (p: AdaptiveAvgRowsParams) => rng(p.ow).map((ox) => [binStart(ox, p.ow, p.w), binEnd(ox, p.ow, p.w)] as const);

/** Pipeline key: the baked sizes and the workgroup width. */
const sizesKey = (p: AdaptiveAvgRowsParams, caps: Caps) => `${p.h}x${p.w}to${p.oh}x${p.ow}:wg${wgOf(caps)}k${perLaneOf(p)}`;
const planeCount = (p: AdaptiveAvgRowsParams) => [u32('n', p.n)];

/** Statements per row of the unrolled column work (loads and additions): the code size. */
export const adaptiveAvgRowsCost = (p: { w: number; ow: number }) =>
  p.w + rng(p.ow).reduce((s, ox) => s + binEnd(ox, p.ow, p.w) - binStart(ox, p.ow, p.w), 0);

/** WGSL bin edges along an axis of `inSize` split into `outSize` bins (both baked). */
const binFns = (name: string, outSize: number, inSize: number) => `
fn ${name}Start(i: u32) -> u32 { return (i * ${inSize}u) / ${outSize}u; }
fn ${name}End(i: u32) -> u32 { return ((i + 1u) * ${inSize}u + ${outSize - 1}u) / ${outSize}u; }`;

/**
 * Adaptive average pooling, one invocation per run of `perLane` output rows. Bindings: `x [N, H, W]`, `y [N, OH, OW]` (rw).
 */
export const adaptiveAvgRowsKernel = defineKernel<AdaptiveAvgRowsParams>({
  name: 'adaptive_avg_rows',
  spec: sizesKey,
  // x [N,H,W], y [N,OH,OW]
  storage: () => [read('x'), rw('y')],
  uniforms: planeCount,
  dispatch: (p, caps) => Math.ceil((p.n * p.oh) / perLaneOf(p) / wgOf(caps)),
  body: (p, caps) => {
    const K = perLaneOf(p);
    const bins = colBins(p);
    const adds = bins.map(([xs, xe], ox) => rng(xe - xs).map((b) => `a${ox} += c${xs + b};`).join(' '));
    return `
${binFns('rowBin', p.oh, p.h)}
@compute @workgroup_size(${wgOf(caps)})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(wgOf(caps))}
  for (var orow = gid * ${K}u; orow < min(gid * ${K}u + ${K}u, u.n * ${p.oh}u); orow++) {
  // orow = plane * OH + oy
  let oy = orow % ${p.oh}u;
  let ys = rowBinStart(oy);
  let ye = rowBinEnd(oy);
  ${rng(p.ow).map((ox) => `var a${ox} = 0.0;`).join(' ')}
  var row = (orow / ${p.oh}u) * ${p.h * p.w}u + ys * ${p.w}u;
  for (var iy = ys; iy < ye; iy++) {
    ${rng(p.w).map((ix) => `let c${ix} = x[row + ${ix}u];`).join(' ')}
    ${adds.join('\n    ')}
    row += ${p.w}u;
  }
  let bh = f32(ye - ys);
  ${bins.map(([xs, xe], ox) => `y[orow * ${p.ow}u + ${ox}u] = a${ox} / bh / ${xe - xs}.0;`).join('\n  ')}
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => adaptivePoolKernel.cpu(generic(p), bufs),
});

/**
 * The input gradient, one invocation per run of `perLane` input rows. Bindings: `g [N, OH, OW]`, `gx [N, H, W]` (rw).
 */
export const adaptiveAvgRowsBackwardKernel = defineKernel<AdaptiveAvgRowsParams>({
  name: 'adaptive_avg_rows_bwd',
  spec: sizesKey,
  // g [N,OH,OW], gx [N,H,W]
  storage: () => [read('g'), rw('gx')],
  uniforms: planeCount,
  dispatch: (p, caps) => Math.ceil((p.n * p.h) / perLaneOf(p) / wgOf(caps)),
  body: (p, caps) => {
    const K = perLaneOf(p);
    const bins = colBins(p);
    // input column ix lies in the column bins [binStart(ix, W, OW), binEnd(ix, W, OW))
    const adds = rng(p.w).map((ix) =>
      rng(binEnd(ix, p.w, p.ow) - binStart(ix, p.w, p.ow))
        .map((k) => `a${ix} += s${binStart(ix, p.w, p.ow) + k};`)
        .join(' '),
    );
    return `
${binFns('rowBin', p.oh, p.h)}
${binFns('cover', p.h, p.oh)}
@compute @workgroup_size(${wgOf(caps)})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(wgOf(caps))}
  for (var irow = gid * ${K}u; irow < min(gid * ${K}u + ${K}u, u.n * ${p.h}u); irow++) {
  // irow = plane * H + iy; the row bins containing iy: [coverStart(iy), coverEnd(iy))
  let iy = irow % ${p.h}u;
  let plane = irow / ${p.h}u;
  ${rng(p.w).map((ix) => `var a${ix} = 0.0;`).join(' ')}
  for (var oy = coverStart(iy); oy < coverEnd(iy); oy++) {
    let bh = f32(rowBinEnd(oy) - rowBinStart(oy));
    let gr = (plane * ${p.oh}u + oy) * ${p.ow}u;
    ${bins.map(([xs, xe], ox) => `let s${ox} = g[gr + ${ox}u] / bh / ${xe - xs}.0;`).join(' ')}
    ${adds.join('\n    ')}
  }
  ${rng(p.w).map((ix) => `gx[irow * ${p.w}u + ${ix}u] = a${ix};`).join('\n  ')}
  }
}`;
  },
  cpu: (p, [g, gx]: NumArray[]) => {
    const gs = like(g, g.length);
    adaptiveAvgGradScaleKernel.cpu(generic(p), [g, gs]);
    adaptivePoolBackwardKernel.cpu(generic(p), [gs, gx]);
  },
});
