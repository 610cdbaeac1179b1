// Layer kernels, timed as raw dispatches into preallocated outputs (kind 'bytes': bytes read +
// written per run). AlexNet shapes (conv1 output 96x54x54, pool1 -> 26x26, fc 4096); batch 8 for
// --small, else 128, halved until one activation fits the adapter's largest storage binding
// (lavapipe: 128 MiB, one 128x96x54x54 activation is 137 MiB).
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';

const {
  runKernel, reluKernel, maxPoolKernel, poolOut, maxPoolBackward, maxPoolForwardKernel, dropoutKernel,
  dropThreshold, ceForwardKernel, ceBackwardKernel, scalarSumKernel, lrnKernel, sgdKernel,
} = wt.kernels;

const F = 4; // bytes per f32 / i32

function entry(name: string, shape: string, work: number, make: () => { run(): void; tensors: wt.Tensor[] }): BenchEntry {
  return {
    name,
    shape,
    kind: 'bytes',
    work,
    setup() {
      const { run, tensors } = make();
      return { run, dispose: () => tensors.forEach((t) => t.dispose()) };
    },
  };
}

export function entries(small: boolean): BenchEntry[] {
  const [c, h, w] = [96, 54, 54];
  const maxBinding = wt.deviceInfo().limits.maxStorageBufferBindingSize ?? 2 ** 27;
  let batch = small ? 8 : 128;
  while (batch > 1 && batch * c * h * w * F > maxBinding) batch /= 2;
  const act = batch * c * h * w;
  const oh = poolOut(h, 3, 2, 0);
  const ow = poolOut(w, 3, 2, 0);
  const pooled = batch * c * oh * ow;
  const geom = { n: batch * c, h, w, oh, ow, kh: 3, kw: 3, sh: 2, sw: 2, ph: 0, pw: 0 };
  const actShape = `${batch}x${c}x${h}x${w}`;
  const dn = 128 * 4096;
  const [cb, cc] = [128, 1000];
  const sn = small ? 1 << 20 : 4096 * 4096;
  return [
    entry('relu.fwd', actShape, 2 * act * F, () => {
      const x = wt.randn([act]);
      const y = wt.zeros([act]);
      return { run: () => runKernel(reluKernel, { mode: 'fwd', n: act }, [x, y]), tensors: [x, y] };
    }),
    entry('relu.bwd', actShape, 3 * act * F, () => {
      const g = wt.randn([act]);
      const y = wt.randn([act]);
      const gx = wt.zeros([act]);
      return { run: () => runKernel(reluKernel, { mode: 'bwd', n: act }, [g, y, gx]), tensors: [g, y, gx] };
    }),
    entry('maxpool.fwd', `${actShape} k3s2 -> ${oh}x${ow} +argmax`, (act + 2 * pooled) * F, () => {
      const x = wt.randn([batch, c, h, w]);
      const y = wt.zeros([batch, c, oh, ow]);
      const idx = wt.zeros([batch, c, oh, ow], { dtype: 'int32' });
      // the library's forward for this adapter
      const k = maxPoolForwardKernel(geom);
      return { run: () => runKernel(k, { ...geom, withIdx: true }, [x, y, idx]), tensors: [x, y, idx] };
    }),
    entry('maxpool.bwd', `${actShape} k3s2 <- ${oh}x${ow}`, (act + 2 * pooled) * F, () => {
      const x = wt.randn([batch, c, h, w]);
      const y = wt.zeros([batch, c, oh, ow]);
      const idx = wt.zeros([batch, c, oh, ow], { dtype: 'int32' });
      runKernel(maxPoolKernel, { ...geom, withIdx: true }, [x, y, idx]);
      // the library's backward for this adapter (gather, or zero + 4 scatter passes), new gx each run
      return { run: () => maxPoolBackward(y, idx, geom, [batch, c, h, w]).dispose(), tensors: [x, y, idx] };
    }),
    entry('dropout', '128x4096 p0.5', 2 * dn * F, () => {
      const x = wt.randn([dn]);
      const y = wt.zeros([dn]);
      const p = { n: dn, seedLo: 1, seedHi: 2, threshold: dropThreshold(0.5), scale: 2 };
      return { run: () => runKernel(dropoutKernel, p, [x, y]), tensors: [x, y] };
    }),
    entry('crossEntropy.fwd+bwd', `${cb}x${cc}`, (3 * cb * cc + 6 * cb) * F, () => {
      const x = wt.randn([cb, cc]);
      const labels = wt.tensor(Int32Array.from({ length: cb }, (_, i) => (i * 37) % cc), [cb], { dtype: 'int32' });
      const [lse, loss, out, gx] = [wt.zeros([cb]), wt.zeros([cb]), wt.ones([]), wt.zeros([cb, cc])];
      const flag = wt.zeros([1], { dtype: 'int32' });
      return {
        run: () => {
          runKernel(ceForwardKernel, { b: cb, c: cc }, [x, labels, lse, loss, flag]);
          runKernel(scalarSumKernel, { n: cb, scale: 1 / cb, accumulate: false }, [loss, out]);
          runKernel(ceBackwardKernel, { b: cb, c: cc, scale: 1 / cb }, [x, labels, lse, out, gx]);
        },
        tensors: [x, labels, lse, loss, out, gx, flag],
      };
    }),
    entry('lrn.fwd', `${actShape} size5`, 3 * act * F, () => {
      const x = wt.randn([act]);
      const y = wt.zeros([act]);
      const s = wt.zeros([act]);
      const p = { mode: 'fwdScale' as const, b: batch, c, s: h * w, size: 5, alpha: 1e-4, beta: 0.75, k: 2 };
      return { run: () => runKernel(lrnKernel, p, [x, y, s]), tensors: [x, y, s] };
    }),
    entry('lrn.bwd', `${actShape} size5`, 4 * act * F, () => {
      const [g, x, s, gx] = [wt.randn([act]), wt.randn([act]), wt.rand([act], { low: 1, high: 2 }), wt.zeros([act])];
      const p = { mode: 'bwd' as const, b: batch, c, s: h * w, size: 5, alpha: 1e-4, beta: 0.75, k: 2 };
      return { run: () => runKernel(lrnKernel, p, [g, x, s, gx]), tensors: [g, x, s, gx] };
    }),
    entry('sgd.momentum', `${sn}`, 5 * sn * F, () => {
      const [p, g, b] = [wt.randn([sn]), wt.randn([sn]), wt.zeros([sn])];
      const o = { n: sn, lr: 0.01, momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: false, firstStep: false, withBuf: true };
      return { run: () => runKernel(sgdKernel, o, [p, g, b]), tensors: [p, g, b] };
    }),
  ];
}
