// The layer kernels pick their launch geometry from the adapter (stream.ts): lavapipe gets small
// workgroups looping over many items, hardware GPUs 64-256 invocations and the gather backward of
// max pooling. This file runs every geometry here, against the CPU twins, so the hardware paths
// are tested on a software adapter too.
import { describe, it, beforeAll, expect } from 'vitest';
import * as wt from 'webgpu-tensor';
import { launch } from '../../src/tensor/launch.ts';
import type { KernelDef } from '../../src/kernels/kernel.ts';
import type { Stream, RowLayout } from '../../src/kernels/stream.ts';
import { reluKernel } from '../../src/kernels/relu.ts';
import { dropoutKernel, dropThreshold } from '../../src/kernels/dropout.ts';
import { sgdKernel } from '../../src/kernels/sgd.ts';
import { maxPoolKernel, maxPoolBackwardKernel, maxPoolScatterKernel, poolOut, scatterClasses, zeroKernel } from '../../src/kernels/maxpool.ts';
import { lrnKernel } from '../../src/kernels/lrn.ts';
import { maxPoolLanesKernel, maxPoolLanesBackwardKernel, poolLanesFits, poolLanesBackwardFits } from '../../src/kernels/maxpool_lanes.ts';
import { maxPoolForwardKernel } from '../../src/policy/pool_choice.ts';
import { deviceCaps } from '../../src/backend/device.ts';
import { initGpu, randArray, expectClose } from '../helpers.ts';

beforeAll(async () => {
  await initGpu();
});

const streams: Stream[] = [
  { wg: 256, per: 4 },
  { wg: 8, per: 64 },
  { wg: 64, per: 1 },
  { wg: 32, per: 3 },
];
const layouts: RowLayout[] = [
  { mode: 'flat', wg: 128 },
  { mode: 'rows', wg: 8, rows: 8 },
  { mode: 'rows', wg: 16, rows: 3 },
];

interface Arg {
  data?: Float32Array | Int32Array;
  shape: number[];
  dtype?: 'float32' | 'int32';
}

/** Run `k` with fresh tensors made from `args` on GPU and CPU (existing tensors, written in place
 * where the kernel says 'rw'); compare every buffer afterwards. */
async function parity<P>(k: KernelDef<P>, gpuP: NoInfer<P>, cpuP: NoInfer<P>, args: Arg[], rtol = 0, atol = 0, what = ''): Promise<void> {
  const make = (device: 'cpu' | 'gpu') =>
    args.map((a) => {
      const n = a.shape.reduce((x, y) => x * y, 1);
      return wt.tensor(a.data ?? new Float32Array(n), a.shape, { device, dtype: a.dtype ?? 'float32' });
    });
  const g = make('gpu');
  const c = make('cpu');
  launch(k, gpuP, g);
  launch(k, cpuP, c);
  for (let i = 0; i < args.length; i++) expectClose(await g[i].toArray(), await c[i].toArray(), rtol, atol, `${what} buffer ${i}`);
}

describe('every launch geometry matches the CPU twin', () => {
  it('relu', async () => {
    for (const stream of streams)
      for (const n of [1023, 40000]) {
        const x = randArray(n, n);
        await parity(reluKernel, { mode: 'fwd', n, stream }, { mode: 'fwd', n }, [{ data: x, shape: [n] }, { shape: [n] }], 0, 0, `relu fwd ${n}`);
        const args = [{ data: randArray(n, 2), shape: [n] }, { data: x, shape: [n] }, { shape: [n] }];
        await parity(reluKernel, { mode: 'bwd', n, stream }, { mode: 'bwd', n }, args, 0, 0, `relu bwd ${n}`);
      }
  });

  it('dropout', async () => {
    for (const stream of streams)
      for (const n of [1022, 1020, 65536]) {
        const p = { n, seedLo: 0xdeadbeef, seedHi: 17, threshold: dropThreshold(0.3), scale: 1 / 0.7 };
        await parity(dropoutKernel, { ...p, stream }, p, [{ data: randArray(n, 4), shape: [n] }, { shape: [n] }], 0, 0, `dropout ${n}`);
      }
  });

  it('sgd', async () => {
    for (const stream of streams)
      for (const n of [5, 40000]) {
        const p = { n, lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 1e-2, nesterov: false, firstStep: false, withBuf: true };
        const args = [{ data: randArray(n, 1), shape: [n] }, { data: randArray(n, 2), shape: [n] }, { data: randArray(n, 3), shape: [n] }];
        await parity(sgdKernel, { ...p, stream }, p, args, 1e-6, 1e-7, `sgd ${n}`);
      }
  });

  it('maxpool forward, gather backward and scatter backward', async () => {
    for (const layout of layouts)
      for (const [n, h, w, k, s, pad] of [
        [6, 13, 11, 3, 2, 0],
        [3, 9, 9, 3, 2, 1],
        [2, 8, 7, 2, 2, 0],
        [1, 5, 6, 4, 1, 2],
      ]) {
        const oh = poolOut(h, k, s, pad);
        const ow = poolOut(w, k, s, pad);
        const geom = { n, h, w, oh, ow, kh: k, kw: k, sh: s, sw: s, ph: pad, pw: pad };
        const x = randArray(n * h * w, h * w);
        const what = `${JSON.stringify(layout)} ${JSON.stringify(geom)}`;
        const fwdArgs = [{ data: x, shape: [n * h * w] }, { shape: [n * oh * ow] }, { shape: [n * oh * ow], dtype: 'int32' as const }];
        await parity(maxPoolKernel, { ...geom, layout, withIdx: true }, { ...geom, withIdx: true }, fwdArgs, 0, 0, `fwd ${what}`);
        // argmax from the CPU twin, then both backwards
        const xc = wt.tensor(x, [n * h * w], { device: 'cpu' });
        const [, idx] = launch(maxPoolKernel, { ...geom, withIdx: true }, [xc, { shape: [n * oh * ow] }, { shape: [n * oh * ow], dtype: 'int32' }]);
        const gy = randArray(n * oh * ow, 5);
        const bwdArgs = [{ data: gy, shape: [n * oh * ow] }, { data: idx.data as Int32Array, shape: [n * oh * ow], dtype: 'int32' as const }, { shape: [n * h * w] }];
        await parity(maxPoolBackwardKernel, { ...geom, layout }, geom, bwdArgs, 1e-6, 1e-6, `gather ${what}`);
        // scatter: zero, then every class, on the GPU; compared with the gather twin
        const [g, id, gx] = bwdArgs.map((a) => wt.tensor(a.data ?? new Float32Array(n * h * w), a.shape, { dtype: a.dtype ?? 'float32' }));
        launch(zeroKernel, { n: n * h * w }, [gx]);
        const [my, mx] = scatterClasses(geom);
        for (let cy = 0; cy < my; cy++) for (let cx = 0; cx < mx; cx++) launch(maxPoolScatterKernel, { ...geom, layout, cy, cx }, [g, id, gx]);
        const refGx = wt.tensor(new Float32Array(n * h * w), [n * h * w], { device: 'cpu' });
        launch(maxPoolBackwardKernel, geom, [wt.tensor(gy, [n * oh * ow], { device: 'cpu' }), idx, refGx]);
        expectClose(await gx.toArray(), await refGx.toArray(), 1e-6, 1e-6, `scatter ${what}`);
      }
  });

  it('maxpool lanes kernels (subgroup sliding window, lavapipe) on awkward shapes', async () => {
    // odd sizes, rows not 4-aligned (so vec4s straddle rows and planes), padding, strides 1/2/4,
    // one plane, planes whose size is 1, 2 or 3 mod 4, outputs per row odd and even, 1-4 chunks
    const cases = [
      [3, 54, 54, 3, 2, 0],
      [1, 7, 9, 3, 2, 1],
      [5, 11, 37, 3, 1, 1],
      [2, 9, 70, 2, 2, 0],
      [1, 5, 5, 5, 4, 2],
      [3, 6, 6, 4, 4, 0],
      [1, 33, 101, 3, 2, 1],
      [2, 33, 64, 3, 2, 0],
      [3, 13, 16, 3, 1, 1],
      [1, 3, 3, 3, 2, 0],
      [5, 5, 3, 3, 2, 1],
      [7, 2, 2, 2, 2, 1],
      [6, 13, 13, 3, 2, 0],
    ];
    let ran = 0;
    for (const [n, h, w, k, s, pad] of cases) {
      const oh = poolOut(h, k, s, pad);
      const ow = poolOut(w, k, s, pad);
      const geom = { n, h, w, oh, ow, kh: k, kw: k, sh: s, sw: s, ph: pad, pw: pad };
      const what = JSON.stringify(geom);
      // integer-valued data: many ties, so the first-maximum rule is exercised
      const x = Float32Array.from(randArray(n * h * w, h * w + n), (v) => Math.round(v * 3));
      const fwdArgs = [{ data: x, shape: [n * h * w] }, { shape: [n * oh * ow] }, { shape: [n * oh * ow], dtype: 'int32' as const }];
      if (poolLanesFits(geom)) {
        ran++;
        await parity(maxPoolLanesKernel, { ...geom, withIdx: true }, { ...geom, withIdx: true }, fwdArgs, 0, 0, `lanes fwd ${what}`);
        await parity(maxPoolLanesKernel, { ...geom, withIdx: false }, { ...geom, withIdx: false }, fwdArgs.slice(0, 2), 0, 0, `lanes fwd no idx ${what}`);
      }
      if (poolLanesBackwardFits(geom)) {
        ran++;
        const xc = wt.tensor(x, [n * h * w], { device: 'cpu' });
        const [, idx] = launch(maxPoolKernel, { ...geom, withIdx: true }, [xc, { shape: [n * oh * ow] }, { shape: [n * oh * ow], dtype: 'int32' }]);
        const bwdArgs = [{ data: randArray(n * oh * ow, 5), shape: [n * oh * ow] }, { data: idx.data as Int32Array, shape: [n * oh * ow], dtype: 'int32' as const }, { shape: [n * h * w] }];
        await parity(maxPoolLanesBackwardKernel, geom, geom, bwdArgs, 1e-6, 1e-6, `lanes bwd ${what}`);
      }
    }
    expect(ran).toBe(2 * cases.length);
    // lavapipe (subgroups of 8) picks the lanes forward for AlexNet's pool
    const alex = { n: 4, h: 54, w: 54, oh: 26, ow: 26, kh: 3, kw: 3, sh: 2, sw: 2, ph: 0, pw: 0 };
    if (wt.deviceInfo().software && wt.deviceInfo().subgroupMaxSize === 8) expect(maxPoolForwardKernel(alex, deviceCaps())).toBe(maxPoolLanesKernel);
  });

  it('lrn forward and backward', async () => {
    // wg 8 (lavapipe's default) runs in lrn.test.ts; pipelines with the unrolled ring compile slowly
    for (const [wg, b, c, s, size] of [
      [64, 2, 7, 15, 5],
      [64, 2, 6, 16, 4],
      [64, 1, 3, 8, 9],
      [1, 3, 5, 1, 1],
    ]) {
        const n = b * c * s;
        const base = { b, c, s, size, alpha: 0.3, beta: 0.75, k: 1.5 };
        const what = `wg ${wg} ${JSON.stringify(base)}`;
        const x = randArray(n, n, -2, 2);
        await parity(lrnKernel, { ...base, mode: 'fwdScale', wg }, { ...base, mode: 'fwdScale' }, [{ data: x, shape: [n] }, { shape: [n] }, { shape: [n] }], 1e-5, 1e-6, `fwd ${what}`);
        const scale = randArray(n, 3, 1, 2);
        const args = [{ data: randArray(n, 2), shape: [n] }, { data: x, shape: [n] }, { data: scale, shape: [n] }, { shape: [n] }];
        await parity(lrnKernel, { ...base, mode: 'bwd', wg }, { ...base, mode: 'bwd' }, args, 1e-4, 1e-6, `bwd ${what}`);
      }
  });
});
