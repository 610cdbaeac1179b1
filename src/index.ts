/// <reference types="@webgpu/types" preserve="true" />
/**
 * The core API: runs wherever WebGPU does (browsers, Deno, Node given a `GPU`). Under Node,
 * `webgpu-tensor` resolves to {@link "webgpu-tensor/node"}, which adds files and Dawn.
 * @module webgpu-tensor
 */
// The public API (PyTorch-shaped names), by name. Tensor methods are attached by
// autograd/tensor_methods.ts, imported here for its effect.
import './autograd/tensor_methods.ts';
// the autotuner's trials (they run the ops)
import './autograd/tuning_trials.ts';
import { gradcheck } from './autograd/gradcheck.ts';
import { accuracyCount, accumulateSum, crossEntropyLabelErrors, crossEntropySum } from './autograd/loss.ts';

// device and memory
export { init, deviceInfo, type InitOptions, type DeviceInfo } from './backend/device.ts';
export { memory, debugMemory, type MemoryInfo, type MemoryDetail, type MemorySite } from './backend/webgpu.ts';
export { sync, flush, SubmitFence, type SyncOptions } from './backend/sync.ts';
// kernel autotuning: modes, picks, settings
export * as tuning from './tuning_api.ts';

// tensors
export { Tensor, isTensor, type DType, type Device } from './tensor/tensor.ts';
export { scope, tidy, keep, type Scope } from './tensor/scope.ts';
export { tensor, zeros, ones, full, fullLike, arange, rand, randn, type CreateOptions } from './tensor/creation.ts';
export { manualSeed, getRngState, setRngState, Generator } from './tensor/random.ts';

// ops: the pointwise table, then reductions, shapes, matmul
export {
  neg, exp, log, sqrt, abs, sign, square, reciprocal, sigmoid, tanh, gelu, leakyRelu,
  add, sub, mul, div, pow, maximum, minimum, eq, ne, gt, ge, lt, le,
  type Operand,
} from './autograd/pointwise.ts';
export {
  relu, sum, mean, max, min, argmax, reshape, flatten, squeeze, unsqueeze, permute, transpose, expand, clone, matmul, mseLoss,
} from './autograd/ops.ts';
export { softmax, logSoftmax } from './autograd/softmax_fn.ts';
export { clamp, where } from './autograd/clamp_where.ts';
export { cat, stack, narrow, slice, pad, chunk, split } from './autograd/region_ops.ts';
export { batchNorm } from './autograd/batch_norm_fn.ts';
export { layerNorm, groupNorm } from './autograd/row_norm_fn.ts';
export { conv2d, linear, type Conv2dOptions } from './autograd/conv.ts';
export { maxPool2d, type MaxPoolOptions } from './autograd/max_pool.ts';
export { avgPool2d, type AvgPoolOptions } from './autograd/avg_pool.ts';
export { adaptiveAvgPool2d, adaptiveMaxPool2d } from './autograd/adaptive_pool2d.ts';
export { dropout, type DropoutOptions } from './autograd/dropout_op.ts';
export { crossEntropy, nllLoss, type CrossEntropyOptions, type NllLossOptions } from './autograd/loss.ts';
export {
  l1Loss, binaryCrossEntropyWithLogits, type ElementwiseLossOptions, type BceWithLogitsOptions,
} from './autograd/elementwise_loss_fn.ts';
export type { Reduction } from './autograd/loss_options.ts';
export { localResponseNorm } from './autograd/lrn_op.ts';

// autograd
export { noGrad, isGradEnabled, Function } from './autograd/function.ts';
export { type BackwardOptions } from './autograd/engine.ts';
// GPU timing (timestamp brackets) and runtime counters.
export * as profiler from './backend/profiler.ts';
// Custom kernels (defineKernel, runKernel) and the built-in kernel descriptions, for benchmarking.
export * as kernels from './kernel_api.ts';
/** Test helpers: `gradcheck(fn, inputs)` compares autograd gradients with finite differences (float64 CPU). */
export const testing = { gradcheck };

/** Training metrics accumulated on the GPU (read back only for display). */
export const metrics = {
  /** Number of rows whose argmax equals the label, added into `into` (int32 scalar) when given. */
  accuracyCount,
  /** Sum of per-row cross-entropy losses, added into `into` when given. */
  crossEntropySum,
  /** into += scale * sum(x) (a scalar accumulator; created when `into` is null). */
  accumulateSum,
  /** Rows with a label outside [0, classes) seen by crossEntropy since the last call (reads back). */
  labelErrors: crossEntropyLabelErrors,
};

// modules, optimizers, files, data
export * as nn from './nn/index.ts';
export * as optim from './nn/optim.ts';
export { saveBytes, loadBytes, loadSafetensorsBytes, type LoadOptions, type SaveOptions } from './nn/safetensors.ts';
export { saveCheckpointBytes, loadCheckpointBytes, type CheckpointContents, type CheckpointTarget } from './nn/checkpoint.ts';
export * as data from './data/index.ts';
// d2l's CNNs (LeNet ... DenseNet) and tools to look at a model
export * as models from './models/index.ts';
/** ONNX export (`wt.onnx.exportBytes`; the Node entry adds `wt.onnx.export` to a file). */
export * as onnx from './io/onnx.ts';
