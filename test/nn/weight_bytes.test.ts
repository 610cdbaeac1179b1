// Weights as bytes (the core's saveBytes / loadBytes / checkpoint bytes, for browsers): the bytes
// equal the Node entry's file, round trips are exact, and bad bytes are rejected like bad files.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'wt-weight-bytes-'));

beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const makeModel = () => new wt.nn.Sequential(new wt.nn.Linear(5, 7), new wt.nn.ReLU(), new wt.nn.Linear(7, 2));

describe('weights as bytes', () => {
  it('saveBytes gives the bytes save() writes, and loadBytes reads them back exactly', async () => {
    wt.manualSeed(5);
    const model = makeModel();
    const sd = { ...model.stateDict(), step: wt.tensor([3], [1], { dtype: 'int32' }) };
    const bytes = await wt.saveBytes(sd, { note: 'x' }, { int32As: 'I64' });
    const path = join(dir, 'w.safetensors');
    await wt.save(sd, path, { note: 'x' }, { int32As: 'I64' });
    expect(Array.from(bytes)).toEqual(Array.from(new Uint8Array(readFileSync(path))));

    const { tensors, metadata } = wt.loadSafetensorsBytes(bytes.buffer as ArrayBuffer);
    expect(metadata).toEqual({ note: 'x' });
    expect(tensors.step.dtype).toBe('int32');
    expect(Array.from(await tensors.step.toArray())).toEqual([3]);
    const again = makeModel();
    const { step, ...weights } = wt.loadBytes(bytes);
    expect(step.shape).toEqual([1]);
    again.loadStateDict(weights);
    const x = wt.randn([3, 5]);
    expect(Array.from(await again.forward(x).toArray())).toEqual(Array.from(await model.forward(x).toArray()));
  });

  it('rejects bad input naming saveBytes / the bytes', async () => {
    await expect(wt.saveBytes({ a: 1 as unknown as wt.Tensor })).rejects.toThrow("saveBytes: 'a' must be a Tensor, got number");
    expect(() => wt.loadBytes(new Uint8Array([1, 2, 3]))).toThrow(/load bytes: file is truncated: 3 bytes/);
  });

  it('checkpoint bytes restore a run like the checkpoint file', async () => {
    wt.manualSeed(7);
    const model = makeModel();
    const opt = new wt.optim.SGD(model.parameters(), { lr: 0.1, momentum: 0.9 });
    const train = () =>
      wt.tidy(() => {
        opt.zeroGrad();
        wt.mseLoss(model.forward(wt.randn([4, 5])), wt.randn([4, 2])).backward();
        opt.step();
      });
    train();
    const bytes = await wt.saveCheckpointBytes({ model, optimizer: opt, epoch: 1, extra: { k: 1 } });
    const path = join(dir, 'ckpt.safetensors');
    await wt.saveCheckpoint(path, { model, optimizer: opt, epoch: 1, extra: { k: 1 } });
    expect(Array.from(bytes)).toEqual(Array.from(new Uint8Array(readFileSync(path))));
    train();
    const want = await Promise.all(model.parameters().map((p) => p.toArray()));

    wt.manualSeed(1);
    const model2 = makeModel();
    const opt2 = new wt.optim.SGD(model2.parameters(), { lr: 1 });
    expect(await wt.loadCheckpointBytes(bytes, { model: model2, optimizer: opt2 })).toEqual({ epoch: 1, extra: { k: 1 } });
    const train2 = () =>
      wt.tidy(() => {
        opt2.zeroGrad();
        wt.mseLoss(model2.forward(wt.randn([4, 5])), wt.randn([4, 2])).backward();
        opt2.step();
      });
    train2();
    const got = await Promise.all(model2.parameters().map((p) => p.toArray()));
    expect(got.map((a) => Array.from(a))).toEqual(want.map((a) => Array.from(a)));
    await expect(wt.loadCheckpointBytes(await wt.saveBytes({}), { model: model2 })).rejects.toThrow(
      /loadCheckpoint: checkpoint bytes is not a webgpu-tensor checkpoint/,
    );
  });
});
