// RegNetX-32 as d2l.ai builds it (8.8 "Designing Convolution Network Architectures", PyTorch): an
// AnyNet of a stem (3x3 conv, stride 2, pad 1, BatchNorm, ReLU), stages of ResNeXt blocks (the
// first of each halves the size and projects with a 1x1 conv) and a head (global average pooling,
// Flatten, Linear). RegNetX-32: stem 32 channels, stages of depth (4, 6) and (32, 80) channels, 16
// channels per group, bottleneck ratio 1. d2l adds the stages and the head to its nn.Sequential by
// name, so the parameter names are torch's "0.0.weight" (stem conv), "stage1.0.conv2.weight",
// "stage2.0.bn4.running_mean", "head.2.weight".
import { BatchNorm2d } from '../nn/norm_layers.ts';
import { AdaptiveAvgPool2d } from '../nn/pool_layers.ts';
import { Conv2d, Flatten, Linear, ReLU } from '../nn/layers.ts';
import { Sequential } from '../nn/containers.ts';
import type { Module } from '../nn/module.ts';
import { type ModelOptions, modelOptions } from './model_options.ts';
import { ResNeXtBlock } from './resnet_net.ts';

/** One AnyNet stage: (depth, channels, channels per group, bottleneck ratio). */
export type AnyNetStage = readonly [depth: number, numChannels: number, groups: number, botMul: number];

/** d2l's RegNetX-32 design: stages (4, 32, 16, 1) and (6, 80, 16, 1) after a 32-channel stem. */
export const REGNETX32_ARCH: readonly AnyNetStage[] = Object.freeze([
  [4, 32, 16, 1],
  [6, 80, 16, 1],
] as const);

/** d2l's AnyNet.stem: Conv(numChannels, 3x3, stride 2, pad 1), BatchNorm, ReLU. */
export function anynetStem(inChannels: number, numChannels: number): Sequential {
  return new Sequential(new Conv2d(inChannels, numChannels, 3, { stride: 2, padding: 1 }), new BatchNorm2d(numChannels), new ReLU());
}

/** d2l's AnyNet.stage: `depth` ResNeXt blocks, the first with a 1x1 projection and stride 2. */
export function anynetStage(inChannels: number, [depth, numChannels, groups, botMul]: AnyNetStage): Sequential {
  const blocks: Module[] = [];
  for (let i = 0; i < depth; i++)
    blocks.push(i === 0 ? new ResNeXtBlock(inChannels, numChannels, groups, botMul, true, 2) : new ResNeXtBlock(numChannels, numChannels, groups, botMul));
  return new Sequential(...blocks);
}

/** d2l's AnyNet: stem, then 'stage1', 'stage2', ... and 'head' (AdaptiveAvgPool2d(1), Flatten,
 * Linear(last stage's channels, numClasses)). x: [B, inChannels, S, S] -> [B, numClasses]. */
export function anynet(arch: readonly AnyNetStage[], stemChannels: number, options?: ModelOptions): Sequential {
  const o = modelOptions<ModelOptions>('anynet', options, { inChannels: 1, numClasses: 10 });
  if (arch.length === 0) throw new Error('anynet: expected at least one stage, got none');
  const net = new Sequential(anynetStem(o.inChannels, stemChannels));
  let c = stemChannels;
  arch.forEach((s, i) => {
    net.addModule(`stage${i + 1}`, anynetStage(c, s));
    c = s[1];
  });
  return net.addModule('head', new Sequential(new AdaptiveAvgPool2d([1, 1]), new Flatten(), new Linear(c, o.numClasses)));
}

/**
 * d2l's RegNetX-32 (8.8): AnyNet with a 32-channel stem and REGNETX32_ARCH. Any input side (d2l
 * trains at 96). x: [B, inChannels, S, S] -> [B, numClasses].
 */
export function regnetx32(options?: ModelOptions): Sequential {
  return anynet(REGNETX32_ARCH, 32, modelOptions<ModelOptions>('regnetx32', options, { inChannels: 1, numClasses: 10 }));
}
