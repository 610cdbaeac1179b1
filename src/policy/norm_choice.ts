// How the normalisation reductions split their work on a GPU with these caps.
//   channelChunks: workgroups per channel of batchNormStatsKernel / channelGradSumsKernel (batch
//     norm statistics and gradient sums, group norm weight and bias gradients). One workgroup per
//     channel needs no merge pass; a few channels over many elements (C = 3 image inputs, [N, C]
//     with a large N) leave most of the adapter idle, so each channel is split into chunks of at
//     least MIN_CHUNK_UNITS units until TARGET_GROUPS workgroups run; the merge kernel then reads
//     chunks triples per channel.
//   layerNormParamChunks: row chunks of layerNormParamGradKernel (one invocation per column
//     runs down its rows); partial sums [chunks, D] are added by a reduction afterwards.
// CPU tensors run the twins with one chunk.
import type { Caps } from '../kernels/kernel.ts';

/** Workgroups that keep an adapter busy: lavapipe runs one workgroup per thread (one per core);
 * 32 covers a 16-core host twice. A large GPU holds ~8 workgroups of 256 on each of ~100+ SMs. */
export const TARGET_GROUPS_SOFTWARE = 32;
export const TARGET_GROUPS_HARDWARE = 1024;

/** Smallest chunk, in units (vec4 or scalar), so the per-workgroup setup and the workgroup merge
 * stay small next to the loads: 16 units per lane of a 256-lane hardware workgroup, 256 per lane
 * of lavapipe's 8-lane ones. */
export const MIN_CHUNK_UNITS_SOFTWARE = 2048;
export const MIN_CHUNK_UNITS_HARDWARE = 4096;

/** Upper bound on chunks per channel: the merge kernel walks them serially per channel. */
export const MAX_CHUNKS = 64;

/** Workgroups per channel for `channels` channels of `units` units each. */
export function channelChunks(channels: number, units: number, caps: Caps): number {
  const target = caps.software ? TARGET_GROUPS_SOFTWARE : TARGET_GROUPS_HARDWARE;
  const minUnits = caps.software ? MIN_CHUNK_UNITS_SOFTWARE : MIN_CHUNK_UNITS_HARDWARE;
  const want = Math.ceil(target / Math.max(channels, 1));
  const fit = Math.floor(units / minUnits);
  const p = Math.max(1, Math.min(want, fit, MAX_CHUNKS));
  // no empty chunk: the chunk length ceil(units / p) must leave something for the last one
  return Math.max(1, Math.ceil(units / Math.ceil(units / p)));
}

/** Rows per chunk at least this, so each invocation's column walk is long enough to amortise its
 * partial-sum write. */
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
