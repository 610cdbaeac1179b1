// A lost GPU device (simulated with GPUDevice.destroy(), as a driver reset or an unplugged GPU would
// lose it): every GPU call then throws a clear error naming the op, `await wt.init()` gives a
// working library on a new device, and tensors and modules from the old device say they are gone.
import { describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { destroyDeviceForTesting } from '../../src/backend/device.ts';
import { initGpu } from '../helpers.ts';

const LOST = /the GPU device was lost \(destroyed[^)]*\); every GPU tensor and module state on it is gone\. Call `await wt\.init\(\)` to get a new device/;
const GONE = /belongs to a GPU device that was lost; its data is gone/;

describe('device loss', () => {
  it('every call throws a clear error; init() again gives a working library; old tensors say they are gone', async () => {
    await initGpu();
    const old = wt.tensor([1, 2, 3]);
    const model = new wt.nn.Linear(3, 2);
    const cpu = wt.tensor([4, 5, 6], [3], { device: 'cpu' });
    expect(Array.from(await old.add(1).toArray())).toEqual([2, 3, 4]);
    const pending = old.mul(2); // recorded, not yet read

    await destroyDeviceForTesting();

    expect(() => wt.zeros([2])).toThrow(LOST);
    expect(() => wt.tensor([1, 2])).toThrow(LOST);
    await expect(wt.sync()).rejects.toThrow(LOST);
    expect(() => wt.flush()).toThrow(LOST);
    await expect(pending.toArray()).rejects.toThrow(GONE);
    await expect(old.toArray()).rejects.toThrow(GONE);
    expect(() => old.add(1)).toThrow(GONE);
    expect(() => model.forward(wt.tensor([[1, 2, 3]], undefined, { device: 'cpu' }))).toThrow(GONE);
    // CPU work is unaffected
    expect(Array.from(await cpu.mul(2).toArray())).toEqual([8, 10, 12]);

    const info = await wt.init();
    expect(info.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(wt.memory().inUse).toBe(0);
    const x = wt.tensor([1, 2, 3]);
    expect(Array.from(await x.mul(3).toArray())).toEqual([3, 6, 9]);
    await wt.sync();

    // the old tensors and parameters stay gone, with the op named
    await expect(old.toArray()).rejects.toThrow(new RegExp(`^toArray: tensor \\[3\\] \\(id \\d+\\) ${GONE.source}`));
    expect(() => wt.add(old, x)).toThrow(GONE);
    expect(() => model.forward(wt.ones([1, 3]))).toThrow(GONE);
    old.dispose(); // disposing them is fine

    // a model made on the new device trains
    const fresh = new wt.nn.Linear(3, 2);
    const opt = new wt.optim.SGD(fresh.parameters(), { lr: 0.1 });
    const loss = wt.mseLoss(fresh.forward(wt.ones([4, 3])), wt.zeros([4, 2]));
    loss.backward();
    opt.step();
    expect(Number.isFinite(await loss.item())).toBe(true);
  });
});
