// LeNet-5 as d2l.ai builds it (7.6 "Convolutional Neural Networks (LeNet)", PyTorch): sigmoid
// activations and average pooling. Parameter names are torch.nn.Sequential's ("0.weight",
// "3.weight", "7.weight", ...), so state dicts load in either library.
import { AvgPool2d } from '../nn/pool_layers.ts';
import { Sigmoid } from '../nn/activation_layers.ts';
import { Conv2d, Flatten, Linear } from '../nn/layers.ts';
import { Sequential } from '../nn/containers.ts';
import { type SizedModelOptions, checkFits, modelOptions, windowOut } from './model_options.ts';

/** Side of LeNet's last feature map for input side n. */
export function lenetFeatureSide(n: number): number {
  n = windowOut(n, 5, 1, 2); // conv 5x5, pad 2
  n = windowOut(n, 2, 2); // avg pool 2/2
  n = windowOut(n, 5); // conv 5x5
  return windowOut(n, 2, 2); // avg pool 2/2
}

/**
 * d2l's LeNet: Conv(6, 5x5, pad 2), Sigmoid, AvgPool(2, 2), Conv(16, 5x5), Sigmoid, AvgPool(2, 2),
 * Flatten, Linear(120), Sigmoid, Linear(84), Sigmoid, Linear(numClasses). x: [B, inChannels, S, S]
 * with S = imageSize (default 28).
 */
export function lenet(options?: SizedModelOptions): Sequential {
  const o = modelOptions<SizedModelOptions>('lenet', options, { inChannels: 1, numClasses: 10, imageSize: 28 });
  const side = checkFits('lenet', o.imageSize, lenetFeatureSide);
  return new Sequential(
    new Conv2d(o.inChannels, 6, 5, { padding: 2 }),
    new Sigmoid(),
    new AvgPool2d(2, 2),
    new Conv2d(6, 16, 5),
    new Sigmoid(),
    new AvgPool2d(2, 2),
    new Flatten(),
    new Linear(16 * side * side, 120),
    new Sigmoid(),
    new Linear(120, 84),
    new Sigmoid(),
    new Linear(84, o.numClasses),
  );
}
