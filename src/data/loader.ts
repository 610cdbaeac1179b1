// Mini-batch loader over an in-memory uint8 image split. Each batch is gathered on the host (index
// order, bytes packed 4 per u32), uploaded as uint8 and resized (+ augmented) on the device by the
// resize kernel: x [B, 1, R, R] f32 in [0, 1], y [B] int32 labels.
//
// Reproducibility: epoch e's order comes from a Generator seeded by (seed, e, 0); batch b's crop /
// flip draws from one seeded by (seed, e, b + 1). So `epoch(e, startBatch)` after a restart
// yields exactly the batches an uninterrupted run would have.
//
// Overlap: when batch b is handed out, its resize has been recorded and batch b + 1 is already
// gathered and uploaded, so the host work for the next step is done while the GPU runs this one.
//
// Ownership: the consumer owns each batch's x and y and disposes them (or runs the step in tidy()).
// Everything else the loader allocates is freed by the loader, so GPU memory stays flat.
import { checkOptions } from '../backend/options.ts';
import { Generator as Rng, globalGenerator } from '../tensor/random.ts';
import { fromArray } from '../tensor/launch.ts';
import { keep, type Device } from '../tensor/storage.ts';
import { defaultDevice, type Tensor } from '../tensor/tensor.ts';
import type { Split } from './fashion.ts';
import { drawAugment, resizePacked, uploadBytes } from './transforms.ts';

/** Random crop and flip applied by the {@link Loader} on the device. */
export interface AugmentOptions {
  /** Zero padding before the random crop back to the input size (default 2: offsets 0..4). */
  pad?: number;
  /** Random horizontal flip with p = 0.5 (default true). */
  flip?: boolean;
}

/** Options of {@link Loader}. */
export interface LoaderOptions {
  batchSize: number;
  /** Shuffle every epoch (default false: dataset order). */
  shuffle?: boolean;
  /** Seed of the shuffle / augmentation streams (default: drawn from the global generator, so
   * `manualSeed` controls it). */
  seed?: number;
  /** Output side R (square); default the input size (no resampling). */
  resize?: number;
  /** Random crop + horizontal flip on the device (true = defaults). */
  augment?: boolean | AugmentOptions;
  /** Skip the last partial batch (default false). */
  dropLast?: boolean;
  /** Default: the GPU once `init()` has run, else the CPU. */
  device?: Device;
}

/** One batch from {@link Loader.epoch}: images and labels on the device. */
export interface Batch {
  /** [size, 1, R, R] float32 in [0, 1]; owned by the caller. */
  x: Tensor;
  /** [size] int32 labels; owned by the caller. */
  y: Tensor;
  size: number;
  /** The dataset indices in this batch, in order. */
  indices: Int32Array;
  /** Batch number within the epoch. */
  batch: number;
}

interface Staged {
  packed: Tensor;
  aug: Tensor | null;
  y: Tensor;
  size: number;
  indices: Int32Array;
  batch: number;
}

/** 32-bit seed for stream `stream` of epoch `epoch` (murmur-style mixing). */
export function streamSeed(seed: number, epoch: number, stream: number): number {
  let h = ((Math.floor(seed) >>> 0) ^ Math.floor(seed / 2 ** 32)) >>> 0;
  for (const v of [epoch, stream]) {
    h = Math.imul(h ^ (v >>> 0), 0x9e3779b1);
    h ^= h >>> 15;
    h = Math.imul(h, 0x85ebca77);
    h ^= h >>> 13;
  }
  return h >>> 0;
}

const posInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/**
 * Batches of a {@link Split}: uploads the uint8 images, resizes (and augments) them on the device,
 * shuffles per epoch from a seed, so an epoch's order is reproducible and resumable mid-epoch.
 */
export class Loader {
  readonly n: number;
  readonly batchSize: number;
  readonly numBatches: number;
  readonly seed: number;
  readonly size: number;
  readonly shuffle: boolean;
  readonly augment: Required<AugmentOptions> | null;
  private readonly split: Split;
  private readonly px: number;
  private readonly host: Uint8Array;
  private readonly device?: Device;

  constructor(split: Split, o: LoaderOptions) {
    const op = 'Loader';
    if (!split || !(split.images instanceof Uint8Array) || !(split.labels instanceof Uint8Array))
      throw new Error(`${op}: split must be { images: Uint8Array, labels: Uint8Array, n, rows, cols } (from loadFashionMNIST)`);
    const rows = split.rows ?? 28;
    const cols = split.cols ?? 28;
    if (!Number.isInteger(split.n) || split.n < 0) throw new Error(`${op}: split.n must be a non-negative integer, got ${split.n}`);
    if (split.images.length !== split.n * rows * cols || split.labels.length !== split.n)
      throw new Error(
        `${op}: split of ${split.n} ${rows}x${cols} images needs ${split.n * rows * cols} image bytes and ${split.n} labels, ` +
          `got ${split.images.length} and ${split.labels.length}`,
      );
    checkOptions(op, o, ['batchSize', 'shuffle', 'seed', 'resize', 'augment', 'dropLast', 'device']);
    if (!posInt(o?.batchSize)) throw new Error(`${op}: batchSize must be a positive integer, got ${o?.batchSize}`);
    const size = o.resize ?? rows;
    if (!posInt(size) || size > 4096) throw new Error(`${op}: resize must be an integer in 1..4096, got ${o.resize}`);
    if (rows !== cols && o.resize !== undefined) throw new Error(`${op}: square resize of ${rows}x${cols} images`);
    if (o.seed !== undefined && !Number.isFinite(o.seed)) throw new Error(`${op}: seed must be a finite number, got ${o.seed}`);
    if (o.device !== undefined && o.device !== 'cpu' && o.device !== 'gpu')
      throw new Error(`${op}: device must be 'cpu' or 'gpu', got ${String(o.device)}`);
    let augment: Required<AugmentOptions> | null = null;
    if (o.augment) {
      const a = o.augment === true ? {} : (checkOptions(`${op} augment`, o.augment, ['pad', 'flip']) as AugmentOptions);
      augment = { pad: a.pad ?? 2, flip: a.flip ?? true };
      if (!(Number.isInteger(augment.pad) && augment.pad >= 0 && augment.pad <= 127))
        throw new Error(`${op}: augment.pad must be an integer in 0..127, got ${augment.pad}`);
    }
    this.split = { ...split, rows, cols };
    this.n = split.n;
    this.batchSize = o.batchSize;
    this.numBatches = o.dropLast ? Math.floor(this.n / o.batchSize) : Math.ceil(this.n / o.batchSize);
    this.seed = o.seed ?? globalGenerator.nextU32();
    this.size = size;
    this.shuffle = !!o.shuffle;
    this.augment = augment;
    this.device = o.device;
    this.px = rows * cols;
    this.host = new Uint8Array(Math.ceil((o.batchSize * this.px) / 4) * 4);
  }

  /** Dataset indices in epoch `e`'s order (a seeded Fisher-Yates shuffle, or 0..n-1). */
  order(e: number): Int32Array {
    const ord = new Int32Array(this.n);
    for (let i = 0; i < this.n; i++) ord[i] = i;
    if (!this.shuffle) return ord;
    const g = new Rng(streamSeed(this.seed, e, 0));
    for (let i = this.n - 1; i > 0; i--) {
      const j = g.int(i + 1);
      const t = ord[i];
      ord[i] = ord[j];
      ord[j] = t;
    }
    return ord;
  }

  /** Batches of epoch `e`, from batch `start` on. Breaking out early frees the prefetched batch. */
  epoch(e: number, start = 0): IterableIterator<Batch> {
    if (!(Number.isInteger(e) && e >= 0)) throw new Error(`Loader.epoch: epoch must be a non-negative integer, got ${e}`);
    if (!(Number.isInteger(start) && start >= 0 && start <= this.numBatches))
      throw new Error(`Loader.epoch: start batch must be an integer in 0..${this.numBatches}, got ${start}`);
    return this.run(e, start, this.device ?? defaultDevice());
  }

  private *run(e: number, start: number, device: Device): IterableIterator<Batch> {
    const ord = this.order(e);
    let next: Staged | null = start < this.numBatches ? this.stage(ord, e, start, device) : null;
    try {
      while (next) {
        const cur = next;
        next = null;
        const batch = this.finish(cur);
        if (cur.batch + 1 < this.numBatches) next = this.stage(ord, e, cur.batch + 1, device);
        yield batch;
      }
    } finally {
      if (next) for (const t of [next.packed, next.aug, next.y]) t?.dispose();
    }
  }

  /** Host side of batch b: gather + pack bytes and labels, draw augmentation, upload (kept out of tidy scopes). */
  private stage(ord: Int32Array, e: number, b: number, device: Device): Staged {
    const lo = b * this.batchSize;
    const size = Math.min(this.batchSize, this.n - lo);
    const indices = ord.slice(lo, lo + size);
    const { images, labels } = this.split;
    const px = this.px;
    const lab = new Int32Array(size);
    for (let i = 0; i < size; i++) {
      const k = indices[i];
      this.host.set(images.subarray(k * px, k * px + px), i * px);
      lab[i] = labels[k];
    }
    const packed = keep(uploadBytes(this.host.subarray(0, size * px), device));
    const y = keep(fromArray(lab, [size], 'int32', device));
    let aug: Tensor | null = null;
    if (this.augment) {
      const words = drawAugment(new Rng(streamSeed(this.seed, e, b + 1)), size, this.augment.pad, this.augment.flip);
      aug = keep(fromArray(words, [size], 'int32', device));
    }
    return { packed, aug, y, size, indices, batch: b };
  }

  /** Device side of a staged batch: launch the resize, free the upload. */
  private finish(s: Staged): Batch {
    const { rows, cols } = this.split;
    try {
      const x = resizePacked(s.packed, {
        n: s.size,
        inH: rows,
        inW: cols,
        outH: this.size,
        outW: this.size,
        augment: s.aug && this.augment ? { pad: this.augment.pad, params: s.aug } : undefined,
      });
      return { x, y: s.y, size: s.size, indices: s.indices, batch: s.batch };
    } catch (err) {
      s.y.dispose();
      throw err;
    } finally {
      s.packed.dispose();
      s.aug?.dispose();
    }
  }
}
