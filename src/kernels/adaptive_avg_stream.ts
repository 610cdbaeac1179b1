// Adaptive average pooling streamed down packed plane groups, sizes baked into the WGSL: x [N, H, W]
// -> y [N, OH, OW] with PyTorch's bin edges (adaptive_pool.ts), for software adapters (lavapipe
// pays per load and per invocation, not per byte). An invocation takes `perLane` consecutive
// groups of G = 4 / gcd(H W, 4) planes (global_avgpool.ts's packing), which start and end on a
// vec4, and walks their rows in memory order; the G H rows of a group sit at float offsets
// q H W + iy W, whose place in a vec4, (q H W + iy W) % 4, picks one of at most four unrolled
// cases (the same case in every lane at once, since the lanes walk their groups in step).
//   forward:  each input row is loaded once, as the ceil((o + W) / 4) aligned vec4s covering it
//             (o: its place in the first), and summed over every column bin (h[ox], unrolled);
//             h goes into the open output row `cur` and, where the row is also in the next row bin,
//             into `cur + 1` (with OH <= H a row lies in at most two consecutive bins); the row
//             that ends bin `cur` writes y[cur] = sum / bin height / bin width, as aligned vec4s
//             with a carry (as the backward's stores) where a group's outputs fill whole vec4s.
//   backward: row iy of gx takes the scaled g rows of the bins covering it (one or two, held in
//             registers and loaded once each as the walk passes them): gx[iy, ix] = sum over those
//             rows and the column bins containing ix of g / bin height / bin width; stores are
//             aligned vec4s, the last partial vec4 of a row carried into the next row's first.
// Needs N % G == 0 and OH <= H (src/policy/pool_choice.ts checks; it also bounds the code size).
// Order of the additions: the forward sums each row's columns, then adds the rows (the twin adds
// the window's elements one by one: equal to rounding); the backward adds in the twin's order.
// The CPU twins are adaptive_pool.ts's.
import { type NumArray, like } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import { adaptiveAvgGradScaleKernel, adaptivePoolBackwardKernel, adaptivePoolKernel, binEnd, binStart } from './adaptive_pool.ts';
import { packGroup } from './global_avgpool.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';

/** Params of {@link adaptiveAvgStreamKernel} and {@link adaptiveAvgStreamBackwardKernel}. */
export interface AdaptiveAvgStreamParams {
  /** planes (batch * channels) */
  n: number;
  h: number;
  w: number;
  oh: number;
  ow: number;
  /** consecutive plane groups each invocation takes in turn */
  perLane: number;
}

/** Invocations per workgroup: lavapipe's SIMD width. */
const WG = 8;
const COMP = ['x', 'y', 'z', 'w'];
const rng = (n: number) => [...Array(n).keys()];
const generic = (p: AdaptiveAvgStreamParams) => ({ op: 'avg' as const, n: p.n, h: p.h, w: p.w, oh: p.oh, ow: p.ow });
const colBins = (p: { w: number; ow: number }) => rng(p.ow).map((ox) => [binStart(ox, p.ow, p.w), binEnd(ox, p.ow, p.w)] as const);

/** The places in a vec4 (0-3) at which the rows of a packed group start. */
export function streamRowOffsets(p: { h: number; w: number }): number[] {
  const hw = p.h * p.w;
  const offs = new Set(rng(packGroup(hw)).flatMap((q) => rng(p.h).map((iy) => (q * hw + iy * p.w) % 4)));
  return [...offs].sort((a, b) => a - b);
}

/** Why the streamed kernels cannot run this geometry (null: they can). */
export function adaptiveAvgStreamProblem(p: AdaptiveAvgStreamParams): string | null {
  const G = packGroup(p.h * p.w);
  if (p.n % G !== 0) return `a plane count that is a multiple of ${G}, got ${p.n}`;
  if (p.oh > p.h) return `output rows at most the input rows, got ${p.oh} > ${p.h}`;
  if (!(Number.isInteger(p.perLane) && p.perLane >= 1)) return `perLane >= 1, got ${p.perLane}`;
  return null;
}

function check(name: string, p: AdaptiveAvgStreamParams): void {
  const problem = adaptiveAvgStreamProblem(p);
  if (problem) throw new Error(`${name}: expected ${problem}`);
}

const key = (p: AdaptiveAvgStreamParams) => `${p.h}x${p.w}to${p.oh}x${p.ow}`;
// the plane and row loops run to uniforms, not constants: LLVM unrolls short constant loops
// completely, and with the row cases inside that took seconds to compile (lavapipe: [7, 9] -> [5, 4]
// forward 3.7 s)
const uniforms = (p: AdaptiveAvgStreamParams) => [u32('n', p.n), u32('per', p.perLane), u32('g', packGroup(p.h * p.w)), u32('h', p.h)];
const dispatch = (name: string) => (p: AdaptiveAvgStreamParams) => {
  check(name, p);
  return Math.ceil(p.n / packGroup(p.h * p.w) / p.perLane / WG);
};

/** WGSL shared by both passes: the row bin edges, main's head and its walk over this invocation's
 * groups and their planes (`plane`, `q`, `gbase`: the group's first vec4); `perGroup` opens each group. */
const head = (p: AdaptiveAvgStreamParams, perGroup = '') => `
fn rowBinStart(i: u32) -> u32 { return (i * ${p.h}u) / ${p.oh}u; }
fn rowBinEnd(i: u32) -> u32 { return ((i + 1u) * ${p.h}u + ${p.oh - 1}u) / ${p.oh}u; }
@compute @workgroup_size(${WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(WG)}
  let first = gid * u.per;
  for (var grp = first; grp < min(first + u.per, u.n / ${packGroup(p.h * p.w)}u); grp++) {
    let gbase = grp * ${(packGroup(p.h * p.w) * p.h * p.w) / 4}u;${perGroup}
    for (var q = 0u; q < u.g; q++) {
      let plane = grp * ${packGroup(p.h * p.w)}u + q;`;

/**
 * Adaptive average pooling, one invocation per run of `perLane` packed plane groups. Bindings:
 * `x [N, H, W]` (as vec4s), `y [N, OH, OW]` (rw).
 */
export const adaptiveAvgStreamKernel = defineKernel<AdaptiveAvgStreamParams>({
  name: 'adaptive_avg_stream',
  spec: key,
  // x [N,H,W] as vec4s, y [N,OH,OW] (as vec4s when a group's outputs fill whole vec4s)
  storage: (p) => [read('x', 'vec4<f32>'), rw('y', vecOut(p) ? 'vec4<f32>' : 'f32')],
  uniforms,
  dispatch: dispatch('adaptive_avg_stream'),
  body: (p) => {
    check('adaptive_avg_stream', p);
    const { w: W, ow: OW } = p;
    const bins = colBins(p);
    const all = (f: (ox: number) => string) => rng(OW).map(f).join(' ');
    // row offset o: load the vec4s covering [o, o + W), then the column-bin sums h[ox]
    const cases = streamRowOffsets(p).map((o) => {
      const col = (c: number) => `v${Math.floor((o + c) / 4)}.${COMP[(o + c) % 4]}`;
      const loads = rng(Math.ceil((o + W) / 4)).map((v) => `let v${v} = x[vb + ${v}u];`).join(' ');
      const sums = bins.map(([xs, xe], ox) => `h${ox} = ${rng(xe - xs).map((b) => col(xs + b)).join(' + ')};`).join(' ');
      return `          case ${o}u: { ${loads}\n            ${sums} }`;
    });
    // output row cur at float offset oe of the group's outputs: scalar stores, or (vecOut) aligned
    // vec4s, the row's last partial vec4 carried (in ocarry) into the next row's first
    const values = bins.map(([xs, xe], ox) => `let r${ox} = a${ox} / bh / ${xe - xs}.0;`).join(' ');
    const store = vecOut(p)
      ? `let oe = q * ${p.oh * OW}u + cur * ${OW}u;
          let ob = grp * ${(packGroup(p.h * W) * p.oh * OW) / 4}u + oe / 4u;
          switch (oe % 4u) {
${outOffsets(p)
  .map((o) => `            case ${o}u: { ${carryStores(o, OW, 'y', 'ob', 'ocarry', 'r')} }`)
  .join('\n')}
            default: {}
          }`
      : `let o = (plane * ${p.oh}u + cur) * ${OW}u;
          ${rng(OW).map((ox) => `y[o + ${ox}u] = r${ox};`).join(' ')}`;
    return `${head(p, vecOut(p) ? '\n    var ocarry = vec4<f32>(0.0);' : '')}
      // open output rows cur (sums a) and cur + 1 (sums b)
      var cur = 0u;
      var curEnd = rowBinEnd(0u);
      var nextStart = rowBinStart(1u);
      ${all((ox) => `var a${ox} = 0.0; var b${ox} = 0.0;`)}
      for (var iy = 0u; iy < u.h; iy++) {
        let e = q * ${p.h * W}u + iy * ${W}u;
        let vb = gbase + e / 4u;
        ${all((ox) => `var h${ox} = 0.0;`)}
        switch (e % 4u) {
${cases.join('\n')}
          default: {}
        }
        ${all((ox) => `a${ox} += h${ox};`)}
        if (cur + 1u < ${p.oh}u && iy >= nextStart) { ${all((ox) => `b${ox} += h${ox};`)} }
        if (iy + 1u == curEnd) {
          let bh = f32(curEnd - rowBinStart(cur));
          ${values}
          ${store}
          ${all((ox) => `a${ox} = b${ox}; b${ox} = 0.0;`)}
          cur++;
          curEnd = rowBinEnd(cur);
          nextStart = rowBinStart(cur + 1u);
        }
      }
    }
  }
}`;
  },
  cpu: (p, bufs: NumArray[]) => adaptivePoolKernel.cpu(generic(p), bufs),
});

/**
 * The input gradient, one invocation per run of `perLane` packed plane groups. Bindings:
 * `g [N, OH, OW]`, `gx [N, H, W]` (rw, as vec4s).
 */
export const adaptiveAvgStreamBackwardKernel = defineKernel<AdaptiveAvgStreamParams>({
  name: 'adaptive_avg_stream_bwd',
  spec: key,
  // g [N,OH,OW], gx [N,H,W] as vec4s
  storage: () => [read('g'), rw('gx', 'vec4<f32>')],
  uniforms,
  dispatch: dispatch('adaptive_avg_stream_bwd'),
  body: (p) => {
    check('adaptive_avg_stream_bwd', p);
    const { w: W, ow: OW } = p;
    const bins = colBins(p);
    const all = (f: (ox: number) => string) => rng(OW).map(f).join(' ');
    // column ix lies in the column bins [binStart(ix, W, OW), binEnd(ix, W, OW))
    const cover = (ix: number) => rng(binEnd(ix, W, OW) - binStart(ix, W, OW)).map((k) => binStart(ix, W, OW) + k);
    const sums = rng(W)
      .map((ix) => {
        const cs = cover(ix);
        return `var c${ix} = ${cs.map((ox) => `sa${ox}`).join(' + ')};\n        if (two) { ${cs.map((ox) => `c${ix} += sb${ox};`).join(' ')} }`;
      })
      .join('\n        ');
    // row offset o: gx elements [o, o + W) of the vec4s from vb; vec4 0 starts with the carry (the
    // previous row's last o elements), the last partial vec4 becomes the next carry
    const cases = streamRowOffsets(p).map((o) => `          case ${o}u: { ${carryStores(o, W, 'gx', 'vb', 'carry', 'c')} }`);
    // the carry runs through the group's planes: a vec4 may hold the end of one plane and the start of the next
    return `${head(p, '\n    var carry = vec4<f32>(0.0);')}
      // held scaled g rows: sa = output row lo, sb = lo + 1 (zeros past the last)
      var lo = 0u;
      ${all((ox) => `var sa${ox} = 0.0; var sb${ox} = 0.0;`)}
      ${scaledRow(p, 'sa', '0u')}
      if (${p.oh}u > 1u) { ${scaledRow(p, 'sb', '1u')} }
      for (var iy = 0u; iy < u.h; iy++) {
        // output rows covering iy: [cv0, cv1), one or two of them with OH <= H
        let cv0 = (iy * ${p.oh}u) / ${p.h}u;
        let cv1 = ((iy + 1u) * ${p.oh}u + ${p.h - 1}u) / ${p.h}u;
        if (cv0 != lo) {
          lo = cv0;
          ${all((ox) => `sa${ox} = sb${ox};`)}
          if (lo + 1u < ${p.oh}u) { ${scaledRow(p, 'sb', 'lo + 1u')} }
        }
        let two = cv1 - cv0 == 2u;
        ${sums}
        let e = q * ${p.h * W}u + iy * ${W}u;
        let vb = gbase + e / 4u;
        switch (e % 4u) {
${cases.join('\n')}
          default: {}
        }
      }
    }
  }
}`;
  },
  cpu: (p, [g, gx]: NumArray[]) => {
    const gs = like(g, g.length);
    adaptiveAvgGradScaleKernel.cpu(generic(p), [g, gs]);
    adaptivePoolBackwardKernel.cpu(generic(p), [gs, gx]);
  },
});

/** WGSL storing a row of `len` values `${val}0..` that starts at place `o` of the vec4 `${arr}[${at}]`:
 * whole vec4s only, the first one led by the previous row's last `o` values (in `carry`), the last
 * partial one left in `carry` for the next row. */
function carryStores(o: number, len: number, arr: string, at: string, carry: string, val: string): string {
  const pick = (pos: number) => (pos < o ? `${carry}.${COMP[pos]}` : `${val}${pos - o}`);
  const full = Math.floor((o + len) / 4);
  const stores = rng(full).map((k) => `${arr}[${at} + ${k}u] = vec4<f32>(${rng(4).map((j) => pick(4 * k + j)).join(', ')});`);
  const tail = (o + len) % 4;
  const next = tail ? `${carry} = vec4<f32>(${rng(4).map((j) => (j < tail ? pick(4 * full + j) : '0.0')).join(', ')});` : '';
  return `${stores.join(' ')} ${next}`;
}

/** Whether the forward stores vec4s: a group's G OH OW outputs fill whole vec4s. */
const vecOut = (p: AdaptiveAvgStreamParams) => (packGroup(p.h * p.w) * p.oh * p.ow) % 4 === 0;

/** The places in a vec4 (0-3) at which the group's output rows start. */
const outOffsets = (p: AdaptiveAvgStreamParams) =>
  [...new Set(rng(packGroup(p.h * p.w)).flatMap((q) => rng(p.oh).map((oy) => (q * p.oh * p.ow + oy * p.ow) % 4)))].sort((a, b) => a - b);

/** WGSL: `${v}0..${v}{OW-1}` = row `oy` of g's plane, each divided by its bin height and width. */
function scaledRow(p: AdaptiveAvgStreamParams, v: string, oy: string): string {
  const bins = colBins(p);
  return `let r${v} = ${oy}; let bh${v} = f32(rowBinEnd(r${v}) - rowBinStart(r${v})); let gr${v} = (plane * ${p.oh}u + r${v}) * ${p.ow}u;
      ${bins.map(([xs, xe], ox) => `${v}${ox} = g[gr${v} + ${ox}u] / bh${v} / ${xe - xs}.0;`).join(' ')}`;
}
