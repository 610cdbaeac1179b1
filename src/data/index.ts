// The public `wt.data` namespace: Fashion-MNIST files (IDX reader, locate / download) and the
// batch loader that resizes (and augments) on the device.
export {
  loadFashionMNIST, locateFashionMNIST, downloadFashionMNIST, fashionMnistSearchPath, dataDirFromArgv,
  FASHION_MNIST_CLASSES, FASHION_MNIST_FILES, FASHION_MNIST_URL,
  type Split, type FashionMNIST, type LoadOptions, type LocateOptions, type Located,
} from './fashion.ts';
export {
  readIdxImages, readIdxLabels, parseIdx, parseIdxImages, parseIdxLabels, encodeIdx, isGzip,
  IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, type IdxImages, type IdxLabels,
} from './idx.ts';
export { Loader, streamSeed, type LoaderOptions, type AugmentOptions, type Batch } from './loader.ts';
export { resizePacked, uploadBytes, drawAugment, packAug, type ResizeOptions } from './transforms.ts';
