// The pointwise op table's case list: every public entry is exported as wt.<name> and as a Tensor
// method, passes gradcheck (CPU, float64), and its GPU gradients equal the CPU ones, with
// broadcasting (binary), a scalar operand (binary) and odd sizes.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { BINARY, UNARY, type BinaryName, type PublicUnaryName } from '../../src/autograd/pointwise_table.ts';
import { expectClose, initGpu, randArray } from '../helpers.ts';

beforeAll(initGpu);

/** Inputs away from each op's kinks and outside its domain limits. */
const domain: Partial<Record<string, [number, number]>> = {
  log: [0.3, 2],
  sqrt: [0.3, 2],
  reciprocal: [0.4, 2],
  pow: [0.4, 2],
  div: [0.4, 2],
};

function data(op: string, n: number, seed: number): Float32Array {
  const [lo, hi] = domain[op] ?? [-2, 2];
  // keep |v| >= 0.05 and distinct values so kinks (abs, leakyRelu, maximum ties) are not crossed
  return randArray(n, seed, lo, hi).map((v, j) => (Math.abs(v) < 0.05 ? 0.05 + 0.013 * j : v));
}

const leaf = (d: Float32Array, shape: number[], device: 'cpu' | 'gpu', dtype: 'float32' | 'float64') =>
  wt.tensor(dtype === 'float64' ? Float64Array.from(d) : d, shape, { device, dtype, requiresGrad: true });

const api = wt as unknown as Record<string, (...a: unknown[]) => wt.Tensor>;

const unaryOps = Object.keys(UNARY) as PublicUnaryName[];
const binaryOps = Object.keys(BINARY) as BinaryName[];
const comparisons = new Set<string>(binaryOps.filter((k) => BINARY[k].grad === null));

describe('every public table entry is a function and a Tensor method', () => {
  for (const op of [...unaryOps, ...binaryOps])
    it(op, () => {
      expect(typeof api[op]).toBe('function');
      expect(typeof (wt.Tensor.prototype as unknown as Record<string, unknown>)[op]).toBe('function');
    });
});

describe('unary entries', () => {
  for (const op of unaryOps) {
    const e = UNARY[op];
    if (!e.grad) continue;
    const args = e.arg ? [0.2] : [];
    const f = (x: wt.Tensor) => (x as unknown as Record<string, (...a: unknown[]) => wt.Tensor>)[op](...args);
    it(`${op}: gradcheck`, () => {
      expect(wt.testing.gradcheck(f, [leaf(data(op, 13, 3), [13], 'cpu', 'float64')])).toBe(true);
    });
    it(`${op}: GPU forward and gradient equal the CPU's (odd size)`, async () => {
      const d = data(op, 1031, 5);
      const xg = leaf(d, [1031], 'gpu', 'float32');
      const xc = leaf(d, [1031], 'cpu', 'float32');
      const yg = f(xg);
      const yc = f(xc);
      expectClose(await yg.toArray(), await yc.toArray(), 2e-5, 1e-6, `${op} forward`);
      const seed = randArray(1031, 9);
      yg.backward(wt.tensor(seed, [1031], { device: 'gpu' }));
      yc.backward(wt.tensor(seed, [1031], { device: 'cpu' }));
      expectClose(await xg.grad!.toArray(), await xc.grad!.toArray(), 2e-5, 1e-6, `${op} grad`);
    });
  }
  it('leakyRelu uses its default slope 0.01 and a given one', async () => {
    const x = wt.tensor([-2, 3]);
    expectClose(await wt.leakyRelu(x).toArray(), [-0.02, 3], 1e-6, 0, 'default');
    expectClose(await x.leakyRelu(0.5).toArray(), [-1, 3], 1e-6, 0, 'slope');
  });
  it('gelu matches PyTorch (erf form) at reference points', async () => {
    // torch.nn.functional.gelu(torch.tensor([-3., -1., -0.5, 0., 0.5, 1., 3.]))
    const ref = [-0.0040496, -0.1586553, -0.1542687, 0, 0.3457313, 0.8413447, 2.9959502];
    expectClose(await wt.gelu(wt.tensor([-3, -1, -0.5, 0, 0.5, 1, 3])).toArray(), ref, 1e-5, 1e-6, 'gelu');
  });
  it('sigmoid and tanh saturate without NaN at +-100', async () => {
    const x = wt.tensor([-100, 100, -50, 50]);
    expectClose(await x.sigmoid().toArray(), [0, 1, 1 / (1 + Math.exp(50)), 1], 1e-5, 0, 'sigmoid');
    expect(Array.from(await x.tanh().toArray())).toEqual([-1, 1, -1, 1]);
  });
  it('an op without a scalar argument refuses one', () => {
    expect(() => wt.sigmoid(wt.tensor([1]), 2)).toThrow(/sigmoid: takes no scalar argument, got 2/);
  });
});

describe('binary entries', () => {
  const shapes: [number[], number[]][] = [
    [[3, 5], [3, 5]],
    [[2, 3, 1], [4]],
    [[1], [3, 2]],
  ];
  for (const op of binaryOps) {
    const f = (a: wt.Tensor, b: wt.Tensor | number) => (a as unknown as Record<string, (b: unknown) => wt.Tensor>)[op](b);
    if (comparisons.has(op)) {
      it(`${op}: float 0/1, not differentiable, GPU equals CPU`, async () => {
        const a = data(op, 15, 1);
        const b = data(op, 15, 2);
        b.set(a.subarray(0, 5));
        const ag = wt.tensor(a, [3, 5], { requiresGrad: true });
        const yg = f(ag, wt.tensor(b, [3, 5]));
        expect(yg.requiresGrad).toBe(false);
        const yc = f(wt.tensor(a, [3, 5], { device: 'cpu' }), wt.tensor(b, [3, 5], { device: 'cpu' }));
        const got = await yg.toArray();
        expectClose(got, await yc.toArray(), 0, 0, op);
        expect(got.every((v) => v === 0 || v === 1)).toBe(true);
      });
      continue;
    }
    for (const [sa, sb] of shapes) {
      const na = sa.reduce((x, y) => x * y, 1);
      const nb = sb.reduce((x, y) => x * y, 1);
      it(`${op} ${JSON.stringify(sa)} x ${JSON.stringify(sb)}: gradcheck`, () => {
        const a = leaf(data(op, na, 11), sa, 'cpu', 'float64');
        const b = leaf(data(op, nb, 12).map((v) => v + 0.01), sb, 'cpu', 'float64');
        expect(wt.testing.gradcheck(f, [a, b])).toBe(true);
      });
      it(`${op} ${JSON.stringify(sa)} x ${JSON.stringify(sb)}: GPU gradients equal CPU`, async () => {
        const da = data(op, na, 21);
        const db = data(op, nb, 22).map((v) => v + 0.01);
        const g = [leaf(da, sa, 'gpu', 'float32'), leaf(db, sb, 'gpu', 'float32')];
        const c = [leaf(da, sa, 'cpu', 'float32'), leaf(db, sb, 'cpu', 'float32')];
        const yg = f(g[0], g[1]);
        const yc = f(c[0], c[1]);
        const seed = randArray(yg.size, 4);
        yg.backward(wt.tensor(seed, yg.shape, { device: 'gpu' }));
        yc.backward(wt.tensor(seed, yc.shape, { device: 'cpu' }));
        for (let i = 0; i < 2; i++) expectClose(await g[i].grad!.toArray(), await c[i].grad!.toArray(), 5e-5, 1e-6, `${op} input ${i}`);
      });
    }
    it(`${op} with a scalar operand: gradcheck`, () => {
      const a = leaf(data(op, 7, 31), [7], 'cpu', 'float64');
      expect(wt.testing.gradcheck((x) => f(x, 1.5), [a])).toBe(true);
    });
  }
  it('minimum and maximum split the gradient on ties, like torch', async () => {
    const a = wt.tensor([1, 2, 3], [3], { requiresGrad: true });
    const b = wt.tensor([1, 5, 0], [3], { requiresGrad: true });
    wt.minimum(a, b).sum().backward();
    expect(Array.from(await a.grad!.toArray())).toEqual([0.5, 1, 0]);
    expect(Array.from(await b.grad!.toArray())).toEqual([0.5, 0, 1]);
  });
  it('min reduces like max and shares ties', async () => {
    const x = wt.tensor([3, 1, 1, 2], [2, 2], { requiresGrad: true });
    const m = x.min(1);
    expect(Array.from(await m.toArray())).toEqual([1, 1]);
    x.min().backward();
    expect(Array.from(await x.grad!.toArray())).toEqual([0, 0.5, 0.5, 0]);
  });
  it('comparisons treat NaN as unequal to everything', async () => {
    const a = wt.tensor([NaN, 1, NaN]);
    const b = wt.tensor([NaN, 1, 2]);
    expect(Array.from(await wt.eq(a, b).toArray())).toEqual([0, 1, 0]);
    expect(Array.from(await wt.ne(a, b).toArray())).toEqual([1, 0, 1]);
  });
});
