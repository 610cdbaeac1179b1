// relu: dedicated vec4 / scalar kernels, GPU vs CPU, gradcheck, NaN behaviour.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { fwdBwd, f64, numelOf } from './layer_util.ts';

beforeAll(async () => {
  await initGpu();
});

describe('relu', () => {
  for (const shape of [[1], [7], [3, 5, 7], [4, 256], [1000, 1001], [2, 3, 4, 4]]) {
    it(`GPU matches CPU forward and backward for ${JSON.stringify(shape)}`, async () => {
      const data = randArray(numelOf(shape), 5);
      const g = await fwdBwd('gpu', data, shape, (x) => wt.relu(x));
      const c = await fwdBwd('cpu', data, shape, (x) => wt.relu(x));
      expectClose(g.y, c.y, 0, 0, 'relu fwd');
      expectClose(g.gx, c.gx, 0, 0, 'relu bwd');
      // and the same values as the binary kernel's maximum(x, 0)
      const x = wt.tensor(data, shape);
      expectClose(await wt.relu(x).toArray(), await wt.maximum(x, wt.zeros(shape)).toArray(), 0, 0, 'relu vs maximum(x, 0)');
    });
  }

  it('passes NaN through the forward, blocks it in the backward', async () => {
    for (const n of [4, 5]) {
      const x = wt.tensor([NaN, -1, 2, 0, 3].slice(0, n), [n], { requiresGrad: true });
      const y = wt.relu(x);
      const v = await y.toArray();
      expect(Number.isNaN(v[0])).toBe(true);
      expect(Array.from(v.slice(1))).toEqual([0, 2, 0, 3].slice(0, n - 1));
      y.backward(wt.tensor(new Float32Array(n).fill(1), [n]));
      expect(Array.from(await x.grad!.toArray())).toEqual([0, 0, 1, 0, 1].slice(0, n));
    }
  });

  it('gradchecks on float64 CPU', () => {
    // keep away from the kink at 0
    const d = Array.from(randArray(30, 8)).map((v) => (Math.abs(v) < 0.05 ? v + 0.1 : v));
    expect(wt.testing.gradcheck((x) => wt.relu(x), [f64(d, [5, 6])])).toBe(true);
  });

  it('rejects int32 input', () => {
    expect(() => wt.relu(wt.tensor([1, 2], [2], { dtype: 'int32' }))).toThrow(/relu: expected a float tensor/);
  });
});
