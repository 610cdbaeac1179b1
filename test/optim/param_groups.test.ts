// Parameter groups for every optimizer (torch's param_groups): per-group options against PyTorch
// 1.13 (Adam, two groups, StepLR), groups equal to separate optimizers, schedulers writing
// paramGroups[i].lr, addParamGroup, state dicts carrying the groups, and errors.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';
import { ref } from './optim_reference.ts';

beforeAll(async () => {
  await initGpu();
});

type Opt = wt.optim.SGD | wt.optim.Adam | wt.optim.AdamW | wt.optim.RMSprop;

describe('parameter groups', () => {
  it(`Adam with two groups and StepLR matches torch ${ref.torch}`, async () => {
    const { a, b, lrs } = ref.groups;
    const pa = wt.tensor(a.p0, [a.p0.length]).requiresGrad_();
    const pb = wt.tensor(b.p0, [b.p0.length]).requiresGrad_();
    const opt = new wt.optim.Adam([{ params: [pa], weightDecay: 0.1 }, { params: [pb], lr: 0.3, amsgrad: true }], { lr: 0.1 });
    expect(opt.paramGroups.map((g) => [g.lr, g.weightDecay, g.amsgrad])).toEqual([[0.1, 0.1, false], [0.3, 0, true]]);
    const sched = new wt.optim.lrScheduler.StepLR(opt, { stepSize: 2, gamma: 0.5 });
    for (let t = 0; t < a.grads.length; t++) {
      expect(opt.paramGroups.map((g) => g.lr)).toEqual(lrs[t]);
      pa.grad = wt.tensor(a.grads[t], [a.p0.length]);
      pb.grad = wt.tensor(b.grads[t], [b.p0.length]);
      opt.step();
      expectClose(await pa.toArray(), a.traj[t], 1e-6, 1e-6, `group 0 step ${t + 1}`);
      expectClose(await pb.toArray(), b.traj[t], 1e-6, 1e-6, `group 1 step ${t + 1}`);
      sched.step();
    }
  });

  const makers: [string, (groups: never, o: never) => Opt, Record<string, unknown>, Record<string, unknown>][] = [
    ['SGD', (g, o) => new wt.optim.SGD(g, o), { lr: 0.05, momentum: 0.9 }, { weightDecay: 0.1, nesterov: true }],
    ['Adam', (g, o) => new wt.optim.Adam(g, o), { lr: 0.01 }, { betas: [0.5, 0.9], weightDecay: 0.1 }],
    ['AdamW', (g, o) => new wt.optim.AdamW(g, o), { lr: 0.01 }, { weightDecay: 0, amsgrad: true, lr: 0.2 }],
    ['RMSprop', (g, o) => new wt.optim.RMSprop(g, o), { lr: 0.01 }, { centered: true, momentum: 0.5 }],
  ];
  for (const [name, make, base, override] of makers)
    it(`${name}: a two-group optimizer equals two separate optimizers`, async () => {
      const a0 = randArray(9, 1);
      const b0 = randArray(12, 2);
      const grads = [3, 4, 5].map((s) => [randArray(9, s), randArray(12, s + 10)]);
      const [a, b, a2, b2] = [a0, b0, a0, b0].map((v) => wt.tensor(v, [v.length]).requiresGrad_());
      const grouped = make([{ params: [a] }, { params: [b], ...override }] as never, base as never);
      const sepA = make([a2] as never, base as never);
      const sepB = make([b2] as never, { ...base, ...override } as never);
      for (const [ga, gb] of grads) {
        for (const [t, g] of [[a, ga], [b, gb], [a2, ga], [b2, gb]] as const) t.grad = wt.tensor(g, [g.length]);
        grouped.step();
        sepA.step();
        sepB.step();
      }
      expect(Array.from(await a.toArray())).toEqual(Array.from(await a2.toArray()));
      expect(Array.from(await b.toArray())).toEqual(Array.from(await b2.toArray()));
      expect(Array.from(await a.toArray())).not.toEqual(Array.from(a0));
    });

  it('schedulers and users change paramGroups[i].lr; the next step uses it', async () => {
    const p = wt.tensor([1, 1]).requiresGrad_();
    const q = wt.tensor([1, 1]).requiresGrad_();
    const opt = new wt.optim.SGD([{ params: [p] }, { params: [q], lr: 1 }], { lr: 0.5 });
    opt.paramGroups[1].lr = 0.25;
    p.grad = wt.ones([2]);
    q.grad = wt.ones([2]);
    opt.step();
    expect(await p.toList()).toEqual([0.5, 0.5]);
    expect(await q.toList()).toEqual([0.75, 0.75]);
    const s = new wt.optim.lrScheduler.MultiStepLR(opt, { milestones: [1], gamma: 0.5 });
    expect(opt.paramGroups.map((g) => g.initialLr)).toEqual([0.5, 0.25]);
    s.step();
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.25, 0.125]);
    opt.lr = 0.01;
    expect(opt.paramGroups.map((g) => g.lr)).toEqual([0.01, 0.01]);
  });

  it('addParamGroup adds a group with the defaults filled in', () => {
    const opt = new wt.optim.RMSprop([wt.zeros([2]).requiresGrad_()], { lr: 0.1, alpha: 0.9 });
    const extra = wt.zeros([3]).requiresGrad_();
    opt.addParamGroup({ params: [extra], momentum: 0.5 });
    expect(opt.paramGroups[1]).toMatchObject({ lr: 0.1, alpha: 0.9, momentum: 0.5, centered: false });
    expect(opt.paramGroups[1].params).toEqual([extra]);
    expect(() => opt.addParamGroup({ params: [extra] })).toThrow(/RMSprop: parameter \[3\] float32 on gpu appears more than once/);
  });

  it('state dicts carry every group, scheduler fields included; betas are copied', () => {
    const ps = [wt.zeros([2]).requiresGrad_(), wt.zeros([2]).requiresGrad_()];
    const opt = new wt.optim.Adam([{ params: [ps[0]], betas: [0.8, 0.99] }, { params: [ps[1]] }], { lr: 0.1 });
    new wt.optim.lrScheduler.OneCycleLR(opt, { maxLr: 1, totalSteps: 10 });
    const sd = opt.stateDict();
    expect(sd.paramGroups[0]).toMatchObject({ params: [0], initialLr: 0.04, maxLr: 1, minLr: 0.04 / 1e4, maxMomentum: 0.95, baseMomentum: 0.85 });
    expect(sd.paramGroups[0].betas).toEqual([0.95, 0.99]);
    expect(sd.paramGroups[1].params).toEqual([1]);
    sd.paramGroups[0].betas[1] = 0.5;
    expect(opt.paramGroups[0].betas[1]).toBe(0.99);
    const opt2 = new wt.optim.Adam([{ params: [wt.zeros([2]).requiresGrad_()] }, { params: [wt.zeros([2]).requiresGrad_()] }]);
    opt2.loadStateDict(opt.stateDict());
    // OneCycleLR's cosine at pct 0 is maxLr/25 up to rounding (torch: 0.040000000000000036)
    expect(opt2.paramGroups[1].lr).toBe(opt.paramGroups[1].lr);
    expect(opt2.paramGroups[1].lr).toBeCloseTo(0.04, 15);
    expect(opt2.paramGroups[1]).toMatchObject({ initialLr: 0.04, betas: [0.95, 0.999] });
  });

  it('rejects bad groups, naming the optimizer, the key and the accepted keys', () => {
    const p = wt.zeros([2]).requiresGrad_();
    const q = wt.zeros([2]).requiresGrad_();
    expect(() => new wt.optim.Adam([{ params: [p], weight_decay: 0.1 } as never])).toThrow(
      "Adam parameter group: unknown option 'weight_decay'; accepted options: params, lr, betas, eps, weightDecay, amsgrad, maximize",
    );
    expect(() => new wt.optim.SGD([{ params: [p] }, { params: [q, p] }], { lr: 0.1 })).toThrow(/SGD: parameter .* appears more than once/);
    expect(() => new wt.optim.SGD([{ params: [p], lr: -2 }], { lr: 0.1 })).toThrow('SGD: lr must be a finite number >= 0, got -2');
    expect(() => new wt.optim.SGD([{ params: [p] }], { lr: 0.1, betas: [0.9, 0.9] } as never)).toThrow(
      "SGD: unknown option 'betas'; accepted options: lr, momentum, dampening, weightDecay, nesterov",
    );
    expect(() => new wt.optim.AdamW([{ lr: 0.1 } as never])).toThrow('AdamW: a parameter group must be { params, ... }');
    const opt = new wt.optim.Adam([{ params: [p] }, { params: [q] }]);
    expect(() => opt.loadStateDict({ state: {}, paramGroups: opt.stateDict().paramGroups.slice(1) })).toThrow(
      'Adam.loadStateDict: state has 1 parameter groups, optimizer has 2',
    );
    const sd = opt.stateDict();
    sd.paramGroups[1].betas = [1, 0.9];
    expect(() => opt.loadStateDict(sd)).toThrow('Adam: betas[0] must be in [0, 1), got 1');
  });
});
