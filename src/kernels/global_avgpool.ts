// Global average pooling, the adaptive average pool to 1 x 1 that ResNet, NiN, GoogLeNet and
// DenseNet end with: x [N, H, W] (N = batch * channels) -> y [N] = sum of the plane / H / W, one
// reduction per plane (the generic adaptive kernel would give each plane's whole sum to one
// invocation of a row-wise layout).
// Forward: a workgroup of `wg` invocations covers wg / lanes planes, `lanes` consecutive
// invocations per plane; each sums every lanes-th element (vec4s when H * W % 4 == 0, so each
// plane starts 16-byte aligned), then the plane's lanes add their partial sums in workgroup memory
// (log2(lanes) halving steps). lanes = 1: one invocation sums a whole plane, no workgroup memory.
// `packed` (lanes = 1, H * W >= 4 and not a multiple of 4): one invocation sums a group of
// G = 4 / gcd(H * W, 4) consecutive planes, which together start and end on a vec4 boundary, so
// every load is an aligned vec4; plane q of a group owns elements [q HW, (q + 1) HW) of it, the
// vec4s fully inside that range plus the components of the (at most two) vec4s it shares with its
// neighbours, whose offsets (q HW % 4) are baked into the WGSL.
// `perLane` (lanes = 1): each invocation sums perLane consecutive planes (or packed groups) in
// turn, so fewer, longer-lived invocations cover the map (a CPU rasteriser pays per invocation).
// src/policy/pool_choice.ts picks wg, lanes, perLane and packing for the map and the adapter.
// Backward: gx [N, H, W] = g[plane] / H / W, a broadcast over stream.ts's row layouts (one row of
// H * W per plane; vec4 stores when H * W % 4 == 0; `packed`: an invocation writes the G HW / 4
// vec4s of each of `perLane` consecutive groups of G planes, for N % G == 0).
import type { Caps, NumArray } from './kernel.ts';
import { defineKernel, f32, read, rw, u32 } from './shader.ts';
import { type RowLayout, rowGroups, rowLayout, rowLayoutKey, rowsMain } from './stream.ts';
import { LINEAR_PARAMS } from './wgsl_lib.ts';

/**
 * Params of {@link globalAvgPoolKernel}: `n` planes (batch * channels) of `h` x `w`, with the
 * workgroup size and the invocations per plane (see globalAvgPoolParams in wt.kernels).
 */
export interface GlobalAvgPoolParams {
  /** planes (batch * channels) */
  n: number;
  h: number;
  w: number;
  /** invocations per workgroup */
  wg: number;
  /** invocations per plane: a power of two dividing wg */
  lanes: number;
  /** sum groups of packGroup(h * w) planes as aligned vec4s (lanes 1, h * w >= 4; default false) */
  packed?: boolean;
  /** consecutive planes (packed: groups) each invocation sums in turn (lanes 1 only; default 1) */
  perLane?: number;
}

const isVec4 = (p: { h: number; w: number }) => (p.h * p.w) % 4 === 0;
/** Loads per plane: vec4s when H * W % 4 == 0, else floats. */
export const globalAvgPoolUnits = (p: { h: number; w: number }) => (isVec4(p) ? (p.h * p.w) / 4 : p.h * p.w);
const elem = (p: { h: number; w: number }) => (isVec4(p) ? 'vec4<f32>' : 'f32');
/** Planes per packed group: the fewest consecutive planes of h * w elements that fill whole vec4s. */
export const packGroup = (hw: number) => (hw % 4 === 0 ? 1 : hw % 2 === 0 ? 2 : 4);
/** Why planes of h x w cannot be packed (null: they can). */
export function globalAvgPoolPackProblem(p: { h: number; w: number }): string | null {
  const hw = p.h * p.w;
  if (hw < 4) return `planes of at least 4 elements, got ${p.h}x${p.w}`;
  if (hw % 4 === 0) return `a plane size that is not a multiple of 4 (${p.h}x${p.w} is already vec4-aligned)`;
  return null;
}
const isPacked = (p: { h: number; w: number; packed?: boolean }) => {
  if (!p.packed) return false;
  const problem = globalAvgPoolPackProblem(p);
  if (problem) throw new Error(`global_avgpool: packing needs ${problem}`);
  return true;
};

/** WGSL summing plane q (0 <= q < G) of the packed group whose vec4s start at `base` into `s${q}`:
 * elements [q HW, (q + 1) HW) of the group, HW = u.hw (>= 4); the head / tail offsets
 * q HW % 4 and (q + 1) HW % 4 are compile-time (HW % 4 = r). */
function packedPlaneSum(q: number, r: number): string {
  const comp = ['x', 'y', 'z', 'w'];
  const hs = (q * r) % 4;
  const te = ((q + 1) * r) % 4;
  const lines = [
    `  var a${q} = vec4<f32>(0.0);`,
    `  for (var t = (${q}u * u.hw + ${(4 - hs) % 4}u) / 4u; t < ((${q + 1}u * u.hw) - ${te}u) / 4u; t++) { a${q} += x[base + t]; }`,
    `  var s${q} = dot(a${q}, vec4<f32>(1.0));`,
  ];
  if (hs !== 0) {
    const parts = [0, 1, 2, 3].filter((c) => c >= hs).map((c) => `h${q}.${comp[c]}`);
    lines.push(`  let h${q} = x[base + ${q}u * u.hw / 4u];`, `  s${q} += ${parts.join(' + ')};`);
  }
  if (te !== 0) {
    const parts = [0, 1, 2, 3].filter((c) => c < te).map((c) => `e${q}.${comp[c]}`);
    lines.push(`  let e${q} = x[base + ${q + 1}u * u.hw / 4u];`, `  s${q} += ${parts.join(' + ')};`);
  }
  return lines.join('\n');
}

const perLaneOf = (p: GlobalAvgPoolParams) => p.perLane ?? 1;

function checkGeom(p: GlobalAvgPoolParams): void {
  const pow2 = (v: number) => Number.isInteger(v) && v >= 1 && (v & (v - 1)) === 0;
  if (!pow2(p.lanes) || !pow2(p.wg) || p.lanes > p.wg)
    throw new Error(`global_avgpool: lanes ${p.lanes} must be a power of two dividing the workgroup size ${p.wg}`);
  const k = perLaneOf(p);
  if (!Number.isInteger(k) || k < 1 || (k > 1 && p.lanes !== 1))
    throw new Error(`global_avgpool: perLane must be a positive integer, and 1 unless lanes is 1; got perLane ${k} with lanes ${p.lanes}`);
}

/**
 * Global average pooling, y[plane] = mean of the plane (adaptive average pooling to 1 x 1).
 * Bindings: `x [N, H * W]`, `y [N]` (rw), N = batch * channels.
 */
export const globalAvgPoolKernel = defineKernel<GlobalAvgPoolParams>({
  name: 'global_avgpool',
  spec: (p) => `wg${p.wg}l${p.lanes}${isPacked(p) ? `:pack${packGroup(p.h * p.w)}r${(p.h * p.w) % 4}` : isVec4(p) ? ':v4' : ''}`,
  // x [N, H*W] (vec4s when H*W % 4 == 0 or packed), y [N]
  storage: (p) => [read('x', isPacked(p) ? 'vec4<f32>' : elem(p)), rw('y')],
  // perLane is a uniform: the policy sizes it from the plane count, and one pipeline serves every batch
  uniforms: (p) => [u32('n', p.n), u32('units', globalAvgPoolUnits(p)), f32('h', p.h), f32('w', p.w), u32('hw', p.h * p.w), u32('per', perLaneOf(p))],
  dispatch: (p) => {
    checkGeom(p);
    return Math.ceil(p.n / (isPacked(p) ? packGroup(p.h * p.w) : 1) / perLaneOf(p) / (p.wg / p.lanes));
  },
  body: (p) => {
    checkGeom(p);
    if (isPacked(p)) {
      if (p.lanes !== 1) throw new Error(`global_avgpool: packing needs lanes 1, got ${p.lanes}`);
      const G = packGroup(p.h * p.w);
      const r = (p.h * p.w) % 4;
      const planes = [...Array(G).keys()];
      // invocation i: groups [K i, K i + K), K = perLane; group grp: planes [G grp, G grp + G), vec4s
      // [grp G HW / 4, (grp + 1) G HW / 4)
      return `
@compute @workgroup_size(${p.wg})
fn main(${LINEAR_PARAMS}) {
  let first = ((wid.y * nwg.x + wid.x) * ${p.wg}u + lidx) * u.per;
  for (var grp = first; grp < first + u.per; grp++) {
    let p0 = grp * ${G}u;
    if (p0 >= u.n) { return; }
    let base = grp * (${G}u * u.hw / 4u);
${planes.map((q) => packedPlaneSum(q, r).replace(/^/gm, '  ')).join('\n')}
${planes.map((q) => `    if (p0 + ${q}u < u.n) { y[p0 + ${q}u] = s${q} / u.h / u.w; }`).join('\n')}
  }
}`;
    }
    const L = p.lanes;
    const zero = `${elem(p)}(0.0)`;
    const total = isVec4(p) ? 'dot(acc, vec4<f32>(1.0))' : 'acc';
    const steps: string[] = [];
    for (let s = L / 2; s >= 1; s /= 2)
      steps.push(`  if (lane < ${s}u) { part[lidx] += part[lidx + ${s}u]; }\n  workgroupBarrier();`);
    if (L === 1) {
      // invocation i: planes [K i, K i + K), K = perLane
      return `
@compute @workgroup_size(${p.wg})
fn main(${LINEAR_PARAMS}) {
  let first = ((wid.y * nwg.x + wid.x) * ${p.wg}u + lidx) * u.per;
  for (var plane = first; plane < min(first + u.per, u.n); plane++) {
    let base = plane * u.units;
    var acc = ${zero};
    for (var i = 0u; i < u.units; i++) { acc += x[base + i]; }
    y[plane] = ${total} / u.h / u.w;
  }
}`;
    }
    const finish = `  part[lidx] = ${total};
  workgroupBarrier();
${steps.join('\n')}
  if (lane == 0u && plane < u.n) { y[plane] = part[lidx] / u.h / u.w; }`;
    return `
var<workgroup> part: array<f32, ${p.wg}>;
@compute @workgroup_size(${p.wg})
fn main(${LINEAR_PARAMS}) {
  let plane = (wid.y * nwg.x + wid.x) * ${p.wg / L}u + lidx / ${L}u;
  let lane = lidx % ${L}u;
  var acc = ${zero};
  if (plane < u.n) {
    let base = plane * u.units;
    for (var i = lane; i < u.units; i += ${L}u) { acc += x[base + i]; }
  }
${finish}
}`;
  },
  cpu: (p, [x, y]: NumArray[]) => {
    const hw = p.h * p.w;
    for (let n = 0; n < p.n; n++) {
      let acc = 0;
      for (let i = 0; i < hw; i++) acc += x[n * hw + i];
      y[n] = acc / p.h / p.w;
    }
  },
});

/** Params of {@link globalAvgPoolBackwardKernel}: `n` planes of `h` x `w`. */
export interface GlobalAvgPoolBackwardParams {
  n: number;
  h: number;
  w: number;
  /** launch layout (default: the adapter's, see stream.ts) */
  layout?: RowLayout;
  /** vec4 stores over groups of packGroup(h * w) planes (h * w >= 4, n a multiple of the group;
   * default false) */
  packed?: boolean;
  /** packed only: consecutive groups each invocation writes in turn (default 1) */
  perLane?: number;
}

/** Why the packed backward cannot run (null: it can). */
export function globalAvgPoolBackwardPackProblem(p: { n: number; h: number; w: number }): string | null {
  const problem = globalAvgPoolPackProblem(p);
  if (problem) return problem;
  const G = packGroup(p.h * p.w);
  return p.n % G === 0 ? null : `a plane count that is a multiple of ${G}, got ${p.n}`;
}
const isPackedBwd = (p: GlobalAvgPoolBackwardParams) => {
  if (!p.packed) return false;
  const problem = globalAvgPoolBackwardPackProblem(p);
  if (problem) throw new Error(`global_avgpool_bwd: packing needs ${problem}`);
  return true;
};
const gType = (G: number) => (G === 4 ? 'vec4<f32>' : G === 2 ? 'vec2<f32>' : 'f32');

const bwdLayout = (p: GlobalAvgPoolBackwardParams, caps: Caps) => p.layout ?? rowLayout(caps);
function bwdPerLane(p: GlobalAvgPoolBackwardParams): number {
  const k = p.perLane ?? 1;
  if (!Number.isInteger(k) || k < 1 || (k > 1 && !p.packed))
    throw new Error(`global_avgpool_bwd: perLane must be a positive integer, and 1 unless packed; got perLane ${k} with packed ${!!p.packed}`);
  return k;
}

/**
 * Global average pooling's input gradient, gx = g[plane] / (H * W). Bindings: `g [N]`, `gx [N, H * W]` (rw).
 */
export const globalAvgPoolBackwardKernel = defineKernel<GlobalAvgPoolBackwardParams>({
  name: 'global_avgpool_bwd',
  spec: (p, caps) => `${rowLayoutKey(bwdLayout(p, caps))}${isPackedBwd(p) ? `:pack${packGroup(p.h * p.w)}` : isVec4(p) ? ':v4' : ''}`,
  // g [N] (vec2 / vec4 groups when packed), gx [N, H*W] (vec4s when H*W % 4 == 0 or packed)
  storage: (p) => (isPackedBwd(p) ? [read('g', gType(packGroup(p.h * p.w))), rw('gx', 'vec4<f32>')] : [read('g'), rw('gx', elem(p))]),
  uniforms: (p) => [u32('n', p.n), u32('units', globalAvgPoolUnits(p)), f32('h', p.h), f32('w', p.w), u32('hw', p.h * p.w), u32('per', bwdPerLane(p))],
  dispatch: (p, caps) =>
    isPackedBwd(p)
      ? Math.ceil(p.n / packGroup(p.h * p.w) / bwdPerLane(p) / bwdLayout(p, caps).wg)
      : rowGroups(bwdLayout(p, caps), p.n, globalAvgPoolUnits(p)),
  body: (p, caps) => {
    if (!isPackedBwd(p))
      return `
${rowsMain(bwdLayout(p, caps), 'u.n', '1u', 'u.units', `gx[o] = ${elem(p)}(g[plane] / u.h / u.w);`)}`;
    // one invocation per run of perLane groups of G planes: plane q's full vec4s are splats of its
    // value; the vec4 it shares with plane q + 1 (offset (q + 1) HW % 4, compile-time) takes
    // components of both
    const G = packGroup(p.h * p.w);
    const r = (p.h * p.w) % 4;
    const wg = bwdLayout(p, caps).wg;
    const comp = ['x', 'y', 'z', 'w'];
    const planes = [...Array(G).keys()];
    const lines = planes.map((q) => {
      const te = ((q + 1) * r) % 4;
      const out = [
        `    for (var t = (${q}u * u.hw + ${(4 - ((q * r) % 4)) % 4}u) / 4u; t < (${q + 1}u * u.hw - ${te}u) / 4u; t++) { gx[base + t] = vec4<f32>(gv.${comp[q]}); }`,
      ];
      if (te !== 0) {
        const parts = [0, 1, 2, 3].map((c) => `gv.${comp[c < te ? q : q + 1]}`);
        out.push(`    gx[base + ${q + 1}u * u.hw / 4u] = vec4<f32>(${parts.join(', ')});`);
      }
      return out.join('\n');
    });
    return `
@compute @workgroup_size(${wg})
fn main(${LINEAR_PARAMS}) {
  let first = ((wid.y * nwg.x + wid.x) * ${wg}u + lidx) * u.per;
  for (var grp = first; grp < min(first + u.per, u.n / ${G}u); grp++) {
    let base = grp * (${G}u * u.hw / 4u);
    let gv = g[grp] / u.h / u.w;
${lines.join('\n')}
  }
}`;
  },
  cpu: (p, [g, gx]: NumArray[]) => {
    const hw = p.h * p.w;
    for (let n = 0; n < p.n; n++) {
      const v = g[n] / p.h / p.w;
      for (let i = 0; i < hw; i++) gx[n * hw + i] = v;
    }
  },
});
