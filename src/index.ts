// webgpu-tensor's public API (PyTorch-shaped names).
export { init, deviceInfo, type InitOptions, type DeviceInfo } from './backend/device.ts';
export { memory, type MemoryInfo } from './backend/webgpu.ts';
export { Tensor, isTensor, type DType, type Device } from './tensor/tensor.ts';
export { tidy, keep } from './tensor/storage.ts';
export { tensor, zeros, ones, full, fullLike, arange, rand, randn, type CreateOptions } from './tensor/creation.ts';
export { manualSeed, getRngState, setRngState, Generator } from './tensor/random.ts';
export {
  add, sub, mul, div, pow, maximum, neg, exp, log, sqrt, abs, relu, sum, mean, max, argmax,
  reshape, flatten, squeeze, unsqueeze, permute, transpose, expand, clone, matmul, mseLoss,
} from './autograd/ops.ts';
export { noGrad, isGradEnabled, Function } from './autograd/function.ts';
export { type BackwardOptions } from './autograd/engine.ts';
export { sync, flush } from './backend/sync.ts';
// GPU timing (timestamp brackets) and runtime counters.
export * as profiler from './backend/profiler.ts';
// Custom kernels (defineKernel, runKernel) and the built-in kernel descriptions, for benchmarking.
export * as kernels from './kernel_api.ts';

import { gradcheck } from './autograd/gradcheck.ts';
export const testing = { gradcheck };

// Kernel-backed layers (GEMM issue: conv2d/linear; layer-kernel issue: pool, dropout, loss, LRN).
export * from './autograd/conv.ts';
export * from './autograd/layers.ts';
// Modules, optimizers, checkpoints, data.
export * as nn from './nn/index.ts';
export * as optim from './nn/optim.ts';
export * from './nn/safetensors.ts';
export * from './nn/checkpoint.ts';
export * as data from './data/index.ts';
