// Which algorithm serves a conv2d layer on the GPU and how its work is cut: implicit GEMMs
// (conv2d.ts, conv2d_backward.ts) or, on small feature maps, an explicit im2col buffer and plain
// GEMMs over the whole batch (im2col.ts); the residue-class GEMM or the column gradient for the
// input gradient (conv2d_col.ts); the chunks of the column gradient and the batch splits of the
// weight gradient. The op layer (src/autograd/conv.ts) asks here with the device's caps.
// Every path handles dilation; channel groups take the implicit GEMMs (one GEMM per group, groups
// side by side on the grid's y) and the column gradient, never the small-map path (see
// `useSmallMaps`); depthwise layers (one filter per channel) take depthwise_conv.ts's direct
// window sums instead (`useDepthwise`).
import { type Caps, MAX_WG_PER_DIM } from '../kernels/kernel.ts';
import { type Conv2dGeom, cinPer, coutPer } from '../kernels/conv2d.ts';
import { type GemmChoice, gemmGroups } from '../kernels/gemm.ts';
import { type DepthwiseWeightGradParams, depthwiseProblem } from '../kernels/depthwise_conv.ts';

// ---- small feature maps: explicit im2col + plain GEMMs ----

/** Most output pixels per image (OH*OW) for the small-map path. The implicit GEMMs put one image's
 * pixels on N, so a map of at most 64 pixels (AlexNet's 3x3 / 7x7 at small inputs: 9 or 49
 * columns) fills at most one 64-wide tiled tile, wasting most of it, and loads every input element
 * through a padding check; the whole-batch GEMM fills its tiles and loads contiguous vec4.
 * Measured on lavapipe (conv3-5 of AlexNet at small resizes): ~1.45x faster training step. */
export const SMALL_MAP_MAX_PIXELS = 64;

/** Fewest input channels for the small-map path. No measurement of its own: the path was measured
 * on AlexNet's conv3-5 (Cin >= 96); layers with fewer than 8 input channels keep the implicit
 * GEMMs, the same channel cut as COL_GRAD_MAX_CIN. */
export const SMALL_MAP_MIN_CIN = 8;

/** Largest im2col buffer the small-map path builds (bytes; also capped by the adapter's
 * maxStorageBufferBindingSize). It is KH*KW times the input, allocated per layer and step, so it
 * is kept bounded; larger layers take the implicit GEMMs, which need no buffer. A memory bound,
 * not a measured speed threshold. */
export const SMALL_COL_BYTES = 32 * 2 ** 20;

/** Switch for the small-map path (tests and A/B timings). */
export const smallMapsConfig = { enabled: true };

/** Whether the explicit-im2col path serves this geometry on this adapter. The whole batch's
 * pixels (B*OH*OW) stay within one dispatch dimension. Grouped convolutions (groups > 1) never take
 * it: its GEMMs multiply the im2col buffer by the whole weight, which for groups is block-diagonal,
 * so it would take one GEMM launch per group over a strided slice of the buffer (for depthwise, G
 * launches of a KH*KW-deep GEMM), while the implicit GEMMs serve all groups in one launch. Dilation
 * is supported (it is index math in im2col and the flipped-weight input gradient). */
export function useSmallMaps(g: Conv2dGeom, caps: Caps): boolean {
  if (!smallMapsConfig.enabled || g.groups !== 1) return false;
  const ohw = g.oh * g.ow;
  const bytes = g.batch * ohw * g.cin * g.kh * g.kw * 4;
  return (
    ohw <= SMALL_MAP_MAX_PIXELS &&
    g.cin >= SMALL_MAP_MIN_CIN &&
    g.batch * ohw <= MAX_WG_PER_DIM &&
    bytes <= Math.min(SMALL_COL_BYTES, caps.maxStorageBufferBindingSize)
  );
}

// ---- input gradient: residue-class GEMM or column gradient ----

/** Input channels per group below which dX may take the column gradient + col2im. The class GEMM
 * has M = Cin/G rows; below 8 that is less than the smallest lanes register tile (R = 8) and
 * leaves most of every tile idle (AlexNet's conv1: Cin = 1), while the column GEMM has
 * M = Cin/G*KH*KW. */
export const COL_GRAD_MAX_CIN = 8;

/** Fewest output channels per input channel in a group (Mg / Cg) for the column gradient. Per dX
 * element the class GEMM loads ~KH*KW*Mg/Cg dY values (one per k, over the Cg useful rows of a
 * tile), the column path writes and re-reads KH*KW column values whatever Mg, so the column path
 * pays off only when Mg is several times Cg. Measured on lavapipe ('lanes', 3x3 s1 p1, dX alone):
 * Mg/Cg = 1 (depthwise, 48 groups, 56x56, batch 2) class 50 ms vs column 94 ms; 2: class 29 vs 38;
 * 4: class 22 vs 17 (12 groups), 43 vs 25 (16 groups); 8: class 21 vs 9; 48 (conv1-like, Cin 1):
 * class 8.5 vs 2.0; single-group layers with Mg/Cg of 1.3-2 (Cin 3-4, Cout 4-8): class 0.9-1.1 vs
 * column 1.5-2.3 ms. */
export const COL_GRAD_MIN_COUT_RATIO = 4;

/** Use the column-gradient path for this geometry (any device: the CPU twins follow it too). */
export function useColGrad(g: Conv2dGeom): boolean {
  return cinPer(g) < COL_GRAD_MAX_CIN && coutPer(g) >= COL_GRAD_MIN_COUT_RATIO * cinPer(g);
}

/** Largest column-gradient buffer per chunk of images (bytes; also capped by the adapter's
 * maxStorageBufferBindingSize): the buffer is KH*KW times dX, so the batch goes through in chunks
 * to keep the temporary bounded. A memory bound, not a measured speed threshold. */
export const COL_GRAD_CHUNK_BYTES = 64 * 2 ** 20;

/** Images per column-gradient chunk (at least 1). */
export function colGradChunk(g: Conv2dGeom, caps: Caps): number {
  const colBytes = g.cin * g.kh * g.kw * g.oh * g.ow * 4;
  return Math.max(1, Math.floor(Math.min(COL_GRAD_CHUNK_BYTES, caps.maxStorageBufferBindingSize) / colBytes));
}

// ---- weight gradient: batch splits ----

/** Workgroups the weight-gradient GEMM should launch. Its grid is Cout x Cin*KH*KW whatever the
 * batch (K = B*OH*OW is the long loop), so a small layer gives few workgroups; splitting the batch
 * over z into partial sums adds more, at the cost of one reduction. A hardware GPU needs many
 * resident workgroups to fill its cores (1024); a software adapter spreads workgroups over a few
 * CPU threads, so a few dozen suffice (32). Keyed by the adapter, not by the GEMM design: a
 * software adapter running 'tiled' (forced or tuned) still has a few threads, and there each extra
 * tiled workgroup costs (SwiftShader: ~8 ms per 256-invocation workgroup, measured in Chromium 156
 * headless on the 2-core dev machine). Sized by that reasoning; no recorded measurement of the
 * split counts themselves. */
export const WEIGHT_GRAD_WORKGROUPS = Object.freeze({ hardware: 1024, software: 32 });

/** Largest partial-sum buffer [splits, Cout, Cin, KH, KW] (bytes; also capped by the adapter's
 * maxStorageBufferBindingSize): a memory bound on the splits' temporary, not a speed threshold. */
export const WEIGHT_GRAD_PARTIAL_BYTES = 64 * 2 ** 20;

/** Images per weight-gradient split on the GPU for the GEMM design `gemm` (the splits stay within
 * one dispatch dimension). */
export function weightGradBPer(g: Conv2dGeom, gemm: GemmChoice, caps: Caps): number {
  const n = cinPer(g) * g.kh * g.kw;
  const [gx, gy] = gemmGroups(gemm, coutPer(g), n);
  let splits = Math.min(g.batch, MAX_WG_PER_DIM, Math.max(1, Math.ceil(WEIGHT_GRAD_WORKGROUPS[caps.software ? 'software' : 'hardware'] / (gx * gy * g.groups))));
  const maxPartial = Math.min(WEIGHT_GRAD_PARTIAL_BYTES, caps.maxStorageBufferBindingSize);
  splits = Math.max(1, Math.min(splits, Math.floor(maxPartial / (g.cout * n * 4))));
  return Math.ceil(g.batch / splits);
}

// ---- depthwise convolutions (depthwise_conv.ts) ----

/** Whether a conv2d layer runs on the depthwise kernels (direct window sums, one filter per
 * channel) instead of the grouped implicit GEMMs, which would give each channel a GEMM of one row:
 * every depthwise layer (groups = Cin = Cout >= 2) with a window of at most DEPTHWISE_MAX_TAPS, on
 * every adapter and on the CPU. Measured on lavapipe: see the README's conv rows. */
export function useDepthwise(g: Conv2dGeom): boolean {
  return depthwiseProblem(g) === null;
}

/** Workgroups the depthwise weight gradient aims for (channels x batch splits): a few per core on a
 * software adapter, enough to fill a GPU. Not tuned. */
export const DEPTHWISE_DW_WORKGROUPS = Object.freeze({ hardware: 512, software: 16 });

/** The depthwise weight gradient's launch: workgroup size, how lanes walk an image, images per
 * batch split (splits only where the channels alone leave the adapter idle). */
export function depthwiseWeightGradGeom(g: Conv2dGeom, caps: Caps): Pick<DepthwiseWeightGradParams, 'wg' | 'walk' | 'bPer'> {
  const want = caps.software ? DEPTHWISE_DW_WORKGROUPS.software : DEPTHWISE_DW_WORKGROUPS.hardware;
  const splits = Math.max(1, Math.min(g.batch, Math.ceil(want / g.cin)));
  const bPer = Math.max(1, Math.ceil(g.batch / splits));
  return caps.software ? { wg: 8, walk: 'rows', bPer } : { wg: 64, walk: 'flat', bPer };
}
