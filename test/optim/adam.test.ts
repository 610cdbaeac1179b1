// optim.Adam / AdamW against PyTorch 1.13 trajectories (5 steps; weight decay, amsgrad, maximize,
// both kernel paths), the fused kernel's CPU twin, a float64 reference on larger vectors, state
// dicts, checkpoints and argument errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';
import { ref, replay, toOpts } from './optim_reference.ts';

const dir = mkdtempSync(join(tmpdir(), 'wt-adam-'));
beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Ctor = typeof wt.optim.Adam | typeof wt.optim.AdamW;

/** torch.optim.Adam(W) in float64: returns the parameter after the steps. */
function reference(p0: ArrayLike<number>, grads: ArrayLike<number>[], o: { lr: number; betas: [number, number]; eps: number; wd: number; amsgrad: boolean; decoupled: boolean }) {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  const vmax = new Float64Array(p.length);
  grads.forEach((g, t) => {
    const step = t + 1;
    const [b1, b2] = o.betas;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i];
      if (o.decoupled) p[i] *= 1 - o.lr * o.wd;
      else gi += o.wd * p[i];
      m[i] = b1 * m[i] + (1 - b1) * gi;
      v[i] = b2 * v[i] + (1 - b2) * gi * gi;
      vmax[i] = Math.max(vmax[i], v[i]);
      const denom = Math.sqrt(o.amsgrad ? vmax[i] : v[i]) / Math.sqrt(1 - b2 ** step) + o.eps;
      p[i] -= (o.lr / (1 - b1 ** step)) * (m[i] / denom);
    }
  });
  return p;
}

function checkState(opt: wt.optim.Adam | wt.optim.AdamW, p: wt.Tensor, want: Record<string, number | number[]>, device: string) {
  const s = opt.stateDict().state[0];
  expect(s.step).toBe(want.step);
  return Promise.all(
    (['expAvg', 'expAvgSq', 'maxExpAvgSq'] as const).map(async (k) => {
      const w = want[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
      if (w === undefined) return expect(s[k]).toBeUndefined();
      expectClose(await s[k]!.toArray(), w as number[], 1e-6, 1e-6, `${device} ${k} of ${p.describe()}`);
    }),
  );
}

for (const [name, Cls, runs] of [['Adam', wt.optim.Adam, ref.adam], ['AdamW', wt.optim.AdamW, ref.adamw]] as [string, Ctor, typeof ref.adam][]) {
  describe(`optim.${name} matches torch ${ref.torch}`, () => {
    for (const run of runs)
      it(`${JSON.stringify(run.opts)} n=${run.n} over ${run.grads.length} steps (GPU and CPU twin)`, async () => {
        for (const device of ['gpu', 'cpu'] as const) {
          let opt!: wt.optim.Adam | wt.optim.AdamW;
          const p = await replay(run, device, (q) => {
            opt = new Cls([q], toOpts(run.opts));
            return { step: () => opt.step(), lrs: () => opt.paramGroups.map((g) => g.lr) };
          });
          await checkState(opt, p, run.state, device);
        }
      });
  });
}

describe('optim.Adam / AdamW', () => {
  it('has torch defaults', () => {
    const p = wt.zeros([2]).requiresGrad_();
    const base = { lr: 1e-3, betas: [0.9, 0.999], eps: 1e-8, amsgrad: false, maximize: false };
    expect(new wt.optim.Adam([p]).paramGroups[0]).toMatchObject({ ...base, weightDecay: 0 });
    expect(new wt.optim.AdamW([p]).paramGroups[0]).toMatchObject({ ...base, weightDecay: 1e-2 });
    expect(new wt.optim.Adam([p]).defaults).toEqual({ ...base, weightDecay: 0 });
  });

  for (const n of [1030, 4096 * 3 + 4])
    it(`matches a float64 reference on n=${n} (several workgroups)`, async () => {
      const p0 = randArray(n, 1);
      const grads = [2, 3, 4, 5, 6].map((s, t) => randArray(n, s).map((v) => v / (t + 1)));
      const cases = [
        { Cls: wt.optim.Adam, o: { lr: 0.01, weightDecay: 0.05, amsgrad: true }, decoupled: false },
        { Cls: wt.optim.AdamW, o: { lr: 0.01, betas: [0.8, 0.95] as [number, number] }, decoupled: true },
      ];
      for (const { Cls, o, decoupled } of cases) {
        const p = wt.tensor(p0, [n]).requiresGrad_();
        const opt = new Cls([p], o);
        for (const g of grads) {
          p.grad = wt.tensor(g, [n]);
          opt.step();
        }
        const h = opt.paramGroups[0];
        const want = reference(p0, grads, { lr: h.lr, betas: h.betas, eps: h.eps, wd: h.weightDecay, amsgrad: h.amsgrad, decoupled });
        expectClose(await p.toArray(), want, 1e-5, 1e-6, `${Cls.name} n=${n}`);
      }
    });

  it('float64 CPU tensors follow the float64 formulas exactly (up to rounding)', async () => {
    const p0 = randArray(9, 7);
    const grads = [8, 9, 10].map((s) => randArray(9, s));
    const p = wt.tensor(p0, [9], { device: 'cpu', dtype: 'float64' }).requiresGrad_();
    const opt = new wt.optim.AdamW([p], { lr: 0.1, weightDecay: 0.2, amsgrad: true });
    for (const g of grads) {
      p.grad = wt.tensor(g, [9], { device: 'cpu', dtype: 'float64' });
      opt.step();
    }
    const want = reference(p0, grads, { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, wd: 0.2, amsgrad: true, decoupled: true });
    expectClose(await p.toArray(), want, 1e-13, 1e-14, 'float64');
  });

  it('skips parameters without a gradient; state survives tidy()', async () => {
    const a = wt.tensor([1, 2, 3]).requiresGrad_();
    const b = wt.tensor([4, 5]).requiresGrad_();
    const opt = new wt.optim.Adam([a, b], { lr: 0.1 });
    wt.tidy(() => {
      a.mul(a).sum().backward();
      opt.step();
    });
    expect(await b.toList()).toEqual([4, 5]);
    // first step moves every coordinate by lr (m / sqrt(v) = sign(g))
    expectClose(await a.toArray(), [0.9, 1.9, 2.9], 0, 1e-6, 'a');
    expect(Object.keys(opt.stateDict().state)).toEqual(['0']);
    a.grad = wt.tensor([1, 1, 1]);
    opt.step();
    expect(opt.stateDict().state[0].step).toBe(2);
    expect(opt.stateDict().state[0].expAvg!.isDisposed).toBe(false);
  });

  it('updates in place and bumps the version', () => {
    const p = wt.tensor([1, 2, 3], [3], { requiresGrad: true });
    const y = p.mul(p);
    const opt = new wt.optim.Adam([p]);
    p.grad = wt.ones([3]);
    opt.step();
    expect(() => y.sum().backward()).toThrow(/modified in place/);
  });

  it('stateDict / loadStateDict continue the run exactly', async () => {
    const p0 = randArray(13, 3);
    const grads = [4, 5, 6, 7, 8].map((s) => randArray(13, s));
    const o = { lr: 0.05, weightDecay: 0.01, amsgrad: true };
    const p = wt.tensor(p0, [13]).requiresGrad_();
    const opt = new wt.optim.Adam([p], o);
    const run = (t: wt.Tensor, op: wt.optim.Adam, gs: Float32Array[]) =>
      gs.forEach((g) => {
        t.grad = wt.tensor(g, [13]);
        op.step();
      });
    run(p, opt, grads.slice(0, 2));
    const sd = opt.stateDict();
    expect(sd.state[0].step).toBe(2);
    expect(sd.paramGroups[0]).toMatchObject({ ...o, params: [0] });
    const q = wt.tensor(await p.toArray(), [13]).requiresGrad_();
    const opt2 = new wt.optim.Adam([q], { lr: 1 });
    opt2.loadStateDict(sd);
    run(p, opt, grads.slice(2));
    run(q, opt2, grads.slice(2));
    expect(Array.from(await q.toArray())).toEqual(Array.from(await p.toArray()));
    // loaded buffers are copies
    expect(opt2.stateDict().state[0].expAvg).not.toBe(sd.state[0].expAvg);
    expect(() => opt2.loadStateDict({ ...sd, state: { 0: { ...sd.state[0], momentumBuffer: wt.zeros([13]) } as never } })).toThrow(
      /Adam.loadStateDict: state 0 has an unknown entry 'momentumBuffer'/,
    );
    expect(() => opt2.loadStateDict({ ...sd, state: { 0: { ...sd.state[0], expAvg: wt.zeros([12]) } } })).toThrow(
      /state 0.expAvg has shape \[12\], parameter has \[13\]/,
    );
    expect(() => opt2.loadStateDict({ ...sd, state: { 0: { ...sd.state[0], step: 1.5 } } })).toThrow(/state 0.step must be an integer/);
  });

  it('checkpoints resume exactly (Adam state and a scheduler)', async () => {
    const make = () => new wt.nn.Sequential(new wt.nn.Linear(5, 7), new wt.nn.ReLU(), new wt.nn.Linear(7, 2));
    const step = (m: wt.nn.Module, opt: wt.optim.AdamW, s: wt.optim.lrScheduler.CosineAnnealingLR) =>
      wt.tidy(() => {
        const x = wt.randn([4, 5]);
        const y = wt.randn([4, 2]);
        opt.zeroGrad();
        wt.mseLoss(m.call(x), y).backward();
        opt.step();
        s.step();
      });
    wt.manualSeed(5);
    const model = make();
    const opt = new wt.optim.AdamW(model.parameters(), { lr: 0.01, amsgrad: true });
    const sched = new wt.optim.lrScheduler.CosineAnnealingLR(opt, { tMax: 4 });
    step(model, opt, sched);
    step(model, opt, sched);
    const path = join(dir, 'adam.safetensors');
    await wt.saveCheckpoint(path, { model, optimizer: opt, scheduler: sched, epoch: 2 });
    const { tensors, metadata } = await wt.loadSafetensors(path, { device: 'cpu' });
    expect(Object.keys(tensors).filter((k) => k.startsWith('optim.0.'))).toEqual(['optim.0.exp_avg', 'optim.0.exp_avg_sq', 'optim.0.max_exp_avg_sq']);
    const meta = JSON.parse(metadata.optimizer);
    expect(meta.type).toBe('AdamW');
    expect(meta.state).toEqual({ 0: { step: 2 }, 1: { step: 2 }, 2: { step: 2 }, 3: { step: 2 } });
    expect(meta.paramGroups[0]).toMatchObject({ initialLr: 0.01, amsgrad: true, betas: [0.9, 0.999] });
    step(model, opt, sched);
    step(model, opt, sched);
    const want = await Promise.all(model.parameters().map(async (p) => Array.from(await p.toArray())));

    wt.manualSeed(77);
    const model2 = make();
    const opt2 = new wt.optim.AdamW(model2.parameters(), { lr: 0.5 });
    const sched2 = new wt.optim.lrScheduler.CosineAnnealingLR(opt2, { tMax: 9 });
    await wt.loadCheckpoint(path, { model: model2, optimizer: opt2, scheduler: sched2 });
    expect(sched2.getLastLr()).toEqual(JSON.parse(metadata.scheduler).lastLr);
    expect(sched2.tMax).toBe(4);
    step(model2, opt2, sched2);
    step(model2, opt2, sched2);
    expect(await Promise.all(model2.parameters().map(async (p) => Array.from(await p.toArray())))).toEqual(want);
    // the type must match
    const sgd = new wt.optim.SGD(make().parameters(), { lr: 0.1 });
    await expect(wt.loadCheckpoint(path, { model: make(), optimizer: sgd })).rejects.toThrow(/optimizer state is not SGD state \(type "AdamW"\)/);
  });

  it('rejects bad options and arguments, naming the op and the value', () => {
    const p = wt.zeros([4]).requiresGrad_();
    expect(() => new wt.optim.Adam([p], { lr: -1 })).toThrow('Adam: lr must be a finite number >= 0, got -1');
    expect(() => new wt.optim.Adam([p], { betas: [1, 0.9] })).toThrow('Adam: betas[0] must be in [0, 1), got 1');
    expect(() => new wt.optim.AdamW([p], { betas: [0.9, -0.1] })).toThrow('AdamW: betas[1] must be in [0, 1), got -0.1');
    expect(() => new wt.optim.Adam([p], { eps: -1e-8 })).toThrow(/Adam: eps must be a finite number >= 0/);
    expect(() => new wt.optim.AdamW([p], { weightDecay: NaN })).toThrow(/AdamW: weightDecay must be a finite number >= 0, got NaN/);
    expect(() => new wt.optim.Adam([p], { amsgrad: 1 } as never)).toThrow('Adam: amsgrad must be a boolean, got 1');
    expect(() => new wt.optim.Adam([p], { lr: 0.1, momentum: 0.9 } as never)).toThrow(
      "Adam: unknown option 'momentum'; accepted options: lr, betas, eps, weightDecay, amsgrad, maximize",
    );
    expect(() => new wt.optim.Adam([])).toThrow(/Adam: got an empty parameter list/);
    const adam = wt.optim.functional.adam;
    const g = wt.zeros([4]);
    const o = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, decoupled: false, amsgrad: true, maximize: false, step: 1 };
    expect(() => adam(p, g, wt.zeros([4]), wt.zeros([4]), null, o)).toThrow('adamUpdate: maxExpAvgSq (amsgrad) is required, got null');
    expect(() => adam(p, g, wt.zeros([4]), wt.zeros([4]), null, { ...o, amsgrad: false, step: 0 })).toThrow(
      'adamUpdate: expected step to be an integer >= 1, got 0',
    );
    expect(() => adam(p, g, wt.zeros([3]), wt.zeros([4]), null, { ...o, amsgrad: false })).toThrow(/adamUpdate: expAvg \[3\]/);
    expect(() => adam(p, wt.zeros([5]), wt.zeros([4]), wt.zeros([4]), null, { ...o, amsgrad: false, decoupled: true })).toThrow(
      /adamwUpdate: gradient shape \[5\] does not match parameter shape \[4\]/,
    );
    expect(() => adam(p, g, wt.zeros([4]), wt.zeros([4]), null, { ...o, amsgrad: false, beta2: 1 })).toThrow(
      'adamUpdate: expected beta2 in [0, 1), got 1',
    );
  });
});
