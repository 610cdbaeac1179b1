// Batch normalisation's streaming pass (torch.nn.functional.batch_norm) over x [N, C, S], S = the
// product of the trailing dims (1 for [N, C]), M = N * S elements per channel:
//   forward, training: channel_stats.ts's statistics pass (one read of x: mean, invstd, running
//            statistics), then batchNormKernel 'fwd' (second read of x, write of y):
//            y = (x - mean) * invstd * w + b, which also adds 1 to num_batches_tracked (int32, on
//            the GPU) when asked. The statistics pass reads the counter (cumulative average) and
//            this later pass writes it, so no dispatch races on it.
//   forward, eval: batchNormKernel 'fwd' with the running mean and variance.
//   backward: channel_stats.ts's gradient sums sg = sum(g), sgx = sum(g * xhat), then
//            batchNormKernel 'bwd': dx = w * invstd * (g - sg / M - xhat * sgx / M); in eval
//            'bwdEval': dx = g * w / sqrt(running_var + eps).
// Launch layouts are stream.ts's row layouts over N * C rows of S / vw units (the channel is
// uniform along a row, so its coefficients are computed once per row in 'rows'); [N, C] runs as N
// rows of C units (the channel is the column).
import type { Caps } from './kernel.ts';
import { type StorageDecl, defineKernel, f32, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';
import { type RowLayout, rowGroups, rowLayout, rowLayoutKey } from './stream.ts';
import {
  type ChannelGeom, bufferMap, channelRowUnits as sv, channelUnitType as elemT, channelUnitWidth as vw,
} from './channel_stats.ts';

/**
 * Params of {@link batchNormKernel} over x [N, C, S] (S = the product of the trailing dimensions,
 * 1 for [N, C]): the pass (`mode`), epsilon, which of weight / bias are bound and which statistic
 * `stat` holds.
 */
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
    const b = bufferMap(bnStorage(p), bufs);
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

