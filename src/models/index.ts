// wt.models: the CNNs of d2l.ai's chapters 7-8 (PyTorch versions) with explicit input channels,
// parameter names as torch's nn.Sequential / nn.Module give them, their blocks, and tools to
// look at a model (d2l's shape printout, parameter count, forward MACs).
export { type ModelOptions, type SizedModelOptions } from './model_options.ts';
export { lenet } from './lenet_net.ts';
export { alexnet, type AlexNetOptions } from './alexnet_net.ts';
export { vgg11, vggBlock, VGG11_ARCH, type VggOptions } from './vgg_net.ts';
export { nin, ninBlock, ninHeadInit_ } from './nin_net.ts';
export { googlenet, Inception } from './googlenet_net.ts';
export { resnet18, Residual, ResNeXtBlock, resnetBlock, resnetStem } from './resnet_net.ts';
export { densenet, DenseBlock, denseConvBlock, transitionBlock } from './densenet_net.ts';
export { regnetx32, anynet, anynetStem, anynetStage, REGNETX32_ARCH, type AnyNetStage } from './regnet_net.ts';
export { summary, parameterCount, forwardMacs } from './model_summary.ts';
export { initWeights, type WeightInit } from './weight_init.ts';
export { ZOO, MODEL_NAMES, buildModel, type ZooModel, type ZooBuildOptions } from './model_zoo.ts';
