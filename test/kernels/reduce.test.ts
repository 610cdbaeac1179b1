import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { gpuVsCpu, initGpu, randArray, expectClose } from '../helpers.ts';

beforeAll(initGpu);

const shapes: number[][] = [[1], [7], [3, 5], [1, 9], [4, 1, 6], [2, 3, 4, 5], [5000], [3, 20000]];

describe('reductions GPU vs CPU', () => {
  for (const shape of shapes) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = randArray(n, n, -5, 5);
    for (const op of ['sum', 'mean', 'max'] as const) {
      it(`${op} all of ${JSON.stringify(shape)}`, async () => {
        await gpuVsCpu((device) => wt.tensor(data, shape, { device })[op](), 1e-4, 1e-4, `${op} all`);
      });
      for (let axis = -shape.length; axis < shape.length; axis++) {
        for (const keepdim of [false, true]) {
          it(`${op} axis ${axis} keepdim ${keepdim} of ${JSON.stringify(shape)}`, async () => {
            await gpuVsCpu((device) => wt.tensor(data, shape, { device })[op](axis, keepdim), 1e-4, 1e-4, `${op} ${axis}`);
          });
        }
      }
    }
    it(`argmax of ${JSON.stringify(shape)}`, async () => {
      for (let axis = 0; axis < shape.length; axis++) {
        const g = await wt.tensor(data, shape, { device: 'gpu' }).argmax(axis).toArray();
        const c = await wt.tensor(data, shape, { device: 'cpu' }).argmax(axis).toArray();
        expect(Array.from(g)).toEqual(Array.from(c));
      }
    });
  }

  it('sum over several axes and a long two-pass reduction', async () => {
    const data = randArray(2 * 3 * 4, 3);
    await gpuVsCpu((device) => wt.tensor(data, [2, 3, 4], { device }).sum([0, 2], true), 1e-5, 1e-5, 'sum [0,2]');
    await gpuVsCpu((device) => wt.tensor(data, [2, 3, 4], { device }).mean([0, 2]), 1e-5, 1e-5, 'mean [0,2]');
    const big = randArray(1_000_003, 9);
    let ref = 0;
    for (const v of big) ref += v;
    const s = await wt.tensor(big, [big.length]).sum().item();
    expect(Math.abs(s - ref)).toBeLessThan(1e-3 * Math.sqrt(big.length));
  });

  it('argmax picks the first of tied maxima, like PyTorch', async () => {
    const x = wt.tensor([[1, 3, 3, 0], [5, 5, 5, 5]]);
    expect(Array.from(await x.argmax(1).toArray())).toEqual([1, 0]);
    expect(await x.argmax().item()).toBe(4);
  });

  it('max / mean values by hand', async () => {
    const x = wt.tensor([[1, -2, 3], [4, 5, -6]]);
    expectClose(await x.max(1).toArray(), [3, 5]);
    expectClose(await x.mean(0).toArray(), [2.5, 1.5, -1.5]);
    expect(await x.sum().item()).toBe(5);
  });
});

describe('NaN propagation (lavapipe folds v != v, so kernels test the bits)', () => {
  it('max / argmax / maximum propagate NaN like PyTorch', async () => {
    for (const device of ['cpu', 'gpu'] as const) {
      const x = wt.tensor([1, NaN, 3, 2], [4], { device });
      expect(Number.isNaN(await x.max().item())).toBe(true);
      expect(await x.argmax().item()).toBe(1);
      const m = await x.maximum(wt.tensor([0, 0, 5, 0], [4], { device })).toArray();
      expect(Number.isNaN(m[1])).toBe(true);
      expect(m[2]).toBe(5);
    }
  });
});
