// PyTorch 1.13's outputs and input gradients for a few pooling cases (ceil mode, countIncludePad,
// divisorOverride, adaptive bins), written by pool_torch_reference.py into
// pool_torch_reference.json, and a runner that checks the library against them on a device.
import { readFileSync } from 'node:fs';
import * as wt from 'webgpu-tensor';
import { expectClose } from '../helpers.ts';
import { avgPool2d } from '../../src/autograd/avg_pool.ts';
import { adaptiveAvgPool2d, adaptiveMaxPool2d } from '../../src/autograd/adaptive_pool2d.ts';
import { maxPool2d } from '../../src/autograd/max_pool.ts';

export interface TorchCase {
  op: 'avgPool2d' | 'maxPool2d' | 'adaptiveAvgPool2d' | 'adaptiveMaxPool2d';
  shape: number[];
  args: {
    kernel?: number | [number, number];
    stride?: number;
    padding?: number | [number, number];
    ceilMode?: boolean;
    countIncludePad?: boolean;
    divisorOverride?: number;
    out?: [number, number];
  };
  outShape: number[];
  y: number[];
  gx: number[];
}

export const torchCases: TorchCase[] = JSON.parse(readFileSync(new URL('./pool_torch_reference.json', import.meta.url), 'utf8')).cases;

/** The same data pool_torch_reference.py feeds PyTorch. */
const data = (n: number, a: number, m: number, c: number, d: number) => Float32Array.from({ length: n }, (_, i) => (((i * a) % m) - c) / d);

function apply(c: TorchCase, x: wt.Tensor): wt.Tensor {
  const a = c.args;
  if (c.op === 'avgPool2d')
    return avgPool2d(x, a.kernel!, { stride: a.stride, padding: a.padding, ceilMode: a.ceilMode, countIncludePad: a.countIncludePad, divisorOverride: a.divisorOverride });
  if (c.op === 'maxPool2d') return maxPool2d(x, a.kernel!, a.stride, a.padding, { ceilMode: a.ceilMode });
  if (c.op === 'adaptiveAvgPool2d') return adaptiveAvgPool2d(x, a.out!);
  return adaptiveMaxPool2d(x, a.out!);
}

export const caseName = (c: TorchCase) => `${c.op} ${JSON.stringify(c.shape)} ${JSON.stringify(c.args)}`;

/** Forward and backward of the case on `device`; compares the output shape, values and dL/dx. */
export async function checkTorchCase(c: TorchCase, device: 'cpu' | 'gpu'): Promise<void> {
  const n = c.shape.reduce((p, q) => p * q, 1);
  const x = wt.tensor(data(n, 37, 23, 11, 8), c.shape, { device, requiresGrad: true });
  const y = apply(c, x);
  if (y.shape.join() !== c.outShape.join()) throw new Error(`${caseName(c)}: shape ${y.shape} vs torch ${c.outShape}`);
  y.backward(wt.tensor(data(y.size, 13, 7, 3, 4), y.shape, { device }));
  expectClose(await y.toArray(), c.y, 1e-5, 1e-6, `${device} y ${caseName(c)}`);
  expectClose(await x.grad!.toArray(), c.gx, 1e-5, 1e-6, `${device} gx ${caseName(c)}`);
  [x, y].forEach((t) => t.dispose());
}
