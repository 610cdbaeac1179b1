// Image transforms on packed uint8 batches: upload (4 bytes per u32) and the resize(+augment)
// kernel launch, validated here before any GPU work.
import { checkOptions } from '../backend/options.ts';
import { resizeKernel, packAug } from '../kernels/resize.ts';
import { launch, fromArray } from '../tensor/launch.ts';
import type { Tensor } from '../tensor/tensor.ts';
import type { Device } from '../tensor/storage.ts';
import type { Generator } from '../tensor/random.ts';

export { packAug };

const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0;

/** Upload `bytes` (padded to a multiple of 4) as an int32 tensor of ceil(len / 4) words. */
export function uploadBytes(bytes: Uint8Array, device: Device): Tensor {
  const words = Math.ceil(bytes.length / 4);
  let b = bytes;
  if (bytes.length % 4 !== 0 || bytes.byteOffset % 4 !== 0) {
    b = new Uint8Array(words * 4);
    b.set(bytes);
  }
  return fromArray(new Int32Array(b.buffer, b.byteOffset, words), [words], 'int32', device);
}

/** Sizes and augmentation of {@link resizePacked}. */
export interface ResizeOptions {
  /** Images in the packed tensor. */
  n: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  /** Random crop + flip: padding and one packed word per image (see src/kernels/resize.ts). */
  augment?: { pad: number; params: Tensor };
}

/**
 * Resize `n` packed uint8 images (from `uploadBytes`) to [n, 1, outH, outW] f32 in [0, 1]:
 * bilinear, align_corners=False, no antialias; optional crop + flip first.
 */
export function resizePacked(packed: Tensor, o: ResizeOptions): Tensor {
  const op = 'resizePacked';
  checkOptions(op, o, ['n', 'inH', 'inW', 'outH', 'outW', 'augment']);
  if (o.augment) checkOptions(`${op} augment`, o.augment, ['pad', 'params']);
  for (const k of ['n', 'inH', 'inW', 'outH', 'outW'] as const)
    if (!isPosInt(o[k])) throw new Error(`${op}: ${k} must be a positive integer, got ${o[k]}`);
  packed.check(op);
  if (packed.dtype !== 'int32') throw new Error(`${op}: packed images must be int32 words, got ${packed.dtype}`);
  const need = Math.ceil((o.n * o.inH * o.inW) / 4);
  if (packed.size < need)
    throw new Error(`${op}: ${o.n} images of ${o.inH}x${o.inW} bytes need ${need} packed words, got ${packed.size}`);
  if (o.n * o.outH * o.outW > 0xffffffff)
    throw new Error(`${op}: output of ${o.n}x${o.outH}x${o.outW} exceeds 2^32 elements`);
  const outShape = [o.n, 1, o.outH, o.outW];
  if (!o.augment) return launch(resizeKernel, { ...o }, [packed, { shape: outShape, dtype: 'float32' }])[0];
  const { pad, params } = o.augment;
  if (!(Number.isInteger(pad) && pad >= 0 && pad <= 127)) throw new Error(`${op}: augment pad must be an integer in 0..127, got ${pad}`);
  params.check(op);
  if (params.dtype !== 'int32' || params.size < o.n)
    throw new Error(`${op}: augment params must be int32 with ${o.n} words, got ${params.dtype} ${params.size}`);
  return launch(resizeKernel, { n: o.n, inH: o.inH, inW: o.inW, outH: o.outH, outW: o.outW, pad }, [
    packed,
    params,
    { shape: outShape, dtype: 'float32' },
  ])[0];
}

/** Draw crop offsets (0..2*pad, like torchvision RandomCrop) and flips (p = 0.5) for n images. */
export function drawAugment(g: Generator, n: number, pad: number, flip: boolean): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const dx = g.int(2 * pad + 1);
    const dy = g.int(2 * pad + 1);
    const f = flip && g.random() < 0.5;
    a[i] = packAug(dx, dy, f);
  }
  return a;
}
