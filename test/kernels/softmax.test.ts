// softmax / logSoftmax: float64 reference on awkward shapes and every dim, both kernel layouts on
// the GPU against the CPU twin, gradients (gradcheck and GPU = CPU), large logits, NaN and infinite
// rows (torch's outputs), argument errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { f64, fwdBwd } from './layer_util.ts';
import { softmax, logSoftmax, softmaxForward, softmaxBackward } from '../../src/autograd/softmax_fn.ts';
import { softmaxKernel, type SoftmaxLayout } from '../../src/kernels/softmax.ts';
import { launch } from '../../src/tensor/launch.ts';
import { softmaxLayout } from '../../src/policy/softmax_choice.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';

beforeAll(async () => {
  await initGpu();
});

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Float64 reference: forward y and backward gx for output gradient g, along `dim`. */
function reference(x: ArrayLike<number>, g: ArrayLike<number>, shape: number[], dim: number, log: boolean) {
  const d = dim < 0 ? dim + shape.length : dim;
  const outer = numel(shape.slice(0, d));
  const r = shape.length ? shape[d] : 1;
  const inner = numel(shape.slice(d + 1));
  const y = new Float64Array(x.length);
  const gx = new Float64Array(x.length);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < inner; i++) {
      const at = (k: number) => o * r * inner + k * inner + i;
      let m = -Infinity;
      for (let k = 0; k < r; k++) m = Math.max(m, x[at(k)]);
      let s = 0;
      for (let k = 0; k < r; k++) s += Math.exp(x[at(k)] - m);
      for (let k = 0; k < r; k++) y[at(k)] = log ? x[at(k)] - m - Math.log(s) : Math.exp(x[at(k)] - m) / s;
      let dot = 0;
      for (let k = 0; k < r; k++) dot += log ? g[at(k)] : g[at(k)] * y[at(k)];
      for (let k = 0; k < r; k++) gx[at(k)] = log ? g[at(k)] - Math.exp(y[at(k)]) * dot : y[at(k)] * (g[at(k)] - dot);
    }
  return { y, gx };
}

const CASES: [number[], number][] = [
  [[128, 10], 1],
  [[64, 1000], 1],
  [[3, 32768], -1],
  [[5, 7], 0],
  [[5, 7], 1],
  [[1, 1], 1],
  [[4, 1], 1],
  [[7], 0],
  [[3, 33], 1],
  [[2, 100, 3], 1],
  [[2, 3, 5, 7], 1],
  [[2, 3, 5, 7], 2],
  [[2, 3, 5, 7], -1],
  [[130, 20, 1], 1],
  [[9, 70, 13], 0],
];

describe('softmax / logSoftmax forward and backward', () => {
  for (const log of [false, true]) {
    const f = log ? logSoftmax : softmax;
    for (const [shape, dim] of CASES) {
      it(`${log ? 'logSoftmax' : 'softmax'} ${JSON.stringify(shape)} dim ${dim}: GPU and CPU match the float64 reference`, async () => {
        const data = randArray(numel(shape), numel(shape) + dim, -5, 5);
        const g = randArray(numel(shape), 99);
        const ref = reference(data, g, shape, dim, log);
        for (const device of ['gpu', 'cpu'] as const) {
          const out = await fwdBwd(device, data, shape, (x) => f(x, dim));
          expectClose(out.y, ref.y, 1e-5, 1e-6, `${device} y`);
          expectClose(out.gx, ref.gx, 1e-4, 1e-6, `${device} gx`);
        }
      });
    }
  }

  it('softmax of a 0-d tensor is 1, logSoftmax 0 (torch)', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(3, undefined, { device });
      expect(Array.from(await softmax(x, 0).toArray())).toEqual([1]);
      expect(Array.from(await logSoftmax(x, -1).toArray())).toEqual([0]);
    }
  });

  it('handles empty tensors', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      expect(softmax(wt.zeros([3, 0], { device }), 1).shape).toEqual([3, 0]);
      expect(logSoftmax(wt.zeros([0, 4], { device }), 1).shape).toEqual([0, 4]);
    }
  });
});

describe('softmax kernel layouts', () => {
  const layouts: SoftmaxLayout[] = [
    { mode: 'group', wg: 8 },
    { mode: 'group', wg: 64 },
    { mode: 'lane', wg: 8 },
    { mode: 'lane', wg: 128 },
  ];
  const geoms = [
    [1, 1, 1],
    [3, 37, 1],
    [5, 64, 1],
    [2, 1000, 1],
    [3, 17, 5],
    [1, 300, 2],
    [70, 4, 1],
  ];
  // hardware's wide groups, on the shapes where their reduction matters (slow on lavapipe)
  it('group256: forward and backward equal the CPU twin on long rows', async () => {
    await compareLayout({ mode: 'group', wg: 256 }, [[2, 1000, 1], [1, 300, 2]]);
  });
  for (const layout of layouts)
    it(`${layout.mode}${layout.wg}: forward and backward equal the CPU twin`, async () => {
      await compareLayout(layout, geoms);
    });
  async function compareLayout(layout: SoftmaxLayout, list: number[][]) {
    for (const [outer, r, inner] of list)
      for (const log of [false, true]) {
        const n = outer * r * inner;
        const xd = randArray(n, n + r, -8, 8);
        const gd = randArray(n, 7);
        const p = { log, outer, r, inner, layout };
        const what = `${layout.mode}${layout.wg} [${outer},${r},${inner}] ${log ? 'log' : ''}`;
        const run = async (device: 'cpu' | 'gpu') => {
          const x = wt.tensor(xd, [n], { device });
          const g = wt.tensor(gd, [n], { device });
          const y = launch(softmaxKernel, { ...p, pass: 'fwd' }, [x, { shape: [n] }])[0];
          const gx = launch(softmaxKernel, { ...p, pass: 'bwd' }, [y, g, { shape: [n] }])[0];
          return [await y.toArray(), await gx.toArray()];
        };
        const [gy, ggx] = await run('gpu');
        const [cy, cgx] = await run('cpu');
        expectClose(gy, cy, 1e-5, 1e-6, `${what} y`);
        expectClose(ggx, cgx, 1e-4, 1e-6, `${what} gx`);
      }
  }
});

describe('softmax layout policy', () => {
  it('short contiguous rows and many strided rows go one per invocation; long rows one per workgroup', () => {
    const sw = { ...BASELINE_CAPS, software: true };
    expect(softmaxLayout(128, 10, 1, sw)).toEqual({ mode: 'lane', wg: 8 });
    expect(softmaxLayout(64, 1000, 1, sw)).toEqual({ mode: 'group', wg: 8 });
    expect(softmaxLayout(8, 64, 784, sw)).toEqual({ mode: 'lane', wg: 8 });
    expect(softmaxLayout(1, 32768, 2, sw)).toEqual({ mode: 'group', wg: 8 });
    expect(softmaxLayout(128, 10, 1, BASELINE_CAPS)).toEqual({ mode: 'lane', wg: 128 });
    expect(softmaxLayout(64, 1000, 1, BASELINE_CAPS)).toEqual({ mode: 'group', wg: 64 });
    expect(softmaxLayout(32, 32768, 1, BASELINE_CAPS)).toEqual({ mode: 'group', wg: 256 });
  });
});

describe('softmax gradients', () => {
  for (const [shape, dim] of [[[3, 5], 1], [[3, 5], 0], [[2, 3, 4], 1], [[4], -1]] as [number[], number][])
    it(`gradchecks softmax and logSoftmax on float64 CPU, ${JSON.stringify(shape)} dim ${dim}`, () => {
      const data = randArray(numel(shape), 3, -2, 2);
      expect(wt.testing.gradcheck((x) => softmax(x, dim), [f64(data, shape)])).toBe(true);
      expect(wt.testing.gradcheck((x) => logSoftmax(x, dim), [f64(data, shape)])).toBe(true);
    });

  it('raw forward/backward launchers agree with the recorded op', async () => {
    const x = wt.tensor(randArray(6 * 11, 4), [6, 11], { requiresGrad: true });
    const y = logSoftmax(x, 1);
    const g = wt.tensor(randArray(66, 5), [6, 11]);
    y.backward(g);
    const y2 = softmaxForward(x.detach(), 1, true);
    expectClose(await y2.toArray(), await y.toArray(), 0, 0, 'y');
    expectClose(await softmaxBackward(y2, g, 1, true).toArray(), await x.grad!.toArray(), 0, 0, 'gx');
  });
});

describe('softmax numerics', () => {
  it('stays exact for logits of 1e4 (torch values)', async () => {
    const data = [1e4, -1e4, 1e4, 1e4, 1e4 - 1, 0];
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(data, [2, 3], { device });
      expectClose(await softmax(x, 1).toArray(), [0.5, 0, 0.5, 0.7310586, 0.2689414, 0], 1e-5, 1e-7, `${device} softmax`);
      // torch.log_softmax: [-0.6931, -20000.6931, -0.6931], [-0.3133, -1.3133, -10000.3133]
      expectClose(
        await logSoftmax(x, 1).toArray(),
        [-Math.LN2, -2e4 - Math.LN2, -Math.LN2, -0.31326169, -1.31326169, -1e4 - 0.31326169],
        1e-6, 1e-5, `${device} logSoftmax`,
      );
    }
  });

  it('long rows of large logits on the vec4 path stay finite and sum to 1', async () => {
    const n = 32768;
    const data = randArray(2 * n, 11, -1e4, 1e4);
    const y = await softmax(wt.tensor(data, [2, n]), 1).toArray();
    for (const r of [0, 1]) {
      let s = 0;
      for (let k = 0; k < n; k++) s += y[r * n + k];
      expect(Math.abs(s - 1)).toBeLessThan(1e-5);
    }
  });

  it('a NaN, a +inf or an all -inf row is NaN throughout, like torch; other rows are unaffected', async () => {
    const inf = Infinity;
    const data = [inf, 0, 1, -inf, -inf, -inf, NaN, 0, 1, 1, 2, 3];
    const ok = reference([1, 2, 3], [0, 0, 0], [3], 0, false).y;
    const okLog = reference([1, 2, 3], [0, 0, 0], [3], 0, true).y;
    for (const device of ['gpu', 'cpu'] as const) {
      for (const log of [false, true]) {
        const y = await (log ? logSoftmax : softmax)(wt.tensor(data, [4, 3], { device }), 1).toArray();
        expect(Array.from(y.slice(0, 9)).every(Number.isNaN), `${device} ${log} ${Array.from(y)}`).toBe(true);
        expectClose(y.slice(9), log ? okLog : ok, 1e-6, 1e-7, `${device} finite row`);
      }
    }
  });
});

describe('softmax errors', () => {
  it('rejects a missing or bad dim and non-float input before any GPU work', () => {
    const x = wt.zeros([2, 3]);
    expect(() => softmax(x, undefined as unknown as number)).toThrow(/softmax: dim is required/);
    expect(() => logSoftmax(x, 2)).toThrow(/logSoftmax: dim 2 is out of range for a tensor of shape \[2,3\]/);
    expect(() => softmax(x, 0.5)).toThrow(/softmax: dim must be an integer, got 0.5/);
    expect(() => softmax(wt.zeros([2], { dtype: 'int32' }), 0)).toThrow(/softmax: expected a float tensor/);
  });
});
