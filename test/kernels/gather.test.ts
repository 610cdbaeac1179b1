// The strided copy behind permute, expand and slices (src/kernels/gather.ts): both layouts against
// the CPU twin on permutations of awkward shapes (odd sizes, size-1 dims, rows longer than a run),
// broadcasts (stride 0) and offset slices, int32 words too; the dim collapsing rule.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray } from '../helpers.ts';
import { launch } from '../../src/tensor/launch.ts';
import { ROW_RUN, collapseGather, gatherKernel, type GatherParams } from '../../src/kernels/gather.ts';

beforeAll(initGpu);

/** Row-major strides of a shape. */
const stridesOf = (s: number[]) => s.map((_, i) => s.slice(i + 1).reduce((a, b) => a * b, 1));

/** Output shape and source strides of permuting a contiguous tensor of `shape` by `dims`. */
function permuted(shape: number[], dims: number[]): { shape: number[]; strides: number[] } {
  const st = stridesOf(shape);
  return { shape: dims.map((d) => shape[d]), strides: dims.map((d) => st[d]) };
}

async function parity(what: string, srcSize: number, p: GatherParams, dtype: 'float32' | 'int32' = 'float32'): Promise<void> {
  const data = dtype === 'int32' ? Array.from({ length: srcSize }, (_, i) => i * 7 - 3) : Array.from(randArray(srcSize, srcSize));
  const n = p.shape.reduce((a, b) => a * b, 1);
  const want = await launch(gatherKernel, p, [wt.tensor(data, [srcSize], { device: 'cpu', dtype }), { shape: [n], dtype }])[0].toArray();
  for (const layout of ['flat', 'rows'] as const) {
    const x = wt.tensor(data, [srcSize], { dtype });
    const y = launch(gatherKernel, { ...p, layout }, [x, { shape: [n], dtype }])[0];
    expect(Array.from(await y.toArray()), `${what} ${layout}`).toEqual(Array.from(want));
    [x, y].forEach((t) => t.dispose());
  }
}

describe('gather (strided copy): GPU layouts vs CPU twin', () => {
  const cases: [number[], number[]][] = [
    [[5], [0]],
    [[3, 7], [1, 0]],
    [[2, 16, 9], [0, 2, 1]], // the small-map conv's [B, P, C] -> [B, C, P]
    [[3, 5, 7], [1, 0, 2]], // [Cout, B, P]
    [[1, 9, 1, 4], [3, 1, 0, 2]], // size-1 dims
    [[2, 3, 150], [1, 0, 2]], // rows longer than a run
    [[2, 1, 3, 4, 5, 2], [5, 3, 1, 0, 4, 2]], // rank 6
    [[4, 6, 5], [0, 1, 2]], // identity: one contiguous run
  ];
  for (const [shape, dims] of cases)
    it(`permute ${JSON.stringify(shape)} by [${dims}]`, async () => {
      const n = shape.reduce((a, b) => a * b, 1);
      await parity('permute', n, { ...permuted(shape, dims), offset: 0 });
    });

  it('broadcasts (stride 0), offset slices and int32 words', async () => {
    // expand [3, 1, 5] -> [3, 4, 5]
    await parity('expand', 15, { shape: [3, 4, 5], strides: [5, 0, 1], offset: 0 });
    // x[1:, ::2, 3:] of a [4, 6, 70] tensor: rows of 67 elements
    await parity('slice', 4 * 6 * 70, { shape: [3, 3, 67], strides: [420, 140, 1], offset: 420 + 3 });
    await parity('int32 transpose', 35, { ...permuted([5, 7], [1, 0]), offset: 0 }, 'int32');
    await parity('scalar', 4, { shape: [], strides: [], offset: 2 });
  });

  it('collapses size-1 dims and dims contiguous in the source', () => {
    expect(collapseGather([2, 3, 4], [12, 4, 1])).toEqual({ shape: [24], strides: [1] });
    expect(collapseGather([2, 16, 9], [144, 1, 16])).toEqual({ shape: [2, 16, 9], strides: [144, 1, 16] });
    expect(collapseGather([3, 1, 5, 2], [10, 99, 2, 1])).toEqual({ shape: [30], strides: [1] });
    expect(collapseGather([3, 4, 5], [5, 0, 1])).toEqual({ shape: [3, 4, 5], strides: [5, 0, 1] });
    expect(collapseGather([1, 1], [5, 7])).toEqual({ shape: [1], strides: [0] });
    expect(ROW_RUN).toBeLessThan(150);
  });
});
