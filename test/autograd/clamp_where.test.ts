// clamp and where: torch's values and gradients (NaN, min > max, one-sided bounds, NaN conditions),
// broadcasting among cond / a / b, vec4 and scalar paths on GPU = CPU, gradcheck, errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { f64 } from '../kernels/layer_util.ts';
import { clamp, where } from '../../src/autograd/clamp_where.ts';

beforeAll(async () => {
  await initGpu();
});

const DEVICES = ['gpu', 'cpu'] as const;

describe('clamp', () => {
  // torch 1.13: t = [-2, 0.5, nan, 3, 1, 2]; y = clamp(t, lo, hi); y.sum().backward()
  const t = [-2, 0.5, NaN, 3, 1, 2];
  const cases: [number | undefined, number | undefined, number[], number[]][] = [
    [0.5, 2, [0.5, 0.5, NaN, 2, 1, 2], [0, 1, 0, 0, 1, 1]],
    [2, 0.5, [0.5, 0.5, NaN, 0.5, 0.5, 0.5], [0, 0, 0, 0, 0, 0]],
    [1, undefined, [1, 1, NaN, 3, 1, 2], [0, 0, 0, 1, 1, 1]],
    [undefined, 1, [-2, 0.5, NaN, 1, 1, 1], [1, 1, 0, 0, 1, 0]],
  ];
  for (const [lo, hi, y, g] of cases)
    for (const n of [6, 8]) // scalar path (6) and vec4 path (8: two extra elements inside)
      it(`clamp(${lo}, ${hi}) matches torch's values and gradient, ${n} elements`, async () => {
        const data = n === 6 ? t : [...t, -Infinity, Infinity];
        const ref = (v: number) => Math.min(Math.max(v, lo ?? -Infinity), hi ?? Infinity);
        const ey = n === 6 ? y : [...y, ref(-Infinity), ref(Infinity)];
        const eg = n === 6 ? g : [...g, lo === undefined ? 1 : 0, hi === undefined ? 1 : 0];
        for (const device of DEVICES) {
          const x = wt.tensor(data, [n], { device, requiresGrad: true });
          const out = clamp(x, lo, hi);
          out.sum().backward();
          expectClose(await out.toArray(), ey, 0, 0, `${device} y`);
          expectClose(await x.grad!.toArray(), eg, 0, 0, `${device} grad`);
        }
      });

  it('GPU = CPU on an odd-sized random tensor, and gradchecks in float64', async () => {
    const data = randArray(1001, 3, -3, 3);
    const [a, b] = await Promise.all(DEVICES.map((device) => clamp(wt.tensor(data, [7, 11, 13], { device }), -1.25, 0.5).toArray()));
    expectClose(a, b, 0, 0, 'parity');
    expect(wt.testing.gradcheck((x) => clamp(x, -0.5, 0.7), [f64(randArray(20, 4, -2, 2), [4, 5])])).toBe(true);
    expect(wt.testing.gradcheck((x) => clamp(x, null, 0.1), [f64(randArray(20, 5, -2, 2), [20])])).toBe(true);
  });

  it('rejects missing or non-numeric bounds', () => {
    const x = wt.zeros([3]);
    expect(() => clamp(x)).toThrow(/clamp: at least one of 'min' and 'max' must be given/);
    expect(() => clamp(x, NaN)).toThrow(/clamp: min must be a number \(or omitted\), got NaN/);
    expect(() => clamp(x, 0, '1' as unknown as number)).toThrow(/clamp: max must be a number \(or omitted\), got 1/);
    expect(() => clamp(wt.zeros([3], { dtype: 'int32' }), 0)).toThrow(/clamp: expected a float tensor/);
  });
});

describe('where', () => {
  it("treats NaN and any nonzero as true (torch.where(c.bool(), ...))", async () => {
    for (const device of DEVICES) {
      const c = wt.tensor([NaN, 0, -1, 2], [4], { device });
      expect(Array.from(await where(c, wt.ones([4], { device }), 0).toArray())).toEqual([1, 0, 1, 1]);
      const ci = wt.tensor([0, 3, 0, -2, 1], [5], { device, dtype: 'int32' });
      expect(Array.from(await where(ci, 7, wt.zeros([5], { device })).toArray())).toEqual([0, 7, 0, 7, 7]);
    }
  });

  const shapes: [number[], number[], number[]][] = [
    [[2, 4], [2, 4], [2, 4]], // vec4
    [[3, 5], [3, 5], [3, 5]], // flat scalar
    [[3, 1], [4], [3, 4]], // broadcast all three
    [[1, 5, 1], [2, 1, 3], [5, 1]],
  ];
  for (const [cs, as, bs] of shapes)
    it(`broadcasts cond ${JSON.stringify(cs)}, a ${JSON.stringify(as)}, b ${JSON.stringify(bs)}: values and gradients (GPU = CPU)`, async () => {
      const n = (s: number[]) => s.reduce((x, y) => x * y, 1);
      const cd = Float32Array.from(randArray(n(cs), 1), (v) => (v > 0 ? 1 : 0));
      const ad = randArray(n(as), 2);
      const bd = randArray(n(bs), 3);
      const res: ArrayLike<number>[][] = [];
      for (const device of DEVICES) {
        const c = wt.tensor(cd, cs, { device });
        const a = wt.tensor(ad, as, { device, requiresGrad: true });
        const b = wt.tensor(bd, bs, { device, requiresGrad: true });
        const y = where(c, a, b);
        const g = wt.tensor(randArray(y.size, 4), y.shape, { device });
        y.backward(g);
        // reference from primitive ops: c * a + (1 - c) * b, and its gradients
        const a2 = wt.tensor(ad, as, { device, requiresGrad: true });
        const b2 = wt.tensor(bd, bs, { device, requiresGrad: true });
        const y2 = c.mul(a2).add(c.neg().add(1).mul(b2));
        y2.backward(g);
        expect(y.shape).toEqual(y2.shape);
        expectClose(await y.toArray(), await y2.toArray(), 0, 0, `${device} y`);
        expectClose(await a.grad!.toArray(), await a2.grad!.toArray(), 1e-6, 1e-7, `${device} ga`);
        expectClose(await b.grad!.toArray(), await b2.grad!.toArray(), 1e-6, 1e-7, `${device} gb`);
        res.push([await y.toArray(), await a.grad!.toArray(), await b.grad!.toArray()]);
      }
      res[0].forEach((v, i) => expectClose(v, res[1][i], 1e-6, 1e-7, `parity ${i}`));
    });

  it('gradchecks in float64 (tensor and scalar branches)', () => {
    const c = wt.tensor([1, 0, 0, 1, 1, 0], [2, 3], { device: 'cpu', dtype: 'float64' });
    expect(wt.testing.gradcheck((a, b) => where(c, a, b), [f64(randArray(3, 1), [3]), f64(randArray(6, 2), [2, 3])])).toBe(true);
    expect(wt.testing.gradcheck((a) => where(c, -1, a), [f64(randArray(6, 3), [2, 3])])).toBe(true);
  });

  it('rejects bad arguments', () => {
    const c = wt.zeros([2, 3]);
    expect(() => where(c, wt.zeros([4]), 0)).toThrow(/where: shapes cond \[2,3\], \[4\] cannot broadcast/);
    expect(() => where(c, 'x' as unknown as number, 0)).toThrow(/where: expected a to be a Tensor or a number, got string/);
    expect(() => where(null as unknown as wt.Tensor, 1, 0)).toThrow(/where: expected cond to be a Tensor/);
    expect(() => where(c, wt.zeros([3], { dtype: 'int32' }), 0)).toThrow(/where: expected a float tensor/);
    expect(() => where(c, wt.zeros([3], { device: 'cpu' }), 0)).toThrow(/where: tensors are on different devices/);
  });
});
