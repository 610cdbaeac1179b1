// The kernel-backed functions the modules call, gathered in one place.
export { conv2d, linear } from '../autograd/conv.ts';
export { maxPool2d, reluFast, dropout, crossEntropy, localResponseNorm, sgdUpdate } from '../autograd/layers.ts';
