// Loss entries (kind 'bytes'): cross entropy with label smoothing 0.1, forward + mean + backward,
// on a CIFAR-sized head [128, 10] and an ImageNet-sized one [256, 1000]. `.rows` / `.lanes` time
// the three raw dispatches (forward in that layout, scalar mean, backward) into preallocated
// buffers; `.op` runs wt.crossEntropy and backward() through autograd (the layout the library
// picks, src/policy/cross_entropy_choice.ts; allocation from the pool, the mean kernel, the
// gradient), as training does.
// Bytes: logits read twice and the gradient written once (3 B C), plus labels, lse and per-row
// losses (about 7 B words). `mseLoss.fwd+bwd` runs wt.mseLoss and backward() on 1 Mi elements
// (forward reads a, b; backward reads a, b and writes the gradient: 5 n words).
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';

const { runKernel, ceForwardKernel, ceBackwardKernel, scalarSumKernel } = wt.kernels;

const F = 4; // bytes per f32 / i32
const SMOOTHING = 0.1;

function entry(name: string, b: number, c: number, make: () => { run(): void; tensors: wt.Tensor[] }): BenchEntry {
  return {
    name,
    shape: `${b}x${c} ls${SMOOTHING}`,
    kind: 'bytes',
    work: (3 * b * c + 7 * b) * F,
    setup() {
      const { run, tensors } = make();
      return { run, dispose: () => tensors.forEach((t) => t.dispose()) };
    },
  };
}

const labelsOf = (b: number, c: number) =>
  wt.tensor(Int32Array.from({ length: b }, (_, i) => (i * 37) % c), [b], { dtype: 'int32' });

function kernels(layout: 'rows' | 'lanes', b: number, c: number): BenchEntry {
  return entry(`crossEntropy.ls.${layout}`, b, c, () => {
    const x = wt.randn([b, c]);
    const labels = labelsOf(b, c);
    const [lse, loss, out, gx] = [wt.zeros([b]), wt.zeros([b]), wt.ones([]), wt.zeros([b, c])];
    const flag = wt.zeros([1], { dtype: 'int32' });
    const p = { b, c, smoothing: SMOOTHING, layout };
    return {
      run: () => {
        runKernel(ceForwardKernel, p, [x, labels, lse, loss, flag]);
        runKernel(scalarSumKernel, { n: b, scale: 1 / b, accumulate: false }, [loss, out]);
        runKernel(ceBackwardKernel, { ...p, scale: 1 / b }, [x, labels, lse, out, gx]);
      },
      tensors: [x, labels, lse, loss, out, gx, flag],
    };
  });
}

function op(b: number, c: number): BenchEntry {
  return entry('crossEntropy.ls.op', b, c, () => {
    const x = wt.randn([b, c]).requiresGrad_();
    const labels = labelsOf(b, c);
    return {
      run: () => {
        const loss = wt.crossEntropy(x, labels, { labelSmoothing: SMOOTHING });
        loss.backward();
        loss.dispose();
        x.zeroGrad();
      },
      tensors: [x, labels],
    };
  });
}

function mse(n: number): BenchEntry {
  return {
    name: 'mseLoss.fwd+bwd',
    shape: `${n}`,
    kind: 'bytes',
    work: 5 * n * F,
    setup() {
      const a = wt.randn([n]).requiresGrad_();
      const b = wt.randn([n]);
      return {
        run: () => {
          const loss = wt.mseLoss(a, b);
          loss.backward();
          loss.dispose();
          a.zeroGrad();
        },
        dispose: () => [a, b].forEach((t) => t.dispose()),
      };
    },
  };
}

export function entries(small: boolean): BenchEntry[] {
  const out: BenchEntry[] = [];
  for (const [b, c] of [[128, 10], [256, 1000]]) out.push(kernels('rows', b, c), kernels('lanes', b, c), op(b, c));
  out.push(mse(small ? 1 << 20 : 1 << 24));
  return out;
}
