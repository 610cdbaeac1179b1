// The public `wt.data` namespace: Fashion-MNIST and IDX parsing from bytes, and the batch loader
// that resizes (and augments) on the device. The Node entry adds reading files and downloading.
export {
  fashionMNISTFromBytes, fetchFashionMNIST,
  FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, FASHION_MNIST_URL,
  type Split, type FashionMNIST, type FashionMNISTFile, type SplitLimits, type FromBytesOptions, type FetchOptions,
} from './fashion.ts';
export {
  parseIdx, parseIdxImages, parseIdxLabels, encodeIdx, isGzip, streamGunzip,
  IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, type IdxImages, type IdxLabels, type Gunzip,
} from './idx.ts';
export { Loader, streamSeed, type LoaderOptions, type AugmentOptions, type Batch } from './loader.ts';
export { resizePacked, uploadBytes, drawAugment, packAug, type ResizeOptions } from './transforms.ts';
