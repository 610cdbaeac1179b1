import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu } from '../helpers.ts';

beforeAll(initGpu);

describe('engine', () => {
  for (const device of ['cpu', 'gpu'] as const) {
    it(`accumulates (+=) across uses and across backward calls (${device})`, async () => {
      const x = wt.tensor([1, 2, 3], [3], { device, requiresGrad: true });
      const y = x.mul(x).add(x.mul(2)).sum(); // dy/dx = 2x + 2
      y.backward();
      expectClose(await x.grad!.toArray(), [4, 6, 8]);
      x.mul(3).sum().backward(); // += 3
      expectClose(await x.grad!.toArray(), [7, 9, 11]);
      x.zeroGrad();
      expect(x.grad).toBe(null);
    });
  }

  it('implicit gradient 1 for scalars; explicit gradient otherwise', async () => {
    const x = wt.tensor([[1, 2], [3, 4]], undefined, { requiresGrad: true });
    expect(() => x.mul(2).backward()).toThrow(/backward: grad can be implicitly created only for scalar outputs; got shape \[2,2\]/);
    x.mul(2).backward(wt.tensor([[1, 0], [0, 1]]));
    expectClose(await x.grad!.toArray(), [2, 0, 0, 2]);
  });

  it('skips inputs that need no gradient; noGrad and detach record nothing', async () => {
    const a = wt.tensor([1, 2], [2], { requiresGrad: true });
    const b = wt.tensor([3, 4], [2]);
    a.mul(b).sum().backward();
    expect(b.requiresGrad).toBe(false);
    expect(() => b.grad).toThrow(/grad: tensor \[2\] float32 on gpu does not require grad/);
    const y = wt.noGrad(() => a.mul(2));
    expect(y.requiresGrad).toBe(false);
    expect(y.isLeaf).toBe(true);
    const d = a.mul(2).detach();
    expect(d.requiresGrad).toBe(false);
    expect(() => d.sum().backward()).toThrow(/backward: tensor .* does not require grad/);
  });

  it('a second backward through a freed graph is an error naming the op', () => {
    const x = wt.tensor([1, 2], [2], { requiresGrad: true });
    const y = x.exp().sum();
    y.backward();
    expect(() => y.backward()).toThrow(/backward: the graph through sum was already freed/);
    const z = x.exp().sum();
    z.backward(undefined, { retainGraph: true });
    expect(() => z.backward()).not.toThrow();
  });

  it('an in-place change to a tensor saved for backward is an error naming the op', () => {
    const x = wt.tensor([1, 2], [2], { requiresGrad: true });
    const w = wt.tensor([3, 4], [2]);
    const y = x.mul(w).sum();
    w.copy_(wt.tensor([5, 6], [2]));
    expect(() => y.backward()).toThrow(/backward: a tensor \[2\] float32 on gpu saved by mul was modified in place/);
  });

  it('gradient shapes are checked', () => {
    class Wrong extends wt.Function {
      name = 'wrong';
      forward(x: wt.Tensor) {
        return x.mul(1);
      }
      backward() {
        return [wt.ones([5])];
      }
    }
    const x = wt.ones([2], { requiresGrad: true });
    expect(() => new Wrong().apply(x).sum().backward()).toThrow(/backward: wrong returned a gradient of shape \[5\] for an input of shape \[2\]/);
  });

  it('a gradient passed through to two inputs that already hold gradients (x * (x + x))', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor([1, -2, 3], [3], { device, requiresGrad: true });
      const before = wt.memory().inUse;
      wt.tidy(() => wt.mul(x, wt.add(x, x)).sum().backward());
      expect(Array.from(await x.grad!.toArray())).toEqual([4, -8, 12]); // d(2x^2)/dx
      x.zeroGrad(); // nothing else of the step may stay alive
      if (device === 'gpu') expect(wt.memory().inUse).toBeLessThanOrEqual(before);
    }
  });
});
