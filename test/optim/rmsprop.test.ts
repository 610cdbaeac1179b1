// optim.RMSprop against PyTorch 1.13 trajectories (5 steps; momentum, centered, weight decay,
// maximize, both kernel paths) on the GPU and the CPU twin, a float64 reference on larger
// vectors, state dicts, checkpoints and argument errors.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';
import { ref, replay, toOpts } from './optim_reference.ts';

const dir = mkdtempSync(join(tmpdir(), 'wt-rmsprop-'));
beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface H { lr: number; alpha: number; eps: number; weightDecay: number; momentum: number; centered: boolean }

/** torch.optim.RMSprop in float64. */
function reference(p0: ArrayLike<number>, grads: ArrayLike<number>[], o: H) {
  const p = Float64Array.from(p0);
  const sq = new Float64Array(p.length);
  const ga = new Float64Array(p.length);
  const buf = new Float64Array(p.length);
  for (const g of grads)
    for (let i = 0; i < p.length; i++) {
      const gi = g[i] + o.weightDecay * p[i];
      sq[i] = o.alpha * sq[i] + (1 - o.alpha) * gi * gi;
      let avg: number;
      if (o.centered) {
        ga[i] = o.alpha * ga[i] + (1 - o.alpha) * gi;
        avg = Math.sqrt(sq[i] - ga[i] * ga[i]) + o.eps;
      } else avg = Math.sqrt(sq[i]) + o.eps;
      if (o.momentum > 0) {
        buf[i] = o.momentum * buf[i] + gi / avg;
        p[i] -= o.lr * buf[i];
      } else p[i] -= (o.lr * gi) / avg;
    }
  return p;
}

describe(`optim.RMSprop matches torch ${ref.torch}`, () => {
  for (const run of ref.rmsprop)
    it(`${JSON.stringify(run.opts)} n=${run.n} over ${run.grads.length} steps (GPU and CPU twin)`, async () => {
      for (const device of ['gpu', 'cpu'] as const) {
        let opt!: wt.optim.RMSprop;
        await replay(run, device, (q) => {
          opt = new wt.optim.RMSprop([q], toOpts(run.opts));
          return { step: () => opt.step(), lrs: () => opt.paramGroups.map((g) => g.lr) };
        });
        const s = opt.stateDict().state[0];
        expect(s.step).toBe(run.state.step);
        for (const k of ['squareAvg', 'momentumBuffer', 'gradAvg'] as const) {
          const w = run.state[k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)];
          if (w === undefined) expect(s[k]).toBeUndefined();
          else expectClose(await s[k]!.toArray(), w as number[], 1e-6, 1e-6, `${device} ${k}`);
        }
      }
    });
});

describe('optim.RMSprop', () => {
  it('has torch defaults', () => {
    const opt = new wt.optim.RMSprop([wt.zeros([2]).requiresGrad_()]);
    expect(opt.paramGroups[0]).toMatchObject({ lr: 1e-2, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false, maximize: false });
  });

  for (const n of [1031, 4096 * 3])
    it(`matches a float64 reference on n=${n} (several workgroups)`, async () => {
      const p0 = randArray(n, 11);
      const grads = [12, 13, 14, 15].map((s) => randArray(n, s));
      const cases: H[] = [
        { lr: 0.01, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0, centered: false },
        { lr: 0.005, alpha: 0.9, eps: 1e-6, weightDecay: 0.01, momentum: 0.9, centered: true },
      ];
      for (const h of cases) {
        const p = wt.tensor(p0, [n]).requiresGrad_();
        const opt = new wt.optim.RMSprop([p], h);
        for (const g of grads) {
          p.grad = wt.tensor(g, [n]);
          opt.step();
        }
        expectClose(await p.toArray(), reference(p0, grads, h), 1e-5, 1e-6, `n=${n} ${JSON.stringify(h)}`);
      }
    });

  it('creates a momentum buffer when momentum turns on later (zeros, as torch state init)', async () => {
    const p = wt.tensor([1, -2, 3]).requiresGrad_();
    const opt = new wt.optim.RMSprop([p], { lr: 0.1 });
    p.grad = wt.tensor([0.5, 0.5, 0.5]);
    opt.step();
    expect(opt.stateDict().state[0].momentumBuffer).toBeUndefined();
    opt.paramGroups[0].momentum = 0.9;
    opt.step();
    expect(opt.stateDict().state[0].momentumBuffer).toBeDefined();
  });

  it('stateDict / loadStateDict and checkpoints continue the run exactly', async () => {
    const make = () => new wt.nn.Sequential(new wt.nn.Linear(3, 6), new wt.nn.ReLU(), new wt.nn.Linear(6, 2));
    const step = (m: wt.nn.Module, opt: wt.optim.RMSprop) =>
      wt.tidy(() => {
        const x = wt.randn([4, 3]);
        opt.zeroGrad();
        wt.mseLoss(m.call(x), wt.randn([4, 2])).backward();
        opt.step();
      });
    wt.manualSeed(3);
    const model = make();
    const opt = new wt.optim.RMSprop(model.parameters(), { lr: 0.01, momentum: 0.9, centered: true, weightDecay: 1e-3 });
    step(model, opt);
    const path = join(dir, 'rms.safetensors');
    await wt.saveCheckpoint(path, { model, optimizer: opt, epoch: 1 });
    const { tensors } = await wt.loadSafetensors(path, { device: 'cpu' });
    expect(Object.keys(tensors).filter((k) => k.startsWith('optim.1.'))).toEqual(['optim.1.grad_avg', 'optim.1.momentum_buffer', 'optim.1.square_avg']);
    step(model, opt);
    step(model, opt);
    const want = await Promise.all(model.parameters().map(async (p) => Array.from(await p.toArray())));
    wt.manualSeed(99);
    const model2 = make();
    const opt2 = new wt.optim.RMSprop(model2.parameters());
    await wt.loadCheckpoint(path, { model: model2, optimizer: opt2 });
    expect(opt2.paramGroups[0]).toMatchObject({ lr: 0.01, momentum: 0.9, centered: true, weightDecay: 1e-3 });
    expect(opt2.stateDict().state[2].step).toBe(1);
    step(model2, opt2);
    step(model2, opt2);
    expect(await Promise.all(model2.parameters().map(async (p) => Array.from(await p.toArray())))).toEqual(want);
  });

  it('rejects bad options and arguments', () => {
    const p = wt.zeros([4]).requiresGrad_();
    expect(() => new wt.optim.RMSprop([p], { alpha: -0.5 })).toThrow('RMSprop: alpha must be a finite number >= 0, got -0.5');
    expect(() => new wt.optim.RMSprop([p], { momentum: -1 })).toThrow('RMSprop: momentum must be a finite number >= 0, got -1');
    expect(() => new wt.optim.RMSprop([p], { centred: true } as never)).toThrow(
      "RMSprop: unknown option 'centred'; accepted options: lr, alpha, eps, weightDecay, momentum, centered, maximize",
    );
    expect(() => new wt.optim.RMSprop([p], { centered: 'yes' } as never)).toThrow('RMSprop: centered must be a boolean, got yes');
    const rms = wt.optim.functional.rmsprop;
    const o = { lr: 0.1, alpha: 0.99, eps: 1e-8, weightDecay: 0, momentum: 0.9, centered: false, maximize: false };
    expect(() => rms(p, wt.zeros([4]), wt.zeros([4]), null, null, o)).toThrow('rmspropUpdate: momentum buffer (momentum 0.9) is required, got null');
    expect(() => rms(p, wt.zeros([4]), wt.zeros([4]), null, null, { ...o, momentum: 0, centered: true })).toThrow(
      'rmspropUpdate: gradAvg (centered) is required, got null',
    );
    expect(() => rms(p, wt.zeros([4]), wt.zeros([4]), null, null, { ...o, momentum: 0, lr: -1 })).toThrow('rmspropUpdate: expected lr >= 0, got -1');
    expect(() => rms(p, wt.zeros([4], { device: 'cpu' }), wt.zeros([4]), null, null, { ...o, momentum: 0 })).toThrow(
      /rmspropUpdate: parameter is on gpu but its gradient is on cpu/,
    );
  });
});
