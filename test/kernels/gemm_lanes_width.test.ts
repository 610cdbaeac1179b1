// The 'lanes' GEMM core at lane widths 4 and 1 (the designs SwiftShader and Firefox get, see
// src/policy/gemm_choice.ts) on this machine's adapter, against the CPU twins: matmul in every
// orientation, linear, and conv2d through every path that runs a GEMM (implicit GEMMs, small-map
// im2col, column gradient, groups). Width 4 on lavapipe (subgroups of 8) runs one 4-lane group per
// workgroup; width 1 uses no subgroup operations. The same checks run in the browsers
// (test/browser/kernel_parity.test.ts), where width 4 runs two groups per workgroup on SwiftShader.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import type { LanesWidth } from '../../src/kernels/gemm.ts';
import { matmulKernel } from '../../src/kernels/matmul.ts';
import { chooseGemm, lanesConfig, setGemmVariant } from '../../src/policy/gemm_choice.ts';
import { deviceCaps } from '../../src/backend/device.ts';
import { expectClose, initGpu, randArray } from '../helpers.ts';

beforeAll(initGpu);
afterAll(() => {
  setGemmVariant(undefined);
  lanesConfig.width = undefined;
});

async function fwdBwd(device: 'cpu' | 'gpu', shapes: number[][], fn: (...xs: wt.Tensor[]) => wt.Tensor): Promise<Float32Array[]> {
  const xs = shapes.map((s, i) => wt.tensor(randArray(s.reduce((a, b) => a * b, 1), 11 + 7 * i), s, { device, requiresGrad: true }));
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

for (const width of [4, 1] as LanesWidth[]) {
  describe(`lanes core at width ${width}`, () => {
    beforeAll(() => {
      setGemmVariant('lanes');
      lanesConfig.width = width;
    });
    afterAll(() => {
      setGemmVariant(undefined);
      lanesConfig.width = undefined;
    });

    it('is what the policy launches, with subgroup operations only above width 1', () => {
      const choice = chooseGemm('matmul', deviceCaps());
      expect(choice.lanesWidth).toBe(width);
      const p = { batch: 1, m: 33, n: 45, k: 70, transA: false, transB: false, aBatch: 0, bBatch: 0, bias: false, relu: false, ...choice };
      const src = matmulKernel.wgsl(p, deviceCaps());
      expect(/subgroupBroadcast/.test(src)).toBe(width > 1);
      expect(/enable subgroups/.test(src)).toBe(width > 1);
      expect(matmulKernel.spec(p, deviceCaps())).toContain(`w${width}`);
    });

    it('matmul (every orientation, odd sizes, batched) and linear', async () => {
      await parity('matmul', [[17, 33], [33, 65]], (a, b) => wt.matmul(a, b));
      await parity('matmul m<=8', [[6, 25], [25, 130]], (a, b) => wt.matmul(a, b));
      await parity('matmul aT', [[33, 17], [33, 64]], (a, b) => wt.matmul(a.transpose(0, 1), b));
      await parity('bmm', [[3, 8, 20], [3, 20, 12]], (a, b) => wt.matmul(a, b));
      await parity('linear', [[5, 64], [24, 64], [24]], (x, w, b) => wt.linear(x, w, b));
      await parity('linear lenet fc', [[32, 400], [120, 400], [120]], (x, w, b) => wt.linear(x, w, b));
    });

    it('conv2d forward and both gradients on every GEMM path', async () => {
      // LeNet's convolutions (conv1: the column gradient for dX, Cin 1)
      await parity('lenet conv1', [[3, 1, 28, 28], [6, 1, 5, 5], [6]], (x, w, b) => wt.conv2d(x, w, b, { padding: 2 }));
      await parity('lenet conv2', [[3, 6, 14, 14], [16, 6, 5, 5], [16]], (x, w, b) => wt.conv2d(x, w, b));
      // stride, fused ReLU, the small-map im2col path (6x6 maps, Cin >= 8), groups with dilation
      await parity('stride 2 relu', [[2, 8, 9, 9], [12, 8, 3, 3], [12]], (x, w, b) => wt.conv2d(x, w, b, { stride: 2, padding: 1, relu: true }));
      await parity('small maps', [[3, 16, 6, 6], [8, 16, 3, 3], [8]], (x, w, b) => wt.conv2d(x, w, b, { padding: 1 }));
      await parity('groups', [[2, 4, 10, 10], [6, 2, 3, 3], [6]], (x, w, b) => wt.conv2d(x, w, b, { padding: 2, dilation: 2, groups: 2 }));
    });
  });
}
