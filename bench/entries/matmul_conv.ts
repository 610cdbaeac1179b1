// GEMM-family entries (kind 'flops', 2 per multiply-add): square matmul 256^3..4096^3, AlexNet's
// fc layer 128x6400x4096 (forward and both backward GEMMs), and every AlexNet conv layer forward /
// input gradient / weight gradient at batch 128 (nominal FLOPs 2*B*Cout*OH*OW*Cin*KH*KW each).
// On a software adapter (small) the matmuls stop at 1024, the fc batch is 32 and the convs run at
// batch 4 so each entry stays under a few seconds. Each run() records the op's kernel launches
// (no input requires grad, so no graph) and disposes its output; the backward GEMM of fc reads
// its transposed operand in place (wt.kernels.gemm), as linear's backward does.
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

interface ConvLayer {
  name: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
  hw: number;
}

// AlexNet (1-channel 224x224 input variant of this project)
const CONVS: ConvLayer[] = [
  { name: 'conv1', cin: 1, cout: 96, k: 11, stride: 4, pad: 1, hw: 224 },
  { name: 'conv2', cin: 96, cout: 256, k: 5, stride: 1, pad: 2, hw: 26 },
  { name: 'conv3', cin: 256, cout: 384, k: 3, stride: 1, pad: 1, hw: 12 },
  { name: 'conv4', cin: 384, cout: 384, k: 3, stride: 1, pad: 1, hw: 12 },
  { name: 'conv5', cin: 384, cout: 256, k: 3, stride: 1, pad: 1, hw: 12 },
];

function convEntries(l: ConvLayer, batch: number): BenchEntry[] {
  const o = Math.floor((l.hw + 2 * l.pad - l.k) / l.stride) + 1;
  const xs = [batch, l.cin, l.hw, l.hw];
  const ws = [l.cout, l.cin, l.k, l.k];
  const ys = [batch, l.cout, o, o];
  const flops = 2 * batch * l.cout * o * o * l.cin * l.k * l.k;
  const shape = `${batch}x${l.cin}x${l.hw}x${l.hw} * ${l.cout}x${l.k}x${l.k}/${l.stride}`;
  const opt = { stride: l.stride, padding: l.pad };
  return [
    entry(`${l.name}.fwd`, shape, flops, [xs, ws, [l.cout]], ([x, w, b]) => wt.conv2d(x, w, b, opt)),
    entry(`${l.name}.bwd-input`, shape, flops, [ws, ys], ([w, gy]) => wt.nn.grad.conv2dInput(xs, w, gy, opt)),
    entry(`${l.name}.bwd-weight`, shape, flops, [xs, ys], ([x, gy]) => wt.nn.grad.conv2dWeight(x, ws, gy, opt)),
  ];
}

export function entries(small: boolean): BenchEntry[] {
  const out: BenchEntry[] = [];
  for (const n of small ? [256, 512, 1024] : [256, 512, 1024, 2048, 4096])
    out.push(entry('matmul', `${n}x${n}x${n}`, 2 * n ** 3, [[n, n], [n, n]], ([a, b]) => wt.matmul(a, b)));
  // fc: x [B, 6400] @ W^T (W [4096, 6400]) and its two backward GEMMs
  const [fb, fi, fo] = [small ? 32 : 128, 6400, 4096];
  const fflops = 2 * fb * fi * fo;
  out.push(
    entry('fc.fwd', `${fb}x${fi}x${fo}`, fflops, [[fb, fi], [fo, fi], [fo]], ([x, w, b]) => wt.linear(x, w, b)),
    entry('fc.bwd-input', `${fb}x${fo}x${fi}`, fflops, [[fb, fo], [fo, fi]], ([g, w]) => wt.matmul(g, w)),
    entry('fc.bwd-weight', `${fo}x${fi}x${fb}`, fflops, [[fb, fo], [fb, fi]], ([g, x]) => wt.kernels.gemm(g, x, { transA: true })),
  );
  for (const l of CONVS) out.push(...convEntries(l, small ? 4 : 128));
  return out;
}
