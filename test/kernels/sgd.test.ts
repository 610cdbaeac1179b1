// sgdUpdate: torch.optim.SGD semantics over 3 steps (weight decay, momentum, dampening, nesterov),
// hand-computed scalars and a double-precision reference on GPU and CPU, in-place updates, errors.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';

beforeAll(async () => {
  await initGpu();
});

interface Opts {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** torch.optim.SGD.step, in double precision, for `steps` gradients. */
function reference(p0: ArrayLike<number>, grads: ArrayLike<number>[], o: Opts) {
  const p = Float64Array.from(p0);
  let buf: Float64Array | null = null;
  for (const g of grads) {
    const d = Float64Array.from(g, (v, i) => v + o.weightDecay * p[i]);
    if (o.momentum !== 0) {
      if (!buf) buf = Float64Array.from(d);
      else for (let i = 0; i < d.length; i++) buf[i] = buf[i] * o.momentum + (1 - o.dampening) * d[i];
      for (let i = 0; i < d.length; i++) d[i] = o.nesterov ? d[i] + o.momentum * buf[i] : buf[i];
    }
    for (let i = 0; i < d.length; i++) p[i] -= o.lr * d[i];
  }
  return { p, buf };
}

async function run(device: 'cpu' | 'gpu', p0: Float32Array, grads: Float32Array[], o: Opts) {
  const n = p0.length;
  const param = wt.tensor(p0, [n], { device, requiresGrad: true });
  const buf = o.momentum !== 0 ? wt.zeros([n], { device }) : null;
  grads.forEach((g, step) => {
    const gt = wt.tensor(g, [n], { device });
    wt.optim.functional.sgd(param, gt, buf, { ...o, firstStep: step === 0 });
    gt.dispose();
  });
  return { p: await param.toArray(), buf: buf ? await buf.toArray() : null };
}

const configs: Opts[] = [
  { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
  { lr: 0.1, momentum: 0, dampening: 0, weightDecay: 5e-4, nesterov: false },
  { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false },
  { lr: 0.1, momentum: 0.9, dampening: 0.1, weightDecay: 0.01, nesterov: false },
  { lr: 0.05, momentum: 0.9, dampening: 0, weightDecay: 5e-4, nesterov: true },
];

describe('sgdUpdate', () => {
  it('matches hand-computed values over 3 steps', async () => {
    const grads = [[0.5], [-1], [2]].map((g) => Float32Array.from(g));
    for (const device of ['gpu', 'cpu'] as const) {
      // momentum 0.9, dampening 0.1, weight decay 0.01, lr 0.1: bufs 0.51, -0.432459, 1.4197171131
      const a = await run(device, Float32Array.from([1]), grads, configs[3]);
      expectClose(a.p, [0.85027418869], 1e-6, 1e-7, `${device} momentum+dampening+wd`);
      expectClose(a.buf!, [1.4197171131], 1e-6, 1e-7, `${device} buf`);
      // nesterov, momentum 0.9, lr 0.1: p = 0.905, 1.0545, 0.71905
      const b = await run(device, Float32Array.from([1]), grads, { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: true });
      expectClose(b.p, [0.71905], 1e-6, 1e-7, `${device} nesterov`);
      expectClose(b.buf!, [1.505], 1e-6, 1e-7, `${device} nesterov buf`);
    }
  });

  for (const n of [1, 1030, 4096]) {
    it(`matches torch.optim.SGD semantics for n=${n} on GPU and CPU`, async () => {
      const p0 = randArray(n, 1);
      const grads = [2, 3, 4].map((s) => randArray(n, s));
      for (const o of configs) {
        const ref = reference(p0, grads, o);
        for (const device of ['gpu', 'cpu'] as const) {
          const r = await run(device, p0, grads, o);
          expectClose(r.p, ref.p, 1e-6, 1e-6, `${device} ${JSON.stringify(o)} param`);
          if (ref.buf) expectClose(r.buf!, ref.buf, 1e-6, 1e-6, `${device} ${JSON.stringify(o)} buf`);
        }
      }
    });
  }

  it('updates in place and bumps the version (saved-tensor checks see it)', async () => {
    const p = wt.tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = p.mul(p);
    wt.optim.functional.sgd(p, wt.ones([3]), null, { lr: 1, momentum: 0, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true });
    expect(Array.from(await p.toArray())).toEqual([0, 1, 2]);
    expect(() => y.sum().backward()).toThrow(/modified in place/);
  });

  it('rejects bad arguments', () => {
    const p = wt.zeros([4]);
    const g = wt.zeros([4]);
    const base = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: 0, nesterov: false, firstStep: true };
    expect(() => wt.optim.functional.sgd(p, g, null, base)).toThrow(/sgdUpdate: momentum 0.9 needs a momentum buffer/);
    expect(() => wt.optim.functional.sgd(p, wt.zeros([5]), wt.zeros([4]), base)).toThrow(/sgdUpdate: gradient shape \[5\] does not match/);
    expect(() => wt.optim.functional.sgd(p, g, wt.zeros([3]), base)).toThrow(/sgdUpdate: momentum buffer/);
    expect(() => wt.optim.functional.sgd(p, g, wt.zeros([4]), { ...base, nesterov: true, dampening: 0.1 })).toThrow(/nesterov momentum requires/);
    expect(() => wt.optim.functional.sgd(p, g, wt.zeros([4]), { ...base, lr: -1 })).toThrow(/sgdUpdate: expected lr >= 0, got -1/);
    expect(() => wt.optim.functional.sgd(p, wt.zeros([4], { device: 'cpu' }), null, { ...base, momentum: 0 })).toThrow(/sgdUpdate: parameter is on gpu/);
  });
});
