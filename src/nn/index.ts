// wt.nn: modules, layers, losses and initialisers (PyTorch-shaped).
export { Module, type StateDict, type LoadResult } from './module.ts';
export { Conv2d, Linear, MaxPool2d, ReLU, Dropout, Flatten, LocalResponseNorm, type LayerOptions } from './layers.ts';
export { Sequential } from './containers.ts';
export { CrossEntropyLoss } from './loss.ts';
export * as init from './init.ts';
export * as functional from './functional.ts';
