import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { gpuVsCpu, initGpu, randArray } from '../helpers.ts';

beforeAll(initGpu);

describe('views and copies', () => {
  it('reshape / flatten / squeeze / unsqueeze share storage (no copy)', async () => {
    const a = wt.arange(24).reshape([2, 3, 4]);
    const f = a.flatten(1);
    expect(f.shape).toEqual([2, 12]);
    expect(a.reshape([-1]).shape).toEqual([24]);
    expect(a.unsqueeze(0).shape).toEqual([1, 2, 3, 4]);
    expect(a.unsqueeze(-1).shape).toEqual([2, 3, 4, 1]);
    expect(wt.ones([1, 3, 1]).squeeze().shape).toEqual([3]);
    expect(wt.ones([1, 3, 1]).squeeze(0).shape).toEqual([3, 1]);
    expect(f._storage.kind === 'gpu' && a._storage.kind === 'gpu' && f._storage.gpu === a._storage.gpu).toBe(true);
    // disposing a view leaves the original readable
    f.dispose();
    expect((await a.toArray())[23]).toBe(23);
  });
  it('transpose / permute / expand copy, GPU vs CPU', async () => {
    const d = randArray(2 * 3 * 4 * 5, 5);
    await gpuVsCpu((device) => wt.tensor(d, [2, 3, 4, 5], { device }).permute([3, 1, 0, 2]), 0, 0, 'permute');
    await gpuVsCpu((device) => wt.tensor(d, [6, 20], { device }).transpose(), 0, 0, 'transpose');
    await gpuVsCpu((device) => wt.tensor(d, [2, 3, 4, 5], { device }).transpose(0, 2), 0, 0, 'transpose 0,2');
    await gpuVsCpu((device) => wt.tensor(d.slice(0, 3), [3, 1], { device }).expand([2, 3, 4]), 0, 0, 'expand');
    expect(await wt.tensor([[1, 2], [3, 4]]).T.toList()).toEqual([[1, 3], [2, 4]]);
    const i = wt.tensor([[1, 2], [3, 4]], undefined, { dtype: 'int32' }).permute([1, 0]);
    expect(Array.from(await i.toArray())).toEqual([1, 3, 2, 4]);
  });
});
