// Batch normalisation (torch.nn.functional.batch_norm) over x [N, C, S], S = the product of the
// trailing dims (1 for [N, C]); statistics per channel over its M = N * S elements.
//   forward, training: batchNormStatsKernel (one read of x) -> mean [C], invstd [C] = 1/sqrt(var + eps)
//            (biased variance) and, in place, the running statistics
//              running = (1 - f) * running + f * stat, stat = mean or the UNBIASED variance,
//              f = momentum, or 1 / (num_batches_tracked + 1) for the cumulative average;
//            then batchNormKernel 'fwd' (second read of x, write of y): y = (x - mean) * invstd * w + b,
//            which also adds 1 to num_batches_tracked (int32, on the GPU) when asked. The counter is
//            read by the statistics pass and written by the later pass, so no dispatch races on it.
//   forward, eval: batchNormKernel 'fwd' with the running mean and variance.
//   backward: channelGradSumsKernel -> sg = sum(g), sgx = sum(g * xhat) per channel (= dbias,
//            dweight), then batchNormKernel 'bwd': dx = w * invstd * (g - sg / M - xhat * sgx / M);
//            in eval 'bwdEval': dx = g * w / sqrt(running_var + eps).
// The two per-channel reductions run one workgroup per channel (chunks = 1), or split each channel
// into `chunks` ranges whose partial results a small merge kernel combines (for few channels; the
// choice is src/policy/norm_choice.ts's). Moments are accumulated as moments.ts describes. Units
// are vec4 when S % 4 == 0 (a vec4 never straddles two channels), scalars otherwise.
// channelGradSumsKernel also serves group norm's weight and bias gradients: there the statistics
// are per (sample, group) instead of per channel ('group').
import type { Caps, NumArray } from './kernel.ts';
import { type StorageDecl, type UField, defineKernel, f32, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';
import { type RowLayout, rowGroups, rowLayout, rowLayoutKey, streamGeom } from './stream.ts';
import {
  CHAN_MERGE_WGSL, LANE_SEGMENT, type LaneWalk, type Moments, chanMerge, laneMomentsWgsl, laneSums2Wgsl, momentsOf, wgMomentsWgsl,
  wgSum2Wgsl,
} from './moments.ts';

/** x [N, C, S]. */
export interface ChannelGeom {
  n: number;
  c: number;
  s: number;
}

const vw = (g: ChannelGeom) => (g.s % 4 === 0 ? 4 : 1);
const elemT = (g: ChannelGeom) => (vw(g) === 4 ? 'vec4<f32>' : 'f32');
const sv = (g: ChannelGeom) => g.s / vw(g);
/** Units (of vw elements) per channel. */
const channelUnits = (g: ChannelGeom) => g.n * sv(g);
const redWg = (caps: Caps) => streamGeom(caps).wg;

/** Map storage names to the buffers of a CPU twin call. */
function named(decls: StorageDecl[], bufs: NumArray[]): Record<string, NumArray> {
  return Object.fromEntries(decls.map((d, i) => [d.name, bufs[i]]));
}

// ---- the per-channel reductions ----

/** How a reduction workgroup walks its channel:
 *   'rows': row by row (n), lanes along the row's S / vw units (one address add per unit); chunks
 *           split the rows;
 *   'flat': lanes stride over the channel's N * S / vw units in (n, s) order, tracking n and s
 *           without division (for rows shorter than the workgroup, e.g. [N, C]); chunks split
 *           the units.
 * Either walk covers every unit; which is faster is src/policy/norm_choice.ts's call. */
export type ChannelWalk = 'rows' | 'flat';

interface Chunked extends ChannelGeom {
  walk: ChannelWalk;
  /** workgroups per channel; 1 = each workgroup finishes its channel itself */
  chunks: number;
}

/** Items per channel that chunks split: rows or units. */
export const channelItems = (g: ChannelGeom, walk: ChannelWalk) => (walk === 'rows' ? g.n : channelUnits(g));
const chunkItems = (p: Chunked) => Math.ceil(channelItems(p, p.walk) / p.chunks);
/** Units a lane sums per segment, times the lanes: the segment length in units. */
const segment = (caps: Caps) => LANE_SEGMENT * redWg(caps);

/** Uniforms of the channel walk: unit (n, s) of channel c is x[(n * C + c) * sv + s]. */
function walkFields(p: Chunked, caps: Caps): UField[] {
  const wg = redWg(caps);
  return [
    u32('c', p.c), u32('sv', sv(p)), u32('ci', channelItems(p, p.walk)), u32('cu', chunkItems(p)), u32('p', p.chunks),
    u32('dn', Math.floor(wg / sv(p))), u32('ds', wg % sv(p)), u32('ns', Math.ceil(sv(p) / segment(caps))),
  ];
}

/** The lane's walk over items [i0, i1) of channel c, and the x index of the unit at its cursor;
 * both walks define `nn`, the unit's sample. */
function channelWalk(p: Chunked, caps: Caps): { walk: LaneWalk; at: string } {
  const wg = redWg(caps);
  const seg = segment(caps);
  const base = { T: elemT(p), vw: vw(p) };
  if (p.walk === 'rows')
    return {
      walk: {
        ...base,
        pre: '',
        outer: 'for (var q = i0 * u.ns; q < i1 * u.ns; q++)',
        segment: `let nn = q / u.ns;
    let s0 = (q % u.ns) * ${seg}u;
    let se = min(s0 + ${seg}u, u.sv);
    let rb = (nn * u.c + c) * u.sv;`,
        inner: `for (var ss = s0 + lidx; ss < se; ss += ${wg}u)`,
        step: '',
      },
      at: 'rb + ss',
    };
  return {
    walk: {
      ...base,
      pre: 'var k = i0 + lidx;\n  var nn = k / u.sv;\n  var ss = k % u.sv;',
      outer: `for (var kb = i0; kb < i1; kb += ${seg}u)`,
      segment: `let ke = min(kb + ${seg}u, i1);`,
      inner: `for (; k < ke; k += ${wg}u)`,
      step: 'ss += u.ds; nn += u.dn; if (ss >= u.sv) { ss -= u.sv; nn += 1u; }',
    },
    at: '(nn * u.c + c) * u.sv + ss',
  };
}

/** The workgroup's channel c and item range [i0, i1); whole workgroups past the end return. */
const CHUNK_HEAD = `
  let w = wid.y * nwg.x + wid.x;
  if (w >= u.c * u.p) { return; }
  let c = w / u.p;
  let i0 = (w % u.p) * u.cu;
  let i1 = min(i0 + u.cu, u.ci);`;

/** Element range [e0, e1) of channel elements (n * S + s order) of chunk `q`. */
function chunkElems(p: Chunked, q: number): [number, number] {
  const per = p.walk === 'rows' ? p.s : vw(p); // elements per item
  const u = chunkItems(p);
  const items = channelItems(p, p.walk);
  return [Math.min(q * u, items) * per, Math.min((q + 1) * u, items) * per];
}
/** x index of element e (n * S + s order) of channel c. */
const channelIndex = (p: ChannelGeom, c: number, e: number) => (Math.floor(e / p.s) * p.c + c) * p.s + (e % p.s);

export type RunningUpdate = 'none' | 'momentum' | 'cumulative';

interface FinishParams {
  eps: number;
  /** running statistics: none, momentum f, or the cumulative average (f = 1 / (nbt + 1)) */
  update: RunningUpdate;
  momentum: number;
}

/** mean [C], invstd [C]; runMean, runVar [C] (updated in place); nbt [1] int32 (read). */
function finishStorage(p: FinishParams): StorageDecl[] {
  return [
    rw('mean'), rw('invstd'),
    ...(p.update !== 'none' ? [rw('runMean'), rw('runVar')] : []),
    ...(p.update === 'cumulative' ? [read('nbt', 'i32')] : []),
  ];
}

function finishWgsl(p: FinishParams): string {
  const upd =
    p.update === 'none'
      ? ''
      : `
  let f = ${p.update === 'momentum' ? 'u.momentum' : '1.0 / (f32(nbt[0]) + 1.0)'};
  runMean[c] = (1.0 - f) * runMean[c] + f * r.y;
  runVar[c] = (1.0 - f) * runVar[c] + f * (r.z / (r.x - 1.0));`;
  return `
fn finish(c: u32, r: vec3<f32>) {
  mean[c] = r.y;
  invstd[c] = inverseSqrt(r.z / r.x + u.eps);${upd}
}`;
}

function finishCpu(p: FinishParams, b: Record<string, NumArray>, c: number, r: Moments): void {
  b.mean[c] = r[1];
  b.invstd[c] = 1 / Math.sqrt(r[2] / r[0] + p.eps);
  if (p.update === 'none') return;
  const f = p.update === 'momentum' ? p.momentum : 1 / (b.nbt[0] + 1);
  b.runMean[c] = (1 - f) * b.runMean[c] + f * r[1];
  b.runVar[c] = (1 - f) * b.runVar[c] + f * (r[2] / (r[0] - 1));
}

const finishSpec = (p: FinishParams) => (p.update === 'none' ? '' : `:${p.update}`);

export interface BatchNormStatsParams extends Chunked, FinishParams {}

function statsStorage(p: BatchNormStatsParams): StorageDecl[] {
  // x [N, C, S]; then mean, invstd (+ running statistics), or part [C, chunks, 3] (count, mean, M2)
  return [read('x', elemT(p)), ...(p.chunks === 1 ? finishStorage(p) : [rw('part')])];
}

/** Per-channel mean and 1/sqrt(var + eps) (+ the running update), or per-chunk triples. */
export const batchNormStatsKernel = defineKernel<BatchNormStatsParams>({
  name: 'batch_norm_stats',
  spec: (p, caps) => `${vw(p) === 4 ? 'v4' : 's'}:${p.walk}:wg${redWg(caps)}${p.chunks === 1 ? `:direct${finishSpec(p)}` : ':part'}`,
  storage: statsStorage,
  uniforms: (p, caps) => [...walkFields(p, caps), f32('eps', p.eps), f32('momentum', p.momentum)],
  dispatch: (p) => p.c * p.chunks,
  body: (p, caps) => {
    const wg = redWg(caps);
    const { walk, at } = channelWalk(p, caps);
    const first = vw(p) === 4 ? 'x[c * u.sv].x' : 'x[c * u.sv]';
    const out =
      p.chunks === 1
        ? 'finish(c, r);'
        : 'part[w * 3u] = r.x;\n    part[w * 3u + 1u] = r.y;\n    part[w * 3u + 2u] = r.z;';
    return `
${CHAN_MERGE_WGSL}
${wgMomentsWgsl(wg)}
${p.chunks === 1 ? finishWgsl(p) : ''}
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  ${CHUNK_HEAD}
  ${laneMomentsWgsl(walk, `x[${at}]`, first)}
  let r = wgMoments(lidx, acc);
  if (lidx == 0u) {
    ${out}
  }
}`;
  },
  cpu: (p, bufs) => {
    const b = named(statsStorage(p), bufs);
    for (let c = 0; c < p.c; c++)
      for (let q = 0; q < p.chunks; q++) {
        const [e0, e1] = chunkElems(p, q);
        const r = momentsOf(e1 - e0, (i) => b.x[channelIndex(p, c, e0 + i)]);
        if (p.chunks === 1) finishCpu(p, b, c, r);
        else b.part.set(r, (c * p.chunks + q) * 3);
      }
  },
});

export interface BatchNormStatsMergeParams extends FinishParams {
  c: number;
  chunks: number;
}

const MERGE_WG = 64;
const mergeStorage = (p: BatchNormStatsMergeParams) => [read('part'), ...finishStorage(p)];

/** Merge the chunk triples of batchNormStatsKernel (part [C, chunks, 3]) and finish each channel. */
export const batchNormStatsMergeKernel = defineKernel<BatchNormStatsMergeParams>({
  name: 'batch_norm_stats_merge',
  spec: (p) => finishSpec(p),
  storage: mergeStorage,
  uniforms: (p) => [u32('c', p.c), u32('p', p.chunks), f32('eps', p.eps), f32('momentum', p.momentum)],
  dispatch: (p) => Math.ceil(p.c / MERGE_WG),
  body: (p) => `
${CHAN_MERGE_WGSL}
${finishWgsl(p)}
@compute @workgroup_size(${MERGE_WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(MERGE_WG)}
  if (gid >= u.c) { return; }
  var r = vec3<f32>(0.0);
  for (var q = 0u; q < u.p; q++) {
    let i = (gid * u.p + q) * 3u;
    r = chanMerge(r, vec3<f32>(part[i], part[i + 1u], part[i + 2u]));
  }
  finish(gid, r);
}`,
  cpu: (p, bufs) => {
    const b = named(mergeStorage(p), bufs);
    for (let c = 0; c < p.c; c++) {
      let r: Moments = [0, 0, 0];
      for (let q = 0; q < p.chunks; q++) {
        const i = (c * p.chunks + q) * 3;
        r = chanMerge(r, [b.part[i], b.part[i + 1], b.part[i + 2]]);
      }
      finishCpu(p, b, c, r);
    }
  },
});

export interface ChannelGradSumsParams extends Chunked {
  /** what `mean` and `stat` hold: 'invstd' per channel (batch statistics), 'var' per channel (the
   * running variance, eval), 'group' per (sample, group): [N * groups] mean and 1/std (group norm) */
  stat: 'invstd' | 'var' | 'group';
  eps: number;
  /** groups of C / groups consecutive channels ('group' only) */
  groups?: number;
}

function sumsStorage(p: ChannelGradSumsParams): StorageDecl[] {
  // g, x [N, C, S], mean, stat; then sg, sgx [C] or part [C, chunks, 2]
  const outs = p.chunks === 1 ? [rw('sg'), rw('sgx')] : [rw('part')];
  return [read('g', elemT(p)), read('x', elemT(p)), read('mean'), read('stat'), ...outs];
}

/** Per channel sg = sum(g) and sgx = sum(g * xhat), xhat = (x - mean) * invstd (or per-chunk pairs). */
export const channelGradSumsKernel = defineKernel<ChannelGradSumsParams>({
  name: 'channel_grad_sums',
  spec: (p, caps) => `${vw(p) === 4 ? 'v4' : 's'}:${p.walk}:wg${redWg(caps)}:${p.stat}:${p.chunks === 1 ? 'direct' : 'part'}`,
  storage: sumsStorage,
  uniforms: (p, caps) => {
    const g = p.groups ?? 1;
    return [...walkFields(p, caps), f32('eps', p.eps), u32('groups', g), u32('cpg', p.c / g)];
  },
  dispatch: (p) => p.c * p.chunks,
  body: (p, caps) => {
    const wg = redWg(caps);
    const { walk, at } = channelWalk(p, caps);
    const group = p.stat === 'group';
    const head = group
      ? 'let grp = c / u.cpg;'
      : `let m = mean[c];\n  let r = ${p.stat === 'var' ? 'inverseSqrt(stat[c] + u.eps)' : 'stat[c]'};`;
    const terms = group
      ? `let i = ${at};
      let si = nn * u.groups + grp;
      let t1 = g[i];
      let t2 = t1 * (x[i] - mean[si]) * stat[si];`
      : `let i = ${at};
      let t1 = g[i];
      let t2 = t1 * (x[i] - m);`;
    const out =
      p.chunks === 1 ? 'sg[c] = t.x;\n    sgx[c] = t.y;' : 'part[w * 2u] = t.x;\n    part[w * 2u + 1u] = t.y;';
    return `
${wgSum2Wgsl(wg)}
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  ${CHUNK_HEAD}
  ${head}
  ${laneSums2Wgsl(walk, terms)}
  ${group ? '' : 'acc.y = acc.y * r;'}
  let t = wgSum2(lidx, acc);
  if (lidx == 0u) {
    ${out}
  }
}`;
  },
  cpu: (p, bufs) => {
    const b = named(sumsStorage(p), bufs);
    const cpg = p.c / (p.groups ?? 1);
    for (let c = 0; c < p.c; c++) {
      const r = p.stat === 'var' ? 1 / Math.sqrt(b.stat[c] + p.eps) : b.stat[c];
      for (let q = 0; q < p.chunks; q++) {
        const [e0, e1] = chunkElems(p, q);
        let s1 = 0;
        let s2 = 0;
        for (let e = e0; e < e1; e++) {
          const i = channelIndex(p, c, e);
          const gv = b.g[i];
          s1 += gv;
          if (p.stat === 'group') {
            const si = Math.floor(e / p.s) * (p.groups ?? 1) + Math.floor(c / cpg);
            s2 += gv * (b.x[i] - b.mean[si]) * b.stat[si];
          } else s2 += gv * (b.x[i] - b.mean[c]) * r;
        }
        if (p.chunks === 1) {
          b.sg[c] = s1;
          b.sgx[c] = s2;
        } else b.part.set([s1, s2], (c * p.chunks + q) * 2);
      }
    }
  },
});

export interface ChannelSumsMergeParams {
  c: number;
  chunks: number;
}

/** sg, sgx [C] from the chunk pairs of channelGradSumsKernel (part [C, chunks, 2]). */
export const channelSumsMergeKernel = defineKernel<ChannelSumsMergeParams>({
  name: 'channel_sums_merge',
  spec: () => '',
  storage: () => [read('part'), rw('sg'), rw('sgx')],
  uniforms: (p) => [u32('c', p.c), u32('p', p.chunks)],
  dispatch: (p) => Math.ceil(p.c / MERGE_WG),
  body: () => `
@compute @workgroup_size(${MERGE_WG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(MERGE_WG)}
  if (gid >= u.c) { return; }
  var t = vec2<f32>(0.0);
  for (var q = 0u; q < u.p; q++) {
    let i = (gid * u.p + q) * 2u;
    t += vec2<f32>(part[i], part[i + 1u]);
  }
  sg[gid] = t.x;
  sgx[gid] = t.y;
}`,
  cpu: (p, [part, sg, sgx]) => {
    for (let c = 0; c < p.c; c++) {
      let s1 = 0;
      let s2 = 0;
      for (let q = 0; q < p.chunks; q++) {
        s1 += part[(c * p.chunks + q) * 2];
        s2 += part[(c * p.chunks + q) * 2 + 1];
      }
      sg[c] = s1;
      sgx[c] = s2;
    }
  },
});

// ---- the streaming pass ----

export interface BatchNormParams extends ChannelGeom {
  /** fwd: y from x; bwd: dx from g, x and the batch statistics; bwdEval: dx from g and the running variance */
  mode: 'fwd' | 'bwd' | 'bwdEval';
  eps: number;
  /** a weight [C] is bound (else w = 1) */
  weight: boolean;
  /** fwd: a bias [C] is bound (else b = 0) */
  bias: boolean;
  /** fwd: `stat` holds invstd (batch statistics) or the variance (running statistics) */
  stat: 'invstd' | 'var';
  /** fwd: add 1 to the int32 counter nbt[0] */
  count: boolean;
  /** launch layout (default: the adapter's, see stream.ts) */
  layout?: RowLayout;
}

const layoutOf = (p: BatchNormParams, caps: Caps) => p.layout ?? rowLayout(caps);
/** [N, C] runs as N rows of C (channel = column); otherwise N * C rows of S / vw units (channel = row % C). */
const perColumn = (p: ChannelGeom) => p.s === 1;
const rowCount = (p: ChannelGeom) => (perColumn(p) ? p.n : p.n * p.c);
const rowLen = (p: ChannelGeom) => (perColumn(p) ? p.c : sv(p));

function bnStorage(p: BatchNormParams): StorageDecl[] {
  const T = elemT(p);
  const w = p.weight ? [read('w')] : [];
  if (p.mode === 'fwd')
    return [read('x', T), read('mean'), read('stat'), ...w, ...(p.bias ? [read('b')] : []), rw('y', T), ...(p.count ? [rw('nbt', 'i32')] : [])];
  if (p.mode === 'bwd') return [read('g', T), read('x', T), read('mean'), read('stat'), ...w, read('sg'), read('sgx'), rw('gx', T)];
  return [read('g', T), read('stat'), ...w, rw('gx', T)];
}

/** Per-channel coefficients (as vec4) and the per-unit statement using them (`cf`, unit index `o`). */
function bnCoef(p: BatchNormParams): { coef: string; item: string } {
  const W = p.weight ? ' * w[c]' : '';
  if (p.mode === 'fwd')
    return {
      coef: `let inv = ${p.stat === 'var' ? 'inverseSqrt(stat[c] + u.eps)' : 'stat[c]'};
  return vec4<f32>(mean[c], inv${W}, ${p.bias ? 'b[c]' : '0.0'}, 0.0);`,
      item: 'y[o] = (x[o] - cf.x) * cf.y + cf.z;',
    };
  if (p.mode === 'bwd')
    return {
      // dx = k1 * g + k2 * (x - mean) + k3
      coef: `let inv = stat[c];
  let k1 = inv${W};
  return vec4<f32>(mean[c], k1, -k1 * inv * sgx[c] * u.invm, -k1 * sg[c] * u.invm);`,
      item: 'gx[o] = cf.y * g[o] + cf.z * (x[o] - cf.x) + cf.w;',
    };
  return { coef: `return vec4<f32>(inverseSqrt(stat[c] + u.eps)${W}, 0.0, 0.0, 0.0);`, item: 'gx[o] = cf.x * g[o];' };
}

/** The normalisation, its backward, or its eval backward, streaming over x. */
export const batchNormKernel = defineKernel<BatchNormParams>({
  name: 'batch_norm',
  spec: (p, caps) =>
    `${p.mode}:${vw(p) === 4 ? 'v4' : 's'}${perColumn(p) ? ':cols' : ''}:${p.stat}${p.weight ? ':w' : ''}${p.bias ? ':b' : ''}` +
    `${p.count ? ':count' : ''}:${rowLayoutKey(layoutOf(p, caps))}`,
  storage: bnStorage,
  uniforms: (p) => [
    u32('rows', rowCount(p)), u32('len', rowLen(p)), u32('c', p.c), f32('eps', p.eps), f32('invm', 1 / (p.n * p.s)),
  ],
  dispatch: (p, caps) => rowGroups(layoutOf(p, caps), rowCount(p), rowLen(p)),
  body: (p, caps) => {
    const l = layoutOf(p, caps);
    const { coef, item } = bnCoef(p);
    const count = p.count && p.mode === 'fwd' ? 'if (wid.x == 0u && wid.y == 0u && lidx == 0u) { nbt[0] = nbt[0] + 1; }' : '';
    const main =
      l.mode === 'flat'
        ? `@compute @workgroup_size(${l.wg})
fn main(${LINEAR_PARAMS}) {
  ${count}
  ${linearGid(l.wg)}
  if (gid >= u.rows * u.len) { return; }
  let o = gid;
  let cf = coef(${perColumn(p) ? 'gid % u.len' : '(gid / u.len) % u.c'});
  ${item}
}`
        : `@compute @workgroup_size(${l.wg})
fn main(${LINEAR_PARAMS}) {
  ${count}
  let r0 = (wid.y * nwg.x + wid.x) * ${l.rows}u;
  let r1 = min(r0 + ${l.rows}u, u.rows);
  for (var r = r0; r < r1; r++) {
    ${perColumn(p) ? '' : 'let cf = coef(r % u.c);  // workgroup-uniform'}
    for (var rx = lidx; rx < u.len; rx += ${l.wg}u) {
      let o = r * u.len + rx;
      ${perColumn(p) ? 'let cf = coef(rx);' : ''}
      ${item}
    }
  }
}`;
    return `
fn coef(c: u32) -> vec4<f32> {
  ${coef}
}
${main}`;
  },
  cpu: (p, bufs) => {
    const b = named(bnStorage(p), bufs);
    const w = (c: number) => (p.weight ? b.w[c] : 1);
    const invm = 1 / (p.n * p.s);
    for (let c = 0; c < p.c; c++) {
      let k: (i: number) => void;
      if (p.mode === 'fwd') {
        const inv = p.stat === 'var' ? 1 / Math.sqrt(b.stat[c] + p.eps) : b.stat[c];
        const m = b.mean[c];
        const sc = inv * w(c);
        const sh = p.bias ? b.b[c] : 0;
        k = (i) => (b.y[i] = (b.x[i] - m) * sc + sh);
      } else if (p.mode === 'bwd') {
        const inv = b.stat[c];
        const m = b.mean[c];
        const k1 = inv * w(c);
        const k2 = -k1 * inv * b.sgx[c] * invm;
        const k3 = -k1 * b.sg[c] * invm;
        k = (i) => (b.gx[i] = k1 * b.g[i] + k2 * (b.x[i] - m) + k3);
      } else {
        const k1 = w(c) / Math.sqrt(b.stat[c] + p.eps);
        k = (i) => (b.gx[i] = k1 * b.g[i]);
      }
      for (let n = 0; n < p.n; n++) for (let s = 0; s < p.s; s++) k((n * p.c + c) * p.s + s);
    }
    if (p.mode === 'fwd' && p.count) b.nbt[0] += 1;
  },
});

/** Units (vec4 when S % 4 == 0, else scalars) per channel, and per row (sample) of a channel. */
export const channelUnitCount = (g: ChannelGeom): number => channelUnits(g);
export const channelRowUnits = (g: ChannelGeom): number => sv(g);
