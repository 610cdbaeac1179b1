// The softmax floor passes (bench/lib/floor-kernels.ts) against their CPU twins on the GPU: rows of
// a length that leaves a tail after the 4-per-step loop, one row, and every op; a bad row length.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';
import { type RowPassParams, rowPassKernel } from '../../bench/lib/floor-kernels.ts';

beforeAll(async () => {
  await initGpu();
});

/** Run op on the GPU and the CPU twin over inputs `ins` ([rows, r] or [rows]); compare the output. */
async function check(p: RowPassParams, ins: Float32Array[], outLen: number) {
  const gpuIns = ins.map((a) => wt.tensor(a));
  const out = wt.zeros([outLen]);
  wt.kernels.runKernel(rowPassKernel, p, [...gpuIns, out]);
  const got = await out.toArray();
  const want = new Float32Array(outLen);
  rowPassKernel.cpu(p, [...ins, want]);
  expectClose(got, want, 1e-5, 1e-5, `${p.op} ${p.rows}x${p.r} wg${p.wg}`);
  [...gpuIns, out].forEach((t) => t.dispose());
}

describe('softmax floor passes', () => {
  for (const [rows, r, wg] of [[3, 4 * 37, 8], [1, 4 * 301, 8], [5, 4 * 70, 4]]) {
    it(`match their CPU twins on ${rows}x${r}, ${wg} lanes`, async () => {
      const n = rows * r;
      const x = randArray(n, 1, -3, 3);
      const g = randArray(n, 2);
      const d = randArray(rows, 3);
      await check({ op: 'max', rows, r, wg }, [x], rows);
      await check({ op: 'exp', rows, r, wg }, [x], n);
      await check({ op: 'dot', rows, r, wg }, [x, g], rows);
      await check({ op: 'scale', rows, r, wg }, [x, g, d], n);
    });
  }

  it('rejects a row length that is not a multiple of 4', () => {
    const x = wt.zeros([2, 6]);
    const m = wt.zeros([2]);
    expect(() => wt.kernels.runKernel(rowPassKernel, { op: 'max', rows: 2, r: 6, wg: 8 }, [x, m])).toThrow(/multiple of 4, got 6/);
    [x, m].forEach((t) => t.dispose());
  });
});
