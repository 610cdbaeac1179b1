// Adaptive average pooling by rows (sizes baked into the WGSL) against the generic kernels' CPU
// twins (f32 sums in the twins' order; the twins add in f64): uneven bins, outputs larger than the
// input, batch 1, non-square; the op's choice on software adapters and the policy's bound.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { fwdBwd } from './layer_util.ts';
import { type AdaptiveAvgRowsParams, adaptiveAvgRowsBackwardKernel, adaptiveAvgRowsCost, adaptiveAvgRowsKernel } from '../../src/kernels/adaptive_avg_rows.ts';
import { adaptiveAvgGradScaleKernel, adaptivePoolBackwardKernel, adaptivePoolKernel } from '../../src/kernels/adaptive_pool.ts';
import { adaptiveAvgPool2d } from '../../src/autograd/adaptive_pool2d.ts';
import { ADAPTIVE_ROWS_MAX_COST, adaptiveAvgByRows } from '../../src/policy/pool_choice.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';
import { launch } from '../../src/tensor/launch.ts';

beforeAll(initGpu);

// [n, h, w, oh, ow]
const shapes = [
  [37, 13, 13, 6, 6], // AlexNet's head at 67 px
  [1, 7, 7, 5, 5], // batch 1
  [6, 6, 5, 4, 3],
  [4, 2, 6, 5, 4], // outputs taller than the input
  [3, 5, 7, 3, 4],
  [2, 9, 3, 2, 7], // outputs wider than the input
];

describe('adaptive average pooling by rows', () => {
  for (const [n, h, w, oh, ow] of shapes)
    it(`forward and backward match the generic twins: [${n}, ${h}, ${w}] -> [${oh}, ${ow}]`, async () => {
      // perLane 5: runs of rows that end mid-plane, the last one partial
      for (const perLane of [1, 5]) await checkRows({ n, h, w, oh, ow, perLane });
    });

  async function checkRows(r: AdaptiveAvgRowsParams): Promise<void> {
    const { n, h, w, oh, ow } = r;
    const generic = { op: 'avg' as const, n, h, w, oh, ow };
    const x = randArray(n * h * w, n + h);
    const [yc] = launch(adaptivePoolKernel, generic, [wt.tensor(x, [n * h * w], { device: 'cpu' }), { shape: [n * oh * ow] }]);
    const [y] = launch(adaptiveAvgRowsKernel, r, [wt.tensor(x, [n * h * w]), { shape: [n * oh * ow] }]);
    expectClose(await y.toArray(), await yc.toArray(), 1e-6, 1e-7, 'fwd');
    const gy = randArray(n * oh * ow, n + 7);
    const gcpu = wt.tensor(gy, [n * oh * ow], { device: 'cpu' });
    const [gs] = launch(adaptiveAvgGradScaleKernel, generic, [gcpu, { shape: [n * oh * ow] }]);
    const [gxc] = launch(adaptivePoolBackwardKernel, generic, [gs, { shape: [n * h * w] }]);
    const [gx] = launch(adaptiveAvgRowsBackwardKernel, r, [wt.tensor(gy, [n * oh * ow]), { shape: [n * h * w] }]);
    expectClose(await gx.toArray(), await gxc.toArray(), 1e-6, 1e-7, 'bwd');
    // its own CPU twins are the generic ones
    const [gxt] = launch(adaptiveAvgRowsBackwardKernel, r, [gcpu, { shape: [n * h * w] }]);
    expect(await gxt.toArray()).toEqual(await gxc.toArray());
  }

  it('the op takes it on software adapters (same values as on the CPU)', async () => {
    const data = randArray(2 * 5 * 13 * 13, 4);
    const run = (device: 'gpu' | 'cpu') => fwdBwd(device, data, [2, 5, 13, 13], (x) => adaptiveAvgPool2d(x, [6, 6]));
    const [g, c] = [await run('gpu'), await run('cpu')];
    expectClose(g.y, c.y, 1e-6, 1e-7, 'fwd');
    expectClose(g.gx, c.gx, 1e-6, 1e-7, 'bwd');
  });

  it('policy: software adapters, rows within the bound', () => {
    const soft = { ...BASELINE_CAPS, software: true };
    expect(adaptiveAvgRowsCost({ w: 13, ow: 6 })).toBe(13 + 18);
    expect(adaptiveAvgByRows({ h: 13, w: 13, oh: 6, ow: 6 }, soft)).toBe(true);
    expect(adaptiveAvgByRows({ h: 13, w: 13, oh: 6, ow: 6 }, BASELINE_CAPS)).toBe(false);
    expect(adaptiveAvgRowsCost({ w: 300, ow: 7 })).toBeGreaterThan(ADAPTIVE_ROWS_MAX_COST);
    expect(adaptiveAvgByRows({ h: 300, w: 300, oh: 7, ow: 7 }, soft)).toBe(false);
  });
});
