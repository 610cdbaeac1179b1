// crossEntropy (fused log-softmax + NLL, mean), accuracyCount, crossEntropySum, accumulateSum:
// reference values, GPU vs CPU, gradients, large logits, bad labels.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { Generator } from '../../src/tensor/random.ts';
import { f64 } from './layer_util.ts';

beforeAll(async () => {
  await initGpu();
});

function labelsFor(b: number, c: number, seed = 1): Int32Array {
  const g = new Generator(seed);
  return Int32Array.from({ length: b }, () => g.int(c));
}

/** Double-precision reference: mean loss and d(mean)/dlogits. */
function reference(x: ArrayLike<number>, labels: Int32Array, b: number, c: number) {
  let total = 0;
  const grad = new Float64Array(b * c);
  for (let r = 0; r < b; r++) {
    let m = -Infinity;
    for (let j = 0; j < c; j++) m = Math.max(m, x[r * c + j]);
    let s = 0;
    for (let j = 0; j < c; j++) s += Math.exp(x[r * c + j] - m);
    const lse = m + Math.log(s);
    total += lse - x[r * c + labels[r]];
    for (let j = 0; j < c; j++) grad[r * c + j] = (Math.exp(x[r * c + j] - lse) - (j === labels[r] ? 1 : 0)) / b;
  }
  return { loss: total / b, grad };
}

describe('crossEntropy', () => {
  for (const [b, c] of [[1, 1], [5, 7], [130, 10], [3, 1000], [64, 65], [257, 3]]) {
    it(`matches the reference on GPU and CPU for [${b}, ${c}]`, async () => {
      const data = randArray(b * c, b + c, -4, 4);
      const lab = labelsFor(b, c, c);
      const ref = reference(data, lab, b, c);
      for (const device of ['gpu', 'cpu'] as const) {
        const x = wt.tensor(data, [b, c], { device, requiresGrad: true });
        const loss = wt.crossEntropy(x, wt.tensor(lab, [b], { device, dtype: 'int32' }));
        expect(loss.shape).toEqual([]);
        expectClose(await loss.toArray(), [ref.loss], 1e-5, 1e-6, `${device} loss`);
        loss.backward();
        expectClose(await x.grad!.toArray(), ref.grad, 1e-4, 1e-7, `${device} grad`);
      }
    });
  }

  it('scales the gradient by the upstream gradient (GPU = CPU)', async () => {
    const data = randArray(6 * 9, 3);
    const lab = labelsFor(6, 9);
    const gs: ArrayLike<number>[] = [];
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(data, [6, 9], { device, requiresGrad: true });
      wt.crossEntropy(x, wt.tensor(lab, [6], { device, dtype: 'int32' })).mul(3).backward();
      gs.push(await x.grad!.toArray());
    }
    expectClose(gs[0], gs[1], 1e-5, 1e-7, 'grad parity');
    expectClose(gs[1], reference(data, lab, 6, 9).grad.map((v) => 3 * v), 1e-5, 1e-7, 'scaled');
  });

  it('gradchecks on float64 CPU', () => {
    const lab = wt.tensor(labelsFor(4, 5), [4], { device: 'cpu', dtype: 'int32' });
    expect(wt.testing.gradcheck((x) => wt.crossEntropy(x, lab), [f64(randArray(20, 5, -2, 2), [4, 5])])).toBe(true);
  });

  it('stays finite for logits of 1e4', async () => {
    const x = wt.tensor([1e4, -1e4, 0, 0, 1e4, 1e4, -1e4, 5e3, 1e4], [3, 3], { requiresGrad: true });
    const loss = wt.crossEntropy(x, wt.tensor([0, 0, 1], [3], { dtype: 'int32' }));
    // rows: 0 (label is the max), 1e4 + log 2 (label 1e4 below two maxima), 5e3
    expectClose(await loss.toArray(), [(1.5e4 + Math.log(2)) / 3], 1e-6, 1e-3, 'large logits');
    loss.backward();
    const g = await x.grad!.toArray();
    expect(g.every(Number.isFinite)).toBe(true);
    // f32 lse near 1e4 carries ~5e-4 absolute error, so softmax ~5e-4 relative
    expectClose(g, [0, 0, 0, -1 / 3, 0.5 / 3, 0.5 / 3, 0, -1 / 3, 1 / 3], 2e-3, 1e-7, 'large-logit grad');
  });

  it('rejects bad labels with clear errors', () => {
    const x = wt.zeros([3, 4]);
    const cpuX = wt.zeros([3, 4], { device: 'cpu' });
    expect(() => wt.crossEntropy(cpuX, wt.tensor([0, 4, 1], [3], { device: 'cpu', dtype: 'int32' }))).toThrow(
      /crossEntropy: label 4 at index 1 is out of range \[0, 4\)/,
    );
    expect(() => wt.crossEntropy(cpuX, wt.tensor([0, -1, 1], [3], { device: 'cpu', dtype: 'int32' }))).toThrow(
      /label -1 at index 1/,
    );
    expect(() => wt.crossEntropy(x, wt.tensor([0, 1, 2], [3]))).toThrow(/crossEntropy: expected int32 labels \(class indices\), got float32/);
    expect(() => wt.crossEntropy(x, wt.tensor([0, 1], [2], { dtype: 'int32' }))).toThrow(
      /crossEntropy: expected labels of shape \[3\] for logits \[3,\s?4\], got \[2\]/,
    );
    expect(() => wt.crossEntropy(wt.zeros([12]), wt.tensor([0], [1], { dtype: 'int32' }))).toThrow(
      /crossEntropy: expected logits of shape \[B, C\]/,
    );
    expect(() => wt.crossEntropy(x, wt.tensor([0, 1, 2], [3], { device: 'cpu', dtype: 'int32' }))).toThrow(
      /crossEntropy: logits are on gpu but labels are on cpu/,
    );
  });

  it('flags out-of-range GPU labels: raised at the next readback, NaN loss and a device-side counter', async () => {
    await wt.metrics.labelErrors(); // reset
    const x = wt.tensor(randArray(12, 1), [3, 4], { requiresGrad: true });
    const loss = wt.crossEntropy(x, wt.tensor([0, 7, -2], [3], { dtype: 'int32' }));
    await expect(loss.item()).rejects.toThrow(/crossEntropy: label (7|-2) for 4 classes at row [12] \(2 rows with a label outside \[0, 4\)/);
    expect(Number.isNaN(await loss.item())).toBe(true);
    loss.backward();
    const g = await x.grad!.toArray();
    expect(g.slice(0, 4).every(Number.isFinite)).toBe(true);
    expect(g.slice(4).every(Number.isNaN)).toBe(true);
    expect(await wt.metrics.labelErrors()).toBe(2);
    expect(await wt.metrics.labelErrors()).toBe(0);
  });
});

describe('accuracyCount / crossEntropySum / accumulateSum', () => {
  it('counts argmax hits (first maximum on ties) on GPU and CPU, and accumulates in place', async () => {
    const b = 200;
    const c = 10;
    const data = randArray(b * c, 8);
    for (let r = 0; r < 5; r++) data[r * c + 3] = data[r * c + 6] = 9; // ties: 3 wins
    const lab = labelsFor(b, c, 4);
    for (let r = 0; r < 5; r++) lab[r] = r % 2 ? 3 : 6;
    let hits = 0;
    for (let r = 0; r < b; r++) {
      let bi = 0;
      for (let j = 1; j < c; j++) if (data[r * c + j] > data[r * c + bi]) bi = j;
      if (bi === lab[r]) hits++;
    }
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(data, [b, c], { device });
      const y = wt.tensor(lab, [b], { device, dtype: 'int32' });
      const n = wt.metrics.accuracyCount(x, y);
      expect(n.shape).toEqual([]);
      expect(await n.item()).toBe(hits);
      const acc = wt.zeros([1], { device });
      expect(wt.metrics.accuracyCount(x, y, acc)).toBe(acc);
      wt.metrics.accuracyCount(x, y, acc);
      expect(await acc.item()).toBe(2 * hits);
    }
  });

  it('crossEntropySum is B x the mean and accumulates; accumulateSum adds scaled sums', async () => {
    const data = randArray(33 * 12, 9, -3, 3);
    const lab = labelsFor(33, 12, 2);
    const ref = reference(data, lab, 33, 12).loss * 33;
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(data, [33, 12], { device });
      const y = wt.tensor(lab, [33], { device, dtype: 'int32' });
      expectClose([await wt.metrics.crossEntropySum(x, y).item()], [ref], 1e-5, 1e-5, `${device} sum`);
      const acc = wt.zeros([], { device });
      wt.metrics.crossEntropySum(x, y, acc);
      wt.metrics.crossEntropySum(x, y, acc);
      expectClose([await acc.item()], [2 * ref], 1e-5, 1e-5, `${device} accumulated`);
      const tot = wt.zeros([1], { device });
      const v = wt.tensor(randArray(1000, 3), [10, 100], { device });
      const vs = Array.from(randArray(1000, 3)).reduce((a, z) => a + z, 0);
      wt.metrics.accumulateSum(tot, v, 0.5);
      wt.metrics.accumulateSum(tot, v, 0.5);
      expectClose([await tot.item()], [vs], 1e-5, 1e-4, `${device} accumulateSum`);
      expectClose([await wt.metrics.accumulateSum(null, v).item()], [vs], 1e-5, 1e-4, `${device} accumulateSum new`);
    }
  });

  it('rejects a bad accumulator', () => {
    const x = wt.zeros([2, 3]);
    const y = wt.tensor([0, 1], [2], { dtype: 'int32' });
    expect(() => wt.metrics.accuracyCount(x, y, wt.zeros([2]))).toThrow(/accuracyCount: expected a one-element accumulator/);
    expect(() => wt.metrics.accuracyCount(x, y, wt.zeros([1], { device: 'cpu' }))).toThrow(/accumulator is on cpu/);
  });
});
