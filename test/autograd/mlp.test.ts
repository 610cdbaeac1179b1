// Its own file: wt.memory() is process-wide, and garbage from other tests would be reclaimed
// (FinalizationRegistry) at random moments during the measurement.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

describe('training', () => {
  it('trains a 2-layer MLP on the GPU: loss falls >= 10x, memory flat from step 2 to 200', async () => {
    wt.manualSeed(0);
    // synthetic regression: y = sin(2 x0) + x1^2 - x2
    const n = 128;
    const xs = wt.rand([n, 3], { low: -1, high: 1 });
    const xa = await xs.toArray();
    const ys = new Float32Array(n);
    for (let i = 0; i < n; i++) ys[i] = Math.sin(2 * xa[i * 3]) + xa[i * 3 + 1] ** 2 - xa[i * 3 + 2];
    const yt = wt.tensor(ys, [n, 1]);
    const w1 = wt.randn([3, 64], { std: 0.5, requiresGrad: true });
    const b1 = wt.zeros([64], { requiresGrad: true });
    const w2 = wt.randn([64, 1], { std: 0.1, requiresGrad: true });
    const b2 = wt.zeros([1], { requiresGrad: true });
    const params = [w1, b1, w2, b2];
    const lr = 0.3;
    const step = () =>
      wt.tidy(() => {
        const h = xs.matmul(w1).add(b1).relu();
        const loss = wt.mseLoss(h.matmul(w2).add(b2), yt);
        loss.backward();
        wt.noGrad(() => {
          for (const p of params) {
            p.copy_(p.sub(p.grad!.mul(lr)));
            p.zeroGrad();
          }
        });
        return loss;
      });
    const l0 = step();
    const first = await l0.item();
    l0.dispose();
    step().dispose();
    const mem2 = wt.memory().inUse;
    let last = first;
    for (let i = 2; i < 200; i++) {
      const l = step();
      if (i === 199) last = await l.item();
      l.dispose();
    }
    await wt.sync();
    expect(wt.memory().inUse).toBe(mem2);
    expect(last).toBeLessThan(first / 10);
  });
});
