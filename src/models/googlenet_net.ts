// GoogLeNet as d2l.ai builds it (8.4 "Multi-Branch Networks (GoogLeNet)", PyTorch): a stem (b1, b2),
// nine Inception blocks in three stages with max pools between them, global average pooling and a
// Linear layer. Parameter names are torch's for nn.Sequential(b1, b2, b3, b4, b5, Linear):
// "0.0.weight", "2.0.p1_1.weight", ..., "5.weight".
import { cat } from '../autograd/region_ops.ts';
import { AdaptiveAvgPool2d } from '../nn/pool_layers.ts';
import { Conv2d, Flatten, Linear, MaxPool2d, ReLU } from '../nn/layers.ts';
import { Sequential } from '../nn/containers.ts';
import { Module } from '../nn/module.ts';
import type { Tensor } from '../tensor/tensor.ts';
import { type ModelOptions, modelOptions } from './model_options.ts';

/**
 * d2l's Inception block: four parallel paths whose outputs are concatenated along the channels:
 * 1x1 conv (c1); 1x1 conv (c2[0]) then 3x3 conv (c2[1]); 1x1 conv (c3[0]) then 5x5 conv (c3[1]);
 * 3x3 max pool (stride 1) then 1x1 conv (c4). Every conv is followed by a ReLU.
 * x: [B, inChannels, H, W] -> [B, c1 + c2[1] + c3[1] + c4, H, W].
 */
export class Inception extends Module {
  p1_1: Conv2d;
  p2_1: Conv2d;
  p2_2: Conv2d;
  p3_1: Conv2d;
  p3_2: Conv2d;
  p4_1: MaxPool2d;
  p4_2: Conv2d;
  readonly outChannels: number;

  constructor(inChannels: number, c1: number, c2: readonly [number, number], c3: readonly [number, number], c4: number) {
    super();
    this.p1_1 = new Conv2d(inChannels, c1, 1);
    this.p2_1 = new Conv2d(inChannels, c2[0], 1);
    this.p2_2 = new Conv2d(c2[0], c2[1], 3, { padding: 1 });
    this.p3_1 = new Conv2d(inChannels, c3[0], 1);
    this.p3_2 = new Conv2d(c3[0], c3[1], 5, { padding: 2 });
    this.p4_1 = new MaxPool2d(3, 1, 1);
    this.p4_2 = new Conv2d(inChannels, c4, 1);
    this.outChannels = c1 + c2[1] + c3[1] + c4;
  }

  forward(x: Tensor): Tensor {
    // forwardRelu: conv then ReLU in one kernel (F.relu(conv(x)) in d2l)
    const p1 = this.p1_1.forwardRelu(x);
    const p2 = this.p2_2.forwardRelu(this.p2_1.forwardRelu(x));
    const p3 = this.p3_2.forwardRelu(this.p3_1.forwardRelu(x));
    const p4 = this.p4_2.forwardRelu(this.p4_1.forward(x));
    return cat([p1, p2, p3, p4], 1);
  }
}

/**
 * d2l's GoogLeNet: b1 = Conv(64, 7x7, stride 2, pad 3), ReLU, MaxPool(3, 2, pad 1);
 * b2 = Conv(64, 1x1), ReLU, Conv(192, 3x3, pad 1), ReLU, MaxPool(3, 2, pad 1); b3, b4, b5 = 2, 5
 * and 2 Inception blocks (max pools after b3 and b4, global average pool and Flatten after b5);
 * Linear(1024, numClasses). x: [B, inChannels, S, S] (d2l: S = 96).
 */
export function googlenet(options?: ModelOptions): Sequential {
  const o = modelOptions<ModelOptions>('googlenet', options, { inChannels: 1, numClasses: 10 });
  const b1 = new Sequential(new Conv2d(o.inChannels, 64, 7, { stride: 2, padding: 3 }), new ReLU(), new MaxPool2d(3, 2, 1));
  const b2 = new Sequential(
    new Conv2d(64, 64, 1),
    new ReLU(),
    new Conv2d(64, 192, 3, { padding: 1 }),
    new ReLU(),
    new MaxPool2d(3, 2, 1),
  );
  const b3 = new Sequential(new Inception(192, 64, [96, 128], [16, 32], 32), new Inception(256, 128, [128, 192], [32, 96], 64), new MaxPool2d(3, 2, 1));
  const b4 = new Sequential(
    new Inception(480, 192, [96, 208], [16, 48], 64),
    new Inception(512, 160, [112, 224], [24, 64], 64),
    new Inception(512, 128, [128, 256], [24, 64], 64),
    new Inception(512, 112, [144, 288], [32, 64], 64),
    new Inception(528, 256, [160, 320], [32, 128], 128),
    new MaxPool2d(3, 2, 1),
  );
  const b5 = new Sequential(
    new Inception(832, 256, [160, 320], [32, 128], 128),
    new Inception(832, 384, [192, 384], [48, 128], 128),
    new AdaptiveAvgPool2d([1, 1]),
    new Flatten(),
  );
  return new Sequential(b1, b2, b3, b4, b5, new Linear(1024, o.numClasses));
}
