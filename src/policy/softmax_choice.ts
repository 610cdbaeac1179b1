// Which softmax layout (src/kernels/softmax.ts) runs for a [outer, R, inner] problem on a GPU with
// these caps: one workgroup per row ('group') or one invocation per row ('lane').
import type { Caps } from '../kernels/kernel.ts';
import type { SoftmaxLayout } from '../kernels/softmax.ts';

/** Group width on a software adapter: lavapipe's SIMD width (8), as the streaming kernels use
 * (stream.ts: per-workgroup and per-invocation overheads dominate there, so few lanes each
 * looping over many elements move the most bytes per second). */
export const SOFTWARE_GROUP_WG = 8;
/** Group width on hardware for rows of at least HARDWARE_WIDE_ROW units: enough lanes that one
 * workgroup's loads cover a long row in few steps. Shorter rows get HARDWARE_NARROW_WG lanes so
 * most lanes have work. Not timed on a hardware GPU. */
export const HARDWARE_WIDE_WG = 256;
export const HARDWARE_NARROW_WG = 64;
export const HARDWARE_WIDE_ROW = 2048;

/** Rows at most this long go one per invocation even when contiguous (inner = 1): a workgroup per
 * row of a few classes would spend more on its reduction barriers than on loading the row. */
export const LANE_MAX_R = 16;
/** With inner > 1 (a dim other than the last), rows go one per invocation when there are at least
 * this many of them (consecutive lanes then read consecutive addresses at each step of the row
 * loop); fewer, longer rows go one workgroup per row so a row's loads spread over its lanes. */
export const LANE_MIN_ROWS_SOFTWARE = 64;
export const LANE_MIN_ROWS_HARDWARE = 2048;
/** Invocations per workgroup in the lane layout. */
export const LANE_WG_SOFTWARE = 8;
export const LANE_WG_HARDWARE = 128;

export function softmaxLayout(outer: number, r: number, inner: number, caps: Caps): SoftmaxLayout {
  const rows = outer * inner;
  const laneWg = caps.software ? LANE_WG_SOFTWARE : LANE_WG_HARDWARE;
  const minRows = caps.software ? LANE_MIN_ROWS_SOFTWARE : LANE_MIN_ROWS_HARDWARE;
  if (r <= LANE_MAX_R || (inner > 1 && rows >= minRows)) return { mode: 'lane', wg: laneWg };
  if (caps.software) return { mode: 'group', wg: SOFTWARE_GROUP_WG };
  const units = inner === 1 && r % 4 === 0 ? r / 4 : r;
  return { mode: 'group', wg: units >= HARDWARE_WIDE_ROW ? HARDWARE_WIDE_WG : HARDWARE_NARROW_WG };
}
