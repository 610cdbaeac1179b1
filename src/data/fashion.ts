// Fashion-MNIST from the bytes of its four IDX files (raw or gzipped), or fetched from a base URL
// (browsers). Finding the files on disk and downloading them in Node: src/node/fashion_files.ts.
import { checkOptions } from '../backend/options.ts';
import { parseIdxImages, parseIdxLabels, type Gunzip } from './idx.ts';

/** The ten class names, by label. */
export const FASHION_MNIST_CLASSES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

/** Official hosting, from the Fashion-MNIST README (zalandoresearch/fashion-mnist). */
export const FASHION_MNIST_URL = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** The four files (base names, without .gz) and the README's MD5 of each .gz download. */
export const FASHION_MNIST_FILES = {
  trainImages: { name: 'train-images-idx3-ubyte', md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
  trainLabels: { name: 'train-labels-idx1-ubyte', md5: '25c81989df183df01b3e8a0aad5dffbe' },
  testImages: { name: 't10k-images-idx3-ubyte', md5: 'bef4ecab320f06d8554ea6380940ec79' },
  testLabels: { name: 't10k-labels-idx1-ubyte', md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
} as const;
/** One of the four files. */
export type FashionMNISTFile = keyof typeof FASHION_MNIST_FILES;
/** The four file keys in a fixed order. */
export const FASHION_MNIST_KEYS = Object.keys(FASHION_MNIST_FILES) as FashionMNISTFile[];

/** One split: `n` images of rows x cols bytes (0..255, image-major) and their labels 0..9. */
export interface Split {
  images: Uint8Array;
  labels: Uint8Array;
  n: number;
  rows: number;
  cols: number;
}

/** The training and test splits. */
export interface FashionMNIST {
  train: Split;
  test: Split;
  /** The folder (or base URL) the files came from. */
  dir: string;
}

/** How many examples of each split to keep. */
export interface SplitLimits {
  /** Keep only the first N training / test examples. */
  trainLimit?: number;
  testLimit?: number;
}

/** Options of {@link fashionMNISTFromBytes}. */
export interface FromBytesOptions extends SplitLimits {
  /** Gunzip for gzipped files (default: DecompressionStream). */
  gunzip?: Gunzip;
  /** Names the source in errors and in the result's `dir`. */
  dir?: string;
}

/** Options of {@link fetchFashionMNIST}. */
export interface FetchOptions extends SplitLimits {
  /** The URL of the folder holding the four files (default: the official hosting, which sends no CORS headers). */
  baseUrl?: string;
  /** Whether the files there are the `.gz` downloads (default true) or raw IDX. */
  gz?: boolean;
  /** fetch to use (default globalThis.fetch). */
  fetch?: typeof globalThis.fetch;
}

/** Throws naming `op` unless each limit is a non-negative integer (or absent). */
export function checkLimits(op: string, o: SplitLimits): void {
  for (const what of ['trainLimit', 'testLimit'] as const) {
    const v = o[what];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) throw new Error(`${op}: ${what} must be a non-negative integer, got ${v}`);
  }
}

/** One split from its images and labels bytes (raw or gzipped); the names label errors. */
export async function splitFromBytes(
  op: string,
  imgRaw: Uint8Array,
  labRaw: Uint8Array,
  imagesFile: string,
  labelsFile: string,
  limit: number | undefined,
  gunzip?: Gunzip,
): Promise<Split> {
  const img = await parseIdxImages(imgRaw, imagesFile, gunzip);
  const lab = await parseIdxLabels(labRaw, labelsFile, FASHION_MNIST_CLASSES.length, gunzip);
  if (img.n !== lab.n) throw new Error(`${op}: ${imagesFile} holds ${img.n} images but ${labelsFile} holds ${lab.n} labels`);
  if (img.rows !== 28 || img.cols !== 28)
    throw new Error(`${op}: ${imagesFile} holds ${img.rows}x${img.cols} images, expected 28x28`);
  const n = limit === undefined ? img.n : Math.min(limit, img.n);
  const px = img.rows * img.cols;
  // slice (copy) so a small limit does not keep the whole decompressed file alive.
  return { images: img.data.slice(0, n * px), labels: lab.data.slice(0, n), n, rows: img.rows, cols: img.cols };
}

/** Fashion-MNIST from the bytes of its four files (raw IDX or the .gz downloads). */
export async function fashionMNISTFromBytes(
  files: Record<FashionMNISTFile, Uint8Array>,
  o: FromBytesOptions = {},
): Promise<FashionMNIST> {
  const op = 'fashionMNISTFromBytes';
  checkOptions(op, o, ['trainLimit', 'testLimit', 'gunzip', 'dir']);
  checkLimits(op, o);
  const dir = o.dir ?? 'bytes';
  const name = (k: FashionMNISTFile) => `${dir}/${FASHION_MNIST_FILES[k].name}`;
  for (const k of FASHION_MNIST_KEYS)
    if (!(files?.[k] instanceof Uint8Array)) throw new Error(`${op}: files.${k} must be a Uint8Array (${FASHION_MNIST_FILES[k].name})`);
  const [train, test] = await Promise.all([
    splitFromBytes(op, files.trainImages, files.trainLabels, name('trainImages'), name('trainLabels'), o.trainLimit, o.gunzip),
    splitFromBytes(op, files.testImages, files.testLabels, name('testImages'), name('testLabels'), o.testLimit, o.gunzip),
  ]);
  return { train, test, dir };
}

/**
 * Fetch the four files from `baseUrl` (e.g. a folder your web page serves) and parse them. No MD5
 * check here (the IDX sizes are checked exactly); the Node entry's `loadFashionMNIST` finds the
 * files on disk or downloads them with the checksums.
 */
export async function fetchFashionMNIST(o: FetchOptions = {}): Promise<FashionMNIST> {
  const op = 'fetchFashionMNIST';
  checkOptions(op, o, ['trainLimit', 'testLimit', 'baseUrl', 'gz', 'fetch']);
  checkLimits(op, o);
  const base = o.baseUrl ?? FASHION_MNIST_URL;
  const dir = base.endsWith('/') ? base : `${base}/`;
  const get = o.fetch ?? globalThis.fetch;
  const files = {} as Record<FashionMNISTFile, Uint8Array>;
  await Promise.all(
    FASHION_MNIST_KEYS.map(async (k) => {
      const url = `${dir}${FASHION_MNIST_FILES[k].name}${o.gz === false ? '' : '.gz'}`;
      const res = await get(url).catch((e: Error) => {
        throw new Error(`${op}: GET ${url} failed (${e.message})`);
      });
      if (!res.ok) throw new Error(`${op}: GET ${url}: HTTP ${res.status}`);
      files[k] = new Uint8Array(await res.arrayBuffer());
    }),
  );
  return fashionMNISTFromBytes(files, { trainLimit: o.trainLimit, testLimit: o.testLimit, dir: dir.slice(0, -1) });
}
