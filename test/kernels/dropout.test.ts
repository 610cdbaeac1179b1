// dropout: Philox-4x32-10 known answers, bit-identical GPU/CPU masks, keep-rate statistics,
// reproducibility by seed, eval identity, gradient = same mask, gradcheck with a fixed seed.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { philox4x32, dropoutKernel, dropThreshold } from '../../src/kernels/dropout.ts';
import { launch } from '../../src/tensor/launch.ts';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { f64 } from './layer_util.ts';

beforeAll(async () => {
  await initGpu();
});

const hex = (a: Uint32Array) => Array.from(a, (v) => v.toString(16).padStart(8, '0')).join(' ');

describe('dropout', () => {
  it('Philox-4x32-10 matches the Random123 known-answer vectors', () => {
    expect(hex(philox4x32([0, 0, 0, 0], [0, 0]))).toBe('6627e8d5 e169c58d bc57ac4c 9b00dbd8');
    expect(hex(philox4x32([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]))).toBe(
      '408f276d 41c83b0e a20bc7c6 6d5451fd',
    );
    expect(hex(philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]))).toBe(
      'd16cfe09 94fdcceb 5001e420 24126ea1',
    );
  });

  for (const [shape, p] of [
    [[1000, 1000], 0.5],
    [[7, 11, 13], 0.3], // n % 4 != 0: scalar path
    [[1], 0.9],
    [[128, 4096], 0.5],
  ] as [number[], number][]) {
    it(`GPU and CPU masks are bit-identical for ${JSON.stringify(shape)}, p=${p}`, async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data = randArray(n, 2, 0.5, 1.5);
      const out: Float32Array[] = [];
      for (const device of ['gpu', 'cpu'] as const) {
        wt.manualSeed(42);
        const y = wt.dropout(wt.tensor(data, shape, { device }), p, true);
        out.push((await y.toArray()) as Float32Array);
      }
      expect(Buffer.from(out[0].buffer).equals(Buffer.from(out[1].buffer))).toBe(true);
    });
  }

  it('uses 16 random bits per element, 8 elements per Philox call (independent reference)', async () => {
    // element i: half (i & 1) of word (i >> 1) & 3 of philox([i >> 3, 0, 0, 0], [seedLo, seedHi])
    const seedLo = 0x12345678;
    const seedHi = 0x9abcdef0;
    for (const [n, p] of [
      [1, 0.5],
      [4, 0.5], // one vec4, the second of the unit past the end
      [7, 0.3],
      [9, 0.7],
      [12, 0.5], // n % 8 == 4: vec4 path with a half unit
      [20, 0.1],
      [4100, 0.5],
      [4103, 0.25],
    ] as [number, number][]) {
      const threshold = dropThreshold(p);
      expect(threshold).toBe(Math.floor(p * 65536));
      const x = randArray(n, n, 0.5, 1.5);
      const scale = Math.fround(1 / (1 - p));
      const want = new Float32Array(n);
      for (let i = 0; i < n; i++) {
        const r = philox4x32([i >>> 3, 0, 0, 0], [seedLo, seedHi]);
        const bits = (r[(i >> 1) & 3] >>> (i & 1 ? 16 : 0)) & 0xffff;
        want[i] = bits >= threshold ? Math.fround(x[i] * scale) : 0;
      }
      for (const device of ['gpu', 'cpu'] as const) {
        const [y] = launch(dropoutKernel, { n, seedLo, seedHi, threshold, scale: 1 / (1 - p) }, [wt.tensor(x, [n], { device }), { shape: [n] }]);
        const got = (await y.toArray()) as Float32Array;
        expect(Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(Buffer.from(want.buffer)), `${device} n=${n} p=${p}`).toBe(true);
      }
    }
  });

  it('keeps 1-p of 1e6 elements within 4 sigma and preserves the mean', async () => {
    const n = 1 << 20;
    const ones = wt.ones([n]);
    for (const p of [0.5, 0.1, 0.9]) {
      wt.manualSeed(7);
      const y = (await wt.dropout(ones, p, true).toArray()) as Float32Array;
      let kept = 0;
      let sum = 0;
      let badScale = 0;
      const scale = Math.fround(1 / (1 - p));
      for (let i = 0; i < n; i++) {
        if (y[i] !== 0) {
          kept++;
          if (y[i] !== scale) badScale++;
        }
        sum += y[i];
      }
      expect(badScale).toBe(0);
      const sigma = Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(kept / n - (1 - p))).toBeLessThan(4 * sigma);
      // mean of kept * 1/(1-p): sigma of the mean is sigma / (1 - p)
      expect(Math.abs(sum / n - 1)).toBeLessThan((4 * sigma) / (1 - p));
    }
  });

  it('is reproducible by seed and differs between calls', async () => {
    const x = wt.tensor(randArray(4096, 3), [64, 64]);
    wt.manualSeed(123);
    const a = await wt.dropout(x, 0.5, true).toArray();
    const b = await wt.dropout(x, 0.5, true).toArray();
    wt.manualSeed(123);
    const a2 = await wt.dropout(x, 0.5, true).toArray();
    expect(Array.from(a2)).toEqual(Array.from(a));
    expect(Array.from(b)).not.toEqual(Array.from(a));
  });

  it('is the identity in eval mode or with p = 0, and gradients pass through', async () => {
    const data = randArray(30, 4);
    for (const [p, training] of [[0.5, false], [0, true]] as const) {
      const x = wt.tensor(data, [5, 6], { requiresGrad: true });
      const y = wt.dropout(x, p, training);
      expect(y).not.toBe(x);
      expectClose(await y.toArray(), data, 0, 0, 'identity');
      y.sum().backward();
      expectClose(await x.grad!.toArray(), new Float32Array(30).fill(1), 0, 0, 'identity grad');
    }
  });

  it('backward applies the same mask and scale (GPU and CPU agree)', async () => {
    const shape = [33, 65];
    const n = 33 * 65;
    const grads: Float32Array[] = [];
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(new Float32Array(n).fill(1), shape, { device, requiresGrad: true });
      wt.manualSeed(9);
      const y = wt.dropout(x, 0.25, true);
      y.backward(wt.tensor(new Float32Array(n).fill(2), shape, { device }));
      const yv = await y.toArray();
      const gv = (await x.grad!.toArray()) as Float32Array;
      // x = 1, g = 2: gx = 2 * mask * scale = 2 * y
      expectClose(gv, yv.map((v) => 2 * v), 0, 0, `${device} grad = 2y`);
      grads.push(gv);
    }
    expectClose(grads[0], grads[1], 0, 0, 'gpu vs cpu grad');
  });

  it('gradchecks on float64 CPU with a fixed seed', () => {
    const fn = (x: wt.Tensor) => {
      wt.manualSeed(5);
      return wt.dropout(x, 0.4, true);
    };
    expect(wt.testing.gradcheck(fn, [f64(randArray(23, 6), [23])])).toBe(true);
  });

  it('validates p', () => {
    const x = wt.ones([4]);
    for (const p of [-0.1, 1, 1.5, NaN])
      expect(() => wt.dropout(x, p, true)).toThrow(new RegExp(`dropout: expected p in \\[0, 1\\), got ${p}`));
    expect(() => wt.dropout(wt.ones([4], { dtype: 'int32' }), 0.5, true)).toThrow(/dropout: expected a float tensor/);
  });
});
