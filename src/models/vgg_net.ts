// VGG-11 as d2l.ai builds it (8.2 "Networks Using Blocks (VGG)", PyTorch): five vgg_blocks (n 3x3
// convs with ReLU, then a 2x2 max pool) and three Linear layers. d2l trains a small VGG whose
// channels are divided by `ratio` = 4; the Linear layers stay 4096 wide. Parameter names are
// torch's for nn.Sequential(*blocks, Flatten, ...): "0.0.weight" (block 0, conv 0), "7.weight".
import { Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU } from '../nn/layers.ts';
import { Sequential } from '../nn/containers.ts';
import type { Module } from '../nn/module.ts';
import { type SizedModelOptions, checkFits, modelOptions, windowOut } from './model_options.ts';

/** VGG-11's (number of convs, output channels) per block. */
export const VGG11_ARCH: readonly (readonly [number, number])[] = [[1, 64], [1, 128], [2, 256], [2, 512], [2, 512]];

/** Options of {@link vgg11}: the shared model options, the image side, and the channel ratio. */
export interface VggOptions extends SizedModelOptions {
  /** Divide every block's channels by this (d2l's small VGG: 4; default 1, VGG-11 itself). */
  ratio?: number;
}

/** d2l's vgg_block: numConvs x (3x3 conv pad 1, ReLU), then MaxPool(2, 2). */
export function vggBlock(numConvs: number, inChannels: number, outChannels: number): Sequential {
  const layers: Module[] = [];
  for (let i = 0; i < numConvs; i++) {
    layers.push(new Conv2d(inChannels, outChannels, 3, { padding: 1 }), new ReLU());
    inChannels = outChannels;
  }
  layers.push(new MaxPool2d(2, 2));
  return new Sequential(...layers);
}

/** Side of VGG's last feature map for input side n (five 2x2 pools). */
export function vggFeatureSide(n: number): number {
  for (let i = 0; i < VGG11_ARCH.length; i++) n = windowOut(n, 2, 2);
  return n;
}

/**
 * d2l's vgg(conv_arch) with VGG-11's arch, channels divided by `ratio`: the blocks, Flatten,
 * Linear(4096), ReLU, Dropout(0.5), Linear(4096), ReLU, Dropout(0.5), Linear(numClasses).
 * x: [B, inChannels, S, S] with S = imageSize (default 224).
 */
export function vgg11(options?: VggOptions): Sequential {
  const o = modelOptions<VggOptions>('vgg11', options, { inChannels: 1, numClasses: 10, imageSize: 224, ratio: 1 });
  if (VGG11_ARCH.some(([, c]) => c % o.ratio !== 0)) throw new Error(`vgg11: ratio must divide 64, got ${o.ratio}`);
  const side = checkFits('vgg11', o.imageSize, vggFeatureSide);
  const blocks: Module[] = [];
  let inC = o.inChannels;
  for (const [numConvs, c] of VGG11_ARCH) {
    blocks.push(vggBlock(numConvs, inC, c / o.ratio));
    inC = c / o.ratio;
  }
  return new Sequential(
    ...blocks,
    new Flatten(),
    new Linear(inC * side * side, 4096),
    new ReLU(),
    new Dropout(0.5),
    new Linear(4096, 4096),
    new ReLU(),
    new Dropout(0.5),
    new Linear(4096, o.numClasses),
  );
}
