// How the normalisation reductions split their work on a GPU with these caps.
//   channelReducePlan: the walk and the workgroups per channel of batchNormStatsKernel /
//     channelGradSumsKernel (batch norm statistics and gradient sums, group norm weight and bias
//     gradients). One workgroup per channel needs no merge pass; a few channels over many
//     elements (C = 3 image inputs, [N, C] with a large N) leave most of the adapter idle, so
//     each channel is split into chunks of at least MIN_CHUNK_UNITS units until TARGET_GROUPS
//     workgroups run; the merge kernel then reads `chunks` partial results per channel.
//   rowNormLayout: a workgroup or a single invocation per layer / group norm row.
//   layerNormParamChunks: row chunks of layerNormParamGradKernel (one invocation per column
//     runs down its rows); partial sums [chunks, D] are added by a reduction afterwards.
// CPU tensors run the twins with one chunk.
import type { Caps } from '../kernels/kernel.ts';
import { type ChannelGeom, type ChannelWalk, channelItems, channelRowUnits, channelUnitCount } from '../kernels/channel_stats.ts';
import type { RowNormLayout } from '../kernels/row_norm.ts';
import { streamGeom } from '../kernels/stream.ts';

/** Workgroups that keep an adapter busy (chosen, not measured): lavapipe runs one workgroup per
 * thread (one per core), and 32 covers a 16-core host twice; a large GPU holds ~8 workgroups of
 * 256 on each of its 100+ SMs. */
export const TARGET_GROUPS_SOFTWARE = 32;
export const TARGET_GROUPS_HARDWARE = 1024;

/** Smallest chunk, in units (vec4 or scalar), so the per-workgroup setup and the workgroup merge
 * stay small next to the loads (chosen, not measured): 16 units per lane of a 256-lane hardware
 * workgroup, 256 per lane of lavapipe's 8-lane ones. */
export const MIN_CHUNK_UNITS_SOFTWARE = 2048;
export const MIN_CHUNK_UNITS_HARDWARE = 4096;

/** Upper bound on chunks per channel: the merge kernel walks them serially per channel. */
export const MAX_CHUNKS = 64;

/** The walk and chunk count of the per-channel reductions over x [N, C, S]:
 * 'rows' when a row (S / vw units) fills the workgroup's lanes: its inner loop is one address add
 * per unit (lavapipe, 8x64x56x56, loaded 2-core machine, best of 5 rounds: statistics 3.8 GB/s
 * against 3.0 for 'flat', gradient sums 6.4 against 4.7); 'flat' otherwise, where rows would
 * leave lanes idle ([N, C]; 7x7 maps on a GPU). */
export function channelReducePlan(g: ChannelGeom, caps: Caps): { walk: ChannelWalk; chunks: number } {
  const rowUnits = channelRowUnits(g);
  const walk: ChannelWalk = rowUnits >= streamGeom(caps).wg ? 'rows' : 'flat';
  const units = channelUnitCount(g);
  const items = channelItems(g, walk);
  const target = caps.software ? TARGET_GROUPS_SOFTWARE : TARGET_GROUPS_HARDWARE;
  const minUnits = caps.software ? MIN_CHUNK_UNITS_SOFTWARE : MIN_CHUNK_UNITS_HARDWARE;
  const want = Math.ceil(target / Math.max(g.c, 1));
  const fit = Math.floor(units / minUnits);
  const p = Math.max(1, Math.min(want, fit, MAX_CHUNKS, items));
  // no empty chunk: the chunk length ceil(items / p) must leave something for the last one
  return { walk, chunks: Math.max(1, Math.ceil(items / Math.ceil(items / p))) };
}

/** Fewest workgroups the 'lane' row layout may leave (lavapipe runs one workgroup per thread). */
export const LANE_LAYOUT_MIN_GROUPS = 8;

/** Layer / group norm rows: one invocation per row ('lane') on a software adapter when that
 * still makes LANE_LAYOUT_MIN_GROUPS workgroups: lavapipe pays for a workgroup's barriers and
 * merge about as much as for a short row's loads (layer norm [2048, 768] forward, loaded 2-core
 * machine, best of 5 rounds, two runs: 1.5-1.7 GB/s with a workgroup per row, 2.3-3.3 with an
 * invocation per row). One workgroup per row ('group') otherwise, and always on hardware, where
 * a lane per row would leave loads uncoalesced. */
export function rowNormLayout(rows: number, caps: Caps): RowNormLayout {
  const wg = streamGeom(caps).wg;
  return caps.software && Math.ceil(rows / wg) >= LANE_LAYOUT_MIN_GROUPS ? 'lane' : 'group';
}

/** Rows per chunk at least this, so each invocation's column walk is long enough to amortise its
 * partial-sum write (chosen, not measured). */
export const MIN_CHUNK_ROWS = 64;

/** Row chunks of the layer-norm weight/bias gradient for `rows` rows and `columnGroups` workgroups
 * of columns. */
export function layerNormParamChunks(rows: number, columnGroups: number, caps: Caps): number {
  const target = caps.software ? TARGET_GROUPS_SOFTWARE : TARGET_GROUPS_HARDWARE;
  const want = Math.ceil(target / Math.max(columnGroups, 1));
  const fit = Math.floor(rows / MIN_CHUNK_ROWS);
  const p = Math.max(1, Math.min(want, fit, MAX_CHUNKS));
  return Math.max(1, Math.ceil(rows / Math.ceil(rows / p)));
}
