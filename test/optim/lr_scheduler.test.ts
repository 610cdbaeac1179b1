// optim.lrScheduler against PyTorch 1.13: learning-rate (and OneCycleLR momentum / beta1)
// sequences for two parameter groups, optimizers driven by a scheduler over 5 steps, state dicts,
// checkpoints, the closed forms behind step(epoch), and argument errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu } from '../helpers.ts';
import { ref, replay, toOpts } from './optim_reference.ts';

const S = wt.optim.lrScheduler;
type Opt = wt.optim.SGD | wt.optim.Adam | wt.optim.AdamW | wt.optim.RMSprop;
type AnyScheduler = wt.optim.lrScheduler.LRScheduler;

const dir = mkdtempSync(join(tmpdir(), 'wt-sched-'));
beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function makeOpt(name: string, params: wt.Tensor[] | { params: wt.Tensor[]; lr: number }[], o: Record<string, unknown>): Opt {
  const C = { SGD: wt.optim.SGD, Adam: wt.optim.Adam, AdamW: wt.optim.AdamW, RMSprop: wt.optim.RMSprop }[name]!;
  return new C(params as never, o as never);
}

/** The sequences the python side builds: groups with lr 0.1 and 0.02. */
const seqCases: Record<string, { opt: string; optOpts: Record<string, unknown>; make: (o: Opt) => AnyScheduler; steps: number }> = {
  StepLR: { opt: 'SGD', optOpts: { lr: 0.1 }, make: (o) => new S.StepLR(o, { stepSize: 3, gamma: 0.5 }), steps: 20 },
  MultiStepLR: { opt: 'SGD', optOpts: { lr: 0.1 }, make: (o) => new S.MultiStepLR(o, { milestones: [2, 5, 5, 9], gamma: 0.3 }), steps: 20 },
  CosineAnnealingLR: { opt: 'SGD', optOpts: { lr: 0.1 }, make: (o) => new S.CosineAnnealingLR(o, { tMax: 4, etaMin: 0.01 }), steps: 25 },
  CosineAnnealingLR_T7: { opt: 'SGD', optOpts: { lr: 0.1 }, make: (o) => new S.CosineAnnealingLR(o, { tMax: 7 }), steps: 30 },
  LinearLR: { opt: 'SGD', optOpts: { lr: 0.1 }, make: (o) => new S.LinearLR(o, { startFactor: 0.25, totalIters: 4 }), steps: 8 },
  LinearLR_default: { opt: 'SGD', optOpts: { lr: 0.1 }, make: (o) => new S.LinearLR(o), steps: 8 },
  OneCycleLR: { opt: 'SGD', optOpts: { lr: 0.1, momentum: 0.9 }, make: (o) => new S.OneCycleLR(o, { maxLr: [1.0, 0.5], totalSteps: 12 }), steps: 11 },
  OneCycleLR_three: {
    opt: 'Adam',
    optOpts: { lr: 0.1 },
    make: (o) => new S.OneCycleLR(o, { maxLr: 0.3, epochs: 3, stepsPerEpoch: 5, threePhase: true, baseMomentum: 0.8, maxMomentum: 0.9 }),
    steps: 14,
  },
  OneCycleLR_linear: {
    opt: 'SGD',
    optOpts: { lr: 0.1, momentum: 0.5 },
    make: (o) =>
      new S.OneCycleLR(o, { maxLr: 0.3, totalSteps: 10, annealStrategy: 'linear', pctStart: 0.25, divFactor: 10, finalDivFactor: 100 }),
    steps: 9,
  },
  SequentialLR: {
    opt: 'SGD',
    optOpts: { lr: 0.1 },
    make: (o) =>
      new S.SequentialLR(o, {
        schedulers: [new S.LinearLR(o, { startFactor: 0.1, totalIters: 3 }), new S.CosineAnnealingLR(o, { tMax: 6, etaMin: 0.001 })],
        milestones: [3],
      }),
    steps: 15,
  },
  SequentialLR_three: {
    opt: 'SGD',
    optOpts: { lr: 0.1 },
    make: (o) =>
      new S.SequentialLR(o, {
        schedulers: [
          new S.LinearLR(o, { startFactor: 0.5, totalIters: 2 }),
          new S.StepLR(o, { stepSize: 2, gamma: 0.5 }),
          new S.MultiStepLR(o, { milestones: [1, 3], gamma: 0.1 }),
        ],
        milestones: [3, 8],
      }),
    steps: 14,
  },
};

function setup(name: string) {
  const c = seqCases[name];
  const ps = [wt.zeros([1]).requiresGrad_(), wt.zeros([1]).requiresGrad_()];
  const opt = makeOpt(c.opt, [{ params: [ps[0]], lr: 0.1 }, { params: [ps[1]], lr: 0.02 }], c.optOpts);
  return { opt, sched: c.make(opt) };
}

const momentumOf = (o: Opt) => o.paramGroups.map((g) => ('betas' in g ? g.betas[0] : g.momentum));

describe(`lrScheduler sequences match torch ${ref.torch}`, () => {
  for (const name of Object.keys(seqCases))
    it(name, () => {
      const want = ref.schedulers[name];
      const { opt, sched } = setup(name);
      const got = [sched.getLastLr()];
      const mom = [momentumOf(opt)];
      for (let i = 0; i < seqCases[name].steps; i++) {
        opt.step();
        sched.step();
        got.push(sched.getLastLr());
        mom.push(momentumOf(opt));
      }
      expect(got.length).toBe(want.lrs.length);
      got.forEach((l, i) => expectClose(l, want.lrs[i], 1e-12, 1e-15, `${name} lr after ${i} steps`));
      mom.forEach((m, i) => expectClose(m, want.momentum[i], 1e-12, 1e-15, `${name} momentum after ${i} steps`));
      expect(opt.paramGroups.map((g) => g.lr)).toEqual(sched.getLastLr());
    });
});

describe(`optimizers driven by a scheduler match torch ${ref.torch}`, () => {
  for (const run of ref.withScheduler)
    it(`${run.optimizer} ${JSON.stringify(run.opts)} + ${run.scheduler} ${JSON.stringify(run.schedOpts)} n=${run.n}`, async () => {
      for (const device of ['gpu', 'cpu'] as const)
        await replay(run, device, (q) => {
          const opt = makeOpt(run.optimizer!, [q], toOpts(run.opts));
          const C = (S as unknown as Record<string, new (o: Opt, x: Record<string, unknown>) => AnyScheduler>)[run.scheduler!];
          const sched = new C(opt, toOpts(run.schedOpts!));
          return { step: () => opt.step(), stepScheduler: () => sched.step(), lrs: () => opt.paramGroups.map((g) => g.lr) };
        });
    });
});

describe('lrScheduler', () => {
  it('stateDict / loadStateDict (with the optimizer state) resume every schedule exactly', () => {
    for (const name of Object.keys(seqCases)) {
      const full = setup(name);
      const a = setup(name);
      const steps = seqCases[name].steps;
      const k = Math.min(4, steps - 2);
      for (let i = 0; i < k; i++) a.sched.step();
      const optSd = JSON.parse(JSON.stringify(a.opt.stateDict()));
      const schedSd = JSON.parse(JSON.stringify(a.sched.stateDict()));
      const b = setup(name);
      b.opt.loadStateDict(optSd);
      b.sched.loadStateDict(schedSd);
      expect(b.sched.getLastLr()).toEqual(a.sched.getLastLr());
      const got: number[][] = [];
      const want: number[][] = [];
      for (let i = 0; i < k; i++) full.sched.step();
      for (let i = k; i < steps; i++) {
        b.sched.step();
        full.sched.step();
        got.push([...b.sched.getLastLr(), ...momentumOf(b.opt)]);
        want.push([...full.sched.getLastLr(), ...momentumOf(full.opt)]);
      }
      expect(got, name).toEqual(want);
    }
  });

  it('checkpoints carry a SequentialLR with its schedulers', async () => {
    const model = new wt.nn.Linear(3, 2);
    const make = (m: wt.nn.Module) => {
      const opt = new wt.optim.SGD(m.parameters(), { lr: 0.1, momentum: 0.9 });
      const sched = new S.SequentialLR(opt, {
        schedulers: [new S.LinearLR(opt, { startFactor: 0.1, totalIters: 3 }), new S.CosineAnnealingLR(opt, { tMax: 6 })],
        milestones: [3],
      });
      return { opt, sched };
    };
    const a = make(model);
    for (let i = 0; i < 5; i++) a.sched.step();
    const path = join(dir, 'seq.safetensors');
    await wt.saveCheckpoint(path, { model, optimizer: a.opt, scheduler: a.sched, epoch: 5 });
    const b = make(new wt.nn.Linear(3, 2));
    await wt.loadCheckpoint(path, { model: new wt.nn.Linear(3, 2), optimizer: b.opt, scheduler: b.sched });
    for (let i = 0; i < 6; i++) {
      a.sched.step();
      b.sched.step();
      expect(b.sched.getLastLr()).toEqual(a.sched.getLastLr());
    }
    const c = make(new wt.nn.Linear(3, 2));
    const other = new S.StepLR(c.opt, { stepSize: 2 });
    await expect(wt.loadCheckpoint(path, { model: new wt.nn.Linear(3, 2), optimizer: c.opt, scheduler: other })).rejects.toThrow(
      /scheduler state is not StepLR state \(type "SequentialLR"\)/,
    );
  });

  it('step(epoch) uses the closed forms; getLastLr returns a copy', () => {
    const opt = new wt.optim.SGD([wt.zeros([1]).requiresGrad_()], { lr: 1 });
    const s = new S.StepLR(opt, { stepSize: 3, gamma: 0.5 });
    s.step(7);
    expect(s.getLastLr()).toEqual([0.25]);
    s.getLastLr()[0] = 9;
    expect(s.getLastLr()).toEqual([0.25]);
    const opt2 = new wt.optim.SGD([wt.zeros([1]).requiresGrad_()], { lr: 1 });
    const c = new S.CosineAnnealingLR(opt2, { tMax: 4 });
    c.step(2);
    expectClose(c.getLastLr(), [0.5], 0, 1e-15, 'cosine closed form');
    expect(() => c.step(-1)).toThrow('CosineAnnealingLR.step: epoch must be an integer >= 0, got -1');
  });

  it('OneCycleLR refuses to step past totalSteps, as torch', () => {
    const opt = new wt.optim.SGD([wt.zeros([1]).requiresGrad_()], { lr: 1 });
    const s = new S.OneCycleLR(opt, { maxLr: 0.1, totalSteps: 3 });
    s.step();
    s.step();
    s.step();
    expect(() => s.step()).toThrow('OneCycleLR: tried to step 5 times; the specified number of total steps is 3');
  });

  it('resuming with lastEpoch needs the groups initialLr', () => {
    const opt = new wt.optim.SGD([wt.zeros([1]).requiresGrad_()], { lr: 1 });
    expect(() => new S.StepLR(opt, { stepSize: 2, lastEpoch: 4 })).toThrow(/StepLR: paramGroups\[0\].initialLr is not set/);
    opt.paramGroups[0].initialLr = 1;
    const s = new S.StepLR(opt, { stepSize: 2, lastEpoch: 4 });
    expect(s.lastEpoch).toBe(5);
    expect(s.getLastLr()).toEqual([1]);
    expect(() => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 9, lastEpoch: 3 })).toThrow(/OneCycleLR: paramGroups\[0\].maxLr is not set/);
  });

  it('OneCycleLR resumes from lastEpoch with the groups of the run', () => {
    const make = () => new wt.optim.Adam([wt.zeros([1]).requiresGrad_()], { lr: 1 });
    const a = make();
    const s = new S.OneCycleLR(a, { maxLr: 0.5, totalSteps: 10 });
    for (let i = 0; i < 4; i++) s.step();
    const b = make();
    b.loadStateDict(a.stateDict());
    const r = new S.OneCycleLR(b, { maxLr: 0.5, totalSteps: 10, lastEpoch: 3 });
    expect(r.getLastLr()).toEqual(s.getLastLr());
    expect(b.paramGroups[0].betas).toEqual(a.paramGroups[0].betas);
  });

  it('rejects bad options, naming the scheduler, the key and the values', () => {
    const opt = new wt.optim.SGD([wt.zeros([1]).requiresGrad_()], { lr: 1 });
    const other = new wt.optim.SGD([wt.zeros([1]).requiresGrad_()], { lr: 1 });
    expect(() => new S.StepLR(opt, { stepSize: 2, step_size: 3 } as never)).toThrow(
      "StepLR: unknown option 'step_size'; accepted options: stepSize, gamma, lastEpoch",
    );
    expect(() => new S.StepLR(opt, {} as never)).toThrow('StepLR: stepSize must be an integer >= 1, got undefined');
    expect(() => new S.StepLR({} as never, { stepSize: 1 })).toThrow(/StepLR: expected an optimizer/);
    expect(() => new S.MultiStepLR(opt, { milestones: [1, 2.5] })).toThrow('MultiStepLR: milestones[1] must be an integer >= 0, got 2.5');
    expect(() => new S.CosineAnnealingLR(opt, { tMax: 0 })).toThrow('CosineAnnealingLR: tMax must be an integer >= 1, got 0');
    expect(() => new S.LinearLR(opt, { startFactor: 0 })).toThrow('LinearLR: startFactor must be in (0, 1], got 0');
    expect(() => new S.LinearLR(opt, { endFactor: 1.5 })).toThrow('LinearLR: endFactor must be in [0, 1], got 1.5');
    expect(() => new S.OneCycleLR(opt, { maxLr: 1 })).toThrow('OneCycleLR: you must define either totalSteps OR (epochs AND stepsPerEpoch)');
    expect(() => new S.OneCycleLR(opt, { maxLr: [1, 2], totalSteps: 4 })).toThrow('OneCycleLR: expected 1 values for maxLr, got 2');
    expect(() => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 4, pctStart: 1.5 })).toThrow('OneCycleLR: pctStart must be in [0, 1], got 1.5');
    expect(() => new S.OneCycleLR(opt, { maxLr: 1, totalSteps: 4, annealStrategy: 'exp' as never })).toThrow(
      "OneCycleLR: annealStrategy must be 'cos' or 'linear', got exp",
    );
    const s1 = new S.StepLR(opt, { stepSize: 2 });
    const s2 = new S.StepLR(other, { stepSize: 2 });
    expect(() => new S.SequentialLR(opt, { schedulers: [s1, s2], milestones: [2] })).toThrow(
      /SequentialLR: expects all schedulers to belong to the same optimizer, but the scheduler at index 1 has a different one/,
    );
    expect(() => new S.SequentialLR(opt, { schedulers: [s1], milestones: [2] })).toThrow(
      'SequentialLR: expects one more scheduler than milestones, got 1 schedulers and 1 milestones',
    );
    expect(() => s1.loadStateDict(new S.CosineAnnealingLR(opt, { tMax: 3 }).stateDict())).toThrow(
      'StepLR.loadStateDict: state is from a CosineAnnealingLR, not a StepLR',
    );
  });
});
