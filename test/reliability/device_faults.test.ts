// Device-side faults raise at the next readback or sync, as CUDA device asserts do in PyTorch: a GPU
// label out of range (crossEntropy, nllLoss, the metrics) and, with checkNumerics, the first NaN /
// Inf of a loss or a leaf gradient. The records ride along with readbacks that happen anyway (no
// extra submit), are cleared when raised (training goes on), and checkNumerics off adds nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray } from '../helpers.ts';

const ints = (v: number[], device: 'cpu' | 'gpu' = 'gpu') => wt.tensor(v, [v.length], { dtype: 'int32', device });

beforeAll(async () => {
  await initGpu();
});
afterAll(async () => {
  await wt.init({ checkNumerics: false });
});

/** Submits and dispatches `f` causes. */
async function counted(f: () => Promise<unknown>): Promise<{ submits: number; dispatches: number }> {
  const s0 = wt.profiler.stats();
  await f();
  const s1 = wt.profiler.stats();
  return { submits: s1.submits - s0.submits, dispatches: s1.dispatches - s0.dispatches };
}

describe('bad GPU labels', () => {
  it('crossEntropy with label 10 of 3 classes throws at the next item(), naming the op, the label and the rows', async () => {
    const x = wt.tensor(randArray(4 * 3, 1), [4, 3], { requiresGrad: true });
    const loss = wt.crossEntropy(x, ints([0, 10, 2, 1]));
    await expect(loss.item()).rejects.toThrow(
      /^crossEntropy: label 10 for 3 classes at row 1 \(1 row with a label outside \[0, 3\); their loss and gradient are NaN\) \(found by a GPU kernel and raised at the next readback or sync/,
    );
    // raised once: the flags are cleared, the NaN loss reads back
    expect(Number.isNaN(await loss.item())).toBe(true);
  });

  it('throws at the next sync() too, and counts every bad row', async () => {
    const x = wt.randn([6, 3]);
    wt.crossEntropy(x, ints([5, 0, -1, 7, 1, 2]), { reduction: 'sum' });
    await expect(wt.sync()).rejects.toThrow(/crossEntropy: label (5|-1|7) for 3 classes at row [023] \(3 rows with a label outside \[0, 3\)/);
    await wt.sync(); // cleared
  });

  it('nllLoss, accuracyCount and crossEntropySum name themselves; ignoreIndex rows are no fault', async () => {
    const lp = wt.randn([3, 4]);
    wt.nllLoss(lp, ints([0, -100, 4]));
    await expect(wt.sync()).rejects.toThrow(/^nllLoss: label 4 for 4 classes at row 2 \(1 row/);
    wt.nllLoss(lp, ints([0, -100, 3]));
    await wt.sync();
    const acc = wt.metrics.accuracyCount(lp, ints([9, 0, 1]));
    await expect(acc.item()).rejects.toThrow(/^accuracyCount: label 9 for 4 classes at row 0/);
    wt.metrics.crossEntropySum(lp, ints([0, 1, 12]));
    await expect(wt.sync()).rejects.toThrow(/^crossEntropySum: label 12 for 4 classes at row 2/);
  });

  it('training continues after the error is raised', async () => {
    wt.manualSeed(3);
    const model = new wt.nn.Linear(5, 3);
    const opt = new wt.optim.SGD(model.parameters(), { lr: 0.5 });
    const x = wt.randn([8, 5]);
    const good = ints([0, 1, 2, 0, 1, 2, 0, 1]);
    const step = (labels: wt.Tensor) => {
      opt.zeroGrad();
      const loss = wt.crossEntropy(model.forward(x), labels);
      loss.backward();
      opt.step();
      return loss;
    };
    const first = await step(good).item();
    step(ints([0, 1, 2, 3, 1, 2, 0, 1])); // a bad batch: NaN gradients reach the weights
    await expect(wt.sync()).rejects.toThrow(/crossEntropy: label 3 for 3 classes at row 3/);
    // reset the poisoned weights and go on: no stale flag is raised again
    wt.manualSeed(3);
    const fresh = new wt.nn.Linear(5, 3);
    model.loadStateDict(fresh.stateDict());
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) losses.push(await step(good).item());
    expect(losses[0]).toBeCloseTo(first, 5);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[4]).toBeLessThan(losses[0]);
  });

  it('labelErrors() counts bad labels, raised or not, and reads back only when a check ran', async () => {
    await wt.metrics.labelErrors(); // reset
    const x = wt.randn([2, 3]);
    await expect(wt.crossEntropy(x, ints([3, 3])).item()).rejects.toThrow(/2 rows/);
    wt.nllLoss(x, ints([-5, 0]));
    expect(await wt.metrics.labelErrors()).toBe(3);
    expect(await wt.metrics.labelErrors()).toBe(0);
    expect((await counted(() => wt.metrics.labelErrors())).submits).toBe(0);
  });

  it('the records ride along with the readback: one submit per item(), as without checks', async () => {
    const x = wt.randn([16, 10]);
    const y = ints(Array.from({ length: 16 }, (_, i) => i % 10));
    const z = wt.randn([16, 10]);
    await wt.sync();
    const ce = await counted(() => wt.crossEntropy(x, y).item());
    const mse = await counted(() => wt.mseLoss(x, z).item());
    expect(ce.submits).toBe(1);
    expect(mse.submits).toBe(1);
    // and one submit for a sync after a checked op
    wt.crossEntropy(x, y);
    expect((await counted(() => wt.sync())).submits).toBe(1);
  });

  it('CPU labels are still checked before any work', () => {
    const x = wt.zeros([2, 3], { device: 'cpu' });
    expect(() => wt.crossEntropy(x, ints([0, 10], 'cpu'))).toThrow(/crossEntropy: label 10 at index 1 is out of range \[0, 3\)/);
  });
});

describe('checkNumerics', () => {
  /** Submits and dispatches of one mseLoss training step with a readback. */
  async function step(x: wt.Tensor, z: wt.Tensor) {
    await wt.sync();
    const c = await counted(async () => {
      const loss = wt.mseLoss(x, z);
      loss.backward();
      await loss.item();
    });
    x.zeroGrad();
    return c;
  }

  it('off (the default) costs nothing; on, one check dispatch per loss and leaf gradient and no extra submit', async () => {
    const x = wt.randn([4, 3], { requiresGrad: true });
    const z = wt.zeros([4, 3]);
    const off = await step(x, z);
    expect(off.submits).toBe(1);
    await wt.init({ checkNumerics: true });
    expect(await step(x, z)).toEqual({ submits: 1, dispatches: off.dispatches + 2 });
    await wt.init({ checkNumerics: false });
    expect(await step(x, z)).toEqual(off);
  });

  it('catches log(-1) producing NaN in a loss, naming the op, at the next readback', async () => {
    await wt.init({ checkNumerics: true });
    const x = wt.tensor([1, -1, 2, 3], [4], { requiresGrad: true });
    const loss = wt.mseLoss(wt.log(x), wt.zeros([4]));
    await expect(loss.item()).rejects.toThrow(/^checkNumerics: mseLoss's output \(the loss\) holds NaN at element 0/);
    // the gradient log's backward gives the leaf is NaN too
    loss.backward();
    await expect(wt.sync()).rejects.toThrow(/^checkNumerics: the gradient log's backward gave leaf \[4\] float32 on gpu holds NaN at element 1/);
  });

  it('names the op whose backward gave a leaf a non-finite gradient (sqrt at 0: Inf)', async () => {
    await wt.init({ checkNumerics: true });
    const w = wt.tensor([0, 4], [2], { requiresGrad: true });
    w.name = 'w';
    const loss = wt.sqrt(w).sum();
    loss.backward();
    await expect(w.grad!.toArray()).rejects.toThrow(/checkNumerics: the gradient sqrt's backward gave leaf 'w' \[2\] float32 on gpu holds Inf at element 0/);
  });

  it('on the CPU raises at once', async () => {
    await wt.init({ checkNumerics: true });
    const xc = wt.tensor([-1, 1], [2], { device: 'cpu' });
    expect(() => wt.mseLoss(wt.log(xc), wt.zeros([2], { device: 'cpu' }))).toThrow(
      /^checkNumerics: mseLoss's output \(the loss\) holds NaN at element 0$/,
    );
    await wt.init({ checkNumerics: false });
    expect(() => wt.mseLoss(wt.log(xc), wt.zeros([2], { device: 'cpu' }))).not.toThrow();
  });
});
