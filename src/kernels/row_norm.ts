// Layer and group normalisation: x viewed as [R, D] rows normalised independently (mean and biased
// variance over the D elements of a row), then an optional affine:
//   layer norm: rows = the leading dims, D = prod(normalizedShape), w / b [D] per element ('elem');
//   group norm: x [N, C, S] as rows (n, group) of D = (C / G) * S contiguous elements,
//               w / b [C] per channel: element j of row (n, grp) has channel grp * C/G + j / S ('chan').
// rowNormKernel, in one of two layouts: 'group', one workgroup per row (lanes along the row, the
// lanes' partial results merged in workgroup memory), or 'lane', one invocation per row (no
// workgroup merge and no barrier; for software adapters, where a barrier costs more than the
// row's loads); src/policy/norm_choice.ts picks.
//   fwd: moments of the row (moments.ts), mean [R] and rstd [R] = 1/sqrt(var + eps) written for the
//        backward, then y = (x - mean) * rstd * w + b in a second walk over the row (cache-hot).
//   bwd: with gw = g * w and xhat = (x - mean) * rstd, sums A = sum(gw), B = sum(gw * xhat) over the
//        row, then dx = rstd * (gw - A / D - xhat * B / D) in a second walk.
// Weight and bias gradients: layerNormParamGradKernel (below) for layer norm; group norm's are
// per-channel sums, channelGradSumsKernel of channel_stats.ts with per-(sample, group) statistics.
// Units are vec4 when a vec4 stays inside one weight index range: D % 4 == 0 for 'elem',
// S % 4 == 0 for 'chan' (group norm without weight and bias runs as 'elem').
import type { Caps } from './kernel.ts';
import { type StorageDecl, defineKernel, f32, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS } from './wgsl_lib.ts';
import { bufferMap } from './channel_stats.ts';
import { streamGeom } from './stream.ts';
import { CHAN_MERGE_WGSL, LANE_SEGMENT, type LaneWalk, laneMomentsWgsl, laneSums2Wgsl, momentsOf, wgMomentsWgsl, wgSum2Wgsl } from './moments.ts';

export interface RowNormGeom {
  /** rows */
  r: number;
  /** elements per row */
  d: number;
  /** 'elem': w / b [D]; 'chan': w / b [C] per channel of group norm (needs groups and s) */
  affine: 'elem' | 'chan';
  weight: boolean;
  bias: boolean;
  /** 'chan': groups G (rows are (n, group), so a row's group is row % G) */
  groups?: number;
  /** 'chan': elements per channel */
  s?: number;
  eps: number;
}

/**
 * How {@link rowNormKernel} walks a row: 'group' (one workgroup per row) or 'lane' (one invocation per row).
 */
export type RowNormLayout = 'group' | 'lane';

/**
 * Params of {@link rowNormKernel}: `r` rows of `d` elements, the affine mode (per element for layer
 * norm, per channel for group norm), epsilon, the pass and the layout (default 'group').
 */
export interface RowNormParams extends RowNormGeom {
  mode: 'fwd' | 'bwd';
  /** default 'group' */
  layout?: RowNormLayout;
}

/** Channels per group ('chan'). */
const cpg = (p: RowNormGeom) => (p.affine === 'chan' ? p.d / p.s! : 1);
const isVec4 = (p: RowNormGeom) => (p.affine === 'chan' ? p.s! % 4 === 0 : p.d % 4 === 0);
const vw = (p: RowNormGeom) => (isVec4(p) ? 4 : 1);
const elemT = (p: RowNormGeom) => (isVec4(p) ? 'vec4<f32>' : 'f32');
/** units per row / per channel */
const dv = (p: RowNormGeom) => p.d / vw(p);
const svOf = (p: RowNormGeom) => (p.affine === 'chan' ? p.s! / vw(p) : dv(p));
const rowWg = (caps: Caps) => streamGeom(caps).wg;
const layoutOf = (p: RowNormParams): RowNormLayout => p.layout ?? 'group';
/** Lanes walking one row: the workgroup's, or one. */
const stride = (p: RowNormParams, caps: Caps) => (layoutOf(p) === 'group' ? rowWg(caps) : 1);

function rowStorage(p: RowNormParams): StorageDecl[] {
  const T = elemT(p);
  // 'elem' weights are read per unit (vec4 with the data); 'chan' weights per channel (scalar)
  const WT = p.affine === 'elem' ? T : 'f32';
  const w = p.weight ? [read('w', WT)] : [];
  if (p.mode === 'fwd') return [read('x', T), ...w, ...(p.bias ? [read('b', WT)] : []), rw('y', T), rw('mean'), rw('rstd')];
  return [read('g', T), read('x', T), read('mean'), read('rstd'), ...w, rw('gx', T)];
}

/** A lane's walk over the units j = lane, lane + stride, ... of its row (lane = lidx in 'group',
 * 0 in 'lane'), in segments of LANE_SEGMENT of its units; for 'chan' it also tracks the channel
 * within the group (cc) and the unit within the channel (ss) without division. */
function rowWalk(p: RowNormParams, caps: Caps): LaneWalk {
  const chan = p.affine === 'chan';
  const st = stride(p, caps);
  const seg = LANE_SEGMENT * st;
  return {
    T: elemT(p),
    vw: vw(p),
    pre: chan ? 'var cc = lane / u.sv;\n  var ss = lane % u.sv;' : '',
    outer: `for (var jb = 0u; jb < u.dv; jb += ${seg}u)`,
    segment: `let je = min(jb + ${seg}u, u.dv);`,
    inner: `for (var j = jb + lane; j < je; j += ${st}u)`,
    step: chan ? 'ss += u.ds; cc += u.dc; if (ss >= u.sv) { ss -= u.sv; cc += 1u; }' : '',
  };
}

/** A second walk over the row without segments (the writing pass). */
function rowPass(p: RowNormParams, caps: Caps, body: string): string {
  const chan = p.affine === 'chan';
  return `{
    ${chan ? 'var cc = lane / u.sv;\n    var ss = lane % u.sv;' : ''}
    for (var j = lane; j < u.dv; j += ${stride(p, caps)}u) {
      ${body}
      ${chan ? 'ss += u.ds; cc += u.dc; if (ss >= u.sv) { ss -= u.sv; cc += 1u; }' : ''}
    }
  }`;
}

/** WGSL for the weight / bias of the unit at the walk's cursor. */
const wAt = (p: RowNormGeom) => (p.affine === 'elem' ? 'w[j]' : 'w[c0 + cc]');
const bAt = (p: RowNormGeom) => (p.affine === 'elem' ? 'b[j]' : 'b[c0 + cc]');

/**
 * Layer / group normalisation of rows x [R, D] (mean and biased variance per row), then an optional
 * affine. Bindings: fwd `x [R, D]`, `w`, `b` (when set), `y [R, D]`, `mean [R]`, `rstd [R]` (rw); bwd
 * `g [R, D]`, `x [R, D]`, `mean [R]`, `rstd [R]`, `w` (when set), `gx [R, D]` (rw).
 */
export const rowNormKernel = defineKernel<RowNormParams>({
  name: 'row_norm',
  spec: (p, caps) =>
    `${p.mode}:${p.affine}:${vw(p) === 4 ? 'v4' : 's'}${p.weight ? ':w' : ''}${p.bias ? ':b' : ''}:${layoutOf(p)}:wg${rowWg(caps)}`,
  storage: rowStorage,
  uniforms: (p, caps) => {
    const st = stride(p, caps);
    return [
      u32('r', p.r), u32('dv', dv(p)), u32('sv', svOf(p)), u32('ds', st % svOf(p)), u32('dc', Math.floor(st / svOf(p))),
      u32('groups', p.groups ?? 1), u32('cpg', cpg(p)), f32('eps', p.eps), f32('invd', 1 / p.d),
    ];
  },
  dispatch: (p, caps) => (layoutOf(p) === 'group' ? p.r : Math.ceil(p.r / rowWg(caps))),
  body: (p, caps) => {
    const wg = rowWg(caps);
    const group = layoutOf(p) === 'group';
    const walk = rowWalk(p, caps);
    const chan = p.affine === 'chan';
    const head = `
  ${group ? 'let row = wid.y * nwg.x + wid.x;\n  let lane = lidx;' : `let row = (wid.y * nwg.x + wid.x) * ${wg}u + lidx;\n  let lane = 0u;`}
  if (row >= u.r) { return; }${group ? '  // whole workgroups' : ''}
  let base = row * u.dv;
  ${chan ? 'let c0 = (row % u.groups) * u.cpg;' : ''}`;
    const W = p.weight ? ` * ${wAt(p)}` : '';
    if (p.mode === 'fwd') {
      const first = vw(p) === 4 ? 'x[base].x' : 'x[base]';
      return `
${CHAN_MERGE_WGSL}
${group ? wgMomentsWgsl(wg) : ''}
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  ${head}
  ${laneMomentsWgsl(walk, 'x[base + j]', first)}
  let mr = ${group ? 'wgMoments(lidx, acc)' : 'acc'};
  let mu = mr.y;
  let rs = inverseSqrt(mr.z / mr.x + u.eps);
  if (lane == 0u) {
    mean[row] = mu;
    rstd[row] = rs;
  }
  ${rowPass(p, caps, `y[base + j] = (x[base + j] - mu) * rs${W}${p.bias ? ` + ${bAt(p)}` : ''};`)}
}`;
    }
    const gw = `g[base + j]${W}`;
    return `
${group ? wgSum2Wgsl(wg) : ''}
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  ${head}
  let mu = mean[row];
  let rs = rstd[row];
  ${laneSums2Wgsl(walk, `let t1 = ${gw};\n      let t2 = t1 * (x[base + j] - mu);`)}
  let t = ${group ? 'wgSum2(lidx, acc)' : 'acc'};
  let a = t.x * u.invd;
  let bb = t.y * rs * u.invd;
  ${rowPass(p, caps, `gx[base + j] = rs * (${gw} - a - (x[base + j] - mu) * rs * bb);`)}
}`;
  },
  cpu: (p, bufs) => {
    const b = bufferMap(rowStorage(p), bufs);
    const S = p.s ?? p.d;
    const wIdx = (row: number, j: number) => (p.affine === 'elem' ? j : (row % (p.groups ?? 1)) * cpg(p) + Math.floor(j / S));
    const wv = (row: number, j: number) => (p.weight ? b.w[wIdx(row, j)] : 1);
    for (let r = 0; r < p.r; r++) {
      const o = r * p.d;
      if (p.mode === 'fwd') {
        const [, mu, m2] = momentsOf(p.d, (j) => b.x[o + j]);
        const rs = 1 / Math.sqrt(m2 / p.d + p.eps);
        b.mean[r] = mu;
        b.rstd[r] = rs;
        for (let j = 0; j < p.d; j++) b.y[o + j] = (b.x[o + j] - mu) * rs * wv(r, j) + (p.bias ? b.b[wIdx(r, j)] : 0);
      } else {
        const mu = b.mean[r];
        const rs = b.rstd[r];
        let A = 0;
        let B = 0;
        for (let j = 0; j < p.d; j++) {
          const gw = b.g[o + j] * wv(r, j);
          A += gw;
          B += gw * (b.x[o + j] - mu) * rs;
        }
        for (let j = 0; j < p.d; j++) {
          const gw = b.g[o + j] * wv(r, j);
          b.gx[o + j] = rs * (gw - A / p.d - (b.x[o + j] - mu) * rs * (B / p.d));
        }
      }
    }
  },
});

/**
 * Params of {@link layerNormParamGradKernel}: `r` rows of `d` elements split into `chunks` of rows,
 * and which of dw, db to write.
 */
export interface LayerNormParamGradParams {
  r: number;
  d: number;
  /** row chunks: with more than one, dw / db are partial sums [chunks, D] to add up */
  chunks: number;
  /** write dw = sum over rows of g * xhat */
  weight: boolean;
  /** write db = sum over rows of g */
  bias: boolean;
}

const pgVec4 = (p: LayerNormParamGradParams) => p.d % 4 === 0;
const pgT = (p: LayerNormParamGradParams) => (pgVec4(p) ? 'vec4<f32>' : 'f32');
const pgDv = (p: LayerNormParamGradParams) => (pgVec4(p) ? p.d / 4 : p.d);
const pgRows = (p: LayerNormParamGradParams) => Math.ceil(p.r / p.chunks);
/** Workgroups of columns (per chunk). */
export const layerNormColumnGroups = (p: { d: number }, caps: Caps) =>
  Math.ceil((p.d % 4 === 0 ? p.d / 4 : p.d) / rowWg(caps));

function pgStorage(p: LayerNormParamGradParams): StorageDecl[] {
  const T = pgT(p);
  return [read('g', T), read('x', T), read('mean'), read('rstd'), ...(p.weight ? [rw('dw', T)] : []), ...(p.bias ? [rw('db', T)] : [])];
}

/** Layer norm's dw [D] = sum_r g * xhat and db [D] = sum_r g: one invocation per column (unit),
 * neighbouring lanes on neighbouring columns, walking the rows of its chunk. */
export const layerNormParamGradKernel = defineKernel<LayerNormParamGradParams>({
  name: 'layer_norm_param_grad',
  spec: (p, caps) => `${pgVec4(p) ? 'v4' : 's'}${p.weight ? ':w' : ''}${p.bias ? ':b' : ''}:wg${rowWg(caps)}`,
  storage: pgStorage,
  uniforms: (p, caps) => [u32('r', p.r), u32('dv', pgDv(p)), u32('cg', layerNormColumnGroups(p, caps)), u32('rc', pgRows(p))],
  dispatch: (p, caps) => layerNormColumnGroups(p, caps) * p.chunks,
  body: (p, caps) => {
    const wg = rowWg(caps);
    const T = pgT(p);
    // two-level sums as moments.ts: segments of LANE_SEGMENT rows in f32, added into the totals
    const sums = `
  var accW = ${T}(0.0);
  var accB = ${T}(0.0);
  for (var rb = r0; rb < r1; rb += ${LANE_SEGMENT}u) {
    let re = min(rb + ${LANE_SEGMENT}u, r1);
    var a1 = ${T}(0.0);
    var a2 = ${T}(0.0);
    for (var r = rb; r < re; r++) {
      let i = r * u.dv + col;
      let gv = g[i];
      a1 += gv;
      a2 += gv * (x[i] - mean[r]) * rstd[r];
    }
    accB += a1;
    accW += a2;
  }`;
    return `
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  let w = wid.y * nwg.x + wid.x;
  let chunk = w / u.cg;
  let col = (w % u.cg) * ${wg}u + lidx;
  if (col >= u.dv) { return; }
  let r0 = chunk * u.rc;
  let r1 = min(r0 + u.rc, u.r);
  ${sums}
  ${p.weight ? 'dw[chunk * u.dv + col] = accW;' : ''}
  ${p.bias ? 'db[chunk * u.dv + col] = accB;' : ''}
}`;
  },
  cpu: (p, bufs) => {
    const b = bufferMap(pgStorage(p), bufs);
    const rc = pgRows(p);
    for (let q = 0; q < p.chunks; q++)
      for (let j = 0; j < p.d; j++) {
        let sw = 0;
        let sb = 0;
        for (let r = q * rc; r < Math.min((q + 1) * rc, p.r); r++) {
          const i = r * p.d + j;
          sb += b.g[i];
          sw += b.g[i] * (b.x[i] - b.mean[r]) * b.rstd[r];
        }
        if (p.weight) b.dw[q * p.d + j] = sw;
        if (p.bias) b.db[q * p.d + j] = sb;
      }
  },
});
