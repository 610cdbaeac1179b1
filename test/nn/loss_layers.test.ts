// Loss modules: CrossEntropyLoss (with its options), NLLLoss, MSELoss, L1Loss, BCEWithLogitsLoss:
// the same values and gradients as the functional forms, torch's buffer names in the state dict,
// device moves, option errors at construction naming the module, and a gradcheck through a module.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';
import { f64 } from '../kernels/layer_util.ts';
import { CrossEntropyLoss } from '../../src/nn/cross_entropy_loss.ts';
import { BCEWithLogitsLoss, L1Loss, MSELoss, NLLLoss } from '../../src/nn/loss_layers.ts';
import { crossEntropy, nllLoss } from '../../src/autograd/loss.ts';
import { binaryCrossEntropyWithLogits, l1Loss, mseLoss } from '../../src/autograd/elementwise_loss_fn.ts';
import * as refs from '../kernels/loss_torch_refs.ts';

beforeAll(async () => {
  await initGpu();
});

const ints = (v: number[], shape: number[], device: 'cpu' | 'gpu' = 'gpu') =>
  wt.tensor(Int32Array.from(v), shape, { device, dtype: 'int32' });

async function same(a: wt.Tensor, b: wt.Tensor, what: string) {
  expect(a.shape).toEqual(b.shape);
  expectClose(await a.toArray(), await b.toArray(), 0, 0, what);
}

describe('CrossEntropyLoss', () => {
  it('defaults to the mean, as before', async () => {
    const logits = wt.tensor([[2, 0, -1], [0.5, 0.5, 3]]);
    const loss = await new CrossEntropyLoss().call(logits, ints([0, 2], [2])).item();
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    expect(loss).toBeCloseTo((lse([2, 0, -1]) - 2 + lse([0.5, 0.5, 3]) - 3) / 2, 5);
  });

  it('with weight, labelSmoothing, ignoreIndex and reduction matches PyTorch (loss and grad)', async () => {
    const r = refs.ceWeightedSmoothedIgnored;
    for (const reduction of ['mean', 'sum', 'none'] as const) {
      const m = new CrossEntropyLoss({ weight: wt.tensor(r.weight, [7]), labelSmoothing: r.smoothing, reduction, ignoreIndex: -100 });
      const x = wt.tensor(r.x, r.shape, { requiresGrad: true });
      const y = m.call(x, ints(r.labels, [5]));
      if (reduction === 'none') y.backward(wt.tensor(r.noneUpstream, [5]));
      else y.backward();
      expectClose(await y.toArray(), r[reduction], 2e-5, 2e-6, `${reduction} loss`);
      expectClose(await x.grad!.toArray(), r[`${reduction}Grad`], 1e-4, 2e-6, `${reduction} grad`);
    }
  });

  it('keeps weight as a buffer named like torch (state dict when set) and moves it with to()', async () => {
    const m = new CrossEntropyLoss({ weight: wt.tensor([1, 2, 3], [3]) });
    expect(m.parameters()).toEqual([]);
    expect(Object.keys(m.stateDict())).toEqual(['weight']);
    expect(Object.keys(new CrossEntropyLoss().stateDict())).toEqual([]);
    await m.to('cpu');
    expect(m.weight!.device).toBe('cpu');
    const x = wt.tensor(randArray(6, 2), [2, 3], { device: 'cpu' });
    const y = ints([2, 0], [2], 'cpu');
    await same(m.call(x, y), crossEntropy(x, y, { weight: m.weight }), 'moved weight');
    expect(m.reduction).toBe('mean');
    expect(m.ignoreIndex).toBe(-100);
    expect(m.labelSmoothing).toBe(0);
  });

  it('gradchecks through the module in float64 on the CPU', () => {
    const w = wt.tensor(Float64Array.from([0.5, 1, 2, 1.5]), [4], { device: 'cpu', dtype: 'float64' });
    const m = new CrossEntropyLoss({ weight: w, labelSmoothing: 0.15, ignoreIndex: 3 });
    const lab = ints([0, 3, 2, 1, 3], [5], 'cpu');
    expect(wt.testing.gradcheck((x) => m.call(x, lab), [f64(randArray(20, 3, -2, 2), [5, 4])])).toBe(true);
  });
});

describe('NLLLoss, MSELoss, L1Loss, BCEWithLogitsLoss', () => {
  it('give the functional results with their stored options (GPU and CPU)', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      const a = wt.tensor(randArray(12, 5, -3, 3), [4, 3], { device });
      const b = wt.tensor(randArray(12, 6, 0, 1), [4, 3], { device });
      const lab = ints([2, -100, 0, 1], [4], device);
      const w = wt.tensor([0.5, 2, 1], [3], { device });
      for (const reduction of ['mean', 'sum', 'none'] as const) {
        await same(new MSELoss({ reduction }).call(a, b), mseLoss(a, b, { reduction }), `mse ${reduction}`);
        await same(new L1Loss({ reduction }).call(a, b), l1Loss(a, b, { reduction }), `l1 ${reduction}`);
        await same(new NLLLoss({ reduction, weight: w }).call(a, lab), nllLoss(a, lab, { reduction, weight: w }), `nll ${reduction}`);
        await same(
          new BCEWithLogitsLoss({ reduction, weight: w, posWeight: w }).call(a, b),
          binaryCrossEntropyWithLogits(a, b, { reduction, weight: w, posWeight: w }),
          `bce ${reduction}`,
        );
      }
    }
  });

  it('BCEWithLogitsLoss with pos_weight matches PyTorch and names its buffers weight and pos_weight', async () => {
    const r = refs.bcePosWeight;
    const m = new BCEWithLogitsLoss({ weight: wt.tensor(r.weight, r.weightShape), posWeight: wt.tensor(r.posWeight, r.posWeightShape) });
    expect(Object.keys(m.stateDict())).toEqual(['weight', 'pos_weight']);
    expect(Object.keys(new BCEWithLogitsLoss({ posWeight: wt.ones([3]) }).stateDict())).toEqual(['pos_weight']);
    const x = wt.tensor(r.x, r.shape, { requiresGrad: true });
    const loss = m.call(x, wt.tensor(r.t, r.shape));
    loss.backward();
    expectClose([await loss.item()], r.mean, 2e-5, 1e-7, 'loss');
    expectClose(await x.grad!.toArray(), r.meanGrad, 2e-5, 1e-7, 'grad');
  });

  it('NLLLoss keeps weight as a buffer; the elementwise losses have no state', () => {
    expect(Object.keys(new NLLLoss({ weight: wt.ones([3]) }).stateDict())).toEqual(['weight']);
    expect(Object.keys(new MSELoss().stateDict())).toEqual([]);
    expect(new L1Loss().reduction).toBe('mean');
    expect(new NLLLoss({ ignoreIndex: 2 }).ignoreIndex).toBe(2);
  });

  it('gradcheck MSELoss and BCEWithLogitsLoss in float64', () => {
    const a = f64(randArray(10, 7, -3, 3), [2, 5]);
    const b = f64(randArray(10, 8, 0, 1), [2, 5]);
    const pw = wt.tensor(Float64Array.from([1, 2, 0.5, 3, 1]), [5], { device: 'cpu', dtype: 'float64' });
    expect(wt.testing.gradcheck((x, y) => new MSELoss({ reduction: 'sum' }).call(x, y), [a, b])).toBe(true);
    expect(wt.testing.gradcheck((x, y) => new BCEWithLogitsLoss({ posWeight: pw }).call(x, y), [a, b])).toBe(true);
  });
});

describe('loss module option errors', () => {
  it('name the module and the bad key or value', () => {
    expect(() => new CrossEntropyLoss({ label_smoothing: 0.1 } as never)).toThrow(
      /CrossEntropyLoss: unknown option 'label_smoothing' \(accepted: reduction, labelSmoothing, weight, ignoreIndex\)/,
    );
    expect(() => new CrossEntropyLoss({ reduction: 'batchmean' as never })).toThrow(/CrossEntropyLoss: reduction must be 'mean', 'sum' or 'none', got 'batchmean'/);
    expect(() => new CrossEntropyLoss({ labelSmoothing: 2 })).toThrow(/CrossEntropyLoss: labelSmoothing must be a number in \[0, 1\], got 2/);
    expect(() => new CrossEntropyLoss({ ignoreIndex: 0.5 })).toThrow(/CrossEntropyLoss: ignoreIndex must be an int32 integer, got 0.5/);
    expect(() => new CrossEntropyLoss({ weight: [1, 2] as never })).toThrow(/CrossEntropyLoss: weight must be a Tensor or null, got an array/);
    expect(() => new CrossEntropyLoss({ weight: ints([1, 2], [2]) })).toThrow(/CrossEntropyLoss: weight must be a float tensor, got int32/);
    expect(() => new NLLLoss({ labelSmoothing: 0.1 } as never)).toThrow(/NLLLoss: unknown option 'labelSmoothing' \(accepted: reduction, weight, ignoreIndex\)/);
    expect(() => new MSELoss({ reduction: 'elementwise_mean' as never })).toThrow(/MSELoss: reduction must be/);
    expect(() => new L1Loss({ size_average: true } as never)).toThrow(/L1Loss: unknown option 'size_average' \(accepted: reduction\)/);
    expect(() => new BCEWithLogitsLoss({ pos_weight: wt.ones([2]) } as never)).toThrow(
      /BCEWithLogitsLoss: unknown option 'pos_weight' \(accepted: reduction, weight, posWeight\)/,
    );
    expect(() => new BCEWithLogitsLoss({ posWeight: 3 as never })).toThrow(/BCEWithLogitsLoss: posWeight must be a Tensor or null, got 3/);
    // shape errors surface at forward, naming the function
    const m = new CrossEntropyLoss({ weight: wt.ones([4]) });
    expect(() => m.call(wt.zeros([2, 3]), ints([0, 1], [2]))).toThrow(/crossEntropy: expected weight of shape \[3\] \(one per class\), got \[4\]/);
  });
});
