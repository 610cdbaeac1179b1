// Launch geometry for the streaming layer kernels (relu, dropout, sgd, maxpool, lrn): each
// invocation handles `per` units (vec4s or elements) strided by the workgroup size, so one
// workgroup covers wg * per consecutive units and neighbouring lanes touch neighbouring addresses.
// On a software adapter (lavapipe) a workgroup of 8 (its SIMD width) looping over 64 units moved
// ~2.5x the bytes per second of 256 invocations x 1 unit (measured on the 2-core dev machine:
// relu 3.3 -> 8-9 GB/s); per-workgroup and per-invocation overheads dominate there. Hardware GPUs
// get the conventional 256 invocations with a short loop.
import type { Caps } from './kernel.ts';
import { LINEAR_PARAMS, linearGid } from './wgsl_lib.ts';

export interface Stream {
  /** invocations per workgroup */
  wg: number;
  /** units per invocation */
  per: number;
}

const SOFTWARE: Stream = { wg: 8, per: 64 };
const HARDWARE: Stream = { wg: 256, per: 4 };

/** The geometry for an adapter with these caps. */
export function streamGeom(caps: Caps): Stream {
  return caps.software ? SOFTWARE : HARDWARE;
}

/** Workgroups to cover `units` (a 1-D count; the runtime splits it over x/y past 65535). */
export function streamGroups(units: number, s: Stream): number {
  return Math.ceil(units / (s.wg * s.per));
}

/** WGSL entry-point parameters and the loop header: inside the loop body `i` is the unit index
 * (already bounds-checked against `n`, a u32 expression). Close the loop with `}`. */
export function streamLoop(s: Stream, n: string): { params: string; open: string } {
  return {
    params: LINEAR_PARAMS,
    open: `let base = (wid.y * nwg.x + wid.x) * ${s.wg * s.per}u + lidx;
  for (var j = 0u; j < ${s.per}u; j++) {
    let i = base + j * ${s.wg}u;
    if (i >= ${n}) { break; }`,
  };
}

// ---- row layouts, for kernels over [planes, rowsPerPlane, rowLen] index spaces (pooling, LRN) ----
//   'flat': one item per invocation; plane / row / column come from per-lane division (hardware);
//   'rows': a workgroup walks `rows` whole rows, lanes striding along each row, so the row's plane
//           and index come from one workgroup-uniform division (lavapipe scalarises per-lane
//           integer division, and per-invocation overhead dominates there).

export type RowLayout = { mode: 'flat'; wg: number } | { mode: 'rows'; wg: number; rows: number };

/** Rows per workgroup of the software 'rows' layout. Measured on lavapipe (2-core dev machine,
 * bench/kernels.ts, % of a 64 MiB copy timed alongside, rows 8 / 32 alternating twice): avgpool
 * 2x2 s2 backward (tiled) 46, 46 / 52, 50% (a probe with three interleaved rounds: 26-43% / 49-67%,
 * 128 rows 52-58%); batchNorm eval 79, 86 / 97, 103%; batchNorm backward 87, 60 / 88, 93%;
 * maxpool backward 50, 47 / 51, 56%; maxpool forward, global average pooling's backward and the
 * cross-entropy backward within the noise (+-7 points). */
const SOFTWARE_ROWS = 32;

/** The layout for an adapter with these caps. */
export function rowLayout(caps: Caps): RowLayout {
  return streamGeom(caps).wg <= 8 ? { mode: 'rows', wg: 8, rows: SOFTWARE_ROWS } : { mode: 'flat', wg: 128 };
}

export const rowLayoutKey = (l: RowLayout) => (l.mode === 'flat' ? `flat${l.wg}` : `rows${l.wg}x${l.rows}`);

/** Workgroups for `rowCount` rows of `rowLen` items each. */
export function rowGroups(l: RowLayout, rowCount: number, rowLen: number): number {
  return l.mode === 'flat' ? Math.ceil((rowCount * rowLen) / l.wg) : Math.ceil(rowCount / l.rows);
}

/** main() for either layout over `planes * rowsPerPlane` rows of `rowLen` items (u32 WGSL
 * expressions): `item` runs with `plane`, `ry` (row in its plane), `rx` (column) and `o` (flat
 * item index) defined. */
export function rowsMain(l: RowLayout, planesExpr: string, rowsExpr: string, rowLenExpr: string, item: string): string {
  const [planes, rowsPerPlane, rowLen] = [planesExpr, rowsExpr, rowLenExpr].map((e) => (/^[\w.]+$/.test(e) ? e : `(${e})`));
  if (l.mode === 'flat')
    return `@compute @workgroup_size(${l.wg})
fn main(${LINEAR_PARAMS}) {
  ${linearGid(l.wg)}
  if (gid >= ${planes} * ${rowsPerPlane} * ${rowLen}) { return; }
  let o = gid;
  let rx = gid % ${rowLen};
  let rowIdx = gid / ${rowLen};
  let ry = rowIdx % ${rowsPerPlane};
  let plane = rowIdx / ${rowsPerPlane};
  ${item}
}`;
  return `@compute @workgroup_size(${l.wg})
fn main(${LINEAR_PARAMS}) {
  let r0 = (wid.y * nwg.x + wid.x) * ${l.rows}u;
  let r1 = min(r0 + ${l.rows}u, ${planes} * ${rowsPerPlane});
  for (var r = r0; r < r1; r++) {
    let ry = r % ${rowsPerPlane};  // workgroup-uniform
    let plane = r / ${rowsPerPlane};
    for (var rx = lidx; rx < ${rowLen}; rx += ${l.wg}u) {
      let o = r * ${rowLen} + rx;
      ${item}
    }
  }
}`;
}
