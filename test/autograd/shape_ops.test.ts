// cat, stack, narrow, slice, pad, chunk, split: forward and backward against index-by-index
// references on GPU and CPU (odd sizes, batch 1, vec4 and scalar copy paths, every dim), torch's
// outputs for a few cases, gradcheck in float64, int32 tensors, and argument errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { f64 } from '../kernels/layer_util.ts';
import { cat, stack, narrow, slice, pad, chunk, split } from '../../src/autograd/region_ops.ts';
import { planPad, planRegionCopy, regionCopyKernel } from '../../src/kernels/region_copy.ts';
import { launch } from '../../src/tensor/launch.ts';

beforeAll(async () => {
  await initGpu();
});

type Dev = 'cpu' | 'gpu';
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
function strides(s: readonly number[]): number[] {
  const st = new Array<number>(s.length);
  for (let k = s.length - 1, acc = 1; k >= 0; k--) {
    st[k] = acc;
    acc *= s[k];
  }
  return st;
}
function coords(i: number, s: readonly number[]): number[] {
  const c = new Array<number>(s.length);
  for (let k = s.length - 1; k >= 0; k--) {
    c[k] = i % s[k];
    i = Math.floor(i / s[k]);
  }
  return c;
}
const at = (c: number[], s: readonly number[]) => c.reduce((o, v, k) => o + v * strides(s)[k], 0);

/** out[c] = x[c with c[dim] -> start + c[dim] * step] */
function refNarrow(x: ArrayLike<number>, s: number[], dim: number, start: number, len: number, step = 1) {
  const os = s.map((n, i) => (i === dim ? len : n));
  return Float64Array.from({ length: numel(os) }, (_, i) => {
    const c = coords(i, os);
    c[dim] = start + c[dim] * step;
    return x[at(c, s)];
  });
}
/** adjoint of refNarrow: zeros of s with g at the narrowed positions */
function refNarrowGrad(g: ArrayLike<number>, s: number[], dim: number, start: number, len: number, step = 1) {
  const gx = new Float64Array(numel(s));
  const os = s.map((n, i) => (i === dim ? len : n));
  for (let i = 0; i < g.length; i++) {
    const c = coords(i, os);
    c[dim] = start + c[dim] * step;
    gx[at(c, s)] += g[i];
  }
  return gx;
}
/** constant pad: lo[d] before each dim, output shape os */
function refPad(x: ArrayLike<number>, s: number[], lo: number[], os: number[], value: number) {
  return Float64Array.from({ length: numel(os) }, (_, i) => {
    const c = coords(i, os).map((v, k) => v - lo[k]);
    return c.every((v, k) => v >= 0 && v < s[k]) ? x[at(c, s)] : value;
  });
}

/** Run f forward and backward (fixed pseudo-random output gradient) on one device. */
async function run(device: Dev, inputs: { data: ArrayLike<number>; shape: number[] }[], f: (...xs: wt.Tensor[]) => wt.Tensor) {
  const xs = inputs.map((d) => wt.tensor(Float32Array.from(d.data), d.shape, { device, requiresGrad: true }));
  const y = f(...xs);
  const gd = randArray(y.size, 77);
  y.backward(wt.tensor(gd, y.shape, { device }));
  return { y: await y.toArray(), shape: y.shape, g: gd, gx: await Promise.all(xs.map((x) => x.grad!.toArray())) };
}

describe('cat', () => {
  const cases: [number[][], number][] = [
    [[[2, 4, 2, 2], [2, 8, 2, 2], [2, 4, 2, 2]], 1], // vec4 path
    [[[1, 5, 3, 3], [1, 7, 3, 3]], 1], // scalar path, batch 1
    [[[3, 5], [3, 1], [3, 2]], 1], // last dim, odd sizes
    [[[2, 3], [5, 3]], 0],
    [[[2, 3, 4], [2, 3, 4]], -1],
    [[[7], [0], [3]], 0],
  ];
  for (const [shapes, dim] of cases)
    it(`${shapes.map((s) => JSON.stringify(s)).join(' + ')} along ${dim}: forward and gradients (GPU = CPU = reference)`, async () => {
      const inputs = shapes.map((shape, i) => ({ data: randArray(numel(shape), i + 1), shape }));
      const d = dim < 0 ? dim + shapes[0].length : dim;
      const outShape = shapes[0].map((n, i) => (i === d ? shapes.reduce((a, s) => a + s[d], 0) : n));
      // reference: out = concatenation of each input's slot; grad of input k = narrow of g
      const ref = new Float64Array(numel(outShape));
      let off = 0;
      for (const inp of inputs) {
        for (let i = 0; i < inp.data.length; i++) {
          const c = coords(i, inp.shape);
          c[d] += off;
          ref[at(c, outShape)] = inp.data[i];
        }
        off += inp.shape[d];
      }
      for (const device of ['gpu', 'cpu'] as const) {
        const r = await run(device, inputs, (...xs) => cat(xs, dim));
        expect(r.shape).toEqual(outShape);
        expectClose(r.y, ref, 0, 0, `${device} y`);
        let o = 0;
        inputs.forEach((inp, k) => {
          expectClose(r.gx[k], refNarrow(r.g, outShape, d, o, inp.shape[d]), 0, 0, `${device} gx${k}`);
          o += inp.shape[d];
        });
      }
    });

  it('GoogLeNet-like feature maps merge into a 2-D vec4 copy per input', () => {
    const p = planRegionCopy({ shape: [8, 96, 28, 28], srcStrides: strides([8, 96, 28, 28]), dstStrides: strides([8, 480, 28, 28]), srcOffset: 0, dstOffset: 64 * 784 });
    expect(p).toMatchObject({ shape: [8, (96 * 784) / 4], src: [(96 * 784) / 4, 1], dst: [(480 * 784) / 4, 1], vec4: true });
    const q = planRegionCopy({ shape: [1, 5, 3, 3], srcStrides: strides([1, 5, 3, 3]), dstStrides: strides([1, 12, 3, 3]), srcOffset: 0, dstOffset: 45 });
    expect(q).toMatchObject({ shape: [45], vec4: false });
  });

  // regions copied out of a larger source into a larger destination, both layouts, with a small
  // stream geometry (chunks of 32 units) so rows span several chunks and end mid-chunk
  it('region copy: flat and rows layouts equal the CPU twin (rank 0 to 4, vec4 and scalar)', async () => {
    const regions: [number[], number[], number[], number, number][] = [
      // shape, src strides, dst strides, src offset, dst offset
      [[3, 70], [80, 1], [75, 1], 3, 2],
      [[2, 3, 40], [200, 50, 1], [130, 41, 1], 5, 0],
      [[2, 64], [128, 1], [64, 1], 64, 0], // vec4
      [[5, 2, 8], [40, 16, 1], [16, 8, 1], 4, 0], // merges to [5, 16], vec4
      [[7], [3], [1], 1, 0], // strided rank 1
      [[], [], [], 9, 4],
      [[2, 3, 1, 33], [300, 100, 50, 2], [99, 33, 33, 1], 0, 1], // step-2 innermost source
    ];
    for (const [shape, ss, ds, so, dOff] of regions)
      for (const layout of ['flat', 'rows'] as const) {
        const p = { shape, srcStrides: ss, dstStrides: ds, srcOffset: so, dstOffset: dOff, layout, stream: { wg: 8, per: 4 } };
        const srcN = so + shape.reduce((a, n, i) => a + (n - 1) * ss[i], 0) + 1;
        const dstN = dOff + shape.reduce((a, n, i) => a + (n - 1) * ds[i], 0) + 1;
        const data = randArray(srcN, srcN);
        const outs: ArrayLike<number>[] = [];
        for (const device of ['gpu', 'cpu'] as const) {
          const src = wt.tensor(data, [srcN], { device });
          const dst = wt.full([dstN], -7, { device });
          launch(regionCopyKernel, p, [src, dst]);
          outs.push(await dst.toArray());
        }
        expectClose(outs[0], outs[1], 0, 0, `${layout} ${JSON.stringify(shape)}`);
      }
  });

  it('concatenates int32 tensors (GPU = CPU)', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      const a = wt.tensor([1, 2, 3, 4], [2, 2], { device, dtype: 'int32' });
      const b = wt.tensor([-5, 6], [2, 1], { device, dtype: 'int32' });
      const y = cat([a, b], 1);
      expect(y.dtype).toBe('int32');
      expect(Array.from(await y.toArray())).toEqual([1, 2, -5, 3, 4, 6]);
    }
  });

  it('gradchecks in float64 (three inputs, one not requiring grad)', () => {
    const a = f64(randArray(6, 1), [2, 3]);
    const b = wt.tensor(Float64Array.from(randArray(4, 2)), [2, 2], { device: 'cpu', dtype: 'float64' });
    const c = f64(randArray(2, 3), [2, 1]);
    expect(wt.testing.gradcheck((x, y, z) => cat([x, y, z], 1), [a, b, c])).toBe(true);
  });
});

describe('stack', () => {
  for (const dim of [0, 1, 2, -1])
    it(`stacks along ${dim} (GPU = CPU = reference) with gradients`, async () => {
      const shape = [3, 5];
      const inputs = [1, 2, 3].map((seed) => ({ data: randArray(15, seed), shape }));
      const d = dim < 0 ? dim + 3 : dim;
      const outShape = [...shape];
      outShape.splice(d, 0, 3);
      for (const device of ['gpu', 'cpu'] as const) {
        const r = await run(device, inputs, (...xs) => stack(xs, dim));
        expect(r.shape).toEqual(outShape);
        inputs.forEach((inp, k) => {
          const c = narrowOut(r.y, outShape, d, k);
          expectClose(c, inp.data, 0, 0, `${device} slot ${k}`);
          expectClose(r.gx[k], narrowOut(r.g, outShape, d, k), 0, 0, `${device} gx${k}`);
        });
      }
    });
  const narrowOut = (y: ArrayLike<number>, s: number[], d: number, k: number) => refNarrow(y, s, d, k, 1);

  it('gradchecks in float64', () => {
    expect(wt.testing.gradcheck((a, b) => stack([a, b], 1), [f64(randArray(6, 1), [2, 3]), f64(randArray(6, 2), [2, 3])])).toBe(true);
  });
});

describe('narrow and slice', () => {
  const cases: [number[], number, number, number | null, number][] = [
    // shape, dim, start, end, step
    [[5, 7], 1, 2, 6, 1],
    [[5, 7], 0, 1, 4, 1],
    [[1, 9, 3], 1, 1, 9, 3],
    [[4, 6, 5], 2, 0, null, 2],
    [[11], 0, -4, null, 1],
    [[3, 8], 1, 7, 2, 1], // empty
    [[2, 3, 4, 5], 3, 1, 5, 3],
  ];
  for (const [shape, dim, start, end, step] of cases)
    it(`slice ${JSON.stringify(shape)} dim ${dim} [${start}:${end ?? ''}:${step}] (GPU = CPU = reference) with gradients`, async () => {
      const size = shape[dim];
      const s = Math.min(Math.max(start < 0 ? start + size : start, 0), size);
      const e = end === null ? size : Math.min(Math.max(end < 0 ? end + size : end, 0), size);
      const len = e > s ? Math.ceil((e - s) / step) : 0;
      const data = randArray(numel(shape), 5);
      for (const device of ['gpu', 'cpu'] as const) {
        const r = await run(device, [{ data, shape }], (x) => slice(x, dim, start, end, step));
        expect(r.shape).toEqual(shape.map((n, i) => (i === dim ? len : n)));
        expectClose(r.y, refNarrow(data, shape, dim, s, len, step), 0, 0, `${device} y`);
        expectClose(r.gx[0], refNarrowGrad(r.g, shape, dim, s, len, step), 0, 0, `${device} gx`);
        if (step === 1 && len > 0) {
          const q = await run(device, [{ data, shape }], (x) => narrow(x, dim, s, len));
          expectClose(q.y, r.y, 0, 0, `${device} narrow = slice`);
        }
      }
    });

  it('torch values: arange(10)[1:8:3], [-100:100:2], [4:-1], narrow(arange(6), 0, -2, 2)', async () => {
    const x = wt.arange(0, 10, 1);
    expect(Array.from(await slice(x, 0, 1, 8, 3).toArray())).toEqual([1, 4, 7]);
    expect(Array.from(await slice(x, 0, -100, 100, 2).toArray())).toEqual([0, 2, 4, 6, 8]);
    expect(Array.from(await slice(x, 0, 4, -1).toArray())).toEqual([4, 5, 6, 7, 8]);
    expect(Array.from(await narrow(wt.arange(0, 6, 1), 0, -2, 2).toArray())).toEqual([4, 5]);
  });

  it('gradchecks in float64', () => {
    expect(wt.testing.gradcheck((x) => narrow(x, 1, 1, 3), [f64(randArray(15, 1), [3, 5])])).toBe(true);
    expect(wt.testing.gradcheck((x) => slice(x, 0, 1, null, 2), [f64(randArray(21, 2), [7, 3])])).toBe(true);
  });

  it('works on int32 tensors', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor([0, 1, 2, 3, 4, 5], [2, 3], { device, dtype: 'int32' });
      expect(Array.from(await slice(x, 1, 0, null, 2).toArray())).toEqual([0, 2, 3, 5]);
    }
  });
});

describe('pad', () => {
  const cases: [number[], number[], number][] = [
    [[3, 4], [1, -1, -1, 2], 7], // torch: [[7,4,5,6],[7,8,9,10],[7,7,7,7],[7,7,7,7]] on arange(12)
    [[2, 3, 5, 5], [1, 1, 1, 1], 0],
    [[1, 1, 4, 3], [2, 0], -1.5],
    [[2, 3, 4], [0, 0, 0, 0, 1, 2], 0.25],
    [[5, 6], [-2, -3, 0, 0], 0],
    [[3, 3], [-3, 0], 1],
  ];
  for (const [shape, pads, value] of cases)
    it(`pad ${JSON.stringify(shape)} by [${pads}] with ${value} (GPU = CPU = reference) with gradients`, async () => {
      const lo = shape.map(() => 0);
      const os = [...shape];
      for (let k = 0; k < pads.length / 2; k++) {
        const d = shape.length - 1 - k;
        lo[d] = pads[2 * k];
        os[d] += pads[2 * k] + pads[2 * k + 1];
      }
      const data = randArray(numel(shape), 9);
      for (const device of ['gpu', 'cpu'] as const) {
        const r = await run(device, [{ data, shape }], (x) => pad(x, pads, value));
        expect(r.shape).toEqual(os);
        expectClose(r.y, refPad(data, shape, lo, os, value), 0, 0, `${device} y`);
        // adjoint: gx[t] = g[t + lo] where in range, else 0
        expectClose(r.gx[0], refPad(r.g, os, lo.map((v) => -v), shape, 0), 0, 0, `${device} gx`);
      }
    });

  it("matches torch's F.pad(arange(12).reshape(3, 4), (1, -1, -1, 2), value=7), as wt.pad and wt.nn.functional.pad", async () => {
    for (const f of [wt.pad, wt.nn.functional.pad]) {
      const y = f(wt.arange(0, 12, 1).reshape([3, 4]), [1, -1, -1, 2], 7);
      expect(await y.toList()).toEqual([[7, 4, 5, 6], [7, 8, 9, 10], [7, 7, 7, 7], [7, 7, 7, 7]]);
    }
  });

  it('pads int32 tensors and empty tensors', async () => {
    for (const device of ['gpu', 'cpu'] as const) {
      const y = pad(wt.tensor([1, 2], [1, 2], { device, dtype: 'int32' }), [1, 1], -3);
      expect(Array.from(await y.toArray())).toEqual([-3, 1, 2, -3]);
      const e = pad(wt.zeros([0, 3], { device }), [1, 1, 1, 1], 2);
      expect(e.shape).toEqual([2, 5]);
      expect(Array.from(await e.toArray())).toEqual(new Array(10).fill(2));
    }
  });

  it('merges untouched leading dims into one', () => {
    const q = planPad({ outShape: [2, 3, 7, 7], inShape: [2, 3, 5, 5], lo: [0, 0, 1, 1], step: [1, 1, 1, 1], value: 0, valueBits: 0 });
    expect(q.out).toEqual([6, 7, 7]);
  });

  it('gradchecks in float64', () => {
    expect(wt.testing.gradcheck((x) => pad(x, [1, -1, 2, 0], 3), [f64(randArray(12, 1), [3, 4])])).toBe(true);
  });
});

describe('chunk and split', () => {
  it('split sizes follow torch', () => {
    const x = wt.arange(0, 10, 1);
    expect(chunk(x, 4).map((t) => t.shape[0])).toEqual([3, 3, 3, 1]);
    expect(chunk(x, 6).map((t) => t.shape[0])).toEqual([2, 2, 2, 2, 2]);
    expect(chunk(wt.arange(0, 5, 1), 10).map((t) => t.shape[0])).toEqual([1, 1, 1, 1, 1]);
    expect(chunk(wt.zeros([0]), 3).map((t) => t.shape[0])).toEqual([0, 0, 0]);
    expect(split(x, 3).map((t) => t.shape[0])).toEqual([3, 3, 3, 1]);
    expect(split(x, [2, 8]).map((t) => t.shape[0])).toEqual([2, 8]);
    expect(split(wt.zeros([0, 2]), 2).map((t) => t.shape)).toEqual([[0, 2]]);
  });

  it('pieces hold the right values and their gradients add up (GPU = CPU)', async () => {
    const data = randArray(4 * 7, 3);
    const grads: ArrayLike<number>[] = [];
    for (const device of ['gpu', 'cpu'] as const) {
      const x = wt.tensor(data, [4, 7], { device, requiresGrad: true });
      const parts = split(x, [2, 0, 5], 1);
      expect(parts.map((t) => t.shape)).toEqual([[4, 2], [4, 0], [4, 5]]);
      expectClose(await parts[2].toArray(), refNarrow(data, [4, 7], 1, 2, 5), 0, 0, `${device} part`);
      const c = chunk(x, 3, -1);
      expect(c.map((t) => t.shape)).toEqual([[4, 3], [4, 3], [4, 1]]);
      // d/dx of sum(2 * c0) + sum(c2 * c2) + sum(parts[0])
      c[0].mul(2).sum().add(c[2].mul(c[2]).sum()).add(parts[0].sum()).backward();
      grads.push(await x.grad!.toArray());
    }
    const ref = new Float64Array(28);
    for (let r = 0; r < 4; r++)
      for (let k = 0; k < 7; k++) ref[r * 7 + k] = (k < 3 ? 2 : 0) + (k === 6 ? 2 * data[r * 7 + k] : 0) + (k < 2 ? 1 : 0);
    expectClose(grads[0], ref, 1e-6, 1e-6, 'gpu');
    expectClose(grads[1], ref, 1e-6, 1e-6, 'cpu');
  });

  it('gradchecks in float64', () => {
    expect(wt.testing.gradcheck((x) => { const [a, b] = chunk(x, 2, 1); return a.mul(b); }, [f64(randArray(12, 4), [3, 4])])).toBe(true);
  });
});

describe('shape-op errors', () => {
  const x = wt.zeros([2, 3], { device: 'cpu' });
  it('reject bad arguments naming the op and the values', () => {
    expect(() => cat([], 0)).toThrow(/cat: expected a non-empty list of tensors/);
    expect(() => cat([x, wt.zeros([3, 3], { device: 'cpu' })], 1)).toThrow(/cat: sizes of tensors must match except in dimension 1: expected \[2,3\] but got \[3,3\] \(element 1\)/);
    expect(() => cat([x, x], 2)).toThrow(/cat: dim 2 is out of range for a tensor of shape \[2,3\]/);
    expect(() => cat([x, wt.zeros([2, 3], { device: 'cpu', dtype: 'int32' })])).toThrow(/cat: expected tensors of one dtype/);
    expect(() => cat([wt.zeros([]), wt.zeros([])])).toThrow(/cat: zero-dimensional tensor/);
    expect(() => stack([x, wt.zeros([3, 2], { device: 'cpu' })])).toThrow(/stack: expects each tensor to be equal size, but got \[2,3\] at entry 0 and \[3,2\] at entry 1/);
    expect(() => narrow(x, 1, 2, 2)).toThrow(/narrow: start \(2\) \+ length \(2\) exceeds dimension size \(3\)/);
    expect(() => narrow(x, 0, 0, -1)).toThrow(/narrow: length must be non-negative, got -1/);
    expect(() => slice(x, 1, 0, 3, 0)).toThrow(/slice: step must be greater than zero, got 0/);
    expect(() => slice(x, 1, 0.5)).toThrow(/slice: start must be an integer, got 0.5/);
    expect(() => pad(x, [1, 1, 1])).toThrow(/pad: pads must have an even length/);
    expect(() => pad(x, [1, 1, 1, 1, 1, 1])).toThrow(/pad: pads \[1, 1, 1, 1, 1, 1\] cover 3 dims but the tensor has shape \[2,3\]/);
    expect(() => pad(x, [-2, -2])).toThrow(/pad: pads \(-2, -2\) on dim 1 of size 3 give a negative size -1/);
    expect(() => chunk(x, 0)).toThrow(/chunk: chunks must be greater than 0, got 0/);
    expect(() => split(x, [1, 3], 1)).toThrow(/split: section sizes \[1, 3\] must add up to 3/);
    expect(() => split(x, 0, 1)).toThrow(/split: split size must be positive/);
  });
});
