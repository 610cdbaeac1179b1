// Which max-pooling kernels run on a GPU with these caps. Two families compute the same values
// (same CPU twins): maxpool.ts (one invocation per output, or per input in the gather backward;
// any geometry, any adapter) and maxpool_lanes.ts (one 8-lane subgroup sliding along rows with
// vec4 loads and shuffles; software adapters with subgroups of exactly 8, some geometries).
// CPU tensors need no choice: they run the twins of maxpool.ts.
// Also the launch geometry of global average pooling (global_avgpool.ts: invocations per plane,
// packed plane groups), the variants of average pooling's one kernel pair (avgpool.ts: outputs and
// rows per invocation, vec4 loads, the sliding walk, the vec4, tiled and window-sum backwards) and how an adaptive
// pool runs (as a window pool, streamed, by rows, or adaptive_pool.ts's generic kernels).
import type { Caps, KernelDef } from '../kernels/kernel.ts';
import { type MaxPoolParams, type PoolGeom, maxPoolKernel, poolLayout } from '../kernels/maxpool.ts';
import { adaptiveAvgRowsCost } from '../kernels/adaptive_avg_rows.ts';
import { type AdaptiveAvgStreamParams, adaptiveAvgStreamProblem, streamRowOffsets } from '../kernels/adaptive_avg_stream.ts';
import { adaptiveUniformWindow } from '../kernels/adaptive_pool.ts';
import { globalAvgPoolBackwardPackProblem, globalAvgPoolPackProblem, globalAvgPoolUnits, packGroup } from '../kernels/global_avgpool.ts';
import { type AvgPoolParams, avgPoolBackwardTileProblem, avgPoolBackwardVec4Problem, avgPoolBackwardWindowProblem } from '../kernels/avgpool.ts';
import { type Slide, slideProblem } from '../kernels/avgpool_slide.ts';
import { POOL_LANES, maxPoolLanesKernel, poolLanesBackwardFits, poolLanesFits } from '../kernels/maxpool_lanes.ts';

/** The subgroup size the lanes kernels need, as both the adapter's minimum and maximum: their
 * shuffles take neighbours' columns assuming one subgroup = one workgroup of POOL_LANES (8)
 * lanes, lavapipe's SIMD width. */
export const LANES_SUBGROUP_SIZE = POOL_LANES;

/** The lanes kernels run only on software adapters. Measured on lavapipe (the 2-core dev
 * machine): ~2x as fast as the maxpool.ts kernels, because lavapipe turns every load whose
 * address differs per lane into per-lane scalar code with a bounds check, and the lanes kernels
 * issue ~sh / (4 / sw) vec4 loads per output instead of kh * kw scalar loads. Hardware GPUs
 * coalesce per-lane loads, and the lanes kernels have not been timed there. */
export const LANES_SOFTWARE_ONLY = true;

/** Can the lanes kernels run on this adapter? Not when the caller fixed a launch layout (that asks
 * for maxpool.ts in that layout, as the layout tests do). */
export function lanesUsable(geom: PoolGeom, caps: Caps): boolean {
  if (geom.layout !== undefined) return false;
  if (LANES_SOFTWARE_ONLY && !caps.software) return false;
  return caps.subgroups && caps.subgroupMinSize === LANES_SUBGROUP_SIZE && caps.subgroupMaxSize === LANES_SUBGROUP_SIZE;
}

/** The forward kernel for this geometry on an adapter with these caps (both share a CPU twin).
 * Padding and ceil mode need no rule of their own: windows that run past the input are masked by
 * the lanes kernels too (see maxpool_lanes.ts; test/kernels/maxpool_ceil.test.ts runs them on
 * ceil-mode geometries), so only the lanes' own geometry limits (`poolLanesFits`) apply. */
export function maxPoolForwardKernel(geom: PoolGeom, caps: Caps): KernelDef<MaxPoolParams> {
  return lanesUsable(geom, caps) && poolLanesFits(geom) ? maxPoolLanesKernel : maxPoolKernel;
}

/** The backward's algorithm on the GPU (the layout is the caller's or stream.ts's `rowLayout`):
 *  'lanes'   maxPoolLanesBackwardKernel (where the lanes forward would run and the geometry fits);
 *  'gather'  maxPoolBackwardKernel: one invocation per input element reads the <= ceil(kh/sh) *
 *            ceil(kw/sw) outputs covering it (race-free without atomics, PyTorch's CUDA scheme);
 *            for the 'flat' layout (hardware GPUs), where neighbouring lanes read neighbouring
 *            addresses;
 *  'scatter' zeroKernel, then one maxPoolScatterKernel pass per residue class: for the 'rows'
 *            layout (software adapters), since lavapipe pays per load and scattering costs 4 memory
 *            operations per output where gathering costs up to 8 loads per input (an operation
 *            count; no timing of the two on lavapipe is recorded). */
export type MaxPoolBackwardChoice = 'lanes' | 'gather' | 'scatter';

export function maxPoolBackwardChoice(geom: PoolGeom, caps: Caps): MaxPoolBackwardChoice {
  if (lanesUsable(geom, caps) && poolLanesBackwardFits(geom)) return 'lanes';
  return poolLayout(geom, caps).mode === 'rows' ? 'scatter' : 'gather';
}

// ---- global average pooling (global_avgpool.ts): invocations per plane ----

/** Software adapters: workgroups of 8 (lavapipe's SIMD width, as stream.ts), one invocation per
 * plane or packed group at a time (GAP_SOFTWARE_INVOCATIONS sets how many each takes). Measured
 * on lavapipe (2-core dev machine, loaded; median of 11): lanes = 1 was fastest or within noise
 * of it on every shape tried, and 8 lanes per plane (workgroup-memory reduction) 2-16x slower on
 * small planes: [4096, 7, 7] 0.48 ms vs 3.3 ms, [16384, 7, 7] 1.9 vs 22.6,
 * [4096, 8, 8] 0.67 vs 7.9, [64, 56, 56] 0.19 vs 0.71; only [512, 28, 28] favoured 4-8 lanes
 * (0.57 vs 0.74 ms). lavapipe scalarises the per-lane loads either way, so more lanes per plane
 * only add the reduction steps. */
export const GAP_SOFTWARE = Object.freeze({ wg: 8, lanes: 1 });
/** Hardware GPUs: 256 invocations per workgroup, as the other streaming kernels (stream.ts). */
export const GAP_HARDWARE_WG = 256;
/** Hardware: elements (or vec4s) each invocation sums before the plane's lanes combine; enough
 * lanes per plane that neighbouring lanes read neighbouring addresses, few enough that the
 * workgroup-memory steps stay short. Not timed on a hardware GPU (none on the dev machine). */
export const GAP_HARDWARE_UNITS_PER_LANE = 8;

/** Software adapters, planes whose size is not a multiple of 4 (ResNet's 7 x 7): one invocation
 * sums a group of 2 or 4 planes that fills whole vec4s (global_avgpool.ts `packed`), so every load
 * is a vec4 instead of a scalar, and the backward stores vec4s likewise. Measured on lavapipe
 * (bench/entries/pooling.ts, [128 * 512, 7, 7], same session, two runs each): forward 2.7-3.0 ms
 * unpacked, 1.8-2.5 packed; backward 3.6-3.8 ms unpacked, 1.3-1.4 packed. */
export const GAP_SOFTWARE_PACKED = true;

/** Software adapters: about this many invocations cover the whole map, each summing
 * n / G / GAP_SOFTWARE_INVOCATIONS consecutive planes or packed groups in turn (global_avgpool.ts
 * `perLane`); lavapipe pays per invocation. Measured on lavapipe ([128 * 512, 7, 7] packed, three
 * interleaved rounds against a 64 MiB copy): one group per invocation 23-42% of the copy's rate,
 * 16 groups 45-57%, 32 groups (512 invocations) 54-57%, 64 or 128 groups 46-56%; groups strided
 * across the invocations instead of consecutive: 32-45%. */
export const GAP_SOFTWARE_INVOCATIONS = 512;

/** Workgroup size, invocations per plane, planes (or packed groups) per invocation and packing for
 * global average pooling over n planes of h x w. */
export function globalAvgPoolGeom(n: number, h: number, w: number, caps: Caps): { wg: number; lanes: number; perLane: number; packed: boolean } {
  if (caps.software) {
    const packed = GAP_SOFTWARE_PACKED && globalAvgPoolPackProblem({ h, w }) === null;
    const items = Math.ceil(n / (packed ? packGroup(h * w) : 1));
    return { ...GAP_SOFTWARE, perLane: Math.max(1, Math.floor(items / GAP_SOFTWARE_INVOCATIONS)), packed };
  }
  const units = globalAvgPoolUnits({ h, w });
  let lanes = 1;
  while (lanes < GAP_HARDWARE_WG && lanes * GAP_HARDWARE_UNITS_PER_LANE < units) lanes *= 2;
  return { wg: GAP_HARDWARE_WG, lanes, perLane: 1, packed: false };
}

/** Packing and groups per invocation of global average pooling's backward (global_avgpool.ts):
 * software adapters store packed vec4 groups where the planes allow (as the forward), in runs
 * sized like the forward's, about GAP_SOFTWARE_INVOCATIONS invocations in all.
 * Measured on lavapipe ([128 * 512, 7, 7] packed, three interleaved rounds, % of a 64 MiB copy's
 * rate timed alongside): one group per invocation 41-55%, 4 groups 57-69%, 16 groups 62-77%,
 * 32 groups (512 invocations) 56-80%, 64 groups 64-76%. */
export function globalAvgPoolBackwardGeom(n: number, h: number, w: number, caps: Caps): { packed: boolean; perLane: number } {
  const packed = caps.software && GAP_SOFTWARE_PACKED && globalAvgPoolBackwardPackProblem({ n, h, w }) === null;
  if (!packed) return { packed, perLane: 1 };
  return { packed, perLane: Math.max(1, Math.floor(n / packGroup(h * w) / GAP_SOFTWARE_INVOCATIONS)) };
}

// ---- adaptive pooling ----

/** Does an adaptive pool from h x w to oh x ow run as a plain window pool (avgpool.ts / maxpool.ts
 * with kernel = stride = (h / oh, w / ow), no padding)? Where both sizes divide evenly the bins are
 * exactly those windows, and the window kernels bake the window into constant loops (no per-lane
 * bin-edge divisions, and the max pool gets the lanes kernels where they apply). On lavapipe the
 * generic adaptive gather backward took ~5x the avgpool gather's time on the same sizes. The 1 x 1
 * average is global average pooling's (checked first by the caller). */
export function adaptiveAsWindow(h: number, w: number, oh: number, ow: number): boolean {
  return h % oh === 0 && w % ow === 0;
}

/** Whether an adaptive max pool runs as a window max pool (maxpool.ts / maxpool_lanes.ts, no
 * padding), and with which window: wherever both axes' bins are uniform windows
 * (adaptiveUniformWindow); the window kernels bake the window (no per-lane bin-edge divisions) and
 * have the lanes variants. Same values and argmax: both scan a window in row-major order with
 * PyTorch's `v > max || isnan(v)`. Measured on lavapipe ([128, 256, 13, 13] -> 6 x 6, quiet 2-core
 * dev machine, interleaved, three rounds): forward 23-27 ms as adaptive_pool.ts vs 8.8-11 ms as a
 * 3 x 3 stride-2 max pool; forward + backward 90-114 vs 15.5 ms. Not timed on a hardware GPU (the
 * same kernels serve the divisible case there). */
export function adaptiveMaxWindow(h: number, w: number, oh: number, ow: number): { kh: number; kw: number; sh: number; sw: number } | null {
  const rows = adaptiveUniformWindow(h, oh);
  const cols = adaptiveUniformWindow(w, ow);
  return rows && cols ? { kh: rows.k, kw: cols.k, sh: rows.s, sw: cols.s } : null;
}

/** Software adapters: adaptive average pools whose sizes do not divide evenly run by rows
 * (adaptive_avg_rows.ts: an invocation per output / input row, column bins baked into the WGSL)
 * when a row's unrolled loads and additions stay within this bound (13 x 13 -> 6 x 6: 31).
 * Measured on lavapipe ([128 * 256, 13, 13] -> 6 x 6, quiet 2-core dev machine, two runs): forward
 * 6.0 ms vs 22 ms generic, backward 10.2 ms vs 68 ms (generic: scale pass + gather); cold compile
 * 0.1-0.2 s. Hardware GPUs keep the generic kernels
 * (not timed there). A fully unrolled variant (every bin baked, packed vec4 plane groups) ran 3x /
 * 16x faster than the generic kernels but took 15-33 s to compile there, so it is not used. */
export const ADAPTIVE_ROWS_MAX_COST = 256;

/** Rows each invocation of the by-rows kernels takes in turn (adaptive_avg_rows.ts `perLane`):
 * lavapipe pays per invocation. Measured on lavapipe ([128 * 256, 13, 13] -> 6 x 6, three
 * interleaved rounds, % of a 64 MiB copy's rate timed alongside): forward 21-22% with one row per
 * invocation, 26-31% with 6, 28-36% with 12-48; backward 12-14% with one, 23-31% with 12-48. */
export const ADAPTIVE_ROWS_PER_LANE = 24;

/** Software adapters: adaptive average pools whose planes pack into vec4 groups with output rows
 * at most the input rows run streamed (adaptive_avg_stream.ts: each input row loaded once as
 * aligned vec4s, vec4 stores in the backward), about this many invocations in all, each taking
 * a run of consecutive plane groups. Measured on lavapipe ([128 * 256, 13, 13] -> 6 x 6, three
 * interleaved rounds, % of a 64 MiB copy's rate timed alongside): by rows forward 29-39%,
 * backward 26-33%; streamed forward 34-55%, backward 46-56%; runs of 4 / 16 / 64 groups
 * (2048 / 512 / 128 invocations): forward 39-43 / 45-46 / 38-47%, backward 37-48 / 50-51 / 43-52%.
 * bench/entries/pooling.ts: forward 6.5 -> 2.75 ms (32% -> 54-56%), backward 8.3 -> 2.6-3.7 ms
 * (25% -> 49-51%); cold compile 0.6 s forward, 0.3 s backward. */
export const ADAPTIVE_STREAM_INVOCATIONS = 512;
/** The streamed kernels unroll one row's work per distinct row offset in a vec4 (up to 4), so
 * their code grows with offsets x (W + the column bins' total width); 13 x 13 -> 6 x 6: 4 x 31. */
export const ADAPTIVE_STREAM_MAX_COST = 512;

/** The streamed adaptive average pool's params for this geometry, or null where it does not run
 * (hardware, or a geometry it cannot take or would unroll too far; the caller checks the global
 * and window cases first). */
export function adaptiveAvgStream(geom: { n: number; h: number; w: number; oh: number; ow: number }, caps: Caps): AdaptiveAvgStreamParams | null {
  if (!caps.software) return null;
  const groups = Math.floor(geom.n / packGroup(geom.h * geom.w));
  const p = { ...geom, perLane: Math.max(1, Math.floor(groups / ADAPTIVE_STREAM_INVOCATIONS)) };
  if (adaptiveAvgStreamProblem(p) !== null) return null;
  return streamRowOffsets(p).length * adaptiveAvgRowsCost(p) <= ADAPTIVE_STREAM_MAX_COST ? p : null;
}

/** Whether the adaptive average pool from h x w to oh x ow runs by rows (the caller checks the
 * global, window and streamed cases first). */
export function adaptiveAvgByRows(geom: { h: number; w: number; oh: number; ow: number }, caps: Caps): boolean {
  return caps.software && adaptiveAvgRowsCost(geom) <= ADAPTIVE_ROWS_MAX_COST;
}

// ---- average pooling (avgpool.ts): forward outputs per invocation ----

/** Software adapters, stride-1 windows wider than one column: each invocation computes this many
 * consecutive outputs of a row, loading the (P - 1) + kw columns their windows span once per window
 * row instead of P * kw. Measured on lavapipe ([2, 64, 56, 56], 3x3 s1 p1, 2-core dev machine
 * under heavy load from other jobs, so ranges over four runs): 1 output 6.9-24 ms, 2 outputs
 * 3.3-6.6, 4 outputs 3.1-14.8 (4.2 and 5.1 typical), 8 outputs 2.9-8.7. Stride 2 (2x2 s2,
 * 3x3 s2 p1) showed no consistent gain, since windows there share at most one column. Hardware GPUs
 * keep one output per invocation (their caches absorb the overlap; not timed there). The gather
 * backward computing several inputs per invocation showed no gain at stride 1 or 2 on lavapipe,
 * so it has no such variant. */
export const AVG_SOFTWARE_OUTS_STRIDE1 = 4;

/** Outputs per invocation of the average-pooling forward for this geometry and adapter. */
export function avgPoolOuts(geom: PoolGeom, caps: Caps): number {
  if (avgPoolVec4(geom, caps)) return AVG_SOFTWARE_VEC4_OUTS;
  return caps.software && geom.sw === 1 && geom.kw > 1 ? AVG_SOFTWARE_OUTS_STRIDE1 : 1;
}

/** Software adapters, inputs whose rows are a multiple of 4 wide: the forward loads each window
 * row as aligned vec4s, AVG_SOFTWARE_VEC4_OUTS outputs per invocation (lavapipe pays per load
 * instruction: a 2x2 s2 window row of 4 outputs is 2 vec4 loads instead of 8 scalar ones). */
export const AVG_SOFTWARE_VEC4_OUTS = 4;

/** Whether the average-pooling backward takes the tiled path (avgpool.ts `bwdTile`): software
 * adapters, tiling windows that cover the input exactly (DenseNet's 2 x 2 s2 transitions on even
 * maps), output rows of a multiple of 4: one vec4 load of g per kh * kw vec4 stores. */
export function avgPoolBackwardTile(geom: PoolGeom, caps: Caps): boolean {
  return caps.software && avgPoolBackwardTileProblem(geom) === null;
}

/** The average-pooling backward as a window sum over g (avgpool.ts `bwdWindow`): software adapters,
 * stride 1, windows of more than one element; the forward's outputs and rows per invocation, g
 * rows as vec4s where OW % 4 == 0. The gather it replaces loads kh * kw scalars of g per input
 * and divides each. Measured on lavapipe: see the README's pooling rows. */
export function avgPoolBackwardWindow(geom: PoolGeom, caps: Caps): { outs: number; rows: number; vec4: boolean } | undefined {
  if (!caps.software || geom.sh !== 1 || geom.sw !== 1 || geom.kh * geom.kw === 1) return undefined;
  const vec4 = { outs: AVG_SOFTWARE_VEC4_OUTS, rows: AVG_SOFTWARE_ROWS_STRIDE1, vec4: true };
  if (avgPoolBackwardWindowProblem({ ...geom, countIncludePad: true, divisorOverride: 0, bwdWindow: vec4 }) === null) return vec4;
  return { outs: AVG_SOFTWARE_OUTS_STRIDE1, rows: AVG_SOFTWARE_ROWS_STRIDE1, vec4: false };
}

/** Whether the average-pooling backward takes the vec4 path (avgpool.ts `bwdVec4`): software
 * adapters, tiling windows (kernel == stride, no padding) over rows of a multiple of 4, for the
 * same per-load cost as the forward's. */
export function avgPoolBackwardVec4(geom: PoolGeom, caps: Caps): boolean {
  return caps.software && avgPoolBackwardVec4Problem(geom) === null;
}

/** Software adapters, stride-1 windows taller than one row: output rows per invocation of the
 * forward (avgpool.ts `rows`), so each input row is loaded once for all the window rows it is in
 * instead of kh times. Measured on lavapipe ([8, 64, 56, 56] 3x3 s1 p1, vec4 loads, 4 outputs per
 * row; quiet 2-core dev machine, one run each): 1 row 3.75 ms, 2 rows 3.17, 4 rows 2.35, 8 rows
 * 7.5 (32 accumulators per lane spill); 8 outputs x 2 or 3 rows 2.6-3.4. */
export const AVG_SOFTWARE_ROWS_STRIDE1 = 4;

/** Output rows per invocation of the average-pooling forward (with avgPoolOuts > 1 only). */
export function avgPoolRows(geom: PoolGeom, caps: Caps): number {
  return caps.software && geom.sh === 1 && geom.kh > 1 && avgPoolOuts(geom, caps) > 1 ? AVG_SOFTWARE_ROWS_STRIDE1 : 1;
}

/** Whether the average-pooling forward takes the vec4 path (avgpool.ts `vec4`). */
export function avgPoolVec4(geom: PoolGeom, caps: Caps): boolean {
  return caps.software && geom.w % 4 === 0 && (AVG_SOFTWARE_VEC4_OUTS * geom.sw) % 4 === 0;
}

/** Software adapters, rows of a multiple of 4 (input and output): the forward, and at stride 1 the
 * backward, walk bands of the plane (avgpool_slide.ts). Vec4s of outputs per lane: SLIDE_COLS_STRIDE1
 * at stride 1 (neighbouring vec4s share kw - 1 input columns), 1 at larger strides (they share at
 * most one, and a row's few vec4s would leave lanes idle). Measured on lavapipe, [8, 64, 56, 56],
 * quiet 2-core dev machine, interleaved: 3x3 s1 p1 forward, 4 outputs x 4 rows per invocation
 * (the `rows` variant) 2.3-2.5 ms; 1 vec4 per lane down bands of 4 / 8 / 14 / 28 / 56 rows
 * 2.6 / 2.0 / 1.7-2.1 / 1.4-1.8 / 1.4 ms; 2 vec4s per lane, 28 / 56 rows 1.35 / 1.26-1.31 ms.
 * 2x2 s2: the vec4 `outs` variant 1.48-1.53 ms, walking 1 vec4 per lane 0.99-1.06, 2 vec4s
 * 1.23-1.49; 3x3 s2 p1: 1.38-1.46, 0.95-1.01, 1.16-1.22 ms. */
export const SLIDE_COLS_STRIDE1 = 2;
/** The walk's bands split a plane only to give the adapter at least this many workgroups (the
 * walk re-loads kh - 1 rows per band; whole planes were fastest above). */
export const SLIDE_MIN_GROUPS = 16;

/** The sliding walk for this geometry and pass (undefined: another variant). */
export function avgPoolSlide(geom: PoolGeom, caps: Caps, pass: 'fwd' | 'bwd' = 'fwd'): Slide | undefined {
  if (!caps.software || geom.kh * geom.kw === 1) return undefined;
  // the walk's rows: the forward's output plane, the backward's gx plane
  const rows = pass === 'fwd' ? geom.oh : geom.h;
  const bands = Math.min(rows, Math.ceil(SLIDE_MIN_GROUPS / geom.n));
  const s = { cols: geom.sw === 1 ? SLIDE_COLS_STRIDE1 : 1, band: Math.ceil(rows / bands) };
  return slideProblem(geom, s, pass) === null ? s : undefined;
}

/** The average-pooling forward's variant for this geometry and adapter (avgpool.ts params). */
export function avgPoolForwardChoice(geom: PoolGeom, caps: Caps): Pick<AvgPoolParams, 'outs' | 'rows' | 'vec4' | 'slide'> {
  const slide = avgPoolSlide(geom, caps);
  if (slide) return { slide };
  return { outs: avgPoolOuts(geom, caps), rows: avgPoolRows(geom, caps), vec4: avgPoolVec4(geom, caps) };
}

/** The average-pooling backward's variant for this geometry and adapter (avgpool.ts params): the
 * sliding walk, else tiled, else the window sum, else vec4 stores, else the scalar gather. */
export function avgPoolBackwardChoice(geom: PoolGeom, caps: Caps): Pick<AvgPoolParams, 'slide' | 'bwdTile' | 'bwdWindow' | 'bwdVec4'> {
  const slide = avgPoolSlide(geom, caps, 'bwd');
  if (slide) return { slide };
  if (avgPoolBackwardTile(geom, caps)) return { bwdTile: true };
  const bwdWindow = avgPoolBackwardWindow(geom, caps);
  if (bwdWindow) return { bwdWindow };
  return { bwdVec4: avgPoolBackwardVec4(geom, caps) };
}
