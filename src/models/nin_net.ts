// Network in Network as d2l.ai builds it (8.3 "Network in Network (NiN)", PyTorch): four nin_blocks
// (a conv and two 1x1 convs, each with ReLU), max pools, dropout, and global average pooling over
// numClasses channels instead of Linear layers. Parameter names are torch's: "0.0.weight",
// "0.2.weight", ..., "7.4.bias".
import { noGrad } from '../autograd/function.ts';
import { constant_, defaultLayerInit_, dirac_, zeros_ } from '../nn/init.ts';
import { AdaptiveAvgPool2d } from '../nn/pool_layers.ts';
import { Conv2d, Dropout, Flatten, MaxPool2d, ReLU } from '../nn/layers.ts';
import { Sequential } from '../nn/containers.ts';
import { type ModelOptions, modelOptions, smallestSide, windowOut } from './model_options.ts';

/** d2l's nin_block: Conv(k, stride, padding), ReLU, then two (1x1 Conv, ReLU). */
export function ninBlock(inChannels: number, outChannels: number, kernelSize: number, stride: number, padding: number): Sequential {
  return new Sequential(
    new Conv2d(inChannels, outChannels, kernelSize, { stride, padding }),
    new ReLU(),
    new Conv2d(outChannels, outChannels, 1),
    new ReLU(),
    new Conv2d(outChannels, outChannels, 1),
    new ReLU(),
  );
}

/** Side of NiN's map before the global pool for input side n. */
export function ninFeatureSide(n: number): number {
  n = windowOut(n, 11, 4); // block 1
  n = windowOut(n, 3, 2);
  n = windowOut(n, 3, 2); // block 2 keeps the size (5x5, pad 2)
  return windowOut(n, 3, 2); // block 3 keeps it too; block 4 (3x3, pad 1) as well
}

/** The smallest input side NiN accepts. */
export const ninMinImageSize = (): number => smallestSide(ninFeatureSide);

/**
 * d2l's NiN: nin_block(96, 11x11, stride 4), MaxPool(3, 2), nin_block(256, 5x5, pad 2),
 * MaxPool(3, 2), nin_block(384, 3x3, pad 1), MaxPool(3, 2), Dropout(0.5),
 * nin_block(numClasses, 3x3, pad 1), AdaptiveAvgPool2d(1), Flatten. x: [B, inChannels, S, S]
 * (d2l: S = 224).
 */
export function nin(options?: ModelOptions): Sequential {
  const o = modelOptions<ModelOptions>('nin', options, { inChannels: 1, numClasses: 10 });
  return new Sequential(
    ninBlock(o.inChannels, 96, 11, 4, 0),
    new MaxPool2d(3, 2),
    ninBlock(96, 256, 5, 1, 2),
    new MaxPool2d(3, 2),
    ninBlock(256, 384, 3, 1, 1),
    new MaxPool2d(3, 2),
    new Dropout(0.5),
    ninBlock(384, o.numClasses, 3, 1, 1),
    new AdaptiveAvgPool2d([1, 1]),
    new Flatten(),
  );
}

/**
 * Start NiN's last nin_block with every class logit alive: its first conv with the layers' default
 * init and bias `bias` (default 1), its two 1x1 convs as identities (dirac_) with zero bias, so the
 * logits start as ReLU(conv + bias), positive on most images. NiN's logits are ReLU outputs averaged
 * over the last map, so a class whose logit is 0 on every image gets no gradient again; with
 * zero-mean inits at small inputs (a 1x1 map at 67 px) several classes start or soon end there and
 * are never predicted. `net` is {@link nin}'s Sequential; the rest of it is left as it is.
 */
export function ninHeadInit_(net: Sequential, bias = 1): void {
  const block = net.children()[7];
  const convs = block instanceof Sequential ? block.children().filter((m): m is Conv2d => m instanceof Conv2d) : [];
  if (convs.length !== 3 || convs[1].kernelSize.join() !== '1,1' || convs[2].kernelSize.join() !== '1,1')
    throw new Error('ninHeadInit_: expected the Sequential of nin() (child 7: a nin_block of a conv and two 1x1 convs)');
  if (!Number.isFinite(bias)) throw new Error(`ninHeadInit_: bias must be a finite number, got ${bias}`);
  noGrad(() => {
    defaultLayerInit_(convs[0].weight, null);
    constant_(convs[0].bias!, bias);
    for (const c of convs.slice(1)) {
      dirac_(c.weight);
      zeros_(c.bias!);
    }
  });
}
