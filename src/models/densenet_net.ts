// DenseNet as d2l.ai builds it (8.7 "Densely Connected Networks (DenseNet)", PyTorch): ResNet's
// stem, four DenseBlocks of 4 conv_blocks (growth rate 32) with transition blocks (1x1 conv halving
// the channels, 2x2 average pool) between them, BatchNorm, ReLU, global average pooling and a
// Linear layer. Parameter names are torch's: "1.net.0.0.weight" (dense block 1, conv_block 0, its
// BatchNorm), "2.2.weight" (the first transition's conv), "9.weight".
import { cat } from '../autograd/region_ops.ts';
import { BatchNorm2d } from '../nn/norm_layers.ts';
import { AdaptiveAvgPool2d, AvgPool2d } from '../nn/pool_layers.ts';
import { Conv2d, Flatten, Linear, ReLU } from '../nn/layers.ts';
import { Sequential } from '../nn/containers.ts';
import { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type ModelOptions, modelOptions, smallestSide, windowOut } from './model_options.ts';
import { resnetStem } from './resnet_net.ts';

/** d2l's conv_block: BatchNorm, ReLU, 3x3 conv (pad 1) to numChannels. */
export function denseConvBlock(inChannels: number, numChannels: number): Sequential {
  return new Sequential(new BatchNorm2d(inChannels), new ReLU(), new Conv2d(inChannels, numChannels, 3, { padding: 1 }));
}

/**
 * d2l's DenseBlock: numConvs conv_blocks, each one's output concatenated to its input along the
 * channels. x: [B, inChannels, H, W] -> [B, inChannels + numConvs * numChannels, H, W].
 */
export class DenseBlock extends Module {
  net: Sequential;
  readonly outChannels: number;
  constructor(numConvs: number, inChannels: number, numChannels: number) {
    super();
    const blocks: Module[] = [];
    for (let i = 0; i < numConvs; i++) blocks.push(denseConvBlock(numChannels * i + inChannels, numChannels));
    this.net = new Sequential(...blocks);
    this.outChannels = inChannels + numConvs * numChannels;
  }
  forward(x: Tensor): Tensor {
    for (const blk of this.net) x = cat([x, blk.forward(x)], 1);
    return x;
  }
}

/** d2l's transition_block: BatchNorm, ReLU, 1x1 conv to numChannels, AvgPool(2, 2). */
export function transitionBlock(inChannels: number, numChannels: number): Sequential {
  return new Sequential(new BatchNorm2d(inChannels), new ReLU(), new Conv2d(inChannels, numChannels, 1), new AvgPool2d(2, 2));
}

/** Side of DenseNet's map before the global pool for input side n (stem /4, three 2x2 pools). */
export function densenetFeatureSide(n: number): number {
  n = windowOut(n, 7, 2, 3);
  n = windowOut(n, 3, 2, 1);
  for (let i = 0; i < 3; i++) n = windowOut(n, 2, 2);
  return n;
}

/** The smallest input side DenseNet accepts. */
export const densenetMinImageSize = (): number => smallestSide(densenetFeatureSide);

/**
 * d2l's DenseNet: stem, DenseBlock(4, 64, 32), transition to 96, DenseBlock(4, 96, 32), transition
 * to 112, DenseBlock(4, 112, 32), transition to 120, DenseBlock(4, 120, 32), BatchNorm(248), ReLU,
 * AdaptiveAvgPool2d(1), Flatten, Linear(248, numClasses). x: [B, inChannels, S, S] (d2l: S = 96).
 */
export function densenet(options?: ModelOptions): Sequential {
  const o = modelOptions<ModelOptions>('densenet', options, { inChannels: 1, numClasses: 10 });
  const growthRate = 32;
  const numConvsInDenseBlocks = [4, 4, 4, 4];
  let numChannels = 64;
  const blocks: Module[] = [];
  numConvsInDenseBlocks.forEach((numConvs, i) => {
    blocks.push(new DenseBlock(numConvs, numChannels, growthRate));
    numChannels += numConvs * growthRate;
    if (i !== numConvsInDenseBlocks.length - 1) {
      blocks.push(transitionBlock(numChannels, Math.floor(numChannels / 2)));
      numChannels = Math.floor(numChannels / 2);
    }
  });
  return new Sequential(
    resnetStem(o.inChannels),
    ...blocks,
    new BatchNorm2d(numChannels),
    new ReLU(),
    new AdaptiveAvgPool2d([1, 1]),
    new Flatten(),
    new Linear(numChannels, o.numClasses),
  );
}
