// Soak: 2,000 training steps of a small CNN with BatchNorm2d and Dropout, reading GPU-side metrics
// every 50 steps (and an eval pass at step 50 and every 500), must hold GPU memory exactly flat: memory().inUse
// identical from step 100 to 2,000 and no new pool buffers (buffersCreated constant).
// Its own file: memory() is process-wide.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

const STEPS = 2000;
const EVERY = 50;

describe('soak', () => {
  it(`${STEPS} steps of a CNN with BatchNorm2d and Dropout: memory flat from step 100, pool does not grow`, async () => {
    wt.manualSeed(7);
    const { nn } = wt;
    const net = new nn.Sequential(
      new nn.Conv2d(1, 4, 3, { padding: 1 }),
      new nn.BatchNorm2d(4),
      new nn.ReLU(),
      new nn.MaxPool2d(2),
      new nn.Dropout(0.25),
      new nn.Flatten(),
      new nn.Linear(4 * 4 * 4, 3),
    );
    const opt = new wt.optim.SGD(net.parameters(), { lr: 0.05, momentum: 0.9 });
    // a fixed batch whose class is readable from the image (the loss must fall)
    const B = 12;
    const img = new Float32Array(B * 64);
    const lab = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      lab[b] = b % 3;
      for (let i = 0; i < 64; i++) img[b * 64 + i] = ((i % 8) < 3 * (lab[b] + 1) - 1 ? 1 : -1) + 0.1 * Math.sin(b * 64 + i);
    }
    const x = wt.tensor(img, [B, 1, 8, 8]);
    const y = wt.tensor(lab, [B], { dtype: 'int32' });
    const lossSum = wt.zeros([]);
    const correct = wt.zeros([]);

    const step = () =>
      wt.scope(() => {
        opt.zeroGrad();
        const logits = net.forward(x) as wt.Tensor;
        const loss = wt.crossEntropy(logits, y);
        loss.backward();
        opt.step();
        wt.metrics.accumulateSum(lossSum, loss.detach());
        wt.metrics.accuracyCount(logits.detach(), y, correct);
      });

    let mem100 = -1;
    let created100 = -1;
    const mems: number[] = [];
    const losses: number[] = [];
    const t0 = performance.now();
    for (let i = 1; i <= STEPS; i++) {
      step();
      if (i % EVERY === 0) {
        // an async scope: what it makes after its awaits (the metric reset, the eval pass) is freed at its end
        await wt.scope(async () => {
          const [l, c] = await Promise.all([lossSum.item(), correct.item()]);
          losses.push(l / EVERY);
          expect(c).toBeGreaterThanOrEqual(0);
          wt.noGrad(() => {
            lossSum.copy_(lossSum.mul(0));
            correct.copy_(correct.mul(0));
          });
          if (i === EVERY || i % 500 === 0) {
            net.eval();
            const acc = await wt.noGrad(() => wt.metrics.accuracyCount(net.forward(x) as wt.Tensor, y)).item();
            expect(acc).toBeGreaterThanOrEqual(0);
            net.train();
          }
        });
        await wt.sync();
        const m = wt.memory();
        if (i === 100) {
          mem100 = m.inUse;
          created100 = m.buffersCreated;
        }
        if (i >= 100) {
          mems.push(m.inUse);
          expect(m.buffersCreated, `buffersCreated at step ${i}`).toBe(created100);
        }
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(`soak: ${STEPS} steps in ${seconds.toFixed(1)} s; loss ${losses[0].toFixed(3)} -> ${losses[losses.length - 1].toFixed(3)}`);
    expect(new Set(mems)).toEqual(new Set([mem100]));
    expect(losses[losses.length - 1]).toBeLessThan(losses[0] / 2);
    for (const t of [x, y, lossSum, correct]) t.dispose();
  });
});
