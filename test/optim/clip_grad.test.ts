// clipGradNorm_ against torch.nn.utils.clip_grad_norm_ (PyTorch 1.13) for 2-, 1-, inf-, 3- and
// 0.5-norms on the GPU and the CPU twins, a float64 reference on multi-workgroup sizes (scalar
// and vec4 paths), NaN propagation, skipped / absent gradients and argument errors.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { clipGradNorm_ } from '../../src/nn/clip_grad.ts';
import { expectClose, initGpu, randArray } from '../helpers.ts';
import { ref } from './optim_reference.ts';

beforeAll(async () => {
  await initGpu();
});

function withGrads(grads: ArrayLike<number>[], device: 'gpu' | 'cpu', dtype: 'float32' | 'float64' = 'float32'): wt.Tensor[] {
  return grads.map((g) => {
    const p = wt.zeros([g.length], { device, dtype }).requiresGrad_();
    p.grad = wt.tensor(Array.from(g), [g.length], { device, dtype });
    return p;
  });
}

/** Float64 reference: total norm and coefficient. */
function reference(grads: ArrayLike<number>[], maxNorm: number, p: number) {
  let acc = 0;
  for (const g of grads)
    for (let i = 0; i < g.length; i++) acc = p === Infinity ? Math.max(acc, Math.abs(g[i])) : acc + Math.abs(g[i]) ** p;
  const total = p === Infinity ? acc : acc ** (1 / p);
  return { total, coef: Math.min(1, maxNorm / (total + 1e-6)) };
}

describe(`clipGradNorm_ matches torch ${ref.torch}`, () => {
  for (const c of ref.clip)
    it(`normType ${c.normType}, maxNorm ${c.maxNorm}`, async () => {
      for (const device of ['gpu', 'cpu'] as const) {
        const ps = withGrads(c.grads, device);
        const total = clipGradNorm_(ps, c.maxNorm, c.normType);
        expect(total.shape).toEqual([]);
        expect(total.device).toBe(device);
        expectClose(await total.toArray(), [c.total], 1e-6, 0, `${device} total`);
        for (let i = 0; i < ps.length; i++) expectClose(await ps[i].grad!.toArray(), c.clipped[i], 1e-6, 1e-7, `${device} grad ${i}`);
      }
    });
});

describe('clipGradNorm_', () => {
  for (const [n1, n2] of [[100003, 17], [4096 * 5, 4 * 999]])
    for (const p of [2, 1, Infinity, 3])
      it(`sizes ${n1} + ${n2}, normType ${p}: float64 reference`, async () => {
        const g1 = randArray(n1, 3, -2, 2);
        const g2 = randArray(n2, 4, -2, 2);
        const { total, coef } = reference([g1, g2], 5, p);
        const ps = withGrads([g1, g2], 'gpu');
        const got = clipGradNorm_(ps, 5, p);
        expectClose(await got.toArray(), [total], 1e-5, 0, 'total');
        expectClose(await ps[1].grad!.toArray(), Array.from(g2, (v) => v * coef), 1e-5, 1e-7, 'clipped');
      });

  it('float64 CPU tensors', async () => {
    const gs = [randArray(10, 1), randArray(3, 2)];
    const ps = withGrads(gs, 'cpu', 'float64');
    const total = clipGradNorm_(ps, 0.1);
    const r = reference(gs, 0.1, 2);
    expect(total.dtype).toBe('float64');
    expectClose(await total.toArray(), [r.total], 1e-14, 0, 'total');
    expectClose(await ps[0].grad!.toArray(), Array.from(gs[0], (v) => v * r.coef), 1e-14, 0, 'grad');
  });

  it('a single tensor, parameters without gradients, and no gradients at all', async () => {
    const [a] = withGrads([[3, 4]], 'gpu');
    const b = wt.zeros([3]).requiresGrad_();
    const c = wt.zeros([2]);
    expectClose(await clipGradNorm_([a, b, c], 1).toArray(), [5], 1e-6, 0, 'total');
    expectClose(await a.grad!.toArray(), [0.6, 0.8], 1e-6, 0, 'clipped');
    expectClose(await clipGradNorm_(a, 10).toArray(), [1], 1e-6, 0, 'single tensor');
    expectClose(await a.grad!.toArray(), [0.6, 0.8], 1e-6, 0, 'not clipped below maxNorm');
    const none = clipGradNorm_([b, c], 1);
    expect(none.shape).toEqual([]);
    expect(await none.toList()).toEqual(0);
    expect(await clipGradNorm_([], 1).toList()).toEqual(0);
  });

  it('a NaN gradient makes the norm and every gradient NaN (torch clamps NaN to NaN)', async () => {
    const ps = withGrads([[1, NaN, 2], [3, 4, 5, 6]], 'gpu');
    const total = await clipGradNorm_(ps, 1).toArray();
    expect(Number.isNaN(total[0])).toBe(true);
    expect(Array.from(await ps[1].grad!.toArray()).every(Number.isNaN)).toBe(true);
  });

  it('rejects bad arguments before any GPU work', () => {
    const [a] = withGrads([[1, 2]], 'gpu');
    const [b] = withGrads([[1, 2]], 'cpu');
    expect(() => clipGradNorm_([a], -1)).toThrow('clipGradNorm_: maxNorm must be a number >= 0, got -1');
    expect(() => clipGradNorm_([a], NaN)).toThrow('clipGradNorm_: maxNorm must be a number >= 0, got NaN');
    expect(() => clipGradNorm_([a], 1, 0)).toThrow("clipGradNorm_: normType must be a number > 0 or Infinity ('inf'), got 0");
    expect(() => clipGradNorm_([a], 1, -Infinity)).toThrow(/normType must be a number > 0/);
    expect(() => clipGradNorm_([a, b], 1)).toThrow('clipGradNorm_: gradients are on different devices (gpu and cpu)');
    expect(() => clipGradNorm_([a, 3 as never], 1)).toThrow('clipGradNorm_: parameter 1 is not a Tensor, got number');
    expect(() => clipGradNorm_(null as never, 1)).toThrow(/clipGradNorm_: params must be a Tensor or an iterable of Tensors/);
  });
});
