// ResNet-18 as d2l.ai builds it (8.6 "Residual Networks (ResNet) and ResNeXt", PyTorch): a stem (7x7 conv,
// BatchNorm, ReLU, max pool), four stages of two Residual blocks each (64, 128, 256, 512 channels;
// the first block of stages 2-4 halves the size and projects with a 1x1 conv), global average
// pooling and a Linear layer. Parameter names are torch's for nn.Sequential(b1, ..., b5, pool,
// Flatten, Linear): "0.0.weight", "1.0.conv1.weight", "1.0.bn1.running_mean", "2.0.conv3.weight", "7.weight".
import { add } from '../autograd/pointwise.ts';
import { relu } from '../autograd/activation.ts';
import { BatchNorm2d } from '../nn/norm_layers.ts';
import { AdaptiveAvgPool2d } from '../nn/pool_layers.ts';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU } from '../nn/layers.ts';
import { Sequential } from '../nn/containers.ts';
import { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type ModelOptions, modelOptions } from './model_options.ts';

/**
 * d2l's Residual block: y = relu(bn2(conv2(relu(bn1(conv1(x))))) + shortcut(x)), where conv1 and
 * conv2 are 3x3 (pad 1; conv1 with `stride`) and the shortcut is x itself or, with `use1x1conv`,
 * conv3 (1x1, `stride`). Fields in torch's registration order: conv1, conv2, conv3, bn1, bn2.
 * x: [B, inChannels, H, W] -> [B, numChannels, H / stride, W / stride].
 */
export class Residual extends Module {
  conv1: Conv2d;
  conv2: Conv2d;
  conv3: Conv2d | null;
  bn1: BatchNorm2d;
  bn2: BatchNorm2d;

  constructor(inChannels: number, numChannels: number, use1x1conv = false, stride = 1) {
    super();
    this.conv1 = new Conv2d(inChannels, numChannels, 3, { padding: 1, stride });
    this.conv2 = new Conv2d(numChannels, numChannels, 3, { padding: 1 });
    this.conv3 = use1x1conv ? new Conv2d(inChannels, numChannels, 1, { stride }) : null;
    this.bn1 = new BatchNorm2d(numChannels);
    this.bn2 = new BatchNorm2d(numChannels);
  }

  forward(x: Tensor): Tensor {
    const y = this.bn2.forward(this.conv2.forward(relu(this.bn1.forward(this.conv1.forward(x)))));
    return relu(add(y, this.conv3 ? this.conv3.forward(x) : x));
  }
}

/**
 * d2l's ResNeXt block (8.6.5): with bottleneck channels b = round(numChannels * botMul),
 * y = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)): conv1 1x1 to b, conv2
 * 3x3 (pad 1, `stride`) in b / groups channel groups of `groups` channels each (d2l's
 * `groups=bot_channels//groups`), conv3 1x1 to numChannels; the shortcut is x itself or, with
 * `use1x1conv`, bn4(conv4(x)) (1x1, `stride`). Fields in torch's registration order: conv1, conv2,
 * conv3, bn1, bn2, bn3, conv4, bn4. x: [B, inChannels, H, W] -> [B, numChannels, H / stride, W / stride].
 */
export class ResNeXtBlock extends Module {
  conv1: Conv2d;
  conv2: Conv2d;
  conv3: Conv2d;
  bn1: BatchNorm2d;
  bn2: BatchNorm2d;
  bn3: BatchNorm2d;
  conv4: Conv2d | null;
  bn4: BatchNorm2d | null;

  constructor(inChannels: number, numChannels: number, groups: number, botMul: number, use1x1conv = false, stride = 1) {
    super();
    const bot = Math.round(numChannels * botMul);
    if (!(Number.isInteger(groups) && groups >= 1 && bot % groups === 0))
      throw new Error(`ResNeXtBlock: expected groups (channels per group) dividing the ${bot} bottleneck channels, got ${groups}`);
    this.conv1 = new Conv2d(inChannels, bot, 1);
    this.conv2 = new Conv2d(bot, bot, 3, { stride, padding: 1, groups: bot / groups });
    this.conv3 = new Conv2d(bot, numChannels, 1);
    this.bn1 = new BatchNorm2d(bot);
    this.bn2 = new BatchNorm2d(bot);
    this.bn3 = new BatchNorm2d(numChannels);
    this.conv4 = use1x1conv ? new Conv2d(inChannels, numChannels, 1, { stride }) : null;
    this.bn4 = use1x1conv ? new BatchNorm2d(numChannels) : null;
  }

  forward(x: Tensor): Tensor {
    let y = relu(this.bn1.forward(this.conv1.forward(x)));
    y = relu(this.bn2.forward(this.conv2.forward(y)));
    y = this.bn3.forward(this.conv3.forward(y));
    return relu(add(y, this.conv4 && this.bn4 ? this.bn4.forward(this.conv4.forward(x)) : x));
  }
}

/** d2l's resnet_block: numResiduals blocks; the first halves the size and projects unless firstBlock. */
export function resnetBlock(inChannels: number, numChannels: number, numResiduals: number, firstBlock = false): Sequential {
  const blocks: Module[] = [];
  for (let i = 0; i < numResiduals; i++)
    blocks.push(i === 0 && !firstBlock ? new Residual(inChannels, numChannels, true, 2) : new Residual(numChannels, numChannels));
  return new Sequential(...blocks);
}

/** d2l's stem shared by ResNet and DenseNet: Conv(64, 7x7, stride 2, pad 3), BatchNorm, ReLU, MaxPool(3, 2, pad 1). */
export function resnetStem(inChannels: number): Sequential {
  return new Sequential(
    new Conv2d(inChannels, 64, 7, { stride: 2, padding: 3 }),
    new BatchNorm2d(64),
    new ReLU(),
    new MaxPool2d(3, 2, 1),
  );
}

/**
 * d2l's ResNet-18: stem, resnet_block(64, 64, 2, first), (64, 128, 2), (128, 256, 2), (256, 512, 2),
 * AdaptiveAvgPool2d(1), Flatten, Linear(512, numClasses). x: [B, inChannels, S, S] (d2l: S = 96).
 */
export function resnet18(options?: ModelOptions): Sequential {
  const o = modelOptions<ModelOptions>('resnet18', options, { inChannels: 1, numClasses: 10 });
  return new Sequential(
    resnetStem(o.inChannels),
    resnetBlock(64, 64, 2, true),
    resnetBlock(64, 128, 2),
    resnetBlock(128, 256, 2),
    resnetBlock(256, 512, 2),
    new AdaptiveAvgPool2d([1, 1]),
    new Flatten(),
    new Linear(512, o.numClasses),
  );
}
