// The per-channel reductions of batch normalisation over x [N, C, S] (S = the product of the
// trailing dims; 1 for [N, C]), M = N * S elements per channel:
//   batchNormStatsKernel:  mean [C], invstd [C] = 1/sqrt(var + eps) (biased variance) and, in
//                          place, the running statistics
//                            running = (1 - f) * running + f * stat, stat = mean or the UNBIASED
//                            variance, f = momentum or 1 / (num_batches_tracked + 1) (cumulative);
//   channelGradSumsKernel: sg = sum(g), sgx = sum(g * xhat) per channel (batch norm's dbias,
//                          dweight; with per-(sample, group) statistics, group norm's).
// Each runs one workgroup per channel (chunks = 1), or `chunks` workgroups per channel whose
// partial results a small merge kernel combines (batchNormStatsMergeKernel, channelSumsMergeKernel).
// A workgroup walks its channel row by row or flat (ChannelWalk); moments are accumulated as
// moments.ts describes. Units are vec4 when S % 4 == 0 (a vec4 never straddles two channels),
// scalars otherwise. src/policy/norm_choice.ts picks the walk and the chunks.
import type { Caps, NumArray } from './kernel.ts';
import { type StorageDecl, type UField, defineKernel, f32, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';
import { streamGeom } from './stream.ts';
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
export function bufferMap(decls: StorageDecl[], bufs: NumArray[]): Record<string, NumArray> {
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

/**
 * Params of {@link batchNormStatsKernel}: the channel geometry x [N, C, S], how a workgroup walks a
 * channel and how many workgroups (`chunks`) split it, epsilon and the running-statistics update
 * ('none', 'momentum' with `momentum`, or 'cumulative').
 */
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
    const b = bufferMap(statsStorage(p), bufs);
    for (let c = 0; c < p.c; c++)
      for (let q = 0; q < p.chunks; q++) {
        const [e0, e1] = chunkElems(p, q);
        const r = momentsOf(e1 - e0, (i) => b.x[channelIndex(p, c, e0 + i)]);
        if (p.chunks === 1) finishCpu(p, b, c, r);
        else b.part.set(r, (c * p.chunks + q) * 3);
      }
  },
});

/**
 * Params of {@link batchNormStatsMergeKernel}: `c` channels of `chunks` partial triples each, and
 * the finishing options of {@link BatchNormStatsParams}.
 */
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
    const b = bufferMap(mergeStorage(p), bufs);
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

/**
 * Params of {@link channelGradSumsKernel}: the channel geometry g, x [N, C, S], the walk and
 * chunking of {@link BatchNormStatsParams}, and what the statistics bindings hold (`stat`).
 */
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
    const b = bufferMap(sumsStorage(p), bufs);
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

/**
 * Params of {@link channelSumsMergeKernel}: `c` channels of `chunks` partial (sg, sgx) pairs each.
 */
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

/** Units (vec4 when S % 4 == 0, else scalars): elements per unit, the WGSL type, units per channel
 * and per row (sample) of a channel. */
export const channelUnitWidth = (g: ChannelGeom): number => vw(g);
export const channelUnitType = (g: ChannelGeom): string => elemT(g);
export const channelUnitCount = (g: ChannelGeom): number => channelUnits(g);
export const channelRowUnits = (g: ChannelGeom): number => sv(g);
