// Submits and waits: `await wt.flush()` waits for that submit, `wt.sync({ inFlight })` keeps a bounded
// number of steps on the GPU, and repeated dispatches reuse their bind groups.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { runtime } from '../../src/backend/webgpu.ts';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

/** A step of GPU work: a few dispatches over x, summed into acc (so steps depend on each other). */
function step(x: wt.Tensor, acc: wt.Tensor): void {
  wt.tidy(() => {
    const y = x.matmul(x).relu().sum();
    acc.copy_(acc.add(y));
  });
}

describe('flush and sync', () => {
  it('await wt.flush() resolves once the GPU has finished that submit', async () => {
    const rt = runtime();
    const x = wt.randn([64, 64]);
    await wt.sync();
    const before = rt.lastSubmit;
    wt.tidy(() => void x.matmul(x));
    const fence = wt.flush();
    expect(fence).toBeInstanceOf(wt.SubmitFence);
    expect(rt.lastSubmit).toBe(before + 1);
    expect(rt.submitsDone).toBeLessThan(rt.lastSubmit);
    await fence;
    expect(rt.submitsDone).toBeGreaterThanOrEqual(before + 1);
    // nothing recorded: the fence of the last submit, already done
    await wt.flush();
    // a fence works with then / catch / finally too
    let done = false;
    await wt.flush().finally(() => (done = true));
    expect(done).toBe(true);
    x.dispose();
  });

  it('sync({ inFlight: 1 }) leaves at most the latest step running', async () => {
    const rt = runtime();
    const x = wt.randn([96, 96]).mul(0.01);
    const acc = wt.zeros([]);
    await wt.sync();
    const want = wt.zeros([], { device: 'cpu' });
    const xc = await x.to('cpu');
    for (let i = 0; i < 6; i++) {
      step(x, acc);
      step(xc, want);
      const submitsBefore = rt.lastSubmit;
      await wt.sync({ inFlight: 1 });
      // this call submitted the step; every earlier submit has finished
      expect(rt.lastSubmit).toBe(submitsBefore + 1);
      expect(rt.submitsDone).toBeGreaterThanOrEqual(rt.lastSubmit - 1);
    }
    await wt.sync({ inFlight: 2 });
    await wt.sync();
    expect(rt.submitsDone).toBe(rt.lastSubmit);
    expect(Math.abs((await acc.item()) - (await want.item()))).toBeLessThan(1e-3 * Math.abs(await want.item()) + 1e-4);
    for (const t of [x, acc, want, xc]) t.dispose();
  });

  it('sync({ inFlight: 2 }) keeps two steps in flight at most', async () => {
    const rt = runtime();
    const x = wt.randn([64, 64]);
    const acc = wt.zeros([]);
    for (let i = 0; i < 5; i++) {
      step(x, acc);
      await wt.sync({ inFlight: 2 });
      expect(rt.submitsDone).toBeGreaterThanOrEqual(rt.lastSubmit - 2);
    }
    await wt.sync();
    x.dispose();
    acc.dispose();
  });

  it('rejects a bad inFlight', async () => {
    await expect(wt.sync({ inFlight: -1 })).rejects.toThrow(/inFlight must be an integer >= 0, got -1/);
    await expect(wt.sync({ inFlight: 1.5 })).rejects.toThrow(/inFlight/);
  });
});

describe('bind groups', () => {
  it('a repeated step reuses its bind groups; destroying pooled buffers starts the cache over', async () => {
    const x = wt.randn([32, 48]);
    const w = wt.randn([48, 16]);
    const chain = () =>
      wt.tidy(() => {
        const y = x.matmul(w).relu().mul(2).sum(1);
        return wt.keep(y);
      });
    const y0 = chain();
    const want = await y0.toArray();
    y0.dispose();
    // the pool settles into the same buffers per step after a step or two
    for (let i = 0; i < 2; i++) chain().dispose();
    const before = wt.profiler.stats().bindGroups;
    for (let i = 0; i < 5; i++) chain().dispose();
    await wt.sync();
    expect(wt.profiler.stats().bindGroups).toBe(before);
    // destroyed buffers: the cache is dropped and rebuilt, results unchanged
    runtime().pool.trim();
    const y1 = chain();
    expect(wt.profiler.stats().bindGroups).toBeGreaterThan(before);
    expect(Array.from(await y1.toArray())).toEqual(Array.from(want));
    y1.dispose();
    x.dispose();
    w.dispose();
  });
});
