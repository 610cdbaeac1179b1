// optim.SGD against torch.optim.SGD's documented update, computed here in float64:
//   d = g + wd * p;  buf = first ? d : momentum * buf + (1 - dampening) * d
//   d = nesterov ? d + momentum * buf : buf;  p -= lr * d
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';

beforeAll(async () => {
  await initGpu();
});

interface H { lr: number; momentum?: number; dampening?: number; weightDecay?: number; nesterov?: boolean }

function reference(p0: ArrayLike<number>, grads: ArrayLike<number>[], h: H): number[] {
  const { lr, momentum = 0, dampening = 0, weightDecay = 0, nesterov = false } = h;
  const p = Array.from(p0);
  const buf = new Array<number>(p.length).fill(0);
  grads.forEach((g, step) => {
    let d = p.map((v, i) => g[i] + weightDecay * v);
    if (momentum !== 0) {
      for (let i = 0; i < p.length; i++) buf[i] = step === 0 ? d[i] : momentum * buf[i] + (1 - dampening) * d[i];
      d = nesterov ? d.map((v, i) => v + momentum * buf[i]) : [...buf];
    }
    for (let i = 0; i < p.length; i++) p[i] -= lr * d[i];
  });
  return p;
}

async function run(p0: Float32Array, grads: Float32Array[], h: H): Promise<Float32Array> {
  const p = wt.tensor(p0, [p0.length]).requiresGrad_();
  const opt = new wt.optim.SGD([p], h);
  for (const g of grads) {
    opt.zeroGrad();
    p.grad = wt.tensor(g, [g.length]);
    opt.step();
  }
  return (await p.toArray()) as Float32Array;
}

describe('optim.SGD', () => {
  const half = [new Float32Array([0.5]), new Float32Array([0.5]), new Float32Array([0.5])];

  it('momentum + weight decay: 3 steps worked by hand', async () => {
    // p=1, g=0.5, lr=0.1, momentum=0.9, wd=0.01:
    // d1=0.51 buf1=0.51 p1=0.949; d2=0.50949 buf2=0.96849 p2=0.852151;
    // d3=0.50852151 buf3=1.38016251 p3=0.714134749
    const got = await run(new Float32Array([1]), half, { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
    expect(Math.abs(got[0] - 0.714134749)).toBeLessThan(1e-6);
  });

  it('nesterov: 3 steps worked by hand', async () => {
    // buf: 0.5, 0.95, 1.355; d = g + 0.9 buf: 0.95, 1.355, 1.7195; p: 0.905, 0.7695, 0.59755
    const got = await run(new Float32Array([1]), half, { lr: 0.1, momentum: 0.9, nesterov: true });
    expect(Math.abs(got[0] - 0.59755)).toBeLessThan(1e-6);
  });

  it('dampening: first step takes the full gradient', async () => {
    // buf: 0.5, 0.45 + 0.25 = 0.7, 0.63 + 0.25 = 0.88; p: 0.95, 0.88, 0.792
    const got = await run(new Float32Array([1]), half, { lr: 0.1, momentum: 0.9, dampening: 0.5 });
    expect(Math.abs(got[0] - 0.792)).toBeLessThan(1e-6);
  });

  it('matches the formulas on random vectors for every option mix', async () => {
    const n = 1000;
    const p0 = randArray(n, 1);
    const grads = [randArray(n, 2), randArray(n, 3), randArray(n, 4)];
    const cases: H[] = [
      { lr: 0.05 },
      { lr: 0.05, weightDecay: 5e-4 },
      { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 },
      { lr: 0.01, momentum: 0.9, dampening: 0.1, weightDecay: 1e-3 },
      { lr: 0.01, momentum: 0.8, weightDecay: 1e-2, nesterov: true },
    ];
    for (const h of cases) expectClose(await run(p0, grads, h), reference(p0, grads, h), 0, 1e-6, JSON.stringify(h));
  });

  it('skips parameters without a gradient and keeps momentum buffers across tidy()', async () => {
    const a = wt.tensor([1, 2]).requiresGrad_();
    const b = wt.tensor([3, 4]).requiresGrad_();
    const opt = new wt.optim.SGD([a, b], { lr: 0.1, momentum: 0.9 });
    wt.tidy(() => {
      a.mul(a).sum().backward(); // grad 2a = [2, 4]
      opt.step();
    });
    expect(b.grad).toBeNull();
    expect(await b.toList()).toEqual([3, 4]);
    expectClose(await a.toArray(), [0.8, 1.6], 0, 1e-6, 'a after step 1');
    opt.zeroGrad();
    a.grad = wt.tensor([1, 1]);
    opt.step(); // buf = 0.9 * [2, 4] + 1 = [2.8, 4.6]
    expectClose(await a.toArray(), [0.52, 1.14], 0, 1e-6, 'a after step 2');
    expect(Object.keys(opt.stateDict().state)).toEqual(['0']);
  });

  it('stateDict/loadStateDict continue the run exactly', async () => {
    const p0 = randArray(10, 5);
    const grads = [randArray(10, 6), randArray(10, 7), randArray(10, 8)];
    const h = { lr: 0.1, momentum: 0.9, weightDecay: 1e-3, nesterov: true };
    const p = wt.tensor(p0, [10]).requiresGrad_();
    const opt = new wt.optim.SGD([p], { lr: 1 });
    opt.loadStateDict({ state: {}, paramGroups: [{ ...h, dampening: 0, params: [0] }] });
    expect(opt.paramGroups[0].lr).toBe(0.1);
    p.grad = wt.tensor(grads[0], [10]);
    opt.step();
    const sd = opt.stateDict();
    // a fresh optimizer on a copy of the parameter picks up from here
    const q = wt.tensor(await p.toArray(), [10]).requiresGrad_();
    const opt2 = new wt.optim.SGD([q], { lr: 5 });
    opt2.loadStateDict(sd);
    for (const [t, o] of [[p, opt], [q, opt2]] as const)
      for (const g of grads.slice(1)) {
        t.grad = wt.tensor(g, [10]);
        o.step();
      }
    expect(Array.from(await q.toArray())).toEqual(Array.from(await p.toArray()));
    expectClose(await q.toArray(), reference(p0, grads, h), 0, 1e-6, 'resumed');
    expect(() => opt2.loadStateDict({ state: {}, paramGroups: [] })).toThrow(/1 parameter groups|0 parameter groups/);
    expect(() => opt2.loadStateDict({ state: { 3: { momentumBuffer: wt.zeros([10]) } }, paramGroups: sd.paramGroups })).toThrow(
      /state for parameter 3/,
    );
  });

  it('validates options like torch', () => {
    const p = wt.zeros([2]).requiresGrad_();
    expect(() => new wt.optim.SGD([p], { lr: 0.1, nesterov: true })).toThrow(/Nesterov momentum requires a momentum > 0 and zero dampening/);
    expect(() => new wt.optim.SGD([p], { lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true })).toThrow(/zero dampening/);
    expect(() => new wt.optim.SGD([p], { lr: -1 })).toThrow('SGD: lr must be a finite number >= 0, got -1');
    expect(() => new wt.optim.SGD([p, p], { lr: 0.1 })).toThrow(/appears more than once/);
    expect(() => new wt.optim.SGD([], { lr: 0.1 })).toThrow(/empty parameter list/);
    expect(() => new wt.optim.SGD([p.mul(2)], { lr: 0.1 })).toThrow(/non-leaf/);
    const opt = new wt.optim.SGD([{ params: [p], lr: 0.5 }, { params: [wt.zeros([1]).requiresGrad_()] }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.5, 0.1]);
    opt.lr = 0.01;
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.01, 0.01]);
  });
});
