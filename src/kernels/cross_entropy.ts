// Cross entropy from logits: fused log-softmax + negative log-likelihood, and the helpers a training
// loop needs to keep its statistics on the GPU (a scalar sum, an argmax-accuracy count).
// logits [B, C] f32 (f64 on the CPU), labels [B] int32.
//   forward:  one workgroup per row; each invocation keeps an online (max, sum exp(x - max)) pair
//             over a strided slice of the row, the pairs merge in workgroup memory, and invocation 0
//             writes lse[b] = max + log(sum) and loss[b] = lse[b] - x[b, label]. Stable for |x| ~ 1e4.
//   backward: gx[b, c] = g * scale * (exp(x[b, c] - lse[b]) - (c == label[b])), scale = 1/B (mean).
// A label outside [0, C) cannot be checked on the host without a readback when the labels live on
// the GPU: there the row's loss and gradient become NaN and the kernel atomically adds 1 to a flag
// buffer (see `crossEntropyLabelErrors` in src/autograd/loss.ts). CPU labels are checked up front.
import type { NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, NAN_BITS, isNanWgsl, linearGid } from './wgsl_lib.ts';

export interface CeParams {
  b: number;
  c: number;
}

const RWG = 64;

export const ceForwardKernel = defineKernel<CeParams>({
  name: 'cross_entropy',
  spec: () => '',
  // logits [B,C], labels [B] i32, lse [B], loss [B], flag [1] i32 (bad-label count, atomic)
  storage: () => [read('x'), read('labels', 'i32'), rw('lse'), rw('loss'), rw('flag', 'atomic<i32>')],
  uniforms: (p) => [u32('b', p.b), u32('c', p.c), u32('nanBits', NAN_BITS)],
  dispatch: (p) => p.b,
  body: () => `
var<workgroup> sm: array<f32, ${RWG}>;
var<workgroup> ss: array<f32, ${RWG}>;
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
  let live = row < u.b;
  var m = -3.4028234663852886e38;
  var s = 0.0;
  if (live) {
    let base = row * u.c;
    for (var j = lid; j < u.c; j += ${RWG}u) {
      let v = x[base + j];
      if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }
    }
  }
  sm[lid] = m;
  ss[lid] = s;
  for (var w = ${RWG / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lid < w) {
      let r = merge(sm[lid], ss[lid], sm[lid + w], ss[lid + w]);
      sm[lid] = r.x;
      ss[lid] = r.y;
    }
  }
  if (lid == 0u && live) {
    let l = log(ss[0]) + sm[0];
    lse[row] = l;
    let t = labels[row];
    if (t < 0 || t >= i32(u.c)) {
      loss[row] = bitcast<f32>(u.nanBits);
      atomicAdd(&flag[0], 1);
    } else {
      loss[row] = l - x[row * u.c + u32(t)];
    }
  }
}`,
  cpu: (p, [x, labels, lse, loss, flag]: NumArray[]) => {
    for (let r = 0; r < p.b; r++) {
      const base = r * p.c;
      let m = -Infinity;
      for (let j = 0; j < p.c; j++) if (x[base + j] > m) m = x[base + j];
      let s = 0;
      for (let j = 0; j < p.c; j++) s += Math.exp(x[base + j] - m);
      const l = m + Math.log(s);
      lse[r] = l;
      const t = labels[r];
      if (!(t >= 0 && t < p.c)) {
        loss[r] = NaN;
        flag[0] += 1;
      } else loss[r] = l - x[base + t];
    }
  },
});

export interface CeBackwardParams extends CeParams {
  /** 1/B for the mean */
  scale: number;
}

const EWG = 256;

export const ceBackwardKernel = defineKernel<CeBackwardParams>({
  name: 'cross_entropy_bwd',
  spec: () => '',
  // logits [B,C], labels [B] i32, lse [B], g [1] (upstream gradient of the scalar loss), gx [B,C]
  storage: () => [read('x'), read('labels', 'i32'), read('lse'), read('g'), rw('gx')],
  uniforms: (p) => [u32('n', p.b * p.c), u32('c', p.c), f32('scale', p.scale), u32('nanBits', NAN_BITS)],
  dispatch: (p) => Math.ceil((p.b * p.c) / EWG),
  body: () => `
@compute @workgroup_size(${EWG})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(EWG)}
  if (gid >= u.n) { return; }
  let row = gid / u.c;
  let j = i32(gid % u.c);
  let t = labels[row];
  let p = exp(x[gid] - lse[row]);
  let d = select(p, p - 1.0, j == t);
  let bad = t < 0 || t >= i32(u.c);
  gx[gid] = select(g[0] * u.scale * d, bitcast<f32>(u.nanBits), bad);
}`,
  cpu: (p, [x, labels, lse, g, gx]: NumArray[]) => {
    const k = g[0] * p.scale;
    for (let r = 0; r < p.b; r++) {
      const t = labels[r];
      const bad = !(t >= 0 && t < p.c);
      for (let j = 0; j < p.c; j++) {
        const i = r * p.c + j;
        const pr = Math.exp(x[i] - lse[r]);
        gx[i] = bad ? NaN : k * (j === t ? pr - 1 : pr);
      }
    }
  },
});

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
  // logits [B,C], labels [B] i32, out [1] f32
  storage: () => [read('x'), read('labels', 'i32'), rw('out')],
  uniforms: (p) => [u32('b', p.b), u32('c', p.c)],
  dispatch: () => 1,
  body: (p) => `
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
    if (bi == labels[r]) { hits += 1u; }
  }
  part[lid] = hits;
  for (var w = ${SWG / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lid < w) { part[lid] += part[lid + w]; }
  }
  if (lid == 0u) { out[0] = ${p.accumulate ? 'out[0] + ' : ''}f32(part[0]); }
}`,
  cpu: (p, [x, labels, out]: NumArray[]) => {
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
      if (bi === labels[r]) hits++;
    }
    out[0] = (p.accumulate ? out[0] : 0) + hits;
  },
});
