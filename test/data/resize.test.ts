// The resize(+augment) kernel: GPU vs its CPU twin on the sizes the examples use and odd ones,
// hand-computed bilinear values, and crop / flip against an independent JS reference.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, expectClose } from '../helpers.ts';
import { Generator } from '../../src/tensor/random.ts';

const D = wt.data;

function randBytes(n: number, seed: number): Uint8Array {
  const g = new Generator(seed);
  return Uint8Array.from({ length: n }, () => g.nextU32() & 255);
}

async function resize(
  bytes: Uint8Array,
  n: number,
  inH: number,
  inW: number,
  outH: number,
  outW: number,
  device: 'cpu' | 'gpu',
  aug?: { pad: number; words: number[] },
): Promise<Float32Array> {
  return wt.tidy(async () => {
    const packed = D.uploadBytes(bytes, device);
    const params = aug ? wt.tensor(aug.words, [n], { dtype: 'int32', device }) : undefined;
    const x = D.resizePacked(packed, { n, inH, inW, outH, outW, augment: aug && params ? { pad: aug.pad, params } : undefined });
    expect(x.shape).toEqual([n, 1, outH, outW]);
    return (await x.toArray()) as Float32Array;
  });
}

beforeAll(async () => {
  await initGpu();
});

describe('resize kernel', () => {
  it('GPU matches the CPU twin: 28 -> 67, 96, 224 and odd sizes', async () => {
    const cases: [number, number, number, number, number][] = [
      [4, 28, 28, 67, 67],
      [3, 28, 28, 96, 96],
      [2, 28, 28, 224, 224],
      [5, 28, 28, 13, 13],
      [3, 28, 28, 31, 31],
      [2, 28, 28, 1, 1],
      [3, 5, 7, 11, 3], // non-square, odd byte count (105 per image: images straddle u32 words)
      [1, 1, 1, 4, 4],
    ];
    for (const [n, inH, inW, outH, outW] of cases) {
      const bytes = randBytes(n * inH * inW, n * 1000 + outH);
      const g = await resize(bytes, n, inH, inW, outH, outW, 'gpu');
      const c = await resize(bytes, n, inH, inW, outH, outW, 'cpu');
      expectClose(g, c, 1e-5, 1e-5, `resize ${n}x${inH}x${inW} -> ${outH}x${outW}`);
      for (const v of g) if (!(v >= 0 && v <= 1)) throw new Error(`resize: value ${v} outside [0, 1]`);
    }
  });

  it('matches hand-computed bilinear values (align_corners=False, half-pixel centres)', async () => {
    // PyTorch: F.interpolate([[1,2],[3,4]], size=4, mode='bilinear', align_corners=False)
    const up = [
      [1, 1.25, 1.75, 2],
      [1.5, 1.75, 2.25, 2.5],
      [2.5, 2.75, 3.25, 3.5],
      [3, 3.25, 3.75, 4],
    ].flat().map((v) => (v * 10) / 255);
    // downsampling 4 -> 3 along a ramp 0, 30, 60, 90: sources 1/6, 1.5, 17/6 -> 5, 45, 85
    const down = [5, 45, 85].map((v) => v / 255);
    for (const dev of ['gpu', 'cpu'] as const) {
      expectClose(await resize(Uint8Array.from([10, 20, 30, 40]), 1, 2, 2, 4, 4, dev), up, 1e-6, 1e-7, `2x2 -> 4x4 ${dev}`);
      expectClose(await resize(Uint8Array.from([0, 30, 60, 90]), 1, 1, 4, 1, 3, dev), down, 1e-6, 1e-7, `1x4 -> 1x3 ${dev}`);
      // same size is the identity, scaled like ToTensor
      const b = randBytes(2 * 28 * 28, 5);
      expectClose(await resize(b, 2, 28, 28, 28, 28, dev), Array.from(b, (v) => v / 255), 1e-6, 0, `identity ${dev}`);
    }
  });

  it('crop + flip match a JS reference (pad, crop at dx/dy, mirror) then resize', async () => {
    const n = 4;
    const S = 28;
    const pad = 3;
    const bytes = randBytes(n * S * S, 77);
    const params: [number, number, boolean][] = [
      [0, 0, false],
      [6, 6, true],
      [3, 3, true], // no shift, flip only
      [1, 5, false],
    ];
    const words = params.map(([dx, dy, f]) => D.packAug(dx, dy, f));
    // reference: build each augmented 28x28 image on the host
    const ref = new Uint8Array(n * S * S);
    params.forEach(([dx, dy, f], i) => {
      for (let y = 0; y < S; y++)
        for (let x = 0; x < S; x++) {
          const cx = f ? S - 1 - x : x;
          const sy = y + dy - pad;
          const sx = cx + dx - pad;
          ref[(i * S + y) * S + x] = sy < 0 || sx < 0 || sy >= S || sx >= S ? 0 : bytes[(i * S + sy) * S + sx];
        }
    });
    for (const R of [28, 67]) {
      const want = await resize(ref, n, S, S, R, R, 'cpu');
      for (const dev of ['gpu', 'cpu'] as const)
        expectClose(await resize(bytes, n, S, S, R, R, dev, { pad, words }), want, 1e-5, 1e-6, `augment -> ${R} ${dev}`);
    }
  });

  it('a flipped image resizes to the mirror of the unflipped one', async () => {
    const bytes = randBytes(28 * 28, 3);
    for (const R of [67, 96, 13]) {
      const plain = await resize(bytes, 1, 28, 28, R, R, 'gpu');
      const flipped = await resize(bytes, 1, 28, 28, R, R, 'gpu', { pad: 0, words: [D.packAug(0, 0, true)] });
      const mirror = plain.map((_, k) => plain[Math.floor(k / R) * R + (R - 1 - (k % R))]);
      expectClose(flipped, mirror, 1e-5, 1e-6, `flip ${R}`);
    }
  });

  it('validates before any GPU work', () => {
    const p = D.uploadBytes(new Uint8Array(784), 'gpu');
    expect(() => D.resizePacked(p, { n: 2, inH: 28, inW: 28, outH: 8, outW: 8 })).toThrow(
      /resizePacked: 2 images of 28x28 bytes need 392 packed words, got 196/,
    );
    expect(() => D.resizePacked(p, { n: 1, inH: 28, inW: 28, outH: 0, outW: 8 })).toThrow(/outH must be a positive integer, got 0/);
    const params = wt.tensor([0], [1], { dtype: 'int32' });
    expect(() => D.resizePacked(p, { n: 1, inH: 28, inW: 28, outH: 8, outW: 8, augment: { pad: 200, params } })).toThrow(
      /augment pad must be an integer in 0\.\.127, got 200/,
    );
    p.dispose();
    params.dispose();
  });
});
