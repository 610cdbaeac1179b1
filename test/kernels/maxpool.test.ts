// maxPool2d: GPU vs CPU (values, argmax routing, gradients) on awkward shapes, an independent
// padded reference, ties, gradcheck, argument errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { fwdBwd, f64, numelOf } from './layer_util.ts';

beforeAll(async () => {
  await initGpu();
});

type K = [number, number];
interface Case {
  shape: number[];
  k: K;
  s: K;
  p: K;
}

/** Reference: pad with -inf explicitly, take the first maximum of each window. */
function reference(x: Float32Array, shape: number[], { k, s, p }: Case) {
  const [h, w] = shape.slice(-2);
  const n = numelOf(shape.slice(0, -2));
  const H = h + 2 * p[0];
  const W = w + 2 * p[1];
  const oh = Math.floor((H - k[0]) / s[0]) + 1;
  const ow = Math.floor((W - k[1]) / s[1]) + 1;
  const y = new Float32Array(n * oh * ow);
  const arg = new Int32Array(n * oh * ow);
  for (let c = 0; c < n; c++) {
    const pad = new Float32Array(H * W).fill(-Infinity);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) pad[(i + p[0]) * W + j + p[1]] = x[c * h * w + i * w + j];
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        let bi = -1;
        for (let a = 0; a < k[0]; a++)
          for (let b = 0; b < k[1]; b++) {
            const v = pad[(oy * s[0] + a) * W + ox * s[1] + b];
            if (bi < 0 && v === -Infinity) continue;
            if (bi < 0 || v > best) {
              best = v;
              bi = (oy * s[0] + a - p[0]) * w + (ox * s[1] + b - p[1]);
            }
          }
        y[(c * oh + oy) * ow + ox] = best;
        arg[(c * oh + oy) * ow + ox] = bi;
      }
  }
  return { y, arg, oh, ow };
}

const cases: Case[] = [
  { shape: [2, 3, 13, 11], k: [3, 3], s: [2, 2], p: [0, 0] }, // AlexNet-style overlap, odd sizes
  { shape: [1, 1, 5, 5], k: [2, 2], s: [2, 2], p: [0, 0] }, // batch 1, leftover row/col dropped
  { shape: [2, 4, 9, 9], k: [3, 3], s: [2, 2], p: [1, 1] }, // padding
  { shape: [1, 2, 7, 6], k: [3, 2], s: [2, 1], p: [1, 0] }, // rectangular kernel / stride
  { shape: [3, 8, 8], k: [4, 4], s: [1, 1], p: [2, 2] }, // unbatched, window 4x stride
  { shape: [1, 1, 1, 1], k: [1, 1], s: [1, 1], p: [0, 0] },
  { shape: [2, 5, 27, 27], k: [3, 3], s: [2, 2], p: [0, 0] },
];

describe('maxPool2d', () => {
  for (const c of cases) {
    const name = `${JSON.stringify(c.shape)} k${c.k} s${c.s} p${c.p}`;
    it(`matches the reference and the CPU twin: ${name}`, async () => {
      const data = randArray(numelOf(c.shape), 3);
      const f = (x: wt.Tensor) => wt.maxPool2d(x, c.k, c.s, c.p);
      const g = await fwdBwd('gpu', data, c.shape, f);
      const cpu = await fwdBwd('cpu', data, c.shape, f);
      const ref = reference(data, c.shape, c);
      expectClose(g.y, ref.y, 0, 0, 'gpu fwd vs reference');
      expectClose(cpu.y, ref.y, 0, 0, 'cpu fwd vs reference');
      expectClose(g.gx, cpu.gx, 1e-6, 1e-6, 'bwd gpu vs cpu');
      // the gradient lands on the reference argmax: sum of output grads per input element
      const gy = randArray(ref.y.length, 99);
      const expectGx = new Float32Array(data.length);
      const plane = c.shape.at(-1)! * c.shape.at(-2)!;
      ref.arg.forEach((a, o) => (expectGx[Math.floor(o / (ref.oh * ref.ow)) * plane + a] += gy[o]));
      expectClose(g.gx, expectGx, 1e-6, 1e-6, 'gpu bwd vs reference routing');
    });
  }

  it('routes ties to the first maximum', async () => {
    const x = wt.tensor(new Float32Array(2 * 5 * 5).fill(1), [1, 2, 5, 5], { requiresGrad: true });
    const y = wt.maxPool2d(x, 3, 2);
    expect(y.shape).toEqual([1, 2, 2, 2]);
    y.backward(wt.tensor(new Float32Array(8).fill(1), [1, 2, 2, 2]));
    const gx = await x.grad!.toArray();
    const expected = new Float32Array(50);
    for (const c of [0, 25]) for (const i of [0, 2, 10, 12]) expected[c + i] = 1;
    expect(Array.from(gx)).toEqual(Array.from(expected));
  });

  it('propagates NaN like PyTorch', async () => {
    const x = wt.tensor([1, NaN, 3, 2], [1, 1, 2, 2]);
    expect(Number.isNaN((await wt.maxPool2d(x, 2).toArray())[0])).toBe(true);
  });

  it('gradchecks on float64 CPU (overlapping windows, padding)', () => {
    const d = randArray(2 * 7 * 7, 11);
    expect(wt.testing.gradcheck((x) => wt.maxPool2d(x, 3, 2), [f64(d, [1, 2, 7, 7])])).toBe(true);
    expect(wt.testing.gradcheck((x) => wt.maxPool2d(x, 3, 2, 1), [f64(d, [1, 2, 7, 7])])).toBe(true);
    expect(wt.testing.gradcheck((x) => wt.maxPool2d(x, [2, 3], [1, 2]), [f64(d.slice(0, 42), [1, 1, 6, 7])])).toBe(true);
  });

  it('handles a large plane count (> 65535 workgroups of outputs)', async () => {
    const shape = [64, 96, 27, 27];
    const data = randArray(numelOf(shape), 4);
    const x = wt.tensor(data, shape);
    const y = await wt.maxPool2d(x, 3, 2).toArray();
    const ref = reference(data, shape, { shape, k: [3, 3], s: [2, 2], p: [0, 0] });
    expectClose(y, ref.y, 0, 0, 'large');
  });

  it('rejects bad arguments before any GPU work', () => {
    const x = wt.zeros([1, 1, 4, 4]);
    expect(() => wt.maxPool2d(wt.zeros([4, 4]), 2)).toThrow(/maxPool2d: expected x of shape \[B, C, H, W\]/);
    expect(() => wt.maxPool2d(x, 2, 2, 2)).toThrow(/maxPool2d: padding \(2, 2\) must be at most half/);
    expect(() => wt.maxPool2d(x, 5)).toThrow(/maxPool2d: input \[1,\s?1,\s?4,\s?4\] is smaller than the kernel/);
    expect(() => wt.maxPool2d(x, 0)).toThrow(/maxPool2d: expected kernelSize to be an integer >= 1/);
    expect(() => wt.maxPool2d(x, 2, 1.5 as number)).toThrow(/maxPool2d: expected stride/);
    expect(() => wt.maxPool2d(wt.zeros([1, 1, 4, 4], { dtype: 'int32' }), 2)).toThrow(/maxPool2d: expected a float tensor/);
  });

  it('skips the argmax when no gradient is needed and still frees it after backward', async () => {
    const x = wt.tensor(randArray(16, 1), [1, 1, 4, 4]);
    const y = wt.noGrad(() => wt.maxPool2d(x, 2));
    expect(y.requiresGrad).toBe(false);
    expect(y.shape).toEqual([1, 1, 2, 2]);
  });
});
