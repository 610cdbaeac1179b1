// Every foundation op: finite differences on the CPU in float64, and GPU gradients against CPU ones.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';

beforeAll(initGpu);

type Case = { name: string; shapes: number[][]; fn: (...x: wt.Tensor[]) => wt.Tensor; positive?: boolean; lo?: number };

const cases: Case[] = [
  { name: 'add broadcast', shapes: [[2, 3], [3]], fn: (a, b) => a.add(b) },
  { name: 'add same tensor twice', shapes: [[3, 2]], fn: (a) => a.add(a) },
  { name: 'sub broadcast', shapes: [[2, 1, 3], [4, 1]], fn: (a, b) => a.sub(b) },
  { name: 'mul broadcast', shapes: [[3, 4], [3, 1]], fn: (a, b) => a.mul(b) },
  { name: 'mul 0-d', shapes: [[], [2, 2]], fn: (a, b) => a.mul(b) },
  { name: 'div', shapes: [[2, 3], [2, 3]], fn: (a, b) => a.div(b), positive: true },
  { name: 'pow', shapes: [[5], [5]], fn: (a, b) => a.pow(b), positive: true },
  { name: 'maximum', shapes: [[4, 3], [3]], fn: (a, b) => a.maximum(b) },
  { name: 'neg', shapes: [[3, 3]], fn: (a) => a.neg() },
  { name: 'exp', shapes: [[7]], fn: (a) => a.exp() },
  { name: 'log', shapes: [[7]], fn: (a) => a.log(), positive: true },
  { name: 'sqrt', shapes: [[2, 5]], fn: (a) => a.sqrt(), positive: true },
  { name: 'abs', shapes: [[6]], fn: (a) => a.abs() },
  { name: 'relu', shapes: [[9]], fn: (a) => a.relu() },
  { name: 'scalar ops', shapes: [[2, 3]], fn: (a) => a.mul(3).add(1).sub(0.5).div(2).pow(2) },
  { name: 'pow scalar 3', shapes: [[5]], fn: (a) => a.pow(3) },
  { name: 'sum all', shapes: [[3, 4]], fn: (a) => a.sum() },
  { name: 'sum axis keepdim', shapes: [[3, 4, 2]], fn: (a) => a.sum(1, true) },
  { name: 'sum axes', shapes: [[3, 4, 2]], fn: (a) => a.sum([0, 2]) },
  { name: 'mean axis', shapes: [[3, 5]], fn: (a) => a.mean(0) },
  { name: 'mean all', shapes: [[2, 2, 3]], fn: (a) => a.mean() },
  { name: 'max axis', shapes: [[4, 5]], fn: (a) => a.max(1) },
  { name: 'max all', shapes: [[3, 3]], fn: (a) => a.max() },
  { name: 'reshape', shapes: [[2, 6]], fn: (a) => a.reshape([3, 4]).mul(a.reshape([3, 4])) },
  { name: 'flatten/unsqueeze', shapes: [[2, 3, 2]], fn: (a) => a.flatten(1).unsqueeze(0).exp() },
  { name: 'permute', shapes: [[2, 3, 4]], fn: (a) => a.permute([2, 0, 1]).mul(wt.arange(3, undefined, 1, { device: a.device, dtype: a.dtype })) },
  { name: 'transpose', shapes: [[3, 5]], fn: (a) => a.transpose().exp() },
  { name: 'expand', shapes: [[3, 1]], fn: (a) => a.expand([2, 3, 4]).mul(a.expand([2, 3, 4])) },
  { name: 'matmul 2d', shapes: [[3, 4], [4, 5]], fn: (a, b) => a.matmul(b) },
  { name: 'matmul batched', shapes: [[2, 3, 4], [2, 4, 2]], fn: (a, b) => a.matmul(b) },
  { name: 'matmul (..,K) @ (K,N)', shapes: [[2, 3, 4], [4, 2]], fn: (a, b) => a.matmul(b) },
  { name: 'matmul vector', shapes: [[4], [4, 3]], fn: (a, b) => a.matmul(b) },
  { name: 'composite', shapes: [[4, 3], [3, 2], [2]], fn: (x, w, b) => x.matmul(w).add(b).relu().exp().mean(0).log() },
];

function inputs(c: Case, device: 'cpu' | 'gpu', dtype: 'float64' | 'float32'): wt.Tensor[] {
  return c.shapes.map((s, i) => {
    const n = s.reduce((a, b) => a * b, 1);
    let d = randArray(n, 17 * (i + 1) + n, c.positive ? 0.5 : -1.5, 1.5);
    // keep away from kinks (relu/abs/max at 0, ties) so finite differences are valid
    d = d.map((v, j) => (Math.abs(v) < 0.05 ? 0.05 + 0.01 * j : v));
    return wt.tensor(d, s, { device, dtype, requiresGrad: true });
  });
}

describe('gradcheck (CPU, float64)', () => {
  for (const c of cases)
    it(c.name, () => {
      expect(wt.testing.gradcheck(c.fn, inputs(c, 'cpu', 'float64'))).toBe(true);
    });
});

describe('GPU gradients equal CPU gradients', () => {
  for (const c of cases)
    it(c.name, async () => {
      const g = inputs(c, 'gpu', 'float32');
      const cp = inputs(c, 'cpu', 'float32');
      const og = c.fn(...g);
      const oc = c.fn(...cp);
      const seed = randArray(og.size, 99, -1, 1);
      og.backward(wt.tensor(seed, og.shape, { device: 'gpu' }));
      oc.backward(wt.tensor(seed, oc.shape, { device: 'cpu' }));
      for (let i = 0; i < g.length; i++)
        expectClose(await g[i].grad!.toArray(), await cp[i].grad!.toArray(), 1e-4, 1e-5, `${c.name} input ${i}`);
    });
});

describe('gradcheck catches a wrong backward', () => {
  it('throws on a deliberately wrong gradient', () => {
    class Bad extends wt.Function {
      name = 'bad';
      forward(x: wt.Tensor) {
        return x.mul(x);
      }
      backward(g: wt.Tensor) {
        return [g.mul(3)];
      }
    }
    const x = wt.tensor([0.3, 0.7], [2], { device: 'cpu', dtype: 'float64', requiresGrad: true });
    expect(() => wt.testing.gradcheck((t) => new Bad().apply(t), [x])).toThrow(/gradcheck: input 0 \[2\] element \d: analytic/);
  });
});
