// wt.kernels: the custom-kernel API, for benchmarking and custom launches.
//
// A kernel is a `KernelDef`: its WGSL, storage bindings, uniform words, dispatch size and a CPU
// twin, all pure functions of (params, caps). `defineKernel` builds one from storage and uniform
// fields declared by name (it writes the binding lines and `struct U` and packs the uniforms);
// `runKernel` launches one on the tensors' device (the WGSL on the GPU, the twin on the CPU).
// The built-in kernel descriptions below are the ones the library's ops launch, exposed so a
// benchmark can time one kernel alone on preallocated tensors; their params are the kernels' own
// (no argument checks beyond the runtime's), so prefer the public ops for anything else.
import { checkOptions } from './backend/options.ts';
import { launch } from './tensor/launch.ts';
import { Tensor } from './tensor/tensor.ts';
import type { DType, Device } from './tensor/storage.ts';
import { fmt } from './tensor/shape.ts';
import type { KernelDef } from './kernels/kernel.ts';
import { mm } from './autograd/matmul_op.ts';
import { deviceCaps } from './backend/device.ts';
import { maxPoolForwardKernel as chooseMaxPoolForward } from './policy/pool_choice.ts';
import type { MaxPoolParams, PoolGeom } from './kernels/maxpool.ts';
import type { AvgPoolParams } from './kernels/avgpool.ts';
import type { SoftmaxParams } from './kernels/softmax.ts';
import { softmaxParams as chooseSoftmaxParams } from './autograd/softmax_fn.ts';
import type { ChannelWalk } from './kernels/channel_stats.ts';
import { layerNormColumnGroups } from './kernels/row_norm.ts';
import type { RowNormLayout } from './kernels/row_norm.ts';
import { channelReducePlan, layerNormParamChunks, rowNormLayout as chooseRowNormLayout } from './policy/norm_choice.ts';
import {
  ADAPTIVE_ROWS_PER_LANE, adaptiveAvgByRows as chooseAdaptiveAvgByRows, adaptiveAvgStream as chooseAdaptiveAvgStream, avgPoolForwardChoice as chooseAvgPoolForward, avgPoolBackwardChoice as chooseAvgPoolBackward, globalAvgPoolBackwardGeom, globalAvgPoolGeom,
} from './policy/pool_choice.ts';
import type { GlobalAvgPoolBackwardParams, GlobalAvgPoolParams } from './kernels/global_avgpool.ts';
import type { AdaptiveAvgRowsParams } from './kernels/adaptive_avg_rows.ts';
import type { AdaptiveAvgStreamParams } from './kernels/adaptive_avg_stream.ts';

// ---- defining kernels ----
export {
  defineKernel, read, rw, u32, f32, i32, u32x4s,
  type KernelSource, type StorageDecl, type UField,
} from './kernels/shader.ts';
export type { KernelDef, Caps, NumArray, Access, UWord } from './kernels/kernel.ts';
// Entry-point parameters and flat index of a 1-D kernel: the runtime splits a 1-D dispatch of
// more than 65535 workgroups over x and y, so a 1-D kernel takes `fn main(${LINEAR_PARAMS})` and
// starts with `${linearGid(wgSize)}` to get its flat invocation index `gid`.
export { LINEAR_PARAMS, linearGid } from './kernels/wgsl_lib.ts';

// ---- launching ----

/** A new output tensor for `runKernel` to allocate (uninitialised on the GPU, zeros on the CPU). */
export interface OutputSpec {
  shape: readonly number[];
  /** Default: the float dtype of the tensor arguments, else float32. */
  dtype?: DType;
}

/** Options of {@link runKernel}. */
export interface RunKernelOptions {
  /** Device when no argument is a tensor (every argument an `OutputSpec`). Default 'cpu'. */
  device?: Device;
}

/**
 * Launch `def` with `params` on `args`, one per storage binding in binding order: a Tensor binds
 * its storage (read, or written in place where the binding is 'rw'); an `OutputSpec` allocates a
 * new tensor, which must sit at an 'rw' binding. All tensors share one device; on the GPU the
 * dispatch is recorded (submitted at `wt.flush()` / `wt.sync()` or a readback), on the CPU the
 * kernel's `cpu` twin runs at once. Returns the new tensors, in argument order.
 */
export function runKernel<P>(def: KernelDef<P>, params: P, args: readonly (Tensor | OutputSpec)[], o: RunKernelOptions = {}): Tensor[] {
  checkOptions(`runKernel ${def?.name}`, o, ['device']);
  const access = def.bindings(params);
  if (args.length !== access.length)
    throw new Error(`runKernel ${def.name}: the kernel has ${access.length} storage bindings, got ${args.length} arguments`);
  args.forEach((a, i) => {
    if (a instanceof Tensor) return;
    if (!Array.isArray(a.shape) || !a.shape.every((d) => Number.isInteger(d) && d >= 0))
      throw new Error(`runKernel ${def.name}: argument ${i} is neither a Tensor nor an output { shape } of non-negative integers`);
    if (access[i] !== 'rw')
      throw new Error(`runKernel ${def.name}: argument ${i} is a new output ${fmt(a.shape)} but binding ${i} is read-only`);
  });
  return launch(def, params, args.map((a) => (a instanceof Tensor ? a : { shape: [...a.shape], dtype: a.dtype })), o.device);
}

/** Options of {@link gemm}: transposed reads and the fused epilogue. */
export interface GemmOptions {
  /** Read `a` as [K, M] (its transpose) in place. */
  transA?: boolean;
  /** Read `b` as [N, K] (its transpose) in place. */
  transB?: boolean;
  /** Added to every row: [N]. */
  bias?: Tensor | null;
  /** Apply ReLU to the result. */
  relu?: boolean;
}

/**
 * The raw 2-D GEMM that `matmul`, `linear` and their backward passes run: op(a) @ op(b) (+ bias)
 * (ReLU), with op an optional transpose read in place (no transpose copy). No autograd, no
 * broadcasting: a [M, K] (or [K, M] with transA), b [K, N] (or [N, K] with transB) -> [M, N].
 * For the common cases use `wt.matmul` / `wt.linear`.
 */
export function gemm(a: Tensor, b: Tensor, o: GemmOptions = {}): Tensor {
  checkOptions('kernels.gemm', o, ['transA', 'transB', 'bias', 'relu']);
  if (!(a instanceof Tensor) || !(b instanceof Tensor) || a.ndim !== 2 || b.ndim !== 2)
    throw new Error('kernels.gemm: expected two 2-D tensors');
  const k = o.transA ? a.shape[0] : a.shape[1];
  const kb = o.transB ? b.shape[1] : b.shape[0];
  if (k !== kb) throw new Error(`kernels.gemm: inner dimensions differ: ${fmt(a.shape)}${o.transA ? '^T' : ''} @ ${fmt(b.shape)}${o.transB ? '^T' : ''}`);
  const n = o.transB ? b.shape[0] : b.shape[1];
  if (o.bias && (o.bias.ndim !== 1 || o.bias.shape[0] !== n))
    throw new Error(`kernels.gemm: expected bias of shape [${n}], got ${fmt(o.bias.shape)}`);
  return mm(a, b, !!o.transA, !!o.transB, 1, o.bias ?? null, !!o.relu);
}

// ---- built-in kernel descriptions (what the library's ops launch) ----

// ReLU forward (x, y) and backward (g, y, gx) over contiguous f32 buffers.
export { reluKernel, type ReluParams } from './kernels/relu.ts';
// Max pooling: the generic forward kernel (x, y[, argmax]), output size, and the geometry type.
export { maxPoolKernel, poolOut, type PoolGeom, type MaxPoolParams } from './kernels/maxpool.ts';
// The max-pool forward kernel the library picks for a geometry on this adapter, and the backward
// it runs (one or several dispatches; returns dL/dx).
export { maxPoolBackward } from './autograd/max_pool.ts';
/** The max-pool forward kernel the library picks for this geometry on the current adapter. */
export function maxPoolForwardKernel(geom: PoolGeom): KernelDef<MaxPoolParams> {
  return chooseMaxPoolForward(geom, deviceCaps());
}
// Dropout with the Philox stream (x, y) and the u32 keep threshold for a drop probability.
export { dropoutKernel, dropThreshold, type DropoutParams } from './kernels/dropout.ts';
// Cross-entropy forward (logits, labels, lse, loss, flag) and backward (logits, labels, lse,
// dL/dloss, gx), and the scaled sum of a vector into a scalar (the mean loss).
export {
  ceForwardKernel, ceBackwardKernel, scalarSumKernel,
  type CeParams, type CeBackwardParams, type ScalarSumParams,
} from './kernels/cross_entropy.ts';
// Local response normalisation across channels, forward and backward.
export { lrnKernel, type LrnParams } from './kernels/lrn.ts';
// The SGD update (params, grads[, momentum buffer]) in place.
export { sgdKernel, type SgdParams } from './kernels/sgd.ts';
// Optimizer updates (Adam/AdamW, RMSprop) and the gradient-norm kernels behind clipGradNorm_.
export { adamKernel, type AdamParams } from './kernels/adam.ts';
export { rmspropKernel, type RmspropParams } from './kernels/rmsprop.ts';
export { gradNormPartialKernel, gradNormFinishKernel, gradScaleKernel } from './kernels/grad_norm.ts';
// Softmax / log-softmax over one dim of [outer, R, inner]: forward (x, y) and backward (y, dL/dy, gx),
// and the params (layout included) the library launches for a shape and dim on this adapter.
export { softmaxKernel, type SoftmaxParams, type SoftmaxLayout } from './kernels/softmax.ts';
/** The softmax kernel params the library uses for `shape` over `dim` (normalised) on the current adapter. */
export function softmaxParams(shape: readonly number[], dim: number, log: boolean, pass: 'fwd' | 'bwd'): SoftmaxParams {
  return chooseSoftmaxParams(shape, dim, log, pass, 'gpu');
}
// Region copies (one per input of cat, into its slot of the output; narrow / slice) and constant
// padding (pad, and the scatter-into-zeros of narrow's gradient); cat as the library runs it.
export { regionCopyKernel, padKernel, type RegionCopyParams, type PadParams } from './kernels/region_copy.ts';
export { catRaw } from './autograd/region_ops.ts';
// Batch normalisation over x [N, C, S]: per-channel statistics (+ running update) and gradient
// sums, each either direct or in chunks merged by a second kernel; the streaming normalise /
// backward pass. `batchNormPlan` is the walk and chunk count the library uses on this adapter.
export {
  batchNormStatsKernel, batchNormStatsMergeKernel, channelGradSumsKernel, channelSumsMergeKernel,
  type BatchNormStatsParams, type BatchNormStatsMergeParams, type ChannelGradSumsParams, type ChannelSumsMergeParams,
  type ChannelWalk,
} from './kernels/channel_stats.ts';
export { batchNormKernel, type BatchNormParams } from './kernels/batch_norm.ts';
/** The walk and workgroups per channel of the batch-norm reductions for x [n, c, s] on the current adapter. */
export function batchNormPlan(n: number, c: number, s: number): { walk: ChannelWalk; chunks: number } {
  return channelReducePlan({ n, c, s }, deviceCaps());
}
// Layer / group normalisation of rows (forward, backward) and layer norm's weight / bias gradient;
// `rowNormLayout` and `layerNormParamGradChunks` are the layout and row-chunk count the library
// uses on this adapter.
export {
  rowNormKernel, layerNormParamGradKernel, type RowNormParams, type RowNormLayout, type LayerNormParamGradParams,
} from './kernels/row_norm.ts';
/** The row layout (a workgroup or an invocation per row) for `r` rows on the current adapter. */
export function rowNormLayout(r: number): RowNormLayout {
  return chooseRowNormLayout(r, deviceCaps());
}
/** Row chunks of layerNormParamGradKernel for [r, d] on the current adapter. */
export function layerNormParamGradChunks(r: number, d: number): number {
  return layerNormParamChunks(r, layerNormColumnGroups({ d }, deviceCaps()), deviceCaps());
}
// Average pooling forward (x, y) and its gather backward (g, gx), params = PoolGeom + divisor rule.
export { avgPoolKernel, avgPoolBackwardKernel, type AvgPoolParams } from './kernels/avgpool.ts';
/** The average-pooling forward's variant (`outs`, `rows`, `vec4`, `slide` of its params) the
 * library picks for this geometry on the current adapter. */
export function avgPoolForwardChoice(geom: PoolGeom): Pick<AvgPoolParams, 'outs' | 'rows' | 'vec4' | 'slide'> {
  return chooseAvgPoolForward(geom, deviceCaps());
}
/** The average-pooling backward's variant (`slide`, `bwdTile`, `bwdWindow`, `bwdVec4` of its
 * params) the library picks for this geometry on the current adapter. */
export function avgPoolBackwardChoice(geom: PoolGeom): Pick<AvgPoolParams, 'slide' | 'bwdTile' | 'bwdWindow' | 'bwdVec4'> {
  return chooseAvgPoolBackward(geom, deviceCaps());
}
// Adaptive average / max pooling forward (x, y[, argmax]), and the backward the library runs
// (one or two dispatches; returns dL/dx).
export { adaptivePoolKernel, type AdaptivePoolParams } from './kernels/adaptive_pool.ts';
export { adaptivePoolBackward } from './autograd/adaptive_pool2d.ts';
// Adaptive average pooling by rows (software adapters' choice for narrow planes).
export { adaptiveAvgRowsKernel, adaptiveAvgRowsBackwardKernel, type AdaptiveAvgRowsParams } from './kernels/adaptive_avg_rows.ts';
/** Whether the library runs the adaptive average pool for these sizes by rows on the current adapter. */
export function adaptiveAvgByRows(geom: { h: number; w: number; oh: number; ow: number }): boolean {
  return chooseAdaptiveAvgByRows(geom, deviceCaps());
}
/** The by-rows params the library runs for n planes of h x w pooled to oh x ow. */
export function adaptiveAvgRowsParams(n: number, h: number, w: number, oh: number, ow: number): AdaptiveAvgRowsParams {
  return { n, h, w, oh, ow, perLane: ADAPTIVE_ROWS_PER_LANE };
}
// Adaptive average pooling streamed over packed plane groups (software adapters' first choice).
export { adaptiveAvgStreamKernel, adaptiveAvgStreamBackwardKernel, type AdaptiveAvgStreamParams } from './kernels/adaptive_avg_stream.ts';
/** The streamed params the library runs for n planes of h x w pooled to oh x ow on the current
 * adapter, or null where it runs another kernel. */
export function adaptiveAvgStreamParams(n: number, h: number, w: number, oh: number, ow: number): AdaptiveAvgStreamParams | null {
  return chooseAdaptiveAvgStream({ n, h, w, oh, ow }, deviceCaps());
}
// Global average pooling (adaptive to 1 x 1): forward (x, y) and backward (g, gx).
export {
  globalAvgPoolKernel, globalAvgPoolBackwardKernel,
  type GlobalAvgPoolParams, type GlobalAvgPoolBackwardParams,
} from './kernels/global_avgpool.ts';
/** The global-average-pooling params the library picks for n planes of h x w on the current adapter. */
export function globalAvgPoolParams(n: number, h: number, w: number): GlobalAvgPoolParams {
  return { n, h, w, ...globalAvgPoolGeom(n, h, w, deviceCaps()) };
}
/** The global-average-pooling backward params the library picks on the current adapter. */
export function globalAvgPoolBackwardParams(n: number, h: number, w: number): GlobalAvgPoolBackwardParams {
  return { n, h, w, ...globalAvgPoolBackwardGeom(n, h, w, deviceCaps()) };
}
// Loss kernels: the cross-entropy mean, and the fused elementwise losses (mse, l1, BCE with logits).
export { ceMeanKernel, type CeMeanParams } from './kernels/cross_entropy.ts';
export { elementwiseLossKernel, elementwiseLossBackwardKernel, elementwiseLossGroups } from './kernels/elementwise_loss.ts';

// ---- GEMM variants (autotuning, benchmarks) ----
// The design of one GEMM launch (`GemmChoice`: 'lanes' or 'tiled', the tiled tile configuration,
// split-K ranges), the family of tile configurations, the matmul kernel and the split-K reduction;
// the candidates worth timing and the untuned default for a problem on the current adapter; and
// the raw GEMM run with a given choice.
import { gemmProblems } from './kernels/gemm.ts';
import type { GemmChoice } from './kernels/gemm.ts';
import {
  defaultGemmChoice as policyDefaultGemm, gemmCandidates as policyGemmCandidates, gemmChoiceName,
  type GemmOp, type GemmShape,
} from './policy/gemm_variants.ts';
export { DEFAULT_TILE, type GemmChoice, type GemmVariant, type TileConfig } from './kernels/gemm.ts';
export { TILE_CONFIGS, gemmChoiceName, type GemmOp, type GemmShape } from './policy/gemm_variants.ts';
export { matmulKernel, type MatmulParams } from './kernels/matmul.ts';
export { splitKReduceKernel, type SplitKReduceParams } from './kernels/split_k_reduce.ts';

/** The GEMM variants worth timing for `op` on a problem of `shape` on the current adapter, the
 * untuned default first (see src/policy/gemm_variants.ts). */
export function gemmCandidates(shape: GemmShape, op: GemmOp = 'matmul'): GemmChoice[] {
  return policyGemmCandidates(op, shape, deviceCaps());
}

/** The GEMM choice the library runs without tuning for `op` on `shape` on the current adapter. */
export function defaultGemmChoice(shape: GemmShape, op: GemmOp = 'matmul'): GemmChoice {
  return policyDefaultGemm(op, shape, deviceCaps());
}

/** Why the current adapter cannot run `choice` (empty when it can). */
export function gemmChoiceProblems(choice: GemmChoice): string[] {
  return gemmProblems(choice, deviceCaps());
}

/** `gemm` (above) with the GEMM design `choice` instead of the library's (GPU tensors; on the CPU
 * the twin runs and the choice does not matter). */
export function gemmWith(a: Tensor, b: Tensor, choice: GemmChoice, o: GemmOptions = {}): Tensor {
  if (!(a instanceof Tensor) || !(b instanceof Tensor) || a.ndim !== 2 || b.ndim !== 2)
    throw new Error('kernels.gemmWith: expected two 2-D tensors');
  const k = o.transA ? a.shape[0] : a.shape[1];
  const kb = o.transB ? b.shape[1] : b.shape[0];
  if (k !== kb) throw new Error(`kernels.gemmWith: inner dimensions differ: ${fmt(a.shape)}${o.transA ? '^T' : ''} @ ${fmt(b.shape)}${o.transB ? '^T' : ''}`);
  const n = o.transB ? b.shape[0] : b.shape[1];
  if (o.bias && (o.bias.ndim !== 1 || o.bias.shape[0] !== n))
    throw new Error(`kernels.gemmWith: expected bias of shape [${n}], got ${fmt(o.bias.shape)}`);
  if (a.device === 'gpu') {
    const problems = gemmProblems(choice, deviceCaps());
    if (problems.length) throw new Error(`kernels.gemmWith: ${gemmChoiceName(choice)} cannot run on this adapter: ${problems.join('; ')}`);
  }
  return mm(a, b, !!o.transA, !!o.transB, 1, o.bias ?? null, !!o.relu, choice);
}
