// maxPool2d with ceilMode: windows that run past the input (and past its padding). The op against
// an independent reference and the CPU twin; the generic kernels in every launch layout and the
// subgroup lanes kernels on ceil-mode geometries; the policy; PyTorch's numbers; gradcheck; the
// options forms and their errors; the MaxPool2d module's ceilMode.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { fwdBwd, f64, numelOf } from './layer_util.ts';
import { maxPool2d } from '../../src/autograd/max_pool.ts';
import { MaxPool2d } from '../../src/nn/layers.ts';
import { maxPoolKernel, maxPoolBackwardKernel, maxPoolScatterKernel, poolOut, scatterClasses, zeroKernel, type PoolGeom } from '../../src/kernels/maxpool.ts';
import { maxPoolLanesKernel, maxPoolLanesBackwardKernel, poolLanesFits, poolLanesBackwardFits } from '../../src/kernels/maxpool_lanes.ts';
import { maxPoolBackwardChoice, maxPoolForwardKernel } from '../../src/policy/pool_choice.ts';
import { BASELINE_CAPS } from '../../src/kernels/kernel.ts';
import type { RowLayout } from '../../src/kernels/stream.ts';
import { launch } from '../../src/tensor/launch.ts';
import { torchCases, checkTorchCase, caseName } from './pool_torch_ref.ts';

beforeAll(async () => {
  await initGpu();
});

type K = [number, number];

/** Reference: pad with -inf to cover every ceil-mode window, first maximum of each window. */
function reference(x: Float32Array, shape: number[], k: K, s: K, p: K) {
  const [h, w] = shape.slice(-2);
  const n = numelOf(shape.slice(0, -2));
  const out = (len: number, i: number) => {
    let o = Math.ceil((len + 2 * p[i] - k[i]) / s[i]) + 1;
    if ((o - 1) * s[i] >= len + p[i]) o--;
    return o;
  };
  const oh = out(h, 0);
  const ow = out(w, 1);
  const H = (oh - 1) * s[0] + k[0];
  const W = (ow - 1) * s[1] + k[1];
  const y = new Float32Array(n * oh * ow);
  const arg = new Int32Array(n * oh * ow);
  for (let c = 0; c < n; c++) {
    const pad = new Float32Array(H * W).fill(-Infinity);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) pad[(i + p[0]) * W + j + p[1]] = x[c * h * w + i * w + j];
    for (let oy = 0; oy < oh; oy++)
      for (let ox = 0; ox < ow; ox++) {
        let best = -Infinity;
        let bi = -1;
        for (let a = 0; a < k[0]; a++)
          for (let b = 0; b < k[1]; b++) {
            const v = pad[(oy * s[0] + a) * W + ox * s[1] + b];
            if (bi < 0 && v === -Infinity) continue;
            if (bi < 0 || v > best) {
              best = v;
              bi = (oy * s[0] + a - p[0]) * w + (ox * s[1] + b - p[1]);
            }
          }
        y[(c * oh + oy) * ow + ox] = best;
        arg[(c * oh + oy) * ow + ox] = bi;
      }
  }
  return { y, arg, oh, ow };
}

interface Case {
  shape: number[];
  k: K;
  s: K;
  p: K;
}
const cases: Case[] = [
  { shape: [2, 3, 14, 14], k: [3, 3], s: [2, 2], p: [0, 0] }, // one extra row and column
  { shape: [1, 1, 7, 7], k: [2, 2], s: [2, 2], p: [0, 0] }, // batch 1, odd size, 2x2 s2
  { shape: [2, 2, 8, 9], k: [3, 3], s: [2, 2], p: [1, 1] }, // past the padding
  { shape: [1, 2, 10, 7], k: [4, 3], s: [4, 2], p: [2, 0] }, // rectangular
  { shape: [3, 9, 6], k: [3, 3], s: [3, 3], p: [1, 1] }, // unbatched
  { shape: [1, 1, 4, 4], k: [5, 5], s: [2, 2], p: [0, 0] }, // kernel larger than the input
];

describe('maxPool2d ceilMode', () => {
  for (const c of cases) {
    it(`matches the reference and the CPU twin: ${JSON.stringify(c.shape)} k${c.k} s${c.s} p${c.p}`, async () => {
      const data = randArray(numelOf(c.shape), 3);
      const f = (x: wt.Tensor) => maxPool2d(x, c.k, c.s, c.p, { ceilMode: true });
      const g = await fwdBwd('gpu', data, c.shape, f);
      const cpu = await fwdBwd('cpu', data, c.shape, f);
      const ref = reference(data, c.shape, c.k, c.s, c.p);
      expectClose(g.y, ref.y, 0, 0, 'gpu fwd vs reference');
      expectClose(cpu.y, ref.y, 0, 0, 'cpu fwd vs reference');
      expectClose(g.gx, cpu.gx, 1e-6, 1e-6, 'bwd gpu vs cpu');
      const gy = randArray(ref.y.length, 99);
      const expectGx = new Float32Array(data.length);
      const plane = c.shape.at(-1)! * c.shape.at(-2)!;
      ref.arg.forEach((a, o) => (expectGx[Math.floor(o / (ref.oh * ref.ow)) * plane + a] += gy[o]));
      expectClose(g.gx, expectGx, 1e-6, 1e-6, 'gpu bwd vs reference routing');
    });
  }

  /** The ceil-mode geometry of [n, h, w] planes. */
  const geomOf = (n: number, h: number, w: number, k: number, s: number, pad: number): PoolGeom => ({
    n, h, w, oh: poolOut(h, k, s, pad, true), ow: poolOut(w, k, s, pad, true), kh: k, kw: k, sh: s, sw: s, ph: pad, pw: pad,
  });
  // every one has windows past the input (ceil mode adds a row and a column)
  const geoms = [
    geomOf(3, 14, 14, 3, 2, 0),
    geomOf(2, 56, 56, 3, 2, 0),
    geomOf(1, 9, 8, 3, 2, 1),
    geomOf(4, 7, 7, 2, 2, 0),
    geomOf(2, 10, 10, 4, 4, 0),
    geomOf(1, 10, 70, 2, 2, 0),
    geomOf(5, 11, 37, 3, 2, 1),
    geomOf(1, 4, 4, 5, 2, 0),
  ];

  /** x as tensors on both devices, the CPU twin's y and argmax, and a gradient. */
  function setup(geom: PoolGeom) {
    const { n, h, w, oh, ow } = geom;
    // integer-valued data: many ties, so the first-maximum rule is exercised
    const x = Float32Array.from(randArray(n * h * w, h * w + n), (v) => Math.round(v * 3));
    const [y, idx] = launch(maxPoolKernel, { ...geom, withIdx: true }, [wt.tensor(x, [n * h * w], { device: 'cpu' }), { shape: [n * oh * ow] }, { shape: [n * oh * ow], dtype: 'int32' }]);
    const gy = randArray(n * oh * ow, 5);
    const [gx] = launch(maxPoolBackwardKernel, geom, [wt.tensor(gy, [n * oh * ow], { device: 'cpu' }), idx, { shape: [n * h * w] }]);
    return { x, y, idx, gy, gx };
  }

  it('generic kernels in every launch layout (forward, gather and scatter backward)', async () => {
    const layouts: RowLayout[] = [
      { mode: 'flat', wg: 128 },
      { mode: 'rows', wg: 8, rows: 8 },
    ];
    for (const geom of geoms) {
      const { n, h, w, oh, ow } = geom;
      const ref = setup(geom);
      for (const layout of layouts) {
        const what = `${layout.mode} ${JSON.stringify(geom)}`;
        const [y, idx] = launch(maxPoolKernel, { ...geom, layout, withIdx: true }, [wt.tensor(ref.x, [n * h * w]), { shape: [n * oh * ow] }, { shape: [n * oh * ow], dtype: 'int32' }]);
        expectClose(await y.toArray(), await ref.y.toArray(), 0, 0, `fwd ${what}`);
        expectClose(await idx.toArray(), await ref.idx.toArray(), 0, 0, `argmax ${what}`);
        const g = wt.tensor(ref.gy, [n * oh * ow]);
        const [gx] = launch(maxPoolBackwardKernel, { ...geom, layout }, [g, idx, { shape: [n * h * w] }]);
        expectClose(await gx.toArray(), await ref.gx.toArray(), 1e-6, 1e-6, `gather ${what}`);
        const gs = wt.zeros([n * h * w]);
        launch(zeroKernel, { n: n * h * w }, [gs]);
        const [my, mx] = scatterClasses(geom);
        for (let cy = 0; cy < my; cy++) for (let cx = 0; cx < mx; cx++) launch(maxPoolScatterKernel, { ...geom, layout, cy, cx }, [g, idx, gs]);
        expectClose(await gs.toArray(), await ref.gx.toArray(), 1e-6, 1e-6, `scatter ${what}`);
      }
    }
  });

  it('lanes kernels (subgroup sliding window) on ceil-mode geometries', async () => {
    let ran = 0;
    for (const geom of geoms) {
      const { n, h, w, oh, ow } = geom;
      const ref = setup(geom);
      const what = JSON.stringify(geom);
      if (poolLanesFits(geom)) {
        ran++;
        const [y, idx] = launch(maxPoolLanesKernel, { ...geom, withIdx: true }, [wt.tensor(ref.x, [n * h * w]), { shape: [n * oh * ow] }, { shape: [n * oh * ow], dtype: 'int32' }]);
        expectClose(await y.toArray(), await ref.y.toArray(), 0, 0, `lanes fwd ${what}`);
        expectClose(await idx.toArray(), await ref.idx.toArray(), 0, 0, `lanes argmax ${what}`);
      }
      if (poolLanesBackwardFits(geom)) {
        ran++;
        const idx = wt.tensor(await ref.idx.toArray(), [n * oh * ow], { dtype: 'int32' });
        const [gx] = launch(maxPoolLanesBackwardKernel, geom, [wt.tensor(ref.gy, [n * oh * ow]), idx, { shape: [n * h * w] }]);
        expectClose(await gx.toArray(), await ref.gx.toArray(), 1e-6, 1e-6, `lanes bwd ${what}`);
      }
    }
    expect(ran).toBeGreaterThanOrEqual(2 * geoms.length - 2);
  });

  it('the policy may pick the lanes kernels for ceil-mode geometries on lavapipe-like caps', () => {
    const lavapipe = { ...BASELINE_CAPS, software: true, subgroups: true, subgroupMinSize: 8, subgroupMaxSize: 8 };
    const g = geomOf(8, 56, 56, 3, 2, 0);
    expect(maxPoolForwardKernel(g, lavapipe)).toBe(maxPoolLanesKernel);
    expect(maxPoolBackwardChoice(g, lavapipe)).toBe('lanes');
    expect(maxPoolForwardKernel(g, BASELINE_CAPS)).toBe(maxPoolKernel);
  });

  for (const c of torchCases.filter((t) => t.op === 'maxPool2d'))
    it(`matches PyTorch: ${caseName(c)}`, async () => {
      await checkTorchCase(c, 'gpu');
      await checkTorchCase(c, 'cpu');
    });

  it('gradchecks on float64 CPU', () => {
    const d = randArray(2 * 8 * 7, 11);
    expect(wt.testing.gradcheck((x) => maxPool2d(x, 3, 2, 0, { ceilMode: true }), [f64(d, [1, 2, 8, 7])])).toBe(true);
    expect(wt.testing.gradcheck((x) => maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }), [f64(d, [1, 2, 8, 7])])).toBe(true);
  });

  it('takes an options object or PyTorch positional arguments; floor mode stays the default', async () => {
    const x = wt.tensor(randArray(2 * 14 * 14, 7), [1, 2, 14, 14]);
    expect(maxPool2d(x, 3, 2).shape).toEqual([1, 2, 6, 6]);
    expect(maxPool2d(x, 3, 2, 0, { ceilMode: true }).shape).toEqual([1, 2, 7, 7]);
    expect(maxPool2d(x, 3, 2, 0, { ceilMode: false }).shape).toEqual([1, 2, 6, 6]);
    const a = await maxPool2d(x, 3, 2, 1, { ceilMode: true }).toArray();
    const b = await maxPool2d(x, 3, { stride: 2, padding: 1, ceilMode: true }).toArray();
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(maxPool2d(x, 2, { ceilMode: true }).shape).toEqual([1, 2, 7, 7]);
    expect(maxPool2d(x, 2, null, 1).shape).toEqual([1, 2, 8, 8]);
  });

  it('rejects bad options naming the op, the key and the accepted keys', () => {
    const x = wt.zeros([1, 1, 4, 4]);
    expect(() => maxPool2d(x, 2, 2, 0, { ceil_mode: true } as { ceilMode?: boolean })).toThrow("maxPool2d: unknown option 'ceil_mode' (accepted: ceilMode)");
    expect(() => maxPool2d(x, 2, { dilation: 2 } as { stride?: number })).toThrow("maxPool2d: unknown option 'dilation' (accepted: stride, padding, ceilMode)");
    expect(() => maxPool2d(x, 2, 2, 0, { ceilMode: 'yes' as unknown as boolean })).toThrow(/maxPool2d: expected ceilMode to be a boolean, got "yes"/);
    expect(() => maxPool2d(x, 2, 2, 0, 5 as unknown as { ceilMode?: boolean })).toThrow(/maxPool2d: expected the options \(ceilMode\) as an object, got 5/);
  });

  it('MaxPool2d module: ceilMode option, repr, errors', async () => {
    const x = wt.tensor(randArray(2 * 3 * 14 * 14, 2), [2, 3, 14, 14]);
    const m = new MaxPool2d(3, 2, 0, { ceilMode: true });
    expect(m.call(x).shape).toEqual([2, 3, 7, 7]);
    expect(Array.from(await m.call(x).toArray())).toEqual(Array.from(await maxPool2d(x, 3, 2, 0, { ceilMode: true }).toArray()));
    expect(new MaxPool2d(3, 2).call(x).shape).toEqual([2, 3, 6, 6]);
    expect(new MaxPool2d(2, null, 0, { ceilMode: true }).stride).toEqual([2, 2]);
    expect(m.toString()).toContain('MaxPool2d(kernelSize=3, stride=2, padding=0, ceilMode=true)');
    expect(() => new MaxPool2d(3, 2, 0, { ceil: true } as { ceilMode?: boolean })).toThrow("MaxPool2d: unknown option 'ceil' (accepted: ceilMode)");
    expect(() => new MaxPool2d(3, 2, 0, { ceilMode: 1 as unknown as boolean })).toThrow('MaxPool2d: ceilMode must be a boolean, got 1');
  });
});
