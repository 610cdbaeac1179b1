// Which region-copy layout (src/kernels/region_copy.ts) runs for a region on a GPU with these caps.
import type { Caps } from '../kernels/kernel.ts';
import { type RegionCopyLayout, type RegionCopyParams, planRegionCopy } from '../kernels/region_copy.ts';
import { streamGeom } from '../kernels/stream.ts';

/** 'rows' once the merged innermost run fills at least this fraction of a workgroup's chunk
 * (wg * per units). Measured on lavapipe (2-core dev machine, loaded), copying a [rows, inner]
 * region out of [rows, 2 * inner]: flat was ahead up to inner = 128 units (3.6 vs 2.7 GB/s at 128;
 * 2.1 vs 0.6 at 16: short rows leave most lanes of a rows-layout workgroup idle), rows ahead from
 * 256 units (half the 512-unit chunk: 3.3 vs 2.1 GB/s; 4.3 vs 2.1 at 512). On cat of GoogLeNet
 * inception-3a maps ([4, 64|128|32|32, 28, 28] along dim 1, rows of 12544 vec4s or more) rows moved
 * 6.4 GB/s against flat's 3.7 (a plain copy of the same bytes: 7.5). Hardware GPUs get the same
 * rule with their own chunk (not timed there). */
export const ROWS_MIN_CHUNK_FILL = 0.5;

export function regionCopyLayout(p: Omit<RegionCopyParams, 'layout'>, caps: Caps): RegionCopyLayout {
  const q = planRegionCopy(p);
  if (q.shape.length < 2) return 'flat'; // one run: the flat layout has no division either
  const s = p.stream ?? streamGeom(caps);
  return q.shape[q.shape.length - 1] >= ROWS_MIN_CHUNK_FILL * s.wg * s.per ? 'rows' : 'flat';
}
