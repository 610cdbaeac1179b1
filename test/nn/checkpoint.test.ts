// Checkpoints: a run saved mid-way and resumed into fresh objects continues bit for bit (parameters,
// momentum buffers, hyperparameters, RNG), and the file is plain safetensors with torch names.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'wt-checkpoint-'));

beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const makeModel = () =>
  new wt.nn.Sequential(new wt.nn.Linear(6, 8), new wt.nn.ReLU(), new wt.nn.Dropout(0.3), new wt.nn.Linear(8, 3));

/** One step on fresh random data drawn from the global generator (so the RNG state matters). */
function step(model: wt.nn.Module, opt: wt.optim.SGD): void {
  wt.tidy(() => {
    const x = wt.randn([5, 6]);
    const y = wt.randn([5, 3]);
    opt.zeroGrad();
    wt.mseLoss(model.call(x), y).backward();
    opt.step();
  });
}

async function snapshot(model: wt.nn.Module): Promise<number[][]> {
  return Promise.all(model.parameters().map(async (p) => Array.from(await p.toArray())));
}

describe('checkpoints', () => {
  it('resume continues exactly', async () => {
    wt.manualSeed(123);
    const model = makeModel();
    const opt = new wt.optim.SGD(model.parameters(), { lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true });
    step(model, opt);
    step(model, opt);
    const path = join(dir, 'ckpt.safetensors');
    await wt.saveCheckpoint(path, { model, optimizer: opt, epoch: 2, extra: { best: 0.5, tag: 'run-a' } });
    step(model, opt);
    step(model, opt);
    const want = await snapshot(model);

    wt.manualSeed(999); // a different init and RNG position
    const model2 = makeModel();
    const opt2 = new wt.optim.SGD(model2.parameters(), { lr: 1 });
    const { epoch, extra } = await wt.loadCheckpoint(path, { model: model2, optimizer: opt2 });
    expect(epoch).toBe(2);
    expect(extra).toEqual({ best: 0.5, tag: 'run-a' });
    expect(opt2.paramGroups[0]).toMatchObject({ lr: 0.05, momentum: 0.9, weightDecay: 1e-3, nesterov: true, dampening: 0 });
    step(model2, opt2);
    step(model2, opt2);
    expect(await snapshot(model2)).toEqual(want);
  });

  it('stores torch-named tensors and JSON metadata', async () => {
    wt.manualSeed(1);
    const model = makeModel();
    const opt = new wt.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.5 });
    step(model, opt);
    const path = join(dir, 'names.safetensors');
    const rng = wt.getRngState();
    await wt.saveCheckpoint(path, { model, optimizer: opt, epoch: 7 });
    const { tensors, metadata } = await wt.loadSafetensors(path, { device: 'cpu' });
    expect(Object.keys(tensors)).toEqual([
      'model.0.bias', 'model.0.weight', 'model.3.bias', 'model.3.weight',
      'optim.0.momentum_buffer', 'optim.1.momentum_buffer', 'optim.2.momentum_buffer', 'optim.3.momentum_buffer',
    ]);
    expect(metadata.format).toBe('webgpu-tensor-checkpoint/1');
    expect(JSON.parse(metadata.epoch)).toBe(7);
    expect(JSON.parse(metadata.rng)).toEqual(rng.map((v) => (Number.isNaN(v) ? null : v)));
    expect(JSON.parse(metadata.optimizer).paramGroups[0]).toMatchObject({ lr: 0.1, momentum: 0.5, params: [0, 1, 2, 3] });
    // the model part is a plain state dict
    const m2 = makeModel();
    m2.loadStateDict(Object.fromEntries(Object.entries(tensors).filter(([k]) => k.startsWith('model.')).map(([k, t]) => [k.slice(6), t])));
    expect(await snapshot(m2)).toEqual(await snapshot(model));
  });

  it('rejects a mismatched model and non-checkpoint files', async () => {
    const model = makeModel();
    const path = join(dir, 'small.safetensors');
    await wt.saveCheckpoint(path, { model, epoch: 0 });
    const other = new wt.nn.Sequential(new wt.nn.Linear(6, 8));
    await expect(wt.loadCheckpoint(path, { model: other })).rejects.toThrow(/unexpected keys: 3\.bias, 3\.weight/);
    const plain = join(dir, 'plain.safetensors');
    await wt.save(model.stateDict(), plain);
    await expect(wt.loadCheckpoint(plain, { model })).rejects.toThrow(/not a webgpu-tensor checkpoint/);
    await expect(wt.saveCheckpoint(path, { model, epoch: NaN })).rejects.toThrow(/epoch must be a finite number/);
  });
});
