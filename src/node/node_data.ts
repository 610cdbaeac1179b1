// The Node entry's `wt.data` namespace: the core's, plus Fashion-MNIST and IDX files on disk, and
// IDX parsing with node:zlib.
export * from '../data/index.ts';
export {
  loadFashionMNIST, locateFashionMNIST, downloadFashionMNIST, fashionMnistSearchPath, dataDirFromArgv,
  DEFAULT_DOWNLOAD_DIR, SYSTEM_DIR,
  type LoadOptions, type LocateOptions, type Located,
} from './fashion_files.ts';
export { readIdxImages, readIdxLabels, parseIdxImages, parseIdxLabels, zlibGunzip } from './idx_files.ts';
