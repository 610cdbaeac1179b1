// The zoo's table: each d2l model by name, with its d2l section, the image side d2l trains it at,
// the smallest side it accepts, and a builder taking the image side (models with a Linear after
// a Flatten size it from the side; the others accept any side from the minimum on).
import type { Sequential } from '../nn/containers.ts';
import { alexnet, alexnetMinImageSize } from './alexnet_net.ts';
import { densenet, densenetMinImageSize } from './densenet_net.ts';
import { googlenet } from './googlenet_net.ts';
import { lenet, lenetFeatureSide } from './lenet_net.ts';
import { smallestSide } from './model_options.ts';
import { nin, ninMinImageSize } from './nin_net.ts';
import { regnetx32 } from './regnet_net.ts';
import { resnet18 } from './resnet_net.ts';
import { vgg11, vggFeatureSide } from './vgg_net.ts';

/**
 * Options of {@link buildModel} and {@link ZooModel.build}: input channels (default 1), classes
 * (default 10), the image side and, for vgg11 only, the channel ratio.
 */
export interface ZooBuildOptions {
  /** Channels of the input images (default 1). */
  inChannels?: number;
  /** Classes, the size of the last layer's output (default 10). */
  numClasses?: number;
  /** Side of the square input images (default: d2l's). */
  imageSize?: number;
  /** VGG only: divide the channels by this (d2l trains ratio 4). */
  ratio?: number;
}

/**
 * One entry of {@link ZOO}: a d2l model's name, its d2l.ai section, its image sides and its builder.
 */
export interface ZooModel {
  /** The key in {@link ZOO}, e.g. 'resnet18'. */
  name: string;
  /** Display name and d2l.ai section. */
  title: string;
  section: string;
  /** The side d2l resizes Fashion-MNIST to for this model. */
  d2lImageSize: number;
  /** Smallest input side the model accepts. */
  minImageSize: number;
  /** A fresh, randomly initialised network for images [N, inChannels, imageSize, imageSize]. */
  build(o?: ZooBuildOptions): Sequential;
}

/** The options minus `ratio` (VGG's alone), rejected when given. */
function noRatio(name: string, o: ZooBuildOptions): Omit<ZooBuildOptions, 'ratio'> {
  const { ratio, ...rest } = o;
  if (ratio !== undefined) throw new Error(`${name} has no ratio option (only vgg11 has)`);
  return rest;
}
/** The options minus `imageSize`, for models that take any side from their minimum on. */
function anySide(name: string, o: ZooBuildOptions): Omit<ZooBuildOptions, 'ratio' | 'imageSize'> {
  const { imageSize: _side, ...rest } = noRatio(name, o);
  return rest;
}

/**
 * The model zoo: d2l.ai's CNNs by name (lenet, alexnet, vgg11, nin, googlenet, resnet18, densenet,
 * regnetx32),
 * each a {@link ZooModel}; {@link buildModel} builds one by name.
 *
 * @example
 * ```ts
 * const net = wt.models.ZOO.lenet.build(); // images [N, 1, 28, 28] -> logits [N, 10]
 * ```
 */
export const ZOO: Readonly<Record<string, ZooModel>> = {
  lenet: {
    name: 'lenet', title: 'LeNet', section: '7.6', d2lImageSize: 28, minImageSize: smallestSide(lenetFeatureSide),
    build: (o = {}) => lenet(noRatio('lenet', o)),
  },
  alexnet: {
    name: 'alexnet', title: 'AlexNet', section: '8.1', d2lImageSize: 224, minImageSize: alexnetMinImageSize(),
    build: (o = {}) => alexnet(noRatio('alexnet', o)),
  },
  vgg11: {
    name: 'vgg11', title: 'VGG-11', section: '8.2', d2lImageSize: 224, minImageSize: smallestSide(vggFeatureSide),
    build: (o = {}) => vgg11(o),
  },
  nin: {
    name: 'nin', title: 'NiN', section: '8.3', d2lImageSize: 224, minImageSize: ninMinImageSize(),
    build: (o = {}) => nin(anySide('nin', o)),
  },
  googlenet: {
    name: 'googlenet', title: 'GoogLeNet', section: '8.4', d2lImageSize: 96, minImageSize: 1,
    build: (o = {}) => googlenet(anySide('googlenet', o)),
  },
  resnet18: {
    name: 'resnet18', title: 'ResNet-18', section: '8.6', d2lImageSize: 96, minImageSize: 1,
    build: (o = {}) => resnet18(anySide('resnet18', o)),
  },
  densenet: {
    name: 'densenet', title: 'DenseNet', section: '8.7', d2lImageSize: 96, minImageSize: densenetMinImageSize(),
    build: (o = {}) => densenet(anySide('densenet', o)),
  },
  regnetx32: {
    name: 'regnetx32', title: 'RegNetX-32', section: '8.8', d2lImageSize: 96, minImageSize: 1,
    build: (o = {}) => regnetx32(anySide('regnetx32', o)),
  },
};

/** The zoo's model names, in d2l's order. */
export const MODEL_NAMES: readonly string[] = Object.keys(ZOO);

/** Build a zoo model by name (e.g. buildModel('resnet18', { imageSize: 96 })). */
export function buildModel(name: string, o: ZooBuildOptions = {}): Sequential {
  const m = ZOO[name];
  if (!Object.hasOwn(ZOO, name) || !m) throw new Error(`buildModel: unknown model '${name}' (models: ${MODEL_NAMES.join(', ')})`);
  if (o.imageSize !== undefined && o.imageSize < m.minImageSize)
    throw new Error(`buildModel: ${name} needs images of at least ${m.minImageSize}x${m.minImageSize}, got imageSize ${o.imageSize}`);
  try {
    return m.build(o);
  } catch (e) {
    throw new Error(`buildModel: ${name}: ${(e as Error).message}`);
  }
}
