// 2-D average pooling over planes: x [N, H, W] (N = batch * channels) -> y [N, OH, OW], as
// torch.nn.functional.avg_pool2d (dilation-free). Window (oy, ox) covers rows [y0, y0 + kh) and
// columns [x0, x0 + kw), y0 = oy * sh - ph, x0 = ox * sw - pw; it sums the elements inside the
// input and divides by (PyTorch's rule):
//   divisorOverride, when non-zero;
//   else with countIncludePad the window clipped to the padded input [-ph, H + ph) x [-pw, W + pw)
//     (kh * kw except for ceil-mode windows that run past the padding);
//   else the number of input elements in the window.
// Backward: a gather, deterministic without atomics: one invocation per input element sums
// g / divisor over the <= ceil(kh/sh) * ceil(kw/sw) outputs whose windows cover it (fixed trip
// counts with clamped indices, as maxpool.ts's gather). Window, stride, padding and the divisor
// mode are baked into the WGSL; the image sizes are uniforms. Launch layouts 'flat' (hardware)
// and 'rows' (software adapters) are stream.ts's.
import type { NumArray } from './kernel.ts';
import { type UField, defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type PoolGeom, clipped, coveringRange, geomKey, overhangs, poolLayout } from './maxpool.ts';
import { rowGroups, rowLayoutKey, rowsMain } from './stream.ts';
import { type Slide, type WindowIo, slideGroups, slideMain, slideProblem } from './avgpool_slide.ts';

/**
 * Params of {@link avgPoolKernel} and {@link avgPoolBackwardKernel}: the pooling geometry and
 * torch.nn.functional.avg_pool2d's divisor rules.
 */
export interface AvgPoolParams extends PoolGeom {
  /** Divide by the window clipped to the padded input (true) or to the input (false). */
  countIncludePad: boolean;
  /** Divide by this instead (0: none). */
  divisorOverride: number;
  /** Forward: consecutive outputs of a row per invocation, which share the input columns their
   * windows overlap in (default 1; src/policy/pool_choice.ts picks it). */
  outs?: number;
  /** Forward with `outs` > 1: load each window row's columns as aligned vec4s (and store the
   * outputs as one vec4 when OW % 4 == 0). Needs W % 4 == 0 and outs * sw % 4 == 0, so every
   * invocation's first column sits at the same offset inside its vec4 (default false;
   * src/policy/pool_choice.ts picks it). */
  vec4?: boolean;
  /** Forward with `outs` > 1: output rows per invocation (default 1). Stride-1 windows of
   * neighbouring output rows share kh - sh input rows; R rows load each of their (R - 1) sh + kh
   * input rows once (src/policy/pool_choice.ts picks it). */
  rows?: number;
  /** Backward of a tiling window (kernel == stride, no padding: each input under at most one
   * window) over rows of a multiple of 4: 4 inputs per invocation, stored as one vec4 (default
   * false; src/policy/pool_choice.ts picks it). */
  bwdVec4?: boolean;
  /** Backward of a tiling window that covers the input exactly (H = kh OH, W = kw OW, no
   * padding), OW a multiple of 4: one invocation per 4 outputs of a row, loaded as one vec4 and
   * stored as the kh x kw vec4s of their windows (default false; src/policy/pool_choice.ts picks
   * it; takes precedence over bwdVec4). */
  bwdTile?: boolean;
  /** Backward at stride 1: gx as a window sum over g (window kh x kw, padding k - 1 - p), with
   * `outs` inputs per row and `rows` rows per invocation, g rows loaded as vec4s with `vec4`, as
   * the forward's (default none; src/policy/pool_choice.ts picks it; bwdTile takes precedence). */
  bwdWindow?: { outs: number; rows: number; vec4: boolean };
  /** Rows of a multiple of 4 (input and output): the forward, and at stride 1 the backward, as
   * window sums walked down bands of the plane (avgpool_slide.ts), `cols` vec4s of outputs per
   * lane, `band` rows per workgroup (default none; src/policy/pool_choice.ts picks it; takes
   * precedence over every other variant). */
  slide?: Slide;
}

const outsOf = (p: AvgPoolParams) => p.outs ?? 1;
/** [0, 1, ..., n - 1]: the unrolled outputs / columns of the generated loops. */
const rng = (n: number) => [...Array(n).keys()];

/** Why the vec4 forward cannot run these params (null: it can). */
export function avgPoolVec4Problem(p: AvgPoolParams): string | null {
  if (p.w % 4 !== 0) return `the input width ${p.w} is not a multiple of 4`;
  if (outsOf(p) < 2 || (outsOf(p) * p.sw) % 4 !== 0) return `outs ${outsOf(p)} * stride ${p.sw} is not a multiple of 4 (outs >= 2)`;
  return null;
}
/** Why the vec4 backward cannot run these params (null: it can). */
export function avgPoolBackwardVec4Problem(p: PoolGeom): string | null {
  if (p.kh !== p.sh || p.kw !== p.sw || p.ph !== 0 || p.pw !== 0) return `a tiling window (kernel == stride, no padding), got k${p.kh}x${p.kw} s${p.sh}x${p.sw} p${p.ph}x${p.pw}`;
  if (p.w % 4 !== 0) return `the input width ${p.w} to be a multiple of 4`;
  return null;
}
/** The stride-1 backward as a forward-shaped window sum: over the g plane (OH x OW) into the gx
 * plane (H x W), input (iy, ix) summing g over oy in [iy + ph - kh + 1, iy + ph], i.e. a window
 * of kh x kw at padding kh - 1 - ph, kw - 1 - pw (g outside its plane is 0). */
function backwardWindowGeom(p: AvgPoolParams): AvgPoolParams {
  const w = p.bwdWindow ?? { outs: 1, rows: 1, vec4: false };
  return {
    ...p, h: p.oh, w: p.ow, oh: p.h, ow: p.w, sh: 1, sw: 1, ph: p.kh - 1 - p.ph, pw: p.kw - 1 - p.pw,
    outs: w.outs, rows: w.rows, vec4: w.vec4, bwdWindow: undefined, bwdTile: undefined, bwdVec4: undefined,
  };
}
/** Why the window-sum backward cannot run these params (null: it can). */
export function avgPoolBackwardWindowProblem(p: AvgPoolParams & { bwdWindow: { outs: number; rows: number; vec4: boolean } }): string | null {
  if (p.sh !== 1 || p.sw !== 1) return `stride 1, got ${p.sh}x${p.sw}`;
  if (p.bwdWindow.outs < 2) return `outs >= 2, got ${p.bwdWindow.outs}`;
  if (p.bwdWindow.vec4) {
    const v = avgPoolVec4Problem(backwardWindowGeom(p));
    if (v) return v.replace('input width', 'output width (g rows)');
  }
  return null;
}
/** Why the tiled backward cannot run these params (null: it can). */
export function avgPoolBackwardTileProblem(p: PoolGeom): string | null {
  if (p.kh !== p.sh || p.kw !== p.sw || p.ph !== 0 || p.pw !== 0) return `a tiling window (kernel == stride, no padding), got k${p.kh}x${p.kw} s${p.sh}x${p.sw} p${p.ph}x${p.pw}`;
  if (p.h !== p.kh * p.oh || p.w !== p.kw * p.ow) return `windows that cover the input exactly, got ${p.h}x${p.w} -> ${p.oh}x${p.ow} with k${p.kh}x${p.kw}`;
  if (p.ow % 4 !== 0) return `the output width ${p.ow} to be a multiple of 4`;
  return null;
}
/** Output stores as vec4s: the vec4 forward with 4 outputs per invocation and OW % 4 == 0. */
const vec4Out = (p: AvgPoolParams) => !!p.vec4 && outsOf(p) % 4 === 0 && p.ow % 4 === 0;

/** How the divisor is found: 'const' kh * kw for every window; 'pad' the window clipped to the
 * padded input; 'valid' the window clipped to the input; 'fixed' the override. */
type DivMode = 'const' | 'pad' | 'valid' | 'fixed';

function divMode(p: AvgPoolParams): DivMode {
  if (p.divisorOverride !== 0) return 'fixed';
  if (p.countIncludePad) return overhangs(p) ? 'pad' : 'const';
  return clipped(p) ? 'valid' : 'const';
}

/** The divisor of window (oy, ox) (the CPU twin of the WGSL `divisor`). */
export function avgDivisor(p: AvgPoolParams, oy: number, ox: number): number {
  const mode = divMode(p);
  if (mode === 'fixed') return p.divisorOverride;
  if (mode === 'const') return p.kh * p.kw;
  const y0 = oy * p.sh - p.ph;
  const x0 = ox * p.sw - p.pw;
  if (mode === 'pad') return (Math.min(y0 + p.kh, p.h + p.ph) - y0) * (Math.min(x0 + p.kw, p.w + p.pw) - x0);
  return (Math.min(y0 + p.kh, p.h) - Math.max(y0, 0)) * (Math.min(x0 + p.kw, p.w) - Math.max(x0, 0));
}

/** WGSL `fn divisor(oy: u32, ox: u32) -> f32` for the params' mode. */
function divisorWgsl(p: AvgPoolParams): string {
  const mode = divMode(p);
  const head = 'fn divisor(oy: u32, ox: u32) -> f32 {';
  if (mode === 'fixed') return `${head} return u.divisor; }`;
  if (mode === 'const') return `${head} return ${p.kh * p.kw}.0; }`;
  const win = `
  let y0 = i32(oy * ${p.sh}u) - ${p.ph};
  let x0 = i32(ox * ${p.sw}u) - ${p.pw};`;
  if (mode === 'pad')
    return `${head}${win}
  return f32((min(y0 + ${p.kh}, i32(u.h) + ${p.ph}) - y0) * (min(x0 + ${p.kw}, i32(u.w) + ${p.pw}) - x0));
}`;
  return `${head}${win}
  return f32((min(y0 + ${p.kh}, i32(u.h)) - max(y0, 0)) * (min(x0 + ${p.kw}, i32(u.w)) - max(x0, 0)));
}`;
}

const specOf = (p: AvgPoolParams) => `${geomKey(p)}:${divMode(p)}`;
const slideKey = (s: Slide) => `slide${s.cols}b${s.band}`;
const fields = (p: AvgPoolParams): UField[] => [
  u32('n', p.n), u32('h', p.h), u32('w', p.w), u32('oh', p.oh), u32('ow', p.ow), f32('divisor', p.divisorOverride),
];

const rowsOf = (p: AvgPoolParams) => p.rows ?? 1;

const FORWARD_IO: WindowIo = { src: 'x', dst: 'y', inH: 'u.h', inW: 'u.w', outH: 'u.oh', outW: 'u.ow', scale: 'window' };

/** The forward's item for P = outs > 1 outputs ox = P rx + j of R = rows output rows
 * oy = R ry + r. The P windows of one row span the columns [xb, xb + C), xb = P sw rx - pw,
 * C = (P - 1) sw + kw; the R rows' windows span the input rows [y0, y0 + (R - 1) sh + kh),
 * y0 = R sh ry - ph. Each of those input rows is loaded once, as C clamped scalars (zero outside
 * the input when windows can leave it) or, with `vec4`, as NV = ceil((off + C) / 4) aligned vec4s
 * from (xb - off) / 4, where off = xb % 4 is the same for every rx (P sw % 4 == 0) and column k is
 * component (off + k) % 4 of vec4 (off + k) / 4; then added to every output row whose window
 * covers it. Each output sums its window in the same row-major order as P = 1. Rows past the
 * input (only in windows of outputs past OH, which are not stored) are clamped. `io` names the
 * arrays and plane sizes and says where the divisor applies (the backward's window sum, see
 * avgPoolBackwardKernel). */
function multiItem(p: AvgPoolParams, checked: boolean, io: WindowIo = FORWARD_IO): string {
  const { src, dst, inH, inW, outH, outW, scale } = io;
  const P = outsOf(p);
  const R = rowsOf(p);
  const C = (P - 1) * p.sw + p.kw;
  const inRows = (R - 1) * p.sh + p.kh;
  const comp = ['x', 'y', 'z', 'w'];
  const off = (((-p.pw) % 4) + 4) % 4;
  const NV = Math.ceil((off + C) / 4);
  // one input row t: its loads, and column k of it as an expression
  const rowCode = (t: number): { loads: string; col: (k: number) => string } => {
    const ok = (idx: string, lim: string) => (checked ? `rowOk & (${idx} >= 0) & (${idx} < ${lim})` : '');
    if (p.vec4) {
      const loads = rng(NV)
        .map((v) => {
          const vi = `vb + ${v}`;
          const load = `${src}[row4 + u32(clamp(${vi}, 0, w4 - 1))]`;
          const val = checked ? `select(vec4<f32>(0.0), ${load}, ${ok(vi, 'w4')})` : load;
          if (scale !== 'load') return `        let v${t}_${v} = ${val};`;
          // each element over the divisor of its own window (clamped: masked elements are 0 / d)
          const ds = rng(4).map((c) => `divisor(cy, u32(clamp(4 * (${vi}) + ${c}, 0, i32(${inW}) - 1)))`);
          return `        let v${t}_${v} = ${val} / vec4<f32>(${ds.join(', ')});`;
        })
        .join('\n');
      return { loads, col: (k) => `v${t}_${Math.floor((off + k) / 4)}.${comp[(off + k) % 4]}` };
    }
    const loads = rng(C)
      .map((k) => {
        const ix = `xb + ${k}`;
        const cx = `u32(clamp(${ix}, 0, i32(${inW}) - 1))`;
        const load = `${src}[row + ${cx}]`;
        const val = checked ? `select(0.0, ${load}, ${ok(ix, `i32(${inW})`)})` : load;
        return `        let c${t}_${k} = ${val}${scale === 'load' ? ` / divisor(cy, ${cx})` : ''};`;
      })
      .join('\n');
    return { loads, col: (k) => `c${t}_${k}` };
  };
  const rowsBody = rng(inRows)
    .map((t) => {
      const { loads, col } = rowCode(t);
      const sums = rng(R)
        .filter((r) => t >= r * p.sh && t < r * p.sh + p.kh)
        .map((r) => rng(P).map((j) => rng(p.kw).map((b) => `acc${r}_${j} += ${col(j * p.sw + b)};`).join(' ')).join('\n        '))
        .join('\n        ');
      return `      {
        let iy = y0 + ${t};
        ${checked ? `let rowOk = (iy >= 0) & (iy < i32(${inH}));` : ''}
        let cy = u32(clamp(iy, 0, i32(${inH}) - 1));
        ${p.vec4 ? 'let row4 = base4 + cy * u32(w4);' : `let row = base + cy * ${inW};`}
${loads}
        ${sums}
      }`;
    })
    .join('\n');
  const stores = rng(R)
    .map((r) => {
      const oy = `oy0 + ${r}u`;
      const outs = rng(P).map((j) =>
        scale === 'window' ? `acc${r}_${j} / divisor(${oy}, rx * ${P}u + ${j}u)` : scale === 'uniform' ? `acc${r}_${j} / divisor(0u, 0u)` : `acc${r}_${j}`,
      );
      const body = vec4Out(p)
        ? rng(P / 4)
            .map((m) => {
              const st = `${dst}[(plane * ${outH} + ${oy}) * (${outW} / 4u) + rx * ${P / 4}u + ${m}u] = vec4<f32>(${outs.slice(4 * m, 4 * m + 4).join(', ')});`;
              // the row's last item may hold fewer than P outputs (OW % P != 0)
              return m === 0 ? st : `if (rx * ${P}u + ${4 * m}u < ${outW}) { ${st} }`;
            })
            .join('\n        ')
        : `let rowOut = (plane * ${outH} + ${oy}) * ${outW};
        ${rng(P).map((j) => `if (rx * ${P}u + ${j}u < ${outW}) { ${dst}[rowOut + rx * ${P}u + ${j}u] = ${outs[j]}; }`).join('\n        ')}`;
      return `      if (${oy} < ${outH}) {
        ${body}
      }`;
    })
    .join('\n');
  return `
      let oy0 = ry * ${R}u;
      let y0 = i32(oy0 * ${p.sh}u) - ${p.ph};
      ${p.vec4 ? `let vb = (i32(rx * ${P * p.sw}u) - ${p.pw + off}) / 4;
      let w4 = i32(${inW} / 4u);
      let base4 = plane * ${inH} * (${inW} / 4u);` : `let xb = i32(rx * ${P * p.sw}u) - ${p.pw};
      let base = plane * ${inH} * ${inW};`}
      ${rng(R).map((r) => rng(P).map((j) => `var acc${r}_${j} = 0.0;`).join(' ')).join(' ')}
${rowsBody}
${stores}`;
}

/**
 * 2-D average pooling over planes, as torch.nn.functional.avg_pool2d. Bindings: `x [N, H, W]`,
 * `y [N, OH, OW]` (rw), N = batch * channels (vec4 views of both under `vec4`, see AvgPoolParams).
 */
export const avgPoolKernel = defineKernel<AvgPoolParams>({
  name: 'avgpool',
  spec: (p, caps) =>
    p.slide ? `${specOf(p)}:${slideKey(p.slide)}` :
    `${specOf(p)}:${rowLayoutKey(poolLayout(p, caps))}${outsOf(p) > 1 ? `:o${outsOf(p)}` : ''}${rowsOf(p) > 1 ? `r${rowsOf(p)}` : ''}${p.vec4 ? (vec4Out(p) ? ':v4io' : ':v4i') : ''}`,
  // x [N,H,W] (vec4s with p.vec4), y [N,OH,OW] (vec4s when the vec4 forward stores them so)
  storage: (p) => [read('x', p.vec4 || p.slide ? 'vec4<f32>' : 'f32'), rw('y', vec4Out(p) || p.slide ? 'vec4<f32>' : 'f32')],
  uniforms: (p) => [...fields(p), u32('rowItems', Math.ceil(p.ow / outsOf(p))), u32('strips', Math.ceil(p.oh / rowsOf(p)))],
  dispatch: (p, caps) => (p.slide ? slideGroups(p.n, p.oh, p.slide) : rowGroups(poolLayout(p, caps), p.n * Math.ceil(p.oh / rowsOf(p)), Math.ceil(p.ow / outsOf(p)))),
  body: (p, caps) => {
    if (p.slide) {
      const problem = slideProblem(p, p.slide, 'fwd');
      if (problem) throw new Error(`avgpool: the sliding forward needs ${problem}`);
      return `
${divisorWgsl(p)}
${slideMain(p, p.slide, FORWARD_IO)}`;
    }
    const checked = clipped(p);
    const P = outsOf(p);
    if (P === 1 && rowsOf(p) !== 1) throw new Error(`avgpool: several output rows per invocation (rows ${rowsOf(p)}) need outs > 1`);
    if (P === 1) {
      // row-major sum over the window's elements inside the input (constant loops; no bounds
      // checks when no window leaves the input)
      const item = `
      let y0 = i32(ry * ${p.sh}u) - ${p.ph};
      let x0 = i32(rx * ${p.sw}u) - ${p.pw};
      let base = plane * u.h * u.w;
      var acc = 0.0;
      for (var a = 0; a < ${p.kh}; a++) {
        let iy = y0 + a;
        ${checked ? 'if (iy < 0 || iy >= i32(u.h)) { continue; }' : ''}
        let row = base + u32(iy) * u.w;
        for (var b = 0; b < ${p.kw}; b++) {
          let ix = x0 + b;
          ${checked ? 'if (ix < 0 || ix >= i32(u.w)) { continue; }' : ''}
          acc += x[row + u32(ix)];
        }
      }
      y[o] = acc / divisor(ry, rx);`;
      return `
${divisorWgsl(p)}
${rowsMain(poolLayout(p, caps), 'u.n', 'u.oh', 'u.rowItems', item)}`;
    }
    if (p.vec4) {
      const problem = avgPoolVec4Problem(p);
      if (problem) throw new Error(`avgpool: the vec4 forward needs ${problem}`);
    }
    return `
${divisorWgsl(p)}
${rowsMain(poolLayout(p, caps), 'u.n', 'u.strips', 'u.rowItems', multiItem(p, checked))}`;
  },
  cpu: (p, [x, y]: NumArray[]) => {
    const plane = p.h * p.w;
    let o = 0;
    for (let n = 0; n < p.n; n++)
      for (let oy = 0; oy < p.oh; oy++)
        for (let ox = 0; ox < p.ow; ox++, o++) {
          const y0 = oy * p.sh - p.ph;
          const x0 = ox * p.sw - p.pw;
          const ye = Math.min(y0 + p.kh, p.h);
          const xe = Math.min(x0 + p.kw, p.w);
          let acc = 0;
          for (let iy = Math.max(y0, 0); iy < ye; iy++)
            for (let ix = Math.max(x0, 0); ix < xe; ix++) acc += x[n * plane + iy * p.w + ix];
          y[o] = acc / avgDivisor(p, oy, ox);
        }
  },
});

/**
 * Average pooling's input gradient, a deterministic gather (each input element sums g / divisor over
 * the windows covering it). Bindings: `g [N, OH, OW]`, `gx [N, H, W]` (rw).
 */
export const avgPoolBackwardKernel = defineKernel<AvgPoolParams>({
  name: 'avgpool_bwd',
  spec: (p, caps) => {
    const w = p.bwdWindow;
    if (p.slide) return `${specOf(p)}:${slideKey(p.slide)}`;
    const variant = p.bwdTile ? ':tile' : w ? `:win${w.outs}x${w.rows}${w.vec4 ? (vec4Out(backwardWindowGeom(p)) ? 'v4io' : 'v4i') : ''}` : p.bwdVec4 ? ':v4' : '';
    return `${specOf(p)}:${rowLayoutKey(poolLayout(p, caps))}${variant}`;
  },
  // g [N,OH,OW] (vec4s with p.bwdTile or a vec4 window sum), gx [N,H,W] (vec4s with p.bwdVec4,
  // p.bwdTile, or a window sum's vec4 stores)
  storage: (p) => {
    const w = p.bwdWindow;
    const gVec4 = !!p.bwdTile || !!w?.vec4 || !!p.slide;
    const gxVec4 = p.bwdTile || p.slide || (w ? vec4Out(backwardWindowGeom(p)) : p.bwdVec4);
    return [read('g', gVec4 ? 'vec4<f32>' : 'f32'), rw('gx', gxVec4 ? 'vec4<f32>' : 'f32')];
  },
  uniforms: (p) => {
    const t = backwardWindowGeom(p);
    return [...fields(p), u32('rowItems', Math.ceil(t.ow / outsOf(t))), u32('strips', Math.ceil(t.oh / rowsOf(t)))];
  },
  dispatch: (p, caps) => {
    if (p.slide) return slideGroups(p.n, p.h, p.slide);
    const l = poolLayout(p, caps);
    if (p.bwdTile) return rowGroups(l, p.n * p.oh, p.ow / 4);
    if (p.bwdWindow) {
      const t = backwardWindowGeom(p);
      return rowGroups(l, p.n * Math.ceil(t.oh / rowsOf(t)), Math.ceil(t.ow / outsOf(t)));
    }
    return rowGroups(l, p.n * p.h, p.bwdVec4 ? p.w / 4 : p.w);
  },
  body: (p, caps) => {
    const mode = divMode(p);
    // the window sum's divisor: one for every window, or each g element over its own window's
    const sumScale = mode === 'const' || mode === 'fixed' ? 'uniform' : 'load';
    if (p.slide) {
      // the forward's geometry: the window sum itself is always at stride 1
      const problem = slideProblem(p, p.slide, 'bwd');
      if (problem) throw new Error(`avgpool_bwd: the sliding backward needs ${problem.replace('input and output rows', 'gx and g rows')}`);
      const t = backwardWindowGeom(p);
      const io: WindowIo = { src: 'g', dst: 'gx', inH: 'u.oh', inW: 'u.ow', outH: 'u.h', outW: 'u.w', scale: sumScale };
      return `
${divisorWgsl(p)}
${slideMain(t, p.slide, io)}`;
    }
    const win = p.bwdWindow;
    if (win && !p.bwdTile) {
      const problem = avgPoolBackwardWindowProblem({ ...p, bwdWindow: win });
      if (problem) throw new Error(`avgpool_bwd: the window-sum backward needs ${problem}`);
      const io: WindowIo = { src: 'g', dst: 'gx', inH: 'u.oh', inW: 'u.ow', outH: 'u.h', outW: 'u.w', scale: sumScale };
      // every row checked: g outside its plane is the zero padding of the window sum
      return `
${divisorWgsl(p)}
${rowsMain(poolLayout(p, caps), 'u.n', 'u.strips', 'u.rowItems', multiItem(backwardWindowGeom(p), true, io))}`;
    }
    if (p.bwdTile) {
      const problem = avgPoolBackwardTileProblem(p);
      if (problem) throw new Error(`avgpool_bwd: the tiled backward needs ${problem}`);
      // outputs ox = 4 rx + j (one vec4 of g, one divisor for every window: no window is clipped);
      // input row ry kh + a, vec4 m of the 4 kw columns 4 kw rx + 4 m + c, lies under output
      // component (4 m + c) / kw
      const comp = ['x', 'y', 'z', 'w'];
      const stores = rng(p.kh)
        .map((a) =>
          rng(p.kw)
            .map((m) => `      gx[(plane * u.h + ry * ${p.kh}u + ${a}u) * (u.w / 4u) + rx * ${p.kw}u + ${m}u] = vec4<f32>(${rng(4).map((c) => `v.${comp[Math.floor((4 * m + c) / p.kw)]}`).join(', ')});`)
            .join('\n'),
        )
        .join('\n');
      const item = `
      let v = g[o] / divisor(0u, 0u);
${stores}`;
      return `
${divisorWgsl(p)}
${rowsMain(poolLayout(p, caps), 'u.n', 'u.oh', 'u.ow / 4u', item)}`;
    }
    if (p.bwdVec4) {
      const problem = avgPoolBackwardVec4Problem(p);
      if (problem) throw new Error(`avgpool_bwd: the vec4 backward needs ${problem}`);
      // inputs ix = 4 rx + j lie under output column ox = ix / kw (none past the last window);
      // with kw dividing 4 the 4 inputs share 4 / kw outputs, loaded once each
        const oxOf = (j: number) => (4 % p.kw === 0 ? `${4 / p.kw}u * rx + ${Math.floor(j / p.kw)}u` : `(4u * rx + ${j}u) / ${p.kw}u`);
      const keys = [...new Set(rng(4).map(oxOf))];
      const loads = keys
        .map((k, t) => `      let ox${t} = ${k};
      let v${t} = select(0.0, g[row + min(ox${t}, u.ow - 1u)] / divisor(cy, min(ox${t}, u.ow - 1u)), rowOk & (ox${t} < u.ow));`)
        .join('\n');
      const item = `
      let oy = ry / ${p.kh}u;
      let rowOk = oy < u.oh;
      let cy = min(oy, u.oh - 1u);
      let row = (plane * u.oh + cy) * u.ow;
${loads}
      gx[o] = vec4<f32>(${rng(4).map((j) => `v${keys.indexOf(oxOf(j))}`).join(', ')});`;
      return `
${divisorWgsl(p)}
${rowsMain(poolLayout(p, caps), 'u.n', 'u.h', 'u.w / 4u', item)}`;
    }
    // at most ceil(k / s) outputs cover an input along each axis
    const my = Math.ceil(p.kh / p.sh);
    const mx = Math.ceil(p.kw / p.sw);
    const item = `
      // outputs whose window covers (ry, rx): oy in [oy0, oy1), ox in [ox0, ox1)
      let py = ry + ${p.ph}u;
      let px = rx + ${p.pw}u;
      let oy0 = select((py - ${p.kh}u) / ${p.sh}u + 1u, 0u, py < ${p.kh}u);
      let ox0 = select((px - ${p.kw}u) / ${p.sw}u + 1u, 0u, px < ${p.kw}u);
      let oy1 = min(py / ${p.sh}u + 1u, u.oh);
      let ox1 = min(px / ${p.sw}u + 1u, u.ow);
      let base = plane * u.oh * u.ow;
      // fixed trip counts and clamped indices: every lane runs the same loads (no divergent loops)
      var acc = 0.0;
      for (var dy = 0u; dy < ${my}u; dy++) {
        let oy = oy0 + dy;
        let cy = min(oy, u.oh - 1u);
        let row = base + cy * u.ow;
        for (var dx = 0u; dx < ${mx}u; dx++) {
          let ox = ox0 + dx;
          let cx = min(ox, u.ow - 1u);
          let hit = oy < oy1 && ox < ox1;
          acc += select(0.0, g[row + cx] / divisor(cy, cx), hit);
        }
      }
      gx[o] = acc;`;
    return `
${divisorWgsl(p)}
${rowsMain(poolLayout(p, caps), 'u.n', 'u.h', 'u.w', item)}`;
  },
  cpu: (p, [g, gx]: NumArray[]) => {
    let i = 0;
    for (let n = 0; n < p.n; n++)
      for (let iy = 0; iy < p.h; iy++)
        for (let ix = 0; ix < p.w; ix++, i++) {
          const [oy0, oy1] = coveringRange(iy, p.kh, p.sh, p.ph, p.oh);
          const [ox0, ox1] = coveringRange(ix, p.kw, p.sw, p.pw, p.ow);
          let acc = 0;
          for (let oy = oy0; oy < oy1; oy++)
            for (let ox = ox0; ox < ox1; ox++) acc += g[(n * p.oh + oy) * p.ow + ox] / avgDivisor(p, oy, ox);
          gx[i] = acc;
        }
  },
});
