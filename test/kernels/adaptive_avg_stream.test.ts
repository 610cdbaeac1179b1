// Adaptive average pooling streamed over packed plane groups against the generic kernels' CPU
// twins: groups of 1, 2 and 4 planes (rows starting at every place in a vec4, rows narrower than a
// vec4), uneven and overlapping bins, OH == H, one output row or column, outputs wider than the
// input, one group, runs of groups that end partial; argument errors; the op's choice and the
// policy's bounds.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { fwdBwd } from './layer_util.ts';
import { type AdaptiveAvgStreamParams, adaptiveAvgStreamBackwardKernel, adaptiveAvgStreamKernel, adaptiveAvgStreamProblem, streamRowOffsets } from '../../src/kernels/adaptive_avg_stream.ts';
import { adaptiveAvgGradScaleKernel, adaptivePoolBackwardKernel, adaptivePoolKernel } from '../../src/kernels/adaptive_pool.ts';
import { adaptiveAvgPool2d } from '../../src/autograd/adaptive_pool2d.ts';
import { ADAPTIVE_STREAM_INVOCATIONS, ADAPTIVE_STREAM_MAX_COST, adaptiveAvgStream } from '../../src/policy/pool_choice.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';
import { deviceCaps } from '../../src/backend/device.ts';
import { launch } from '../../src/tensor/launch.ts';

beforeAll(initGpu);

// [n, h, w, oh, ow]; n a multiple of the group (4 / gcd(h w, 4))
const shapes = [
  [36, 13, 13, 6, 6], // AlexNet's head at 67 px: groups of 4, rows at offsets 0-3
  [4, 7, 9, 5, 4], // one group of 4
  [12, 10, 6, 3, 5], // groups of 1, rows at offsets 0 and 2
  [8, 5, 5, 5, 5], // OH == H: every row its own bin
  [4, 9, 7, 1, 3], // one output row
  [6, 6, 3, 4, 7], // groups of 2, rows of 3 (a vec4 spans parts of up to three rows), outputs wider than the input
  [3, 4, 4, 3, 1], // aligned planes, one output column
];

describe('adaptive average pooling streamed over plane groups', () => {
  for (const [n, h, w, oh, ow] of shapes)
    it(`forward and backward match the generic twins: [${n}, ${h}, ${w}] -> [${oh}, ${ow}]`, async () => {
      // perLane 2 and 3: runs of groups whose last one is partial for most n
      for (const perLane of [1, 2, 3]) await check({ n, h, w, oh, ow, perLane });
    });

  async function check(p: AdaptiveAvgStreamParams): Promise<void> {
    const { n, h, w, oh, ow } = p;
    expect(adaptiveAvgStreamProblem(p)).toBeNull();
    const generic = { op: 'avg' as const, n, h, w, oh, ow };
    const x = randArray(n * h * w, n + h);
    const [yc] = launch(adaptivePoolKernel, generic, [wt.tensor(x, [n * h * w], { device: 'cpu' }), { shape: [n * oh * ow] }]);
    const [y] = launch(adaptiveAvgStreamKernel, p, [wt.tensor(x, [n * h * w]), { shape: [n * oh * ow] }]);
    expectClose(await y.toArray(), await yc.toArray(), 1e-6, 1e-7, `fwd perLane ${p.perLane}`);
    const gy = randArray(n * oh * ow, n + 7);
    const gcpu = wt.tensor(gy, [n * oh * ow], { device: 'cpu' });
    const [gs] = launch(adaptiveAvgGradScaleKernel, generic, [gcpu, { shape: [n * oh * ow] }]);
    const [gxc] = launch(adaptivePoolBackwardKernel, generic, [gs, { shape: [n * h * w] }]);
    const [gx] = launch(adaptiveAvgStreamBackwardKernel, p, [wt.tensor(gy, [n * oh * ow]), { shape: [n * h * w] }]);
    expectClose(await gx.toArray(), await gxc.toArray(), 1e-6, 1e-7, `bwd perLane ${p.perLane}`);
    // its own CPU twins are the generic ones
    const [gxt] = launch(adaptiveAvgStreamBackwardKernel, p, [gcpu, { shape: [n * h * w] }]);
    expect(await gxt.toArray()).toEqual(await gxc.toArray());
  }

  it('rejects geometries it cannot take, naming the kernel and the value', () => {
    const x = (len: number) => [wt.zeros([len]), { shape: [1] }] as const;
    expect(() => launch(adaptiveAvgStreamKernel, { n: 6, h: 13, w: 13, oh: 6, ow: 6, perLane: 1 }, [...x(6 * 169)])).toThrow(
      /adaptive_avg_stream: expected a plane count that is a multiple of 4, got 6/,
    );
    expect(() => launch(adaptiveAvgStreamBackwardKernel, { n: 4, h: 3, w: 4, oh: 5, ow: 2, perLane: 1 }, [...x(40)])).toThrow(
      /adaptive_avg_stream_bwd: expected output rows at most the input rows, got 5 > 3/,
    );
    expect(() => launch(adaptiveAvgStreamKernel, { n: 4, h: 4, w: 4, oh: 2, ow: 2, perLane: 0 }, [...x(64)])).toThrow(/perLane >= 1, got 0/);
  });

  it('the op takes it on software adapters (same values as on the CPU)', async () => {
    const geom = { n: 12, h: 13, w: 13, oh: 6, ow: 6 };
    expect(adaptiveAvgStream(geom, deviceCaps()) !== null).toBe(!!deviceCaps().software);
    const data = randArray(2 * 6 * 13 * 13, 4);
    const run = (device: 'gpu' | 'cpu') => fwdBwd(device, data, [2, 6, 13, 13], (x) => adaptiveAvgPool2d(x, [6, 6]));
    const [g, c] = [await run('gpu'), await run('cpu')];
    expectClose(g.y, c.y, 1e-6, 1e-7, 'fwd');
    expectClose(g.gx, c.gx, 1e-6, 1e-7, 'bwd');
  });

  it('policy: software adapters, runs sized to about ADAPTIVE_STREAM_INVOCATIONS invocations, bounded code', () => {
    const soft = { ...BASELINE_CAPS, software: true };
    const alex = { n: 128 * 256, h: 13, w: 13, oh: 6, ow: 6 };
    expect(streamRowOffsets(alex)).toEqual([0, 1, 2, 3]);
    expect(adaptiveAvgStream(alex, soft)).toEqual({ ...alex, perLane: (128 * 256) / 4 / ADAPTIVE_STREAM_INVOCATIONS });
    expect(adaptiveAvgStream({ ...alex, n: 8 }, soft)).toEqual({ ...alex, n: 8, perLane: 1 });
    expect(adaptiveAvgStream(alex, BASELINE_CAPS)).toBeNull();
    expect(adaptiveAvgStream({ ...alex, n: 10 }, soft)).toBeNull(); // not a multiple of the group
    expect(adaptiveAvgStream({ ...alex, oh: 20 }, soft)).toBeNull(); // taller output
    expect(streamRowOffsets({ h: 20, w: 300 })).toEqual([0]);
    expect(adaptiveAvgStream({ n: 4, h: 20, w: 301, oh: 7, ow: 7 }, soft)).toBeNull(); // 4 x 602 > ADAPTIVE_STREAM_MAX_COST
    expect(4 * 602).toBeGreaterThan(ADAPTIVE_STREAM_MAX_COST);
  });
});
