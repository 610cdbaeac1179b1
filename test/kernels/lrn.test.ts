// localResponseNorm: PyTorch's definition (pad squares size/2 before, (size-1)/2 after, average
// over size channels), GPU vs CPU forward and backward (scalar and vec4 paths), gradcheck, errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { fwdBwd, f64, numelOf } from './layer_util.ts';

beforeAll(async () => {
  await initGpu();
});

/** torch.nn.functional.local_response_norm, transcribed: div = avg_pool(pad(x^2)) * alpha + k. */
function reference(x: ArrayLike<number>, shape: number[], size: number, alpha: number, beta: number, k: number) {
  const [b, c] = shape;
  const s = numelOf(shape.slice(2));
  const front = Math.floor(size / 2);
  const y = new Float64Array(x.length);
  for (let bi = 0; bi < b; bi++)
    for (let si = 0; si < s; si++) {
      const padded = new Float64Array(c + size - 1); // front zeros, squares, back zeros
      for (let ci = 0; ci < c; ci++) padded[front + ci] = x[(bi * c + ci) * s + si] ** 2;
      for (let ci = 0; ci < c; ci++) {
        let avg = 0;
        for (let w = 0; w < size; w++) avg += padded[ci + w];
        avg /= size;
        const i = (bi * c + ci) * s + si;
        y[i] = x[i] / (avg * alpha + k) ** beta;
      }
    }
  return y;
}

const cases: [number[], number, number, number, number][] = [
  // shape, size, alpha, beta, k
  [[2, 7, 5, 3], 5, 1e-4, 0.75, 2], // AlexNet's parameters, odd plane
  [[2, 7, 5, 3], 5, 0.5, 0.75, 1], // strong normalisation
  [[1, 6, 4, 4], 4, 0.3, 0.6, 1], // even size (asymmetric window), vec4 path
  [[3, 3, 2, 5], 9, 0.2, 0.75, 1.5], // window larger than the channel count
  [[2, 5, 7], 1, 0.4, 0.9, 0.5], // size 1, 3-D input
  [[1, 96, 13, 13], 5, 1e-4, 0.75, 2],
];

describe('localResponseNorm', () => {
  for (const [shape, size, alpha, beta, k] of cases) {
    it(`matches PyTorch's definition, GPU = CPU: ${JSON.stringify(shape)} size ${size} alpha ${alpha}`, async () => {
      const data = randArray(numelOf(shape), 7, -2, 2);
      const f = (x: wt.Tensor) => wt.localResponseNorm(x, size, alpha, beta, k);
      const g = await fwdBwd('gpu', data, shape, f);
      const c = await fwdBwd('cpu', data, shape, f);
      expectClose(c.y, reference(data, shape, size, alpha, beta, k), 1e-5, 1e-6, 'cpu vs reference');
      expectClose(g.y, c.y, 1e-5, 1e-6, 'fwd gpu vs cpu');
      expectClose(g.gx, c.gx, 1e-4, 1e-6, 'bwd gpu vs cpu');
    });
  }

  it('gradchecks on float64 CPU (odd and even window, window > C)', () => {
    const d = randArray(2 * 6 * 3, 12, -2, 2);
    for (const [size, alpha, beta, k] of [[5, 0.5, 0.75, 1], [4, 0.8, 0.6, 2], [9, 0.3, 0.75, 1]])
      expect(wt.testing.gradcheck((x) => wt.localResponseNorm(x, size, alpha, beta, k), [f64(d, [2, 6, 3])])).toBe(true);
  });

  it('rejects bad arguments', () => {
    const x = wt.zeros([1, 4, 2, 2]);
    expect(() => wt.localResponseNorm(wt.zeros([4, 4]), 3)).toThrow(/localResponseNorm: expected x of shape \[B, C, \*\]/);
    expect(() => wt.localResponseNorm(x, 0)).toThrow(/localResponseNorm: expected size to be a positive integer, got 0/);
    expect(() => wt.localResponseNorm(x, 2.5)).toThrow(/positive integer, got 2.5/);
    expect(() => wt.localResponseNorm(x, 3, NaN)).toThrow(/localResponseNorm: expected alpha to be a finite number/);
  });
});
