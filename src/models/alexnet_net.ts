// AlexNet as d2l.ai builds it (8.1 "Deep Convolutional Neural Networks (AlexNet)", PyTorch) for
// 1-channel images: five convolutions, three max pools, two 4096-wide dropout layers. Parameter
// names are torch.nn.Sequential's ("0.weight", ...). `lrn: true` adds the 2012 paper's
// LocalResponseNorm after the first two ReLUs (the module indices then shift).
import { Conv2d, Dropout, Flatten, Linear, LocalResponseNorm, MaxPool2d, ReLU } from '../nn/layers.ts';
import { Sequential } from '../nn/containers.ts';
import type { Module } from '../nn/module.ts';
import { type SizedModelOptions, checkFits, modelOptions, smallestSide, windowOut } from './model_options.ts';

/**
 * Options of {@link alexnet}: the shared model options, the image side, and the optional LRN layers.
 */
export interface AlexNetOptions extends SizedModelOptions {
  /** LocalResponseNorm(5, 1e-4, 0.75, 2) after the first two ReLUs, as Krizhevsky et al. (default false). */
  lrn?: boolean;
}

/** Side of AlexNet's last feature map for input side n. */
export function alexnetFeatureSide(n: number): number {
  n = windowOut(n, 11, 4, 1); // conv1
  n = windowOut(n, 3, 2); // pool1
  n = windowOut(n, 5, 1, 2); // conv2
  n = windowOut(n, 3, 2); // pool2
  // conv3-5 keep the size (3x3, pad 1)
  return windowOut(n, 3, 2); // pool3
}

/** The smallest input side AlexNet accepts. */
export const alexnetMinImageSize = (): number => smallestSide(alexnetFeatureSide);

/**
 * d2l's AlexNet: Conv(96, 11x11, stride 4, pad 1), ReLU, MaxPool(3, 2), Conv(256, 5x5, pad 2), ReLU,
 * MaxPool(3, 2), Conv(384, 3x3, pad 1), ReLU, Conv(384, 3x3, pad 1), ReLU, Conv(256, 3x3, pad 1),
 * ReLU, MaxPool(3, 2), Flatten, Linear(4096), ReLU, Dropout(0.5), Linear(4096), ReLU, Dropout(0.5),
 * Linear(numClasses). x: [B, inChannels, S, S] with S = imageSize (default 224).
 */
export function alexnet(options?: AlexNetOptions): Sequential {
  const o = modelOptions<AlexNetOptions>('alexnet', options, { inChannels: 1, numClasses: 10, imageSize: 224, lrn: false });
  const side = checkFits('alexnet', o.imageSize, alexnetFeatureSide);
  const norm = (): Module[] => (o.lrn ? [new LocalResponseNorm(5, 1e-4, 0.75, 2)] : []);
  return new Sequential(
    new Conv2d(o.inChannels, 96, 11, { stride: 4, padding: 1 }),
    new ReLU(),
    ...norm(),
    new MaxPool2d(3, 2),
    new Conv2d(96, 256, 5, { padding: 2 }),
    new ReLU(),
    ...norm(),
    new MaxPool2d(3, 2),
    new Conv2d(256, 384, 3, { padding: 1 }),
    new ReLU(),
    new Conv2d(384, 384, 3, { padding: 1 }),
    new ReLU(),
    new Conv2d(384, 256, 3, { padding: 1 }),
    new ReLU(),
    new MaxPool2d(3, 2),
    new Flatten(),
    new Linear(256 * side * side, 4096),
    new ReLU(),
    new Dropout(0.5),
    new Linear(4096, 4096),
    new ReLU(),
    new Dropout(0.5),
    new Linear(4096, o.numClasses),
  );
}
