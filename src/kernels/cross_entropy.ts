// Cross entropy from logits (fused log-softmax + weighted negative log-likelihood with label
// smoothing), negative log-likelihood of log-probabilities, and the helpers a training loop needs
// to keep its statistics on the GPU (a scalar sum, an argmax-accuracy count).
// Layouts: x [N, C, S] f32 (f64 on the CPU; S = 1 for [N, C] logits), labels [N, S] int32, one
// "row" r = n * S + s per label; class j of row r sits at x[n*C*S + j*S + s]. Optional class
// weights w [C] and their sum wsum [1].
//   forward, per row (t = label, lse = log sum_j exp(x_j), w_t = 1 without weights):
//     ce:  loss = (1 - eps) * w_t * (lse - x_t) + eps / C * sum_j w_j * (lse - x_j)
//     nll: loss = -w_t * x_t
//     a row whose label is `ignoreIndex` has loss 0 (and gradient 0).
//   'rows' layout (s = 1, cross entropy): one workgroup per row; each invocation keeps an online
//     (max, sum exp(x - max)) pair over a strided slice of the row, the pairs merge in workgroup
//     memory, invocation 0 writes lse[r] and loss[r]. Stable for |x| ~ 1e4 (the smoothing sum is
//     taken relative to the row's first logit for the same reason).
//   'lanes' layout (nll, or S > 1 where neighbouring rows are neighbouring addresses): one
//     invocation per row, looping over the C classes. src/policy/cross_entropy_choice.ts picks.
//   backward, per element: gx = k * ((1 - eps) * w_t * (p_j - [j == t]) + eps / C * (W * p_j - w_j)),
//     p_j = exp(x_j - lse), W = sum_j w_j (C without weights); nll: gx = -k * w_t * [j == t];
//     k = g * scale (/ den[0] for the mean), g one scalar or one value per row ('none').
//     Launched 'flat' (one invocation per element) or 'rows' (whole rows per workgroup, stream.ts's
//     rowLayout: measured ~2-4x faster on lavapipe at [256, 1000], where per-lane division and
//     per-invocation overhead dominate).
//   mean: out = sum_r loss[r] / den, den = sum of w_t over the rows not ignored (their count
//     without weights), as PyTorch divides: all rows ignored gives 0 / 0 = NaN.
// A label outside [0, C) other than ignoreIndex cannot be checked on the host without a readback
// when the labels live on the GPU: there the row's loss and gradient become NaN (it counts with
// weight 1 in the mean's denominator) and the kernel writes a fault record (count, first row, its
// label, C; wgsl_lib.ts), which the runtime reads back with the next readback or sync and raises
// (src/backend/faults.ts). The accuracy count records bad labels the same way. CPU labels are
// checked up front.
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, i32, read, rw, u32, type StorageDecl } from './shader.ts';
import { type RowLayout, type Stream, rowGroups, rowLayout, rowLayoutKey, rowsMain, streamGeom, streamGroups, streamLoop } from './stream.ts';
import { LINEAR_PARAMS, NAN_BITS, isNanWgsl, linearGid, recordFaultCpu, recordFaultWgsl } from './wgsl_lib.ts';

/** PyTorch's default ignore_index. */
export const IGNORE_INDEX = -100;

/**
 * Params of {@link ceForwardKernel} (and the base of {@link CeBackwardParams}): logits x [N, C, S]
 * (S = 1 for [N, C]) against int32 labels [N, S], cross entropy or (`nll`) negative log-likelihood,
 * optional class weights, label smoothing and ignoreIndex.
 */
export interface CeParams {
  /** batch N */
  b: number;
  /** classes C */
  c: number;
  /** positions per sample S (logits [N, C, S], labels [N, S]); default 1 */
  s?: number;
  /** the input holds log-probabilities: loss = -w_t * x_t (no log-softmax, no smoothing) */
  nll?: boolean;
  /** bind class weights w [C] */
  weighted?: boolean;
  /** label smoothing in [0, 1]; default 0. With weights it also binds wsum [1] = sum(w). */
  smoothing?: number;
  /** label value of rows to skip; default -100 */
  ignoreIndex?: number;
  /** forward layout (default: 'rows' for cross entropy with S = 1, else 'lanes') */
  layout?: 'rows' | 'lanes';
  /** launch geometry of the 'lanes' forward (default: the adapter's, see stream.ts) */
  stream?: Stream;
}

const sOf = (p: CeParams) => p.s ?? 1;
const rowsOf = (p: CeParams) => p.b * sOf(p);
const smooth = (p: CeParams) => !p.nll && (p.smoothing ?? 0) > 0;
const ignoreOf = (p: CeParams) => p.ignoreIndex ?? IGNORE_INDEX;
export const ceLayout = (p: CeParams): 'rows' | 'lanes' => p.layout ?? (p.nll || sOf(p) > 1 ? 'lanes' : 'rows');
const geo = (p: CeParams, caps: Caps) => p.stream ?? streamGeom(caps);
/** wsum is bound when weights meet smoothing */
const withWsum = (p: CeParams) => !!p.weighted && smooth(p);
const flags = (p: CeParams) =>
  `${p.nll ? 'nll' : 'ce'}${p.weighted ? ':w' : ''}${smooth(p) ? ':ls' : ''}`;

const RWG = 64;

/** Shared WGSL pieces: the weight of class `j` (a WGSL i32/u32 expression) as a factor. */
const wFactor = (p: CeParams, j: string) => (p.weighted ? `w[u32(${j})] * ` : '');
const wSum = (p: CeParams) => (p.weighted ? 'wsum[0]' : 'f32(u.c)');

/** loss of a row with a valid label t: lse `l`, logits at x[base + j * stride], `a` the smoothing
 * sum sum_j w_j (x_j - x_0). */
function rowLoss(p: CeParams, out: string, l: string, base: string, stride: string, a: string): string {
  const xt = `x[${base} + u32(t)${stride}]`;
  if (p.nll) return `${out} = -${wFactor(p, 't')}${xt};`;
  if (!smooth(p)) return `${out} = ${wFactor(p, 't')}(${l} - ${xt});`;
  return `${out} = (1.0 - u.eps) * ${wFactor(p, 't')}(${l} - ${xt}) + u.eps / f32(u.c) * (${wSum(p)} * (${l} - x[${base}]) - ${a});`;
}

/** The label branch: ignored rows 0, bad rows NaN and a fault record, else `valid`. */
const labelBranch = (out: string, valid: string, row: string) => `
    if (t == u.ignore) {
      ${out} = 0.0;
    } else if (t < 0 || t >= i32(u.c)) {
      ${out} = bitcast<f32>(u.nanBits);
      recordFault(${row}, t, i32(u.c));
    } else {
      ${valid}
    }`;

function forwardRows(p: CeParams): string {
  const sm = smooth(p);
  return `${recordFaultWgsl}
var<workgroup> sm: array<f32, ${RWG}>;
var<workgroup> ss: array<f32, ${RWG}>;
${sm ? `var<workgroup> sa: array<f32, ${RWG}>;` : ''}
// merge two (max, sum exp(x - max)) pairs; an empty pair has s == 0
fn merge(m1: f32, s1: f32, m2: f32, s2: f32) -> vec2<f32> {
  if (s2 == 0.0) { return vec2<f32>(m1, s1); }
  if (s1 == 0.0) { return vec2<f32>(m2, s2); }
  let m = max(m1, m2);
  return vec2<f32>(m, s1 * exp(m1 - m) + s2 * exp(m2 - m));
}
@compute @workgroup_size(${RWG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
  let row = wid.y * nwg.x + wid.x;  // uniform across the workgroup, so the barriers below are too
  let live = row < u.rows;
  var m = -3.4028234663852886e38;
  var s = 0.0;
  ${sm ? 'var a = 0.0;  // sum_j w_j * (x_j - x_0)' : ''}
  if (live) {
    let base = row * u.c;
    ${sm ? 'let x0 = x[base];' : ''}
    for (var j = lid; j < u.c; j += ${RWG}u) {
      let v = x[base + j];
      if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }
      ${sm ? `a += ${wFactor(p, 'j')}(v - x0);` : ''}
    }
  }
  sm[lid] = m;
  ss[lid] = s;
  ${sm ? 'sa[lid] = a;' : ''}
  for (var h = ${RWG / 2}u; h > 0u; h >>= 1u) {
    workgroupBarrier();
    if (lid < h) {
      let r = merge(sm[lid], ss[lid], sm[lid + h], ss[lid + h]);
      sm[lid] = r.x;
      ss[lid] = r.y;
      ${sm ? 'sa[lid] += sa[lid + h];' : ''}
    }
  }
  if (lid == 0u && live) {
    let l = log(ss[0]) + sm[0];
    lse[row] = l;
    let t = labels[row];
    let base = row * u.c;${labelBranch('loss[row]', rowLoss(p, 'loss[row]', 'l', 'base', '', 'sa[0]'), 'row')}
  }
}`;
}

function forwardLanes(p: CeParams, caps: Caps): string {
  const s = geo(p, caps);
  const loop = streamLoop(s, 'u.rows');
  const sm = smooth(p);
  const lse = p.nll
    ? ''
    : `
    var m = -3.4028234663852886e38;
    var s = 0.0;
    ${sm ? 'let x0 = x[base];\n    var a = 0.0;  // sum_j w_j * (x_j - x_0)' : ''}
    for (var j = 0u; j < u.c; j++) {
      let v = x[base + j * u.s];
      if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }
      ${sm ? `a += ${wFactor(p, 'j')}(v - x0);` : ''}
    }
    let l = log(s) + m;
    lse[i] = l;`;
  return `${recordFaultWgsl}
@compute @workgroup_size(${s.wg})
fn main(${loop.params}) {
  ${loop.open}
    let base = (i / u.s) * u.c * u.s + i % u.s;  // x[n, 0, s]${lse}
    let t = labels[i];${labelBranch('loss[i]', rowLoss(p, 'loss[i]', 'l', 'base', ' * u.s', 'a'), 'i')}
  }
}`;
}

/** CPU forward of one row: returns [lse, loss]; loss NaN for a bad label (the caller flags it). */
function cpuRow(p: CeParams, x: NumArray, w: NumArray | null, wsum: number, base: number, st: number, t: number): [number, number] {
  const c = p.c;
  let lse = 0;
  let a = 0;
  if (!p.nll) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) if (x[base + j * st] > m) m = x[base + j * st];
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[base + j * st] - m);
    lse = m + Math.log(s);
    if (smooth(p)) for (let j = 0; j < c; j++) a += (w ? w[j] : 1) * (x[base + j * st] - x[base]);
  }
  if (t === ignoreOf(p)) return [lse, 0];
  if (!(t >= 0 && t < c)) return [lse, NaN];
  const wt = w ? w[t] : 1;
  const xt = x[base + t * st];
  if (p.nll) return [lse, -wt * xt];
  const eps = smooth(p) ? p.smoothing! : 0;
  let loss = wt * (lse - xt);
  if (eps > 0) loss = (1 - eps) * loss + (eps / c) * ((w ? wsum : c) * (lse - x[base]) - a);
  return [lse, loss];
}

const ceUniforms = (p: CeParams) => [
  u32('rows', rowsOf(p)),
  u32('c', p.c),
  u32('s', sOf(p)),
  f32('eps', smooth(p) ? p.smoothing! : 0),
  i32('ignore', ignoreOf(p)),
  u32('nanBits', NAN_BITS),
];

/** Optional inputs after labels: w [C], wsum [1]. */
const weightDecls = (p: CeParams): StorageDecl[] => [
  ...(p.weighted ? [read('w')] : []),
  ...(withWsum(p) ? [read('wsum')] : []),
];

/**
 * Per-row cross entropy (fused log-softmax and weighted NLL with label smoothing) or NLL, as
 * torch.nn.functional.cross_entropy / nll_loss with reduction 'none'. Bindings: `x [N, C, S]`,
 * `labels [N, S]` (int32), `w [C]` and `wsum [1]` when weighted (wsum only with smoothing), `lse [N, S]`
 * (rw, not for nll), `loss [N, S]` (rw), `fault [4]` (rw, int32 record of labels outside [0, C)).
 */
export const ceForwardKernel = defineKernel<CeParams>({
  name: 'cross_entropy',
  spec: (p, caps) => `${flags(p)}:${ceLayout(p) === 'rows' ? 'rows' : `lanes${geo(p, caps).wg}x${geo(p, caps).per}`}`,
  // logits [N,C,S], labels [N,S] i32, [w [C], [wsum [1]]], [lse [N,S] unless nll], loss [N,S],
  // fault [4] i32 (bad labels: count, first row, its label, C; atomic, see wgsl_lib.ts)
  storage: (p) => [
    read('x'), read('labels', 'i32'), ...weightDecls(p),
    ...(p.nll ? [] : [rw('lse')]), rw('loss'), rw('fault', 'atomic<i32>'),
  ],
  uniforms: (p) => ceUniforms(p),
  dispatch: (p, caps) => (ceLayout(p) === 'rows' ? rowsOf(p) : streamGroups(rowsOf(p), geo(p, caps))),
  body: (p, caps) => {
    if (ceLayout(p) === 'rows') {
      if (p.nll || sOf(p) !== 1) throw new Error(`cross_entropy: the 'rows' layout needs cross entropy with S = 1`);
      return forwardRows(p);
    }
    return forwardLanes(p, caps);
  },
  cpu: (p, bufs: NumArray[]) => {
    let k = 0;
    const x = bufs[k++];
    const labels = bufs[k++];
    const w = p.weighted ? bufs[k++] : null;
    const wsum = withWsum(p) ? bufs[k++][0] : 0;
    const lse = p.nll ? null : bufs[k++];
    const loss = bufs[k++];
    const fault = bufs[k++];
    const s = sOf(p);
    for (let r = 0; r < rowsOf(p); r++) {
      const base = Math.floor(r / s) * p.c * s + (r % s);
      const t = labels[r];
      const [l, v] = cpuRow(p, x, w, wsum, base, s, t);
      if (lse) lse[r] = l;
      loss[r] = v;
      if (t !== ignoreOf(p) && !(t >= 0 && t < p.c)) recordFaultCpu(fault, r, t, p.c);
    }
  },
});

/**
 * Params of {@link ceBackwardKernel}: those of the forward, the upstream gradient's scale, whether to
 * divide by the mean's denominator `den` ({@link ceMeanKernel}) and whether g has one value per row.
 */
export interface CeBackwardParams extends CeParams {
  /** multiplies the upstream gradient (1/B for a host-known mean) */
  scale: number;
  /** also divide by den[0], the mean's denominator from ceMeanKernel (binding `den`) */
  divide?: boolean;
  /** g holds one value per row (reduction 'none') instead of one scalar */
  perRow?: boolean;
  /** backward launch layout (default: the adapter's `rowLayout`, see stream.ts): 'flat' is one
   * invocation per element; 'rows' walks whole rows of C classes (S positions per sample), so the
   * label row comes from a workgroup-uniform index */
  bwdLayout?: RowLayout;
}

const EWG = 256;

const bwdLayout = (p: CeBackwardParams, caps: Caps) => p.bwdLayout ?? rowLayout(caps);

/** Per element: `gid` (flat index into x / gx), `row` (label row) and `j` (class, i32) defined. */
function backwardItem(p: CeBackwardParams): string {
  const tc = 'clamp(t, 0, i32(u.c) - 1)';
  const d = p.nll
    ? `let d = select(0.0, -${p.weighted ? `w[u32(${tc})]` : '1.0'}, j == t);`
    : `let p = exp(x[gid] - lse[row]);
  var d = ${p.weighted ? `w[u32(${tc})] * ` : ''}select(p, p - 1.0, j == t);
  ${smooth(p) ? `d = (1.0 - u.eps) * d + u.eps / f32(u.c) * (${wSum(p)} * p - ${p.weighted ? 'w[u32(j)]' : '1.0'});` : ''}`;
  return `let t = labels[row];
  ${d}
  let k = g[${p.perRow ? 'row' : '0'}] * u.scale${p.divide ? ' / den[0]' : ''};
  let ignored = t == u.ignore;
  let bad = !ignored && (t < 0 || t >= i32(u.c));
  gx[gid] = select(select(k * d, 0.0, ignored), bitcast<f32>(u.nanBits), bad);`;
}

/**
 * The logits' (or log-probabilities') gradient of {@link ceForwardKernel}. Bindings: `x [N, C, S]`
 * (not for nll), `labels [N, S]` (int32), `w [C]` / `wsum [1]` as in the forward, `lse [N, S]` (not for
 * nll), `g [1]` or `[N, S]` (perRow), `den [1]` (divide), `gx [N, C, S]` (rw).
 */
export const ceBackwardKernel = defineKernel<CeBackwardParams>({
  name: 'cross_entropy_bwd',
  spec: (p, caps) =>
    `${flags(p)}${sOf(p) > 1 ? ':s' : ''}${p.divide ? ':div' : ''}${p.perRow ? ':row' : ''}:${rowLayoutKey(bwdLayout(p, caps))}`,
  // [logits [N,C,S] unless nll], labels [N,S] i32, [w [C], [wsum [1]]], [lse [N,S] unless nll],
  // g [1] or [N,S] (upstream gradient), [den [1]], gx [N,C,S]
  storage: (p) => [
    ...(p.nll ? [] : [read('x')]), read('labels', 'i32'), ...weightDecls(p),
    ...(p.nll ? [] : [read('lse')]), read('g'), ...(p.divide ? [read('den')] : []), rw('gx'),
  ],
  uniforms: (p) => [u32('n', rowsOf(p) * p.c), ...ceUniforms(p).slice(1), f32('scale', p.scale)],
  dispatch: (p, caps) => {
    const l = bwdLayout(p, caps);
    if (l.mode === 'flat') return Math.ceil((rowsOf(p) * p.c) / EWG);
    // rows of C (S = 1) or of S positions (one per (sample, class))
    return sOf(p) > 1 ? rowGroups(l, p.b * p.c, sOf(p)) : rowGroups(l, rowsOf(p), p.c);
  },
  body: (p, caps) => {
    const l = bwdLayout(p, caps);
    if (l.mode === 'rows') {
      // [planes, rowsPerPlane, rowLen] = [R, 1, C] (S = 1) or [N, C, S]
      if (sOf(p) > 1)
        return rowsMain(l, 'u.n / (u.c * u.s)', 'u.c', 'u.s', `let gid = o;
      let row = plane * u.s + rx;
      let j = i32(ry);
      ${backwardItem(p)}`);
      return rowsMain(l, 'u.n / u.c', '1u', 'u.c', `let gid = o;
      let row = plane;
      let j = i32(rx);
      ${backwardItem(p)}`);
    }
    const index =
      sOf(p) > 1
        ? `let sp = gid % u.s;
  let q = gid / u.s;
  let j = i32(q % u.c);
  let row = (q / u.c) * u.s + sp;`
        : `let row = gid / u.c;
  let j = i32(gid % u.c);`;
    return `
@compute @workgroup_size(${EWG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(EWG)}
  if (gid >= u.n) { return; }
  ${index}
  ${backwardItem(p)}
}`;
  },
  cpu: (p, bufs: NumArray[]) => {
    let i = 0;
    const x = p.nll ? null : bufs[i++];
    const labels = bufs[i++];
    const w = p.weighted ? bufs[i++] : null;
    const wsum = withWsum(p) ? bufs[i++][0] : p.c;
    const lse = p.nll ? null : bufs[i++];
    const g = bufs[i++];
    const den = p.divide ? bufs[i++][0] : 1;
    const gx = bufs[i++];
    const s = sOf(p);
    const c = p.c;
    const eps = smooth(p) ? p.smoothing! : 0;
    for (let r = 0; r < rowsOf(p); r++) {
      const t = labels[r];
      const ignored = t === ignoreOf(p);
      const bad = !ignored && !(t >= 0 && t < c);
      const k = (g[p.perRow ? r : 0] * p.scale) / den;
      const wt = w && !bad && !ignored ? w[t] : 1;
      const base = Math.floor(r / s) * c * s + (r % s);
      for (let j = 0; j < c; j++) {
        const e = base + j * s;
        if (ignored) gx[e] = 0;
        else if (bad) gx[e] = NaN;
        else if (p.nll) gx[e] = j === t ? -k * wt : 0;
        else {
          const pr = Math.exp(x![e] - lse![r]);
          let d = wt * (j === t ? pr - 1 : pr);
          if (eps > 0) d = (1 - eps) * d + (eps / c) * (wsum * pr - (w ? w[j] : 1));
          gx[e] = k * d;
        }
      }
    }
  },
});

/**
 * Params of {@link ceMeanKernel}: `rows` per-row losses (N * S) of `c` classes, whether class weights
 * are bound, and the ignored label (default -100).
 */
export interface CeMeanParams {
  /** rows R = N * S */
  rows: number;
  c: number;
  weighted?: boolean;
  ignoreIndex?: number;
}

const MWG = 256;

/** The weighted mean of per-row losses: out[0] = sum(loss) / den, den[0] = den, where den sums
 * w[t] (1 without weights; 1 for a bad label) over the rows whose label t is not ignoreIndex.
 * One workgroup. */
export const ceMeanKernel = defineKernel<CeMeanParams>({
  name: 'cross_entropy_mean',
  spec: (p) => (p.weighted ? 'w' : ''),
  // loss [R], labels [R] i32, [w [C]], out [1], den [1]
  storage: (p) => [read('loss'), read('labels', 'i32'), ...(p.weighted ? [read('w')] : []), rw('out'), rw('den')],
  uniforms: (p) => [u32('rows', p.rows), u32('c', p.c), i32('ignore', p.ignoreIndex ?? IGNORE_INDEX)],
  dispatch: () => 1,
  body: (p) => `
var<workgroup> pl: array<f32, ${MWG}>;
var<workgroup> pd: array<f32, ${MWG}>;
@compute @workgroup_size(${MWG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var sl = 0.0;
  var sd = 0.0;
  for (var i = lid; i < u.rows; i += ${MWG}u) {
    sl += loss[i];
    let t = labels[i];
    if (t != u.ignore) {
      ${p.weighted ? 'sd += select(w[u32(clamp(t, 0, i32(u.c) - 1))], 1.0, t < 0 || t >= i32(u.c));' : 'sd += 1.0;'}
    }
  }
  pl[lid] = sl;
  pd[lid] = sd;
  for (var h = ${MWG / 2}u; h > 0u; h >>= 1u) {
    workgroupBarrier();
    if (lid < h) {
      pl[lid] += pl[lid + h];
      pd[lid] += pd[lid + h];
    }
  }
  if (lid == 0u) {
    out[0] = pl[0] / pd[0];
    den[0] = pd[0];
  }
}`,
  cpu: (p, bufs: NumArray[]) => {
    const [loss, labels] = bufs;
    const w = p.weighted ? bufs[2] : null;
    const [out, den] = bufs.slice(p.weighted ? 3 : 2);
    const ign = p.ignoreIndex ?? IGNORE_INDEX;
    let sl = 0;
    let sd = 0;
    for (let i = 0; i < p.rows; i++) {
      sl += loss[i];
      const t = labels[i];
      if (t === ign) continue;
      sd += w && t >= 0 && t < p.c ? w[t] : 1;
    }
    out[0] = sl / sd;
    den[0] = sd;
  },
});

/** Params of {@link scalarSumKernel}: sum `n` values times `scale`, into or over out[0]. */
export interface ScalarSumParams {
  n: number;
  scale: number;
  /** add into out[0] instead of overwriting it */
  accumulate: boolean;
}

const SWG = 64;

/** out[0] = (accumulate ? out[0] : 0) + scale * sum(x[0..n)); one workgroup (n is a batch size). */
export const scalarSumKernel = defineKernel<ScalarSumParams>({
  name: 'scalar_sum',
  spec: (p) => (p.accumulate ? 'acc' : ''),
  // x [n], out [1]
  storage: () => [read('x'), rw('out')],
  uniforms: (p) => [u32('n', p.n), f32('scale', p.scale)],
  dispatch: () => 1,
  body: (p) => `
var<workgroup> part: array<f32, ${SWG}>;
@compute @workgroup_size(${SWG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var s = 0.0;
  for (var i = lid; i < u.n; i += ${SWG}u) { s += x[i]; }
  part[lid] = s;
  for (var w = ${SWG / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lid < w) { part[lid] += part[lid + w]; }
  }
  if (lid == 0u) { out[0] = ${p.accumulate ? 'out[0] + ' : ''}u.scale * part[0]; }
}`,
  cpu: (p, [x, out]: NumArray[]) => {
    let s = 0;
    for (let i = 0; i < p.n; i++) s += x[i];
    out[0] = (p.accumulate ? out[0] : 0) + p.scale * s;
  },
});

export interface AccuracyParams extends CeParams {
  accumulate: boolean;
}

/** out[0] = (accumulate ? out[0] : 0) + #{b : argmax_c x[b, c] == label[b]} (first maximum wins,
 * as in argmax). One workgroup; each invocation scans whole rows. */
export const accuracyKernel = defineKernel<AccuracyParams>({
  name: 'accuracy_count',
  spec: (p) => (p.accumulate ? 'acc' : ''),
  // logits [B,C], labels [B] i32, out [1] f32, fault [4] i32 (bad labels, as cross_entropy's)
  storage: () => [read('x'), read('labels', 'i32'), rw('out'), rw('fault', 'atomic<i32>')],
  uniforms: (p) => [u32('b', p.b), u32('c', p.c)],
  dispatch: () => 1,
  body: (p) => `${recordFaultWgsl}
var<workgroup> part: array<u32, ${SWG}>;
${isNanWgsl('f32')}
@compute @workgroup_size(${SWG})
fn main(@builtin(local_invocation_index) lid: u32) {
  var hits = 0u;
  for (var r = lid; r < u.b; r += ${SWG}u) {
    let base = r * u.c;
    var best = x[base];
    var bi = 0;
    for (var j = 1u; j < u.c; j++) {
      let v = x[base + j];
      if (v > best || (isNan(v) && !isNan(best))) { best = v; bi = i32(j); }
    }
    let t = labels[r];
    if (bi == t) { hits += 1u; }
    if (t != ${IGNORE_INDEX} && (t < 0 || t >= i32(u.c))) { recordFault(r, t, i32(u.c)); }
  }
  part[lid] = hits;
  for (var w = ${SWG / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lid < w) { part[lid] += part[lid + w]; }
  }
  if (lid == 0u) { out[0] = ${p.accumulate ? 'out[0] + ' : ''}f32(part[0]); }
}`,
  cpu: (p, [x, labels, out, fault]: NumArray[]) => {
    let hits = 0;
    for (let r = 0; r < p.b; r++) {
      const base = r * p.c;
      let best = x[base];
      let bi = 0;
      for (let j = 1; j < p.c; j++) {
        const v = x[base + j];
        if (v > best || (v !== v && best === best)) {
          best = v;
          bi = j;
        }
      }
      const t = labels[r];
      if (bi === t) hits++;
      if (t !== IGNORE_INDEX && !(t >= 0 && t < p.c)) recordFaultCpu(fault, r, t, p.c);
    }
    out[0] = (p.accumulate ? out[0] : 0) + hits;
  },
});
