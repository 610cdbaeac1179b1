// wt.nn: modules, layers, losses and initialisers (PyTorch-shaped).
export { Module, type StateDict, type LoadResult, type BufferOptions } from './module.ts';
export { Conv2d, Linear, MaxPool2d, ReLU, Dropout, Flatten, LocalResponseNorm, type LayerOptions, type Conv2dLayerOptions } from './layers.ts';
export { Sequential, ModuleList } from './containers.ts';
export { Sigmoid, Tanh, GELU, LeakyReLU, Softmax, LogSoftmax, Identity, type GELUOptions, type LeakyReLUOptions, type SoftmaxOptions } from './activation_layers.ts';
export { CrossEntropyLoss } from './cross_entropy_loss.ts';
export * as init from './init.ts';
export * as functional from './functional.ts';
import { conv2dInputGrad, conv2dWeightGrad } from '../autograd/conv.ts';
/** torch.nn.grad: conv2d's gradients with respect to its input and its weight, from dL/dy. */
export const grad = { conv2dInput: conv2dInputGrad, conv2dWeight: conv2dWeightGrad };
export * as utils from './clip_grad.ts';
export { BatchNorm1d, BatchNorm2d, LayerNorm, GroupNorm, type BatchNormOptions, type LayerNormOptions, type GroupNormOptions } from './norm_layers.ts';
export { AvgPool2d, AdaptiveAvgPool2d, AdaptiveMaxPool2d } from './pool_layers.ts';
export { MSELoss, L1Loss, NLLLoss, BCEWithLogitsLoss } from './loss_layers.ts';
