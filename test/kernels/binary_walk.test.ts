// Broadcast binary ops whose operands are indexed by i, i % c or i / c (the walk fast path, vec4
// when every c % 4 == 0) against the CPU, with the general per-dim path alongside; operandWalk's
// classification, size-1 dims included.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';
import { binaryKernel, operandWalk } from '../../src/kernels/binary.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';

beforeAll(initGpu);

describe('binary broadcast walks', () => {
  it('operandWalk: full, a repeated row, a per-row value, neither', () => {
    expect(operandWalk([5, 8], [8, 1])).toEqual({ mode: 'full', c: 1 });
    expect(operandWalk([5, 8], [0, 1])).toEqual({ mode: 'mod', c: 8 });
    expect(operandWalk([5, 8], [1, 0])).toEqual({ mode: 'div', c: 8 });
    expect(operandWalk([2, 3, 8], [0, 8, 1])).toEqual({ mode: 'mod', c: 24 });
    expect(operandWalk([2, 3, 8], [3, 1, 0])).toEqual({ mode: 'div', c: 8 });
    expect(operandWalk([2, 1, 8], [0, 5, 1])).toEqual({ mode: 'mod', c: 8 }); // size-1 dims take any stride
    expect(operandWalk([2, 3, 8], [0, 1, 0])).toBeNull(); // a channel vector in the middle
    expect(operandWalk([4, 6], [0, 0])).toEqual({ mode: 'div', c: 24 }); // one value everywhere
  });

  const cases: [number[], number[], string][] = [
    [[5, 8], [8], 'walk: mod, vec4'],
    [[5, 8], [5, 1], 'walk: div, vec4'],
    [[5, 7], [7], 'walk: mod, scalar'],
    [[5, 7], [5, 1], 'walk: div, scalar'],
    [[8], [6, 8], 'walk: a repeated, b full'],
    [[3, 1], [1, 12], 'walk: div and mod'],
    [[2, 3, 8], [3, 1], 'general'],
    [[4, 1, 8], [1, 6, 1], 'general'],
    [[1, 1], [3, 4], 'walk: one value'],
    [[33, 1024], [1024], 'walk: mod, vec4, several workgroups'],
  ];
  for (const [sa, sb, what] of cases)
    it(`${JSON.stringify(sa)} op ${JSON.stringify(sb)} (${what}) equals the CPU`, async () => {
      const [da, db] = [randArray(sa.reduce((x, y) => x * y, 1), 3), randArray(sb.reduce((x, y) => x * y, 1), 4, 0.5, 2)];
      for (const op of ['add', 'sub', 'mul', 'div'] as const) {
        const run = (device: 'cpu' | 'gpu') => wt[op](wt.tensor(da, sa, { device }), wt.tensor(db, sb, { device })).toArray();
        expectClose(await run('gpu'), await run('cpu'), 1e-6, 1e-7, `${op} ${what}`);
        expectClose(await run('gpu'), await run('cpu'), 1e-6, 1e-7, `${op} ${what} (b first)`);
      }
      const rev = (device: 'cpu' | 'gpu') => wt.sub(wt.tensor(db, sb, { device }), wt.tensor(da, sa, { device })).toArray();
      expectClose(await rev('gpu'), await rev('cpu'), 1e-6, 1e-7, `sub reversed ${what}`);
    });

  it('the layout in the pipeline key: walk (with vec4) or the general decomposition', () => {
    const base = { op: 'add', expr: 'a + b', f: (a: number, b: number) => a + b, same: false };
    const spec = (shape: number[], aStrides: number[], bStrides: number[]) => binaryKernel.spec({ ...base, shape, aStrides, bStrides }, BASELINE_CAPS);
    expect(spec([5, 8], [8, 1], [0, 1])).toMatch(/^add:walkfmv4:/);
    expect(spec([5, 7], [7, 1], [1, 0])).toMatch(/^add:walkfd:/);
    expect(spec([2, 3, 8], [24, 8, 1], [0, 1, 0])).toMatch(/^add:bcast:/);
  });
});
