// Autograd of matmul, linear and conv2d: gradcheck on float64 CPU tensors, GPU-vs-CPU gradient
// parity with both GEMM designs, the fused-ReLU path against the unfused ops, and argument errors.
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import type { GemmVariant } from '../../src/kernels/gemm.ts';
import { setGemmVariant } from '../../src/policy/gemm_choice.ts';
import { smallMapsConfig, useSmallMaps } from '../../src/policy/conv_choice.ts';
import { deviceCaps } from '../../src/backend/device.ts';

beforeAll(async () => {
  await initGpu();
});
afterAll(() => setGemmVariant(undefined));

const f64 = (shape: number[], seed: number, requiresGrad = true) =>
  wt.tensor(Float64Array.from(randArray(shape.reduce((a, b) => a * b, 1), seed)), shape, { device: 'cpu', dtype: 'float64', requiresGrad });
const gc = wt.testing.gradcheck;

describe('gradcheck (float64 CPU)', () => {
  it('matmul: 2-D, batched, broadcast, vector', () => {
    expect(gc((a, b) => wt.matmul(a, b), [f64([3, 4], 1), f64([4, 5], 2)])).toBe(true);
    expect(gc((a, b) => wt.matmul(a, b), [f64([2, 3, 4], 3), f64([2, 4, 2], 4)])).toBe(true);
    expect(gc((a, b) => wt.matmul(a, b), [f64([2, 3, 4], 5), f64([4, 3], 6)])).toBe(true);
    expect(gc((a, b) => wt.matmul(a, b), [f64([3, 4], 7), f64([2, 4, 2], 8)])).toBe(true);
    expect(gc((a, b) => wt.matmul(a, b), [f64([4], 9), f64([4, 3], 10)])).toBe(true);
  });

  it('linear: with and without bias, 3-D input', () => {
    expect(gc((x, w, b) => wt.linear(x, w, b), [f64([3, 5], 1), f64([4, 5], 2), f64([4], 3)])).toBe(true);
    expect(gc((x, w) => wt.linear(x, w), [f64([2, 3, 5], 4), f64([2, 5], 5)])).toBe(true);
  });

  it('conv2d: bias, stride, padding, rectangular kernel', () => {
    const x = f64([2, 3, 7, 6], 1);
    const w = f64([4, 3, 3, 2], 2);
    const b = f64([4], 3);
    expect(gc((x, w, b) => wt.conv2d(x, w, b, { stride: [2, 1], padding: [1, 0] }), [x, w, b])).toBe(true);
  });

  it('conv2d: kernel larger than stride, no bias', () => {
    expect(gc((x, w) => wt.conv2d(x, w, null, { stride: 3, padding: 2 }), [f64([1, 2, 8, 9], 4), f64([3, 2, 5, 5], 5)])).toBe(true);
  });

  it('conv2d: 8 input channels (class-GEMM input gradient; fewer channels use the column path)', () => {
    expect(gc((x, w) => wt.conv2d(x, w, null, { stride: 2, padding: 1 }), [f64([1, 8, 5, 5], 8), f64([2, 8, 3, 3], 9)])).toBe(true);
  });

  it('conv2d: fused ReLU', () => {
    // shift the bias so few pre-activations sit near the kink
    const b = wt.tensor(Float64Array.from([0.3, -0.2, 0.1]), [3], { device: 'cpu', dtype: 'float64', requiresGrad: true });
    expect(gc((x, w, b) => wt.conv2d(x, w, b, { padding: 1, relu: true }), [f64([2, 2, 5, 5], 6), f64([3, 2, 3, 3], 7), b])).toBe(true);
  });
});

/** Forward + backward of fn on one device; returns output and input gradients. */
async function fwdBwd(device: 'cpu' | 'gpu', shapes: number[][], fn: (...xs: wt.Tensor[]) => wt.Tensor): Promise<Float32Array[]> {
  const xs = shapes.map((s, i) => wt.tensor(randArray(s.reduce((a, b) => a * b, 1), 20 + i), s, { device, requiresGrad: true }));
  const y = fn(...xs);
  y.backward(wt.tensor(randArray(y.size, 99), y.shape, { device }));
  const out = [(await y.toArray()) as Float32Array];
  for (const x of xs) out.push((await x.grad!.toArray()) as Float32Array);
  [y, ...xs].forEach((t) => t.dispose());
  return out;
}

async function parity(what: string, shapes: number[][], fn: (...xs: wt.Tensor[]) => wt.Tensor): Promise<void> {
  const g = await fwdBwd('gpu', shapes, fn);
  const c = await fwdBwd('cpu', shapes, fn);
  g.forEach((v, i) => expectClose(v, c[i], 1e-4, 1e-4, `${what} ${i ? `grad ${i - 1}` : 'output'}`));
}

describe('GPU vs CPU gradients', () => {
  for (const variant of ['lanes', 'tiled'] as GemmVariant[]) {
    it(`${variant}: matmul and linear`, async () => {
      setGemmVariant(variant);
      await parity('matmul', [[17, 33], [33, 65]], (a, b) => wt.matmul(a, b));
      await parity('bmm', [[3, 8, 20], [3, 20, 12]], (a, b) => wt.matmul(a, b));
      await parity('linear', [[5, 64], [24, 64], [24]], (x, w, b) => wt.linear(x, w, b));
      setGemmVariant(undefined);
    });

    it(`${variant}: conv2d (AlexNet-like shapes, scaled down)`, async () => {
      setGemmVariant(variant);
      await parity('conv1-like', [[2, 1, 35, 35], [8, 1, 11, 11], [8]], (x, w, b) => wt.conv2d(x, w, b, { stride: 4, padding: 1, relu: true }));
      await parity('conv2-like', [[2, 8, 9, 9], [12, 8, 5, 5], [12]], (x, w, b) => wt.conv2d(x, w, b, { padding: 2, relu: true }));
      await parity('conv3-like', [[3, 12, 6, 6], [20, 12, 3, 3], [20]], (x, w, b) => wt.conv2d(x, w, b, { padding: 1 }));
      setGemmVariant(undefined);
    });
  }

  for (const variant of ['lanes', 'tiled'] as GemmVariant[]) {
    it(`${variant}: small feature maps (explicit im2col + matmul path)`, async () => {
      setGemmVariant(variant);
      const g = { batch: 1, cin: 9, h: 3, w: 3, cout: 5, kh: 3, kw: 3, sh: 1, sw: 1, ph: 1, pw: 1, dh: 1, dw: 1, groups: 1, oh: 3, ow: 3 };
      expect(useSmallMaps(g, deviceCaps())).toBe(true);
      // 3x3 maps, batch 1, K = 81 (no vec4), odd channel counts
      await parity('3x3 b1', [[1, 9, 3, 3], [5, 9, 3, 3], [5]], (x, w, b) => wt.conv2d(x, w, b, { padding: 1, relu: true }));
      await parity('3x3 b3', [[3, 16, 3, 3], [12, 16, 3, 3], [12]], (x, w, b) => wt.conv2d(x, w, b, { padding: 1 }));
      // 5x5 kernel on 7x7 maps (conv2-like), odd batch
      await parity('7x7 k5', [[3, 8, 7, 7], [11, 8, 5, 5], [11]], (x, w, b) => wt.conv2d(x, w, b, { padding: 2, relu: true }));
      // no padding (the flipped input gradient pads K-1), rectangular kernel / map, uneven padding
      await parity('pad 0', [[2, 10, 5, 4], [7, 10, 3, 2]], (x, w) => wt.conv2d(x, w, null));
      await parity('pad [2,0]', [[2, 8, 4, 5], [6, 8, 3, 3], [6]], (x, w, b) => wt.conv2d(x, w, b, { padding: [2, 0] }));
      // stride 2: forward and dW on the small path, dX on the class GEMM
      await parity('stride 2', [[2, 8, 7, 7], [9, 8, 3, 3], [9]], (x, w, b) => wt.conv2d(x, w, b, { stride: 2, padding: 1 }));
      // few output channels: the flipped convolution (Cin = 3 < 8) keeps the class GEMM for dX
      await parity('cout 3', [[2, 8, 3, 3], [3, 8, 3, 3]], (x, w) => wt.conv2d(x, w, null, { padding: 1 }));
      setGemmVariant(undefined);
    });
  }

  it('small-map path matches the implicit-GEMM path on the GPU', async () => {
    const shapes = [[4, 16, 3, 3], [24, 16, 3, 3], [24]];
    const run = () => fwdBwd('gpu', shapes, (x, w, b) => wt.conv2d(x, w, b, { padding: 1, relu: true }));
    const fast = await run();
    smallMapsConfig.enabled = false;
    try {
      const plain = await run();
      fast.forEach((v, i) => expectClose(v, plain[i], 1e-4, 1e-5, `small-map ${i}`));
    } finally {
      smallMapsConfig.enabled = true;
    }
  });

  it('fused ReLU equals conv2d followed by relu (values and gradients)', async () => {
    const shapes = [[2, 3, 8, 8], [5, 3, 3, 3], [5]];
    const fused = await fwdBwd('gpu', shapes, (x, w, b) => wt.conv2d(x, w, b, { padding: 1, relu: true }));
    const plain = await fwdBwd('gpu', shapes, (x, w, b) => wt.relu(wt.conv2d(x, w, b, { padding: 1 })));
    fused.forEach((v, i) => expectClose(v, plain[i], 1e-5, 1e-6, `fused ${i}`));
  });

  it('the weight gradient split over the batch sums to the unsplit one', async () => {
    // batch 64 on a tiny layer makes the tiled design split dW into per-batch partials
    setGemmVariant('tiled');
    await parity('dW split', [[64, 2, 5, 5], [3, 2, 3, 3]], (x, w) => wt.conv2d(x, w, null, { padding: 1 }));
    setGemmVariant(undefined);
  });
});

describe('argument errors', () => {
  const x = () => wt.zeros([1, 3, 8, 8]);
  it('conv2d', () => {
    expect(() => wt.conv2d(wt.zeros([3, 8, 8]), wt.zeros([4, 3, 3, 3]))).toThrow(/conv2d: expected input x of shape \[B, Cin, H, W\], got \[3,8,8\]/);
    expect(() => wt.conv2d(x(), wt.zeros([4, 2, 3, 3]))).toThrow(/conv2d: input has 3 channels but the weight expects 2/);
    expect(() => wt.conv2d(x(), wt.zeros([4, 3, 3, 3]), wt.zeros([3]))).toThrow(/conv2d: expected bias of shape \[4\], got \[3\]/);
    expect(() => wt.conv2d(x(), wt.zeros([4, 3, 3, 3]), null, { stride: 0 })).toThrow(/conv2d: stride must be an integer >= 1/);
    expect(() => wt.conv2d(x(), wt.zeros([4, 3, 3, 3]), null, { padding: -1 })).toThrow(/conv2d: padding must be an integer >= 0/);
    expect(() => wt.conv2d(x(), wt.zeros([4, 3, 11, 11]))).toThrow(/conv2d: kernel 11x11 is larger than the padded input 8x8/);
    expect(() => wt.conv2d(x(), wt.zeros([4, 3, 3, 3], { device: 'cpu' }))).toThrow(/conv2d: tensors are on different devices/);
  });

  it('linear', () => {
    expect(() => wt.linear(wt.zeros([2, 5]), wt.zeros([3, 4]))).toThrow(/linear: input \[2,5\] does not end in in_features 4/);
    expect(() => wt.linear(wt.zeros([2, 4]), wt.zeros([3, 4]), wt.zeros([4]))).toThrow(/linear: expected bias of shape \[3\], got \[4\]/);
    expect(() => wt.linear(wt.zeros([2, 4]), wt.zeros([12]))).toThrow(/linear: expected weight of shape \[out, in\]/);
  });

  it('an activation over the binding limit names the op and the batch that fits', () => {
    // AlexNet conv1 at batch 128: the output [128, 96, 54, 54] is 143 MB
    const max = wt.deviceInfo().limits.maxStorageBufferBindingSize;
    const batch = Math.ceil(max / (96 * 54 * 54 * 4)) + 1;
    const xb = wt.zeros([batch, 1, 224, 224]);
    expect(() => wt.conv2d(xb, wt.zeros([96, 1, 11, 11]), null, { stride: 4, padding: 1 })).toThrow(
      /conv2d: output \[\d+,96,54,54\] needs .* MiB, more than this adapter's maxStorageBufferBindingSize .*; use a batch of at most \d+/,
    );
    xb.dispose();
  });
});
