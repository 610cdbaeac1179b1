import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

describe('creation', () => {
  it('builds from nested arrays, typed arrays and scalars', async () => {
    const a = wt.tensor([[1, 2, 3], [4, 5, 6]]);
    expect(a.shape).toEqual([2, 3]);
    expect(a.device).toBe('gpu');
    expect(await a.toList()).toEqual([[1, 2, 3], [4, 5, 6]]);
    const b = wt.tensor(new Float32Array([1, 2, 3, 4]), [2, 2], { device: 'cpu' });
    expect(b.device).toBe('cpu');
    expect(Array.from(await b.toArray())).toEqual([1, 2, 3, 4]);
    const s = wt.tensor(3.5);
    expect(s.shape).toEqual([]);
    expect(await s.item()).toBe(3.5);
    const i = wt.tensor([1, -2, 3], [3], { dtype: 'int32' });
    expect(await i.toArray()).toEqual(new Int32Array([1, -2, 3]));
  });

  it('zeros, ones, full, arange on both devices', async () => {
    for (const device of ['cpu', 'gpu'] as const) {
      expect(Array.from(await wt.zeros([2, 2], { device }).toArray())).toEqual([0, 0, 0, 0]);
      expect(Array.from(await wt.ones([3], { device }).toArray())).toEqual([1, 1, 1]);
      expect(Array.from(await wt.full([2], 7.25, { device }).toArray())).toEqual([7.25, 7.25]);
      expect(Array.from(await wt.arange(5, undefined, 1, { device }).toArray())).toEqual([0, 1, 2, 3, 4]);
      expect(Array.from(await wt.arange(1, 2, 0.25, { device }).toArray())).toEqual([1, 1.25, 1.5, 1.75]);
      expect(Array.from(await wt.arange(0, 3, 1, { device, dtype: 'int32' }).toArray())).toEqual([0, 1, 2]);
    }
  });

  it('rand / randn are reproducible from manualSeed and have the right moments', async () => {
    wt.manualSeed(42);
    const a = Array.from(await wt.randn([10000]).toArray());
    wt.manualSeed(42);
    const b = Array.from(await wt.randn([10000]).toArray());
    expect(a).toEqual(b);
    const mean = a.reduce((s, v) => s + v, 0) / a.length;
    const varc = a.reduce((s, v) => s + (v - mean) ** 2, 0) / a.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(varc - 1)).toBeLessThan(0.05);
    const u = Array.from(await wt.rand([10000], { low: 2, high: 3 }).toArray());
    expect(Math.min(...u)).toBeGreaterThanOrEqual(2);
    expect(Math.max(...u)).toBeLessThan(3);
    wt.manualSeed(43);
    const c = await wt.randn([10]).toArray();
    expect(Array.from(c)).not.toEqual(Array.from(a.slice(0, 10)));
  });

  it('moves between devices', async () => {
    const a = wt.tensor([1, 2, 3], [3], { device: 'cpu', dtype: 'float64' });
    const g = await a.to('gpu');
    expect(g.device).toBe('gpu');
    expect(g.dtype).toBe('float32');
    const c = await g.to('cpu');
    expect(c.device).toBe('cpu');
    expect(Array.from(await c.toArray())).toEqual([1, 2, 3]);
  });

  it('0-d and empty tensors', async () => {
    const z = wt.tensor(2);
    expect(await z.add(wt.tensor(3)).item()).toBe(5);
    expect(await z.sum().item()).toBe(2);
    const e = wt.zeros([0, 3]);
    expect(e.size).toBe(0);
    expect((await e.add(1).toArray()).length).toBe(0);
    expect(await e.sum().item()).toBe(0);
  });
});
