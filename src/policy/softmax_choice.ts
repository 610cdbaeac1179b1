// Which softmax layout (src/kernels/softmax.ts) runs for a [outer, R, inner] problem on a GPU with
// these caps: one workgroup per row ('group') or one invocation per row ('lane').
// Timings below: lavapipe on the 2-core dev machine while other jobs ran (minimum of 3 rounds,
// forward / backward kernel alone).
import type { Caps } from '../kernels/kernel.ts';
import type { SoftmaxLayout } from '../kernels/softmax.ts';

/** Group width on a software adapter: lavapipe's SIMD width (8). Wider groups were slower there
 * ([32, 32768] forward: 8 lanes 2.4 ms, 32 lanes 2.9 ms; [4096, 10]: 1.9 vs 6.2 ms), as for the
 * streaming kernels (stream.ts: per-invocation and barrier overheads dominate). */
export const SOFTWARE_GROUP_WG = 8;
/** Group width on hardware for rows of at least HARDWARE_WIDE_ROW units (vec4s when contiguous
 * and a multiple of 4): enough lanes that one workgroup covers a long row in few steps. Shorter
 * rows get HARDWARE_NARROW_WG lanes so most lanes have work. Not timed on a hardware GPU. */
export const HARDWARE_WIDE_WG = 256;
export const HARDWARE_NARROW_WG = 64;
export const HARDWARE_WIDE_ROW = 2048;

/** Contiguous rows (inner = 1) at most this long go one per invocation. Software: lane ahead up
 * to R = 256 ([4096, 10] forward 0.37 vs 1.9 ms; [1024, 64] 0.37 vs 0.62; [256, 256] 0.34 vs
 * 0.38), even at 512 ([128, 512] 0.29 vs 0.29 forward, 0.33 vs 0.27 backward), group ahead beyond
 * ([64, 1000] 0.23 vs 0.27; [32, 32768] 2.4 vs 4.3). Hardware: a lane walking a contiguous row
 * reads addresses R apart from its neighbours (uncoalesced), so only very short rows go that way
 * (not timed on a hardware GPU). */
export const LANE_MAX_R_SOFTWARE = 256;
export const LANE_MAX_R_HARDWARE = 16;
/** Strided rows (inner > 1: a dim other than the last) go one per invocation once there are this
 * many rows (consecutive lanes then read consecutive addresses at each step of the row loop);
 * fewer, long rows go one workgroup per row so each row's loads spread over its lanes. Software:
 * a full SIMD of rows: [1, 8192, 8] lane 0.27 vs group 0.36 ms, [8, 64, 784] 1.4 vs 2.8, but
 * [1, 32768, 2] (2 rows) 0.67 vs 0.35. Hardware: enough rows to fill the GPU (not timed). */
export const LANE_MIN_ROWS_SOFTWARE = 8;
export const LANE_MIN_ROWS_HARDWARE = 2048;
/** Invocations per workgroup in the lane layout ([2048, 32] forward on lavapipe: 8 lanes 0.46 ms,
 * 64 lanes 0.39, within the noise elsewhere; hardware: a conventional width, not timed). */
export const LANE_WG_SOFTWARE = 8;
export const LANE_WG_HARDWARE = 128;

export function softmaxLayout(outer: number, r: number, inner: number, caps: Caps): SoftmaxLayout {
  const rows = outer * inner;
  const sw = caps.software;
  const lane = { mode: 'lane', wg: sw ? LANE_WG_SOFTWARE : LANE_WG_HARDWARE } as const;
  if (inner === 1 && r <= (sw ? LANE_MAX_R_SOFTWARE : LANE_MAX_R_HARDWARE)) return lane;
  if (inner > 1 && rows >= (sw ? LANE_MIN_ROWS_SOFTWARE : LANE_MIN_ROWS_HARDWARE)) return lane;
  if (sw) return { mode: 'group', wg: SOFTWARE_GROUP_WG };
  const units = inner === 1 && r % 4 === 0 ? r / 4 : r;
  return { mode: 'group', wg: units >= HARDWARE_WIDE_ROW ? HARDWARE_WIDE_WG : HARDWARE_NARROW_WG };
}
