// crossEntropy with options (reduction, class weights, label smoothing, ignoreIndex, per-pixel
// shapes), nllLoss, mseLoss, l1Loss, binaryCrossEntropyWithLogits: PyTorch reference values
// (loss_torch_refs.ts), float64 gradchecks on the CPU, GPU vs CPU parity on awkward shapes,
// GPU-side bad-label counting, and argument errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { Generator } from '../../src/tensor/random.ts';
import { crossEntropy, nllLoss, crossEntropyLabelErrors } from '../../src/autograd/loss.ts';
import { mseLoss, l1Loss, binaryCrossEntropyWithLogits } from '../../src/autograd/elementwise_loss_fn.ts';
import type { Reduction } from '../../src/autograd/loss_options.ts';
import { f64 } from './layer_util.ts';
import { launch } from '../../src/tensor/launch.ts';
import { ceBackwardKernel, ceForwardKernel, type CeBackwardParams, type CeParams } from '../../src/kernels/cross_entropy.ts';
import { crossEntropyLayout, HARDWARE_LANES_MAX_CLASSES } from '../../src/policy/cross_entropy_choice.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';
import * as refs from './loss_torch_refs.ts';

type Dev = 'cpu' | 'gpu';
const REDUCTIONS: Reduction[] = ['mean', 'sum', 'none'];

beforeAll(async () => {
  await initGpu();
});

function labelsFor(n: number, c: number, seed = 1, ignoreEvery = 0): Int32Array {
  const g = new Generator(seed);
  return Int32Array.from({ length: n }, (_, i) => (ignoreEvery && i % ignoreEvery === 1 ? -100 : g.int(c)));
}

const ints = (v: ArrayLike<number>, shape: number[], device: Dev) => wt.tensor(Int32Array.from(v), shape, { device, dtype: 'int32' });

/** loss and input gradient of f on `device` (float32, or float64 on the CPU). */
async function lossAndGrad(
  device: Dev,
  x0: ArrayLike<number>,
  shape: number[],
  f: (x: wt.Tensor) => wt.Tensor,
  upstream?: ArrayLike<number>,
  dtype: 'float32' | 'float64' = 'float32',
) {
  const x = wt.tensor(dtype === 'float64' ? Float64Array.from(x0) : Float32Array.from(x0), shape, { device, dtype, requiresGrad: true });
  const y = f(x);
  if (upstream) y.backward(wt.tensor(dtype === 'float64' ? Float64Array.from(upstream) : Float32Array.from(upstream), y.shape, { device, dtype }));
  else y.backward();
  return { y: Array.from(await y.toArray()), gx: Array.from(await x.grad!.toArray()), shape: y.shape };
}

describe('crossEntropy options against PyTorch', () => {
  const cases = {
    ceWeightedSmoothedIgnored: refs.ceWeightedSmoothedIgnored,
    ceIgnoreInRange: refs.ceIgnoreInRange,
    ceSmoothedBatch1: refs.ceSmoothedBatch1,
    cePerPixel: refs.cePerPixel,
    ceAllIgnored: refs.ceAllIgnored,
    ceSingle: refs.ceSingle,
  };
  for (const [name, r] of Object.entries(cases)) {
    for (const device of ['gpu', 'cpu'] as const)
      it(`${name} on ${device}: loss and gradient for every reduction`, async () => {
        for (const dtype of device === 'cpu' ? (['float32', 'float64'] as const) : (['float32'] as const)) {
          const tol = dtype === 'float64' ? [1e-10, 1e-12] : [2e-5, 2e-6];
          const weight = r.weight ? wt.tensor(dtype === 'float64' ? Float64Array.from(r.weight) : r.weight, [r.weight.length], { device, dtype }) : undefined;
          const labels = ints(r.labels, r.labelShape, device);
          for (const reduction of REDUCTIONS) {
            const got = await lossAndGrad(
              device, r.x, r.shape,
              (x) => crossEntropy(x, labels, { reduction, weight, labelSmoothing: r.smoothing, ignoreIndex: r.ignoreIndex }),
              reduction === 'none' ? r.noneUpstream : undefined, dtype,
            );
            expect(got.shape).toEqual(reduction === 'none' ? r.labelShape : []);
            expectClose(got.y, r[reduction], tol[0], tol[1], `${name} ${device} ${dtype} ${reduction} loss`);
            expectClose(got.gx, r[`${reduction}Grad`], tol[0] * 5, tol[1], `${name} ${device} ${dtype} ${reduction} grad`);
          }
        }
      });
  }

  it('nllLoss with weights and ignored rows matches PyTorch on GPU and CPU', async () => {
    const r = refs.nllWeightedIgnored;
    for (const device of ['gpu', 'cpu'] as const) {
      const weight = wt.tensor(r.weight, [r.weight.length], { device });
      const labels = ints(r.labels, [r.labels.length], device);
      for (const reduction of REDUCTIONS) {
        const got = await lossAndGrad(device, r.x, r.shape, (x) => nllLoss(x, labels, { reduction, weight, ignoreIndex: r.ignoreIndex }),
          reduction === 'none' ? r.noneUpstream : undefined);
        expectClose(got.y, r[reduction], 1e-5, 1e-6, `nll ${device} ${reduction}`);
        expectClose(got.gx, r[`${reduction}Grad`], 1e-5, 1e-6, `nll ${device} ${reduction} grad`);
      }
    }
  });

  it('stays one forward, one reduction and one backward dispatch (default and with every option)', async () => {
    const x = wt.tensor(randArray(8 * 10, 2), [8, 10], { requiresGrad: true });
    const y = ints([1, 2, 3, -100, 4, 5, 6, 7], [8], 'gpu');
    const w = wt.ones([10]);
    const count = (f: () => wt.Tensor) => {
      const l = f();
      const g = wt.ones([]);
      const d0 = wt.profiler.stats().dispatches;
      l.backward(g);
      const d1 = wt.profiler.stats().dispatches;
      x.zeroGrad();
      return d1 - d0;
    };
    const fwd = (f: () => wt.Tensor) => {
      const d0 = wt.profiler.stats().dispatches;
      const l = f();
      return [wt.profiler.stats().dispatches - d0, count(() => l)];
    };
    expect(fwd(() => crossEntropy(x, y))).toEqual([2, 1]);
    expect(fwd(() => crossEntropy(x, y, { weight: w, ignoreIndex: 3 }))).toEqual([2, 1]);
    // smoothing with weights adds the one-off sum of the weights
    expect(fwd(() => crossEntropy(x, y, { weight: w, labelSmoothing: 0.1 }))).toEqual([3, 1]);
    const z = wt.zeros([8, 10]);
    expect(fwd(() => mseLoss(x, z))).toEqual([2, 1]);
    // with ignoreIndex 3 the label -100 is out of range: the device check raises it at the next sync
    await expect(wt.sync()).rejects.toThrow(/crossEntropy: label -100 for 10 classes at row 3/);
  });

  it('the default call is unchanged: mean over the batch, and labels of -100 are ignored', async () => {
    const data = randArray(6 * 5, 3);
    const lab = [0, 4, -100, 2, 1, -100];
    for (const device of ['gpu', 'cpu'] as const) {
      const a = await lossAndGrad(device, data, [6, 5], (x) => crossEntropy(x, ints(lab, [6], device)));
      // the same rows without the ignored ones
      const keep = [0, 1, 3, 4];
      const sub = keep.flatMap((r) => Array.from(data.slice(r * 5, r * 5 + 5)));
      const b = await lossAndGrad(device, sub, [4, 5], (x) => crossEntropy(x, ints(keep.map((r) => lab[r]), [4], device)));
      expectClose(a.y, b.y, 1e-6, 1e-7, `${device} mean over the kept rows`);
      expectClose(keep.flatMap((r) => a.gx.slice(r * 5, r * 5 + 5)), b.gx, 1e-6, 1e-7, `${device} grad`);
      expect(a.gx.slice(10, 15).every((v) => v === 0)).toBe(true);
    }
  });
});

describe('loss gradchecks (float64, CPU)', () => {
  const w5 = () => wt.tensor(Float64Array.from([0.5, 2, 1, 0.25, 1.5]), [5], { device: 'cpu', dtype: 'float64' });
  for (const reduction of REDUCTIONS) {
    it(`crossEntropy weighted + smoothed + ignoreIndex, ${reduction}`, () => {
      const lab = wt.tensor([1, -100, 4, 0, 3, 2], [6], { device: 'cpu', dtype: 'int32' });
      const f = (x: wt.Tensor) => crossEntropy(x, lab, { reduction, weight: w5(), labelSmoothing: 0.3 });
      expect(wt.testing.gradcheck(f, [f64(randArray(30, 5, -2, 2), [6, 5])])).toBe(true);
    });
    it(`crossEntropy per-pixel [2, 3, 2, 3] with smoothing, ${reduction}`, () => {
      const lab = wt.tensor([0, 2, 1, -100, 2, 0, 1, 1, 2, 0, -100, 1], [2, 2, 3], { device: 'cpu', dtype: 'int32' });
      const f = (x: wt.Tensor) => crossEntropy(x, lab, { reduction, labelSmoothing: 0.2 });
      expect(wt.testing.gradcheck(f, [f64(randArray(36, 6, -2, 2), [2, 3, 2, 3])])).toBe(true);
    });
    it(`nllLoss weighted, ${reduction}`, () => {
      const lab = wt.tensor([4, 0, -100, 2], [4], { device: 'cpu', dtype: 'int32' });
      const f = (x: wt.Tensor) => nllLoss(x, lab, { reduction, weight: w5() });
      expect(wt.testing.gradcheck(f, [f64(randArray(20, 7, -3, 0), [4, 5])])).toBe(true);
    });
    it(`mseLoss and l1Loss, ${reduction}`, () => {
      const a = f64(randArray(15, 8), [3, 5]);
      const b = f64(randArray(15, 9), [3, 5]);
      expect(wt.testing.gradcheck((x, y) => mseLoss(x, y, { reduction }), [a, b])).toBe(true);
      expect(wt.testing.gradcheck((x, y) => l1Loss(x, y, { reduction }), [a, b])).toBe(true);
    });
    it(`binaryCrossEntropyWithLogits with weight and posWeight (logits and targets), ${reduction}`, () => {
      const x = f64(randArray(12, 10, -4, 4), [4, 3]);
      const t = f64(randArray(12, 11, 0, 1), [4, 3]);
      const weight = wt.tensor(Float64Array.from([0.5, 2, 1, 3]), [4, 1], { device: 'cpu', dtype: 'float64' });
      const posWeight = wt.tensor(Float64Array.from([3, 0.5, 1]), [3], { device: 'cpu', dtype: 'float64' });
      const f = (a: wt.Tensor, b: wt.Tensor) => binaryCrossEntropyWithLogits(a, b, { reduction, weight, posWeight });
      expect(wt.testing.gradcheck(f, [x, t])).toBe(true);
      expect(wt.testing.gradcheck((a, b) => binaryCrossEntropyWithLogits(a, b, { reduction }), [x, t])).toBe(true);
    });
  }
});

describe('cross-entropy forward layouts', () => {
  it("'rows' and 'lanes' give the CPU twin's lse and loss (weights, smoothing, ignored and bad rows)", async () => {
    for (const [b, c] of [[1, 1], [3, 1001], [257, 3], [5, 64], [2, 65]]) {
      const data = randArray(b * c, b * c, -6, 6);
      const lab = labelsFor(b, c, 2, 4);
      if (b > 2) lab[2] = c + 3; // a bad label
      const w = randArray(c, 9, 0.1, 2);
      const res: number[][] = [];
      const variants: [string, Partial<CeParams>][] = [['rows', { layout: 'rows' }], ['lanes', { layout: 'lanes' }], ['cpu', {}]];
      for (const [name, extra] of variants) {
        const device: Dev = name === 'cpu' ? 'cpu' : 'gpu';
        const x = wt.tensor(data, [b, c], { device });
        const y = ints(lab, [b], device);
        const weight = wt.tensor(w, [c], { device });
        const wsum = wt.tensor([Array.from(w).reduce((s, v) => s + v, 0)], [1], { device });
        const p: CeParams = { b, c, weighted: true, smoothing: 0.2, ...extra };
        const flag = wt.zeros([1], { device, dtype: 'int32' });
        const [lse, loss] = launch(ceForwardKernel, p, [x, y, weight, wsum, { shape: [b] }, { shape: [b] }, flag]);
        res.push([...(await lse.toArray()), ...(await loss.toArray()), ...(await flag.toArray())]);
      }
      expectClose(res[0], res[2], 1e-5, 1e-5, `rows [${b}, ${c}]`);
      expectClose(res[1], res[2], 1e-5, 1e-5, `lanes [${b}, ${c}]`);
    }
  });

  it("backward layouts 'flat' and 'rows' give the CPU twin's gradient ([N, C] and [N, C, S])", async () => {
    for (const [n, c, sp] of [[1, 1, 1], [3, 1001, 1], [257, 3, 1], [2, 5, 21], [3, 4, 7]]) {
      const rows = n * sp;
      const data = randArray(n * c * sp, c + sp, -4, 4);
      const lab = labelsFor(rows, c, 3, 3);
      if (rows > 2) lab[2] = -7; // a bad label
      const w = randArray(c, 9, 0.1, 2);
      const lse0 = randArray(rows, 10, 1, 3);
      const g0 = randArray(rows, 11);
      const res: number[][] = [];
      const layouts: [string, CeBackwardParams['bwdLayout']][] = [['flat', { mode: 'flat', wg: 256 }], ['rows', { mode: 'rows', wg: 8, rows: 8 }], ['cpu', undefined]];
      for (const [name, bwdLayout] of layouts) {
        const device: Dev = name === 'cpu' ? 'cpu' : 'gpu';
        const p: CeBackwardParams = { b: n, c, s: sp, weighted: true, smoothing: 0.3, scale: 0.5, perRow: true, bwdLayout };
        const wsum = Array.from(w).reduce((a, v) => a + v, 0);
        const args = [
          wt.tensor(data, [n, c, sp], { device }), ints(lab, [rows], device), wt.tensor(w, [c], { device }), wt.tensor([wsum], [1], { device }),
          wt.tensor(lse0, [rows], { device }), wt.tensor(g0, [rows], { device }), { shape: [n, c, sp] },
        ];
        res.push(Array.from(await launch(ceBackwardKernel, p, args)[0].toArray()));
      }
      expectClose(res[0], res[2], 1e-5, 1e-6, `flat [${n}, ${c}, ${sp}]`);
      expectClose(res[1], res[2], 1e-5, 1e-6, `rows [${n}, ${c}, ${sp}]`);
    }
  });

  it('the policy: lanes on software adapters, per-pixel and nll; rows for many classes on hardware', () => {
    const sw = { ...BASELINE_CAPS, software: true };
    expect(crossEntropyLayout({ c: 1000 }, sw)).toBe('lanes');
    expect(crossEntropyLayout({ c: 1000 }, BASELINE_CAPS)).toBe('rows');
    expect(crossEntropyLayout({ c: HARDWARE_LANES_MAX_CLASSES }, BASELINE_CAPS)).toBe('lanes');
    expect(crossEntropyLayout({ c: 1000, s: 4 }, BASELINE_CAPS)).toBe('lanes');
    expect(crossEntropyLayout({ c: 1000, nll: true }, BASELINE_CAPS)).toBe('lanes');
  });
});

describe('GPU vs CPU on awkward shapes', () => {
  const ceShapes: [number[], string][] = [
    [[1, 1], 'batch 1, one class'],
    [[1, 7], 'batch 1'],
    [[3, 1001], 'odd class count > workgroup'],
    [[257, 3], 'many rows, 3 classes'],
    [[2, 5, 3, 7], 'per-pixel, odd spatial'],
    [[1, 3, 1, 1], 'per-pixel 1x1'],
  ];
  for (const [shape, what] of ceShapes) {
    it(`crossEntropy ${what} ${JSON.stringify(shape)}: every option combination`, async () => {
      const c = shape[1];
      const n = shape.reduce((a, b) => a * b, 1);
      const rowsShape = [shape[0], ...shape.slice(2)];
      const rows = n / c;
      const data = randArray(n, n + c, -5, 5);
      const lab = labelsFor(rows, c, c, 3);
      const wData = randArray(c, 4, 0.2, 2);
      for (const reduction of REDUCTIONS)
        for (const weighted of [false, true])
          for (const labelSmoothing of [0, 0.1]) {
            const res: Awaited<ReturnType<typeof lossAndGrad>>[] = [];
            for (const device of ['gpu', 'cpu'] as const) {
              const weight = weighted ? wt.tensor(wData, [c], { device }) : undefined;
              const up = reduction === 'none' ? randArray(rows, 5) : undefined;
              res.push(await lossAndGrad(device, data, shape, (x) => crossEntropy(x, ints(lab, rowsShape, device), { reduction, weight, labelSmoothing }), up));
            }
            const tag = `${reduction} w=${weighted} ls=${labelSmoothing}`;
            expectClose(res[0].y, res[1].y, 1e-5, 1e-5, `${tag} loss`);
            expectClose(res[0].gx, res[1].gx, 1e-4, 1e-6, `${tag} grad`);
          }
    });
  }

  it('crossEntropy stays finite and accurate for logits of 1e4 with smoothing', async () => {
    const x0 = [1e4, -1e4, 0, 0, 1e4, 1e4, -1e4, 5e3, 1e4];
    const lab = [0, 0, 1];
    const ref = await lossAndGrad('cpu', x0, [3, 3], (x) => crossEntropy(x, ints(lab, [3], 'cpu'), { labelSmoothing: 0.1 }), undefined, 'float64');
    const got = await lossAndGrad('gpu', x0, [3, 3], (x) => crossEntropy(x, ints(lab, [3], 'gpu'), { labelSmoothing: 0.1 }));
    expect(got.gx.every(Number.isFinite)).toBe(true);
    expectClose(got.y, ref.y, 1e-6, 1e-2, 'large-logit smoothed loss');
    expectClose(got.gx, ref.gx, 2e-3, 1e-6, 'large-logit smoothed grad');
  });

  for (const n of [1, 7, 12, 4099, 6000])
    it(`mse / l1 / bce over ${n} elements, every reduction`, async () => {
      const a0 = randArray(n, 20 + n, -6, 6);
      const b0 = randArray(n, 21 + n, 0, 1);
      const fs: [string, (a: wt.Tensor, b: wt.Tensor, r: Reduction) => wt.Tensor][] = [
        ['mse', (a, b, reduction) => mseLoss(a, b, { reduction })],
        ['l1', (a, b, reduction) => l1Loss(a, b, { reduction })],
        ['bce', (a, b, reduction) => binaryCrossEntropyWithLogits(a, b, { reduction })],
      ];
      for (const [name, f] of fs)
        for (const reduction of REDUCTIONS) {
          const out: number[][] = [];
          for (const device of ['gpu', 'cpu'] as const) {
            const a = wt.tensor(a0, [n], { device, requiresGrad: true });
            const b = wt.tensor(b0, [n], { device, requiresGrad: true });
            const y = f(a, b, reduction);
            if (reduction === 'none') y.backward(wt.tensor(randArray(n, 5), [n], { device }));
            else y.backward();
            out.push([...(await y.toArray()), ...(await a.grad!.toArray()), ...(await b.grad!.toArray())]);
          }
          expectClose(out[0], out[1], 1e-4, 1e-6, `${name} ${reduction} n=${n}`);
        }
    });

  it('bce with posWeight [C] and weight [N, 1] on [5, 3]: GPU = CPU', async () => {
    const res: number[][] = [];
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(randArray(15, 30, -8, 8), [5, 3], { device, requiresGrad: true });
      const t = wt.tensor(randArray(15, 31, 0, 1), [5, 3], { device, requiresGrad: true });
      const weight = wt.tensor(randArray(5, 32, 0, 2), [5, 1], { device });
      const posWeight = wt.tensor([2, 0.5, 3], [3], { device });
      const y = binaryCrossEntropyWithLogits(x, t, { weight, posWeight, reduction: 'sum' });
      y.backward();
      res.push([...(await y.toArray()), ...(await x.grad!.toArray()), ...(await t.grad!.toArray())]);
    }
    expectClose(res[0], res[1], 1e-5, 1e-6, 'bce weighted');
  });
});

describe('binaryCrossEntropyWithLogits against PyTorch', () => {
  const cases = { bcePosWeight: refs.bcePosWeight, bceWeightColumn: refs.bceWeightColumn, bcePlain: refs.bcePlain };
  for (const [name, r] of Object.entries(cases))
    for (const device of ['gpu', 'cpu'] as const)
      it(`${name} on ${device}`, async () => {
        const weight = r.weight ? wt.tensor(r.weight, r.weightShape!, { device }) : undefined;
        const posWeight = r.posWeight ? wt.tensor(r.posWeight, r.posWeightShape!, { device }) : undefined;
        for (const reduction of REDUCTIONS) {
          const x = wt.tensor(r.x, r.shape, { device, requiresGrad: true });
          const t = wt.tensor(r.t, r.shape, { device, requiresGrad: true });
          const y = binaryCrossEntropyWithLogits(x, t, { reduction, weight, posWeight });
          if (reduction === 'none') y.backward(wt.tensor(r.noneUpstream, y.shape, { device }));
          else y.backward();
          expectClose(await y.toArray(), r[reduction], 2e-5, 1e-7, `${name} ${reduction} loss`);
          expectClose(await x.grad!.toArray(), r[`${reduction}Grad`], 2e-5, 1e-7, `${name} ${reduction} logits grad`);
          expectClose(await t.grad!.toArray(), r[`${reduction}TargetGrad`], 2e-5, 1e-6, `${name} ${reduction} targets grad`);
        }
      });

  it('keeps tiny losses accurate (log1p) on the GPU', async () => {
    const x = wt.tensor([20, -20, 40, 16], [4]);
    const t = wt.tensor([1, 0, 1, 1], [4]);
    const ref = [20, 20, 40, 16].map((v) => Math.log1p(Math.exp(-v)));
    expectClose(await binaryCrossEntropyWithLogits(x, t, { reduction: 'none' }).toArray(), ref, 1e-4, 0, 'tiny losses');
  });
});

describe('mseLoss / l1Loss values', () => {
  it('match the definitions; the default mseLoss is the mean as before', async () => {
    const a0 = randArray(10, 40);
    const b0 = randArray(10, 41);
    const d = Array.from(a0, (v, i) => v - b0[i]);
    for (const device of ['gpu', 'cpu'] as const) {
      const a = wt.tensor(a0, [2, 5], { device });
      const b = wt.tensor(b0, [2, 5], { device });
      expectClose([await wt.mseLoss(a, b).item()], [d.reduce((s, v) => s + v * v, 0) / 10], 1e-6, 1e-7, 'mse mean');
      expectClose([await mseLoss(a, b, { reduction: 'sum' }).item()], [d.reduce((s, v) => s + v * v, 0)], 1e-6, 1e-7, 'mse sum');
      expectClose(await mseLoss(a, b, { reduction: 'none' }).toArray(), d.map((v) => v * v), 1e-6, 1e-7, 'mse none');
      expectClose([await l1Loss(a, b).item()], [d.reduce((s, v) => s + Math.abs(v), 0) / 10], 1e-6, 1e-7, 'l1 mean');
      expectClose(await l1Loss(a, b, { reduction: 'none' }).toArray(), d.map(Math.abs), 1e-6, 1e-7, 'l1 none');
    }
  });

  it('l1 gradient is 0 where a == b; empty inputs give NaN (mean), 0 (sum), [] (none)', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      const a = wt.tensor([1, 2, 3], [3], { device, requiresGrad: true });
      l1Loss(a, wt.tensor([1, 0, 5], [3], { device }), { reduction: 'sum' }).backward();
      expect(Array.from(await a.grad!.toArray())).toEqual([0, 1, -1]);
      const e = wt.zeros([0, 3], { device });
      expect(Number.isNaN(await mseLoss(e, e).item())).toBe(true);
      expect(await l1Loss(e, e, { reduction: 'sum' }).item()).toBe(0);
      expect(mseLoss(e, e, { reduction: 'none' }).shape).toEqual([0, 3]);
      const ce = crossEntropy(wt.zeros([0, 4], { device }), wt.zeros([0], { device, dtype: 'int32' }));
      expect(Number.isNaN(await ce.item())).toBe(true);
    }
  });
});

describe('bad GPU labels and ignoreIndex', () => {
  it('counts out-of-range labels but not ignoreIndex rows; ignored rows get 0 loss and 0 grad', async () => {
    await crossEntropyLabelErrors(); // reset
    const x = wt.tensor(randArray(20, 1), [5, 4], { requiresGrad: true });
    const loss = crossEntropy(x, ints([0, 7, -100, 3, 2], [5], 'gpu'), { reduction: 'none', labelSmoothing: 0.1 });
    await expect(loss.toArray()).rejects.toThrow(/crossEntropy: label 7 for 4 classes at row 1 \(1 row with/);
    const l = await loss.toArray();
    expect(Number.isNaN(l[1])).toBe(true);
    expect(l[2]).toBe(0);
    expect([l[0], l[3], l[4]].every(Number.isFinite)).toBe(true);
    loss.sum().backward();
    const g = await x.grad!.toArray();
    expect(g.slice(4, 8).every(Number.isNaN)).toBe(true);
    expect(Array.from(g.slice(8, 12))).toEqual([0, 0, 0, 0]);
    expect(await crossEntropyLabelErrors()).toBe(1);
    const w = wt.ones([4]);
    nllLoss(x.detach(), ints([-1, 1, 5, 1, 5], [5], 'gpu'), { weight: w, ignoreIndex: 5 });
    expect(await wt.metrics.labelErrors()).toBe(1);
  });

  it('CPU labels are checked up front, except ignoreIndex', () => {
    const x = wt.zeros([3, 4], { device: 'cpu' });
    expect(() => crossEntropy(x, ints([0, 4, 1], [3], 'cpu'))).toThrow(/crossEntropy: label 4 at index 1 is out of range \[0, 4\) and is not ignoreIndex -100/);
    expect(() => crossEntropy(x, ints([0, -100, 1], [3], 'cpu'))).not.toThrow();
    expect(() => crossEntropy(x, ints([0, -100, 1], [3], 'cpu'), { ignoreIndex: 2 })).toThrow(/label -100 at index 1 .* not ignoreIndex 2/);
    expect(() => nllLoss(x, ints([0, 9, 1], [3], 'cpu'), { ignoreIndex: 9 })).not.toThrow();
  });
});

describe('loss argument errors', () => {
  const x = wt.zeros([3, 4], { device: 'cpu' });
  const y = ints([0, 1, 2], [3], 'cpu');
  it('name the op, the key or value and what is accepted', () => {
    expect(() => crossEntropy(x, y, { smoothing: 0.1 } as never)).toThrow(
      /crossEntropy: unknown option 'smoothing' \(accepted: reduction, labelSmoothing, weight, ignoreIndex\)/,
    );
    expect(() => crossEntropy(x, y, { reduction: 'avg' as never })).toThrow(/crossEntropy: reduction must be 'mean', 'sum' or 'none', got 'avg'/);
    expect(() => crossEntropy(x, y, { labelSmoothing: 1.5 })).toThrow(/crossEntropy: labelSmoothing must be a number in \[0, 1\], got 1.5/);
    expect(() => crossEntropy(x, y, { labelSmoothing: -0.1 })).toThrow(/labelSmoothing must be a number in \[0, 1\], got -0.1/);
    expect(() => crossEntropy(x, y, { ignoreIndex: 1.5 })).toThrow(/crossEntropy: ignoreIndex must be an int32 integer, got 1.5/);
    expect(() => crossEntropy(x, y, { weight: wt.ones([5], { device: 'cpu' }) })).toThrow(/crossEntropy: expected weight of shape \[4\] \(one per class\), got \[5\]/);
    expect(() => crossEntropy(x, y, { weight: wt.ones([4]) })).toThrow(/crossEntropy: the input is on cpu but weight is on gpu/);
    expect(() => crossEntropy(x, y, { weight: [1, 2, 3, 4] as never })).toThrow(/crossEntropy: weight must be a Tensor, got an array/);
    expect(() => crossEntropy(x, y, 'mean' as never)).toThrow(/crossEntropy: expected an options object/);
    expect(() => crossEntropy(wt.zeros([2, 3, 4], { device: 'cpu' }), ints([0, 1], [2], 'cpu'))).toThrow(
      /crossEntropy: expected labels of shape \[2,\s?4\] for logits \[2,\s?3,\s?4\], got \[2\]/,
    );
    expect(() => crossEntropy(wt.zeros([4], { device: 'cpu' }), ints([1], [1], 'cpu'))).toThrow(/crossEntropy: expected logits of shape \[B, C\]/);
    expect(() => nllLoss(x, y, { labelSmoothing: 0.1 } as never)).toThrow(/nllLoss: unknown option 'labelSmoothing' \(accepted: reduction, weight, ignoreIndex\)/);
    expect(() => nllLoss(x, wt.tensor([0, 1, 2], [3], { device: 'cpu' }))).toThrow(/nllLoss: expected int32 labels/);
    expect(() => mseLoss(x, wt.zeros([4, 3], { device: 'cpu' }))).toThrow(/mseLoss: shapes \[3,\s?4\] and \[4,\s?3\] differ/);
    expect(() => wt.mseLoss(x, wt.zeros([4, 3], { device: 'cpu' }))).toThrow(/mseLoss: shapes \[3,\s?4\] and \[4,\s?3\] differ/);
    expect(() => l1Loss(x, x, { reduction: 'mean', extra: 1 } as never)).toThrow(/l1Loss: unknown option 'extra' \(accepted: reduction\)/);
    expect(() => l1Loss(x, wt.zeros([3, 4]))).toThrow(/l1Loss: tensors are on different devices/);
    const op = 'binaryCrossEntropyWithLogits';
    expect(() => binaryCrossEntropyWithLogits(x, wt.zeros([3, 5], { device: 'cpu' }))).toThrow(
      new RegExp(`${op}: targets of shape \\[3,\\s?5\\] must have the logits' shape \\[3,\\s?4\\]`),
    );
    expect(() => binaryCrossEntropyWithLogits(x, x, { posWeight: wt.ones([3], { device: 'cpu' }) })).toThrow(
      new RegExp(`${op}: posWeight of shape \\[3\\] does not broadcast to the logits' shape \\[3,\\s?4\\]`),
    );
    expect(() => binaryCrossEntropyWithLogits(x, x, { weight: wt.ones([2, 3, 4], { device: 'cpu' }) })).toThrow(/weight of shape \[2,\s?3,\s?4\] does not broadcast/);
    expect(() => binaryCrossEntropyWithLogits(x, x, { pos_weight: x } as never)).toThrow(
      new RegExp(`${op}: unknown option 'pos_weight' \\(accepted: reduction, weight, posWeight\\)`),
    );
  });
});
