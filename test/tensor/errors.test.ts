// Bad input: a clear Error naming the op and the offending values, thrown before any GPU work.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

/** Asserts fn throws a message matching re and that no GPU dispatch was recorded meanwhile. */
async function rejects(fn: () => unknown, re: RegExp): Promise<void> {
  const { runtime } = await import('../../src/backend/webgpu.ts');
  const rt = runtime();
  const run = rt.run.bind(rt);
  let dispatched = 0;
  // count dispatches of anything but the fill kernel that creates the inputs inside fn
  rt.run = ((k: { name: string }, p: unknown, b: unknown) => {
    if (k.name !== 'fill') dispatched++;
    return run(k as never, p as never, b as never);
  }) as typeof rt.run;
  try {
    expect(fn).toThrow(re);
  } finally {
    rt.run = run;
  }
  expect(dispatched).toBe(0);
}

describe('bad input', () => {
  it('shape mismatch / impossible broadcast', async () => {
    await rejects(() => wt.ones([2, 3]).add(wt.ones([4])), /add: shapes \[2,3\] and \[4\] cannot broadcast/);
    await rejects(() => wt.ones([2, 3]).mul(wt.ones([3, 2])), /mul: shapes \[2,3\] and \[3,2\] cannot broadcast/);
    await rejects(() => wt.matmul(wt.ones([2, 3]), wt.ones([4, 5])), /matmul: inner dimensions differ: \[2,3\] @ \[4,5\]/);
    await rejects(() => wt.ones([2]).expand([3, 4]), /expand: shapes \[2\] and \[3,4\] cannot broadcast/);
  });
  it('reshape to another element count', async () => {
    await rejects(() => wt.ones([2, 3]).reshape([4, 2]), /reshape: cannot reshape \[2,3\] \(6 elements\) to \[4,2\] \(8 elements\)/);
    await rejects(() => wt.ones([2, 3]).reshape([-1, 4]), /reshape: cannot reshape \[2,3\]/);
    await rejects(() => wt.ones([2, 3]).reshape([-1, -1]), /only one dimension can be -1/);
  });
  it('tensors on different devices', async () => {
    await rejects(() => wt.ones([2], { device: 'cpu' }).add(wt.ones([2], { device: 'gpu' })), /add: tensors are on different devices \(cpu and gpu\)/);
  });
  it('a disposed tensor', async () => {
    const t = wt.ones([3]);
    t.dispose();
    await rejects(() => t.add(1), /add: tensor \[3\] \(id \d+\) was disposed/);
    await expect(t.toArray()).rejects.toThrow(/toArray: tensor \[3\] .* was disposed/);
  });
  it('non-finite shapes and negative sizes', async () => {
    await rejects(() => wt.zeros([2, -1]), /zeros|full: invalid shape \[2,-1\]/);
    await rejects(() => wt.zeros([Infinity]), /invalid shape \[Infinity\]/);
    await rejects(() => wt.ones([NaN]), /invalid shape \[NaN\]/);
    await rejects(() => wt.randn([1.5]), /randn: invalid shape \[1.5\]/);
    await rejects(() => wt.tensor([1, 2, 3], [2, 2]), /tensor: 3 values do not fill shape \[2,2\] \(4 elements\)/);
  });
  it('bad axes, dtypes and arguments', async () => {
    await rejects(() => wt.ones([2, 3]).sum(2), /sum: axis 2 is out of range for a tensor of rank 2/);
    await rejects(() => wt.ones([2, 3]).permute([0, 0]), /permute: dims \[0,0\] are not a permutation/);
    await rejects(() => wt.tensor([1, 2], [2], { dtype: 'int32' }).exp(), /exp: expected a float tensor, got int32/);
    await rejects(() => wt.tensor([1.5], [1], { dtype: 'int32' }), /int32 data must be integers, got 1.5/);
    expect(() => wt.tensor([1], [1], { device: 'gpu', dtype: 'float64' })).toThrow(/float64 is CPU-only/);
    expect(() => wt.arange(0, 1, 0)).toThrow(/arange: step must be non-zero/);
    await expect(wt.ones([2]).item()).rejects.toThrow(/item: expected a tensor with 1 element, got shape \[2\]/);
  });
});
