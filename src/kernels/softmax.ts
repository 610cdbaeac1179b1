// Softmax and log-softmax over one dim, forward and backward, each one fused kernel.
// x: [outer, R, inner] (the reduced dim R in the middle; softmax over the last dim has inner = 1).
// A "row" is one (o, i) pair: its R elements sit at o * R * inner + i + k * inner, k in [0, R).
//   forward:   m = max_k x, s = sum_k exp(x - m) (one pass with an online (m, s) pair, rescaling s
//              when m grows), then y = exp(x - m) / s, or y = (x - m) - log(s) for log-softmax.
//              Stable for logits of 1e4; a NaN in a row makes the whole row NaN, a row of -inf too
//              (as torch).
//   backward:  softmax:     gx = y * (g - sum_k g * y)
//              log-softmax: gx = g - exp(y) * sum_k g
// Layouts (chosen by src/policy/softmax_choice.ts):
//   'group': one workgroup per row; lanes stride along the row (vec4 loads when inner == 1 and
//            R % 4 == 0), per-lane partial (m, s) or sums merge in workgroup memory.
//   'lane':  one invocation per row; neighbouring lanes take neighbouring i, so for inner > 1 each
//            step of the row loop reads consecutive addresses across the workgroup.
import type { NumArray } from './kernel.ts';
import { defineKernel, read, rw, u32 } from './shader.ts';
import { LINEAR_PARAMS, NAN_BITS, linearGid } from './wgsl_lib.ts';

/**
 * How {@link softmaxKernel} walks its rows: 'group' (one workgroup of `wg` per row) or 'lane' (one invocation per row).
 */
export type SoftmaxLayout = { mode: 'group'; wg: number } | { mode: 'lane'; wg: number };

/**
 * Params of {@link softmaxKernel}: x viewed as [outer, r, inner] with the reduced dimension in the
 * middle, the pass, log-softmax or softmax, and the layout (see softmaxParams in wt.kernels).
 */
export interface SoftmaxParams {
  pass: 'fwd' | 'bwd';
  /** log-softmax instead of softmax */
  log: boolean;
  outer: number;
  r: number;
  inner: number;
  layout: SoftmaxLayout;
}

const rowsOf = (p: SoftmaxParams) => p.outer * p.inner;
/** vec4 loads along the row: group layout over a contiguous row of a multiple of 4. */
const isVec4 = (p: SoftmaxParams) => p.layout.mode === 'group' && p.inner === 1 && p.r % 4 === 0;

/** -FLT_MAX: the running maximum starts here (not -inf, so exp(m_old - m_new) is never NaN). */
const LOWEST = '-3.4028234663852886e38';

/** WGSL for one row pass in the group layout: `k` runs over this lane's units, `idx` addresses
 * unit k. Returns the loop header text. */
function groupLoop(p: SoftmaxParams): { open: string; idx: string } {
  const wg = p.layout.wg;
  return isVec4(p)
    ? { open: `for (var k = lidx; k < u.r / 4u; k += ${wg}u) {`, idx: 'base / 4u + k' }
    : { open: `for (var k = lidx; k < u.r; k += ${wg}u) {`, idx: 'base + k * u.inner' };
}

/** Units per step of the group layout's reduction loop: four independent loads per lane let the
 * online (m, s) update compare once per four units (lavapipe, [32, 32768]: the pass took 0.57
 * instead of 0.75 ms); the remaining < 4 * wg units go one at a time. */
const UNROLL = 4;

/** WGSL: the group layout's reduction loop over this lane's units, UNROLL at a time; `step(idx)`
 * gets the unit indices of one step (UNROLL of them, then single ones for the tail). */
function groupReduceLoop(p: SoftmaxParams, step: (idx: string[]) => string): string {
  const wg = p.layout.wg;
  const n = isVec4(p) ? 'u.r / 4u' : 'u.r';
  const at = (k: string) => (isVec4(p) ? `base / 4u + ${k}` : `base + (${k}) * u.inner`);
  const idx = Array.from({ length: UNROLL }, (_, j) => at(j ? `k + ${j * wg}u` : 'k'));
  return `var k = lidx;
    for (; k + ${(UNROLL - 1) * wg}u < ${n}; k += ${UNROLL * wg}u) {
      ${step(idx)}
    }
    for (; k < ${n}; k += ${wg}u) {
      ${step([at('k')])}
    }`;
}

/** max(...) over WGSL expressions as a balanced tree. */
const maxTree = (xs: string[]): string =>
  xs.length === 1 ? xs[0] : `max(${maxTree(xs.slice(0, xs.length >> 1))}, ${maxTree(xs.slice(xs.length >> 1))})`;

function forwardBody(p: SoftmaxParams): string {
  const T = isVec4(p) ? 'vec4<f32>' : 'f32';
  const write = p.log ? 'y[IDX] = (v - T(mx)) - T(logS);' : 'y[IDX] = exp(v - T(mx)) * T(inv);';
  // one element (scalar) or four (vec4) into the running (m, s)
  const accumulate = isVec4(p)
    ? `let mv = max(max(v.x, v.y), max(v.z, v.w));
      if (mv > m) { s = s * exp(m - mv); m = mv; }
      let e = exp(v - vec4<f32>(m));
      s += (e.x + e.y) + (e.z + e.w);`
    : `if (v > m) { s = s * exp(m - v) + 1.0; m = v; } else { s += exp(v - m); }`;
  // a row holding +inf (tested by bit pattern): exp(inf - inf) is NaN, so the whole row is NaN (as torch)
  const finish = `let sf = select(s, bitcast<f32>(u.nanBits), bitcast<u32>(mx) == 0x7f800000u);
  ${p.log ? 'let logS = log(sf);' : 'let inv = 1.0 / sf;'}`;
  if (p.layout.mode === 'lane') {
    const wg = p.layout.wg;
    return `
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(wg)}
  if (gid >= u.rows) { return; }
  let base = (gid / u.inner) * u.r * u.inner + gid % u.inner;
  var m = ${LOWEST};
  var s = 0.0;
  for (var k = 0u; k < u.r; k++) {
    let v = x[base + k * u.inner];
    ${accumulate}
  }
  let mx = m;
  ${finish}
  for (var k = 0u; k < u.r; k++) {
    let v = x[base + k * u.inner];
    ${write.replace(/IDX/g, 'base + k * u.inner').replace(/T\(/g, 'f32(')}
  }
}`;
  }
  const wg = p.layout.wg;
  const loop = groupLoop(p);
  return `
var<workgroup> sm: array<f32, ${wg}>;
var<workgroup> ss: array<f32, ${wg}>;
// merge two (max, sum exp(x - max)) pairs; an empty pair has s == 0
fn merge(m1: f32, s1: f32, m2: f32, s2: f32) -> vec2<f32> {
  if (s2 == 0.0) { return vec2<f32>(m1, s1); }
  if (s1 == 0.0) { return vec2<f32>(m2, s2); }
  let m = max(m1, m2);
  return vec2<f32>(m, s1 * exp(m1 - m) + s2 * exp(m2 - m));
}
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
  let row = wid.y * nwg.x + wid.x;  // uniform across the workgroup, so the barriers below are too
  let live = row < u.rows;
  let base = (row / u.inner) * u.r * u.inner + row % u.inner;
  var m = ${LOWEST};
  var s = 0.0;
  if (live) {
    ${groupReduceLoop(p, (idx) => {
      // the step's max, one compare against the running max, then the step's exps
      const vs = idx.map((_, j) => `v${j}`);
      const mv = isVec4(p) ? `let q = ${maxTree(vs)};\n      let mv = max(max(q.x, q.y), max(q.z, q.w));` : `let mv = ${maxTree(vs)};`;
      return `${idx.map((i, j) => `let v${j} = x[${i}];`).join(' ')}
      ${mv}
      if (mv > m) { s = s * exp(m - mv); m = mv; }
      let mm = ${T}(m);
      let e = ${vs.map((v) => `exp(${v} - mm)`).join(' + ')};
      s += ${isVec4(p) ? '(e.x + e.y) + (e.z + e.w)' : 'e'};`;
    })}
  }
  sm[lidx] = m;
  ss[lidx] = s;
  for (var w = ${wg / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lidx < w) {
      let r = merge(sm[lidx], ss[lidx], sm[lidx + w], ss[lidx + w]);
      sm[lidx] = r.x;
      ss[lidx] = r.y;
    }
  }
  workgroupBarrier();
  if (!live) { return; }
  let mx = sm[0];
  s = ss[0];
  ${finish}
  ${loop.open}
    let v = x[${loop.idx}];
    ${write.replace(/IDX/g, loop.idx).replace(/T\(/g, `${T}(`)}
  }
}`;
}

function backwardBody(p: SoftmaxParams): string {
  const T = isVec4(p) ? 'vec4<f32>' : 'f32';
  // the row's reduction term and the write, per element (scalar) or unit (vec4)
  const term = p.log ? 'gv' : 'gv * yv';  // the lane layout's reduction term
  const write = p.log ? 'gx[IDX] = gv - exp(yv) * T(d);' : 'gx[IDX] = yv * (gv - T(d));';
  const hsum = isVec4(p) ? '(t.x + t.y) + (t.z + t.w)' : 't';
  if (p.layout.mode === 'lane') {
    const wg = p.layout.wg;
    return `
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(wg)}
  if (gid >= u.rows) { return; }
  let base = (gid / u.inner) * u.r * u.inner + gid % u.inner;
  var d = 0.0;
  for (var k = 0u; k < u.r; k++) {
    let gv = g[base + k * u.inner];
    let yv = y[base + k * u.inner];
    d += ${term};
  }
  for (var k = 0u; k < u.r; k++) {
    let gv = g[base + k * u.inner];
    let yv = y[base + k * u.inner];
    ${write.replace(/IDX/g, 'base + k * u.inner').replace(/T\(/g, 'f32(')}
  }
}`;
  }
  const wg = p.layout.wg;
  const loop = groupLoop(p);
  return `
var<workgroup> part: array<f32, ${wg}>;
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lidx: u32) {
  let row = wid.y * nwg.x + wid.x;  // uniform across the workgroup
  let live = row < u.rows;
  let base = (row / u.inner) * u.r * u.inner + row % u.inner;
  var acc = 0.0;
  if (live) {
    ${groupReduceLoop(p, (idx) => `let t = ${idx.map((i) => (p.log ? `g[${i}]` : `g[${i}] * y[${i}]`)).join(' + ')};
      acc += ${hsum};`)}
  }
  part[lidx] = acc;
  for (var w = ${wg / 2}u; w > 0u; w >>= 1u) {
    workgroupBarrier();
    if (lidx < w) { part[lidx] += part[lidx + w]; }
  }
  workgroupBarrier();
  if (!live) { return; }
  let d = part[0];
  ${loop.open}
    let gv = g[${loop.idx}];
    let yv = y[${loop.idx}];
    ${write.replace(/IDX/g, loop.idx).replace(/T\(/g, `${T}(`)}
  }
}`;
}

/**
 * Softmax or log-softmax over the middle dimension of [outer, R, inner], forward and backward,
 * as torch.softmax / torch.log_softmax. Bindings: fwd `x`, `y` (rw); bwd `y` (the forward output),
 * `g`, `gx` (rw), all [outer, R, inner].
 */
export const softmaxKernel = defineKernel<SoftmaxParams>({
  name: 'softmax',
  spec: (p) => `${p.pass}:${p.log ? 'log' : 'exp'}:${p.layout.mode}${p.layout.wg}${isVec4(p) ? ':v4' : ''}`,
  // fwd: x, y.  bwd: y (forward output), g (dL/dy), gx.
  storage: (p) => {
    const T = isVec4(p) ? 'vec4<f32>' : 'f32';
    return p.pass === 'fwd' ? [read('x', T), rw('y', T)] : [read('y', T), read('g', T), rw('gx', T)];
  },
  uniforms: (p) => [u32('rows', rowsOf(p)), u32('r', p.r), u32('inner', p.inner), u32('nanBits', NAN_BITS)],
  dispatch: (p) => (p.layout.mode === 'group' ? rowsOf(p) : Math.ceil(rowsOf(p) / p.layout.wg)),
  body: (p) => (p.pass === 'fwd' ? forwardBody(p) : backwardBody(p)),
  cpu: (p, bufs: NumArray[]) => {
    const { r, inner } = p;
    for (let o = 0; o < p.outer; o++)
      for (let i = 0; i < inner; i++) {
        const base = o * r * inner + i;
        if (p.pass === 'fwd') {
          const [x, y] = bufs;
          let m = -Infinity;
          for (let k = 0; k < r; k++) {
            const v = x[base + k * inner];
            if (v > m || v !== v) m = v;
            if (v !== v) break;
          }
          let s = 0;
          for (let k = 0; k < r; k++) s += Math.exp(x[base + k * inner] - m);
          if (p.log) {
            const logS = Math.log(s);
            for (let k = 0; k < r; k++) y[base + k * inner] = x[base + k * inner] - m - logS;
          } else {
            const inv = 1 / s;
            for (let k = 0; k < r; k++) y[base + k * inner] = Math.exp(x[base + k * inner] - m) * inv;
          }
        } else {
          const [y, g, gx] = bufs;
          let d = 0;
          for (let k = 0; k < r; k++) d += p.log ? g[base + k * inner] : g[base + k * inner] * y[base + k * inner];
          for (let k = 0; k < r; k++) {
            const j = base + k * inner;
            gx[j] = p.log ? g[j] - Math.exp(y[j]) * d : y[j] * (g[j] - d);
          }
        }
      }
  },
});
