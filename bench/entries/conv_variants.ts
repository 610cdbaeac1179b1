// conv2d variants (kind 'flops', 2 per multiply-add; nominal FLOPs 2*B*Cout*OH*OW*(Cin/G)*KH*KW):
// a depthwise 3x3 layer (MobileNetV2's 144-channel block at 56x56, multiplier 1), grouped 3x3
// layers of ResNeXt blocks (128 channels at 28x28 in 8 groups of 16 or 32 groups of 4) and a dilated
// 3x3 layer (DeepLab's ASPP branch, dilation 6 on a 33x33 map), each forward / input gradient / weight
// gradient. On a software adapter (small) the batch is 2 and the channels fewer, so each entry
// stays under a few seconds. Each run() records the op's kernel launches (no input requires grad,
// so no graph) and disposes its output.
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';

type T = wt.Tensor;

function entry(name: string, shape: string, flops: number, inputs: number[][], op: (xs: T[]) => T): BenchEntry {
  return {
    name,
    shape,
    kind: 'flops',
    work: flops,
    setup() {
      const xs = inputs.map((s) => wt.randn(s));
      return {
        run: () => op(xs).dispose(),
        dispose: () => xs.forEach((x) => x.dispose()),
      };
    },
  };
}

interface Variant {
  name: string;
  batch: number;
  cin: number;
  cout: number;
  hw: number;
  k: number;
  stride: number;
  pad: number;
  dilation: number;
  groups: number;
}

function variantEntries(v: Variant): BenchEntry[] {
  const o = Math.floor((v.hw + 2 * v.pad - v.dilation * (v.k - 1) - 1) / v.stride) + 1;
  const xs = [v.batch, v.cin, v.hw, v.hw];
  const ws = [v.cout, v.cin / v.groups, v.k, v.k];
  const ys = [v.batch, v.cout, o, o];
  const flops = 2 * v.batch * v.cout * o * o * (v.cin / v.groups) * v.k * v.k;
  const shape = `${v.batch}x${v.cin}x${v.hw}x${v.hw} * ${v.cout}x${v.cin / v.groups}x${v.k}x${v.k}/${v.stride} d${v.dilation} g${v.groups}`;
  const opt = { stride: v.stride, padding: v.pad, dilation: v.dilation, groups: v.groups };
  return [
    entry(`${v.name}.fwd`, shape, flops, [xs, ws, [v.cout]], ([x, w, b]) => wt.conv2d(x, w, b, opt)),
    entry(`${v.name}.bwd-input`, shape, flops, [ws, ys], ([w, gy]) => wt.nn.grad.conv2dInput(xs, w, gy, opt)),
    entry(`${v.name}.bwd-weight`, shape, flops, [xs, ys], ([x, gy]) => wt.nn.grad.conv2dWeight(x, ws, gy, opt)),
  ];
}

export function entries(small: boolean): BenchEntry[] {
  const batch = small ? 2 : 64;
  const dwC = small ? 48 : 144;
  const asppC = small ? 64 : 256;
  const gBatch = small ? 2 : 32;
  return [
    ...variantEntries({ name: 'conv.depthwise3x3', batch, cin: dwC, cout: dwC, hw: 56, k: 3, stride: 1, pad: 1, dilation: 1, groups: dwC }),
    // grouped 3x3 convs of ResNeXt blocks: RegNetX's 16 channels per group, ResNeXt-50 32x4d's 4
    ...variantEntries({ name: 'conv.grouped3x3.c16', batch: gBatch, cin: 128, cout: 128, hw: 28, k: 3, stride: 1, pad: 1, dilation: 1, groups: 8 }),
    ...variantEntries({ name: 'conv.grouped3x3.c4', batch: gBatch, cin: 128, cout: 128, hw: 28, k: 3, stride: 1, pad: 1, dilation: 1, groups: 32 }),
    ...variantEntries({ name: 'conv.dilated3x3', batch, cin: asppC, cout: asppC, hw: 33, k: 3, stride: 1, pad: 6, dilation: 6, groups: 1 }),
  ];
}
