// Module: parameter discovery and torch-style names, train/eval recursion, stateDict strictness,
// in-place loading, device moves, constructor validation, and the default init bounds.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu } from '../helpers.ts';

const { nn } = wt;

beforeAll(async () => {
  await initGpu();
});

class Block extends nn.Module {
  fc = new nn.Linear(4, 3);
  drop = new nn.Dropout(0.5);
  scale = wt.ones([3]).requiresGrad_();
  _cache: wt.Tensor | null = null; // underscore: not state
  forward(x: wt.Tensor): wt.Tensor {
    return this.drop.call(this.fc.call(x)).mul(this.scale);
  }
}

describe('Module', () => {
  it('names parameters like torch (Sequential indices, own params before children)', () => {
    const m = new nn.Sequential(new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 2, { bias: false }), new nn.Flatten());
    expect(m.namedParameters().map(([k, p]) => `${k}:${p.shape}`)).toEqual(['0.weight:8,4', '0.bias:8', '2.weight:2,8']);
    expect(m.namedChildren().map(([k]) => k)).toEqual(['0', '1', '2', '3']);
    expect(m.length).toBe(4);
    expect(m.at(-1)).toBeInstanceOf(nn.Flatten);
    const b = new Block();
    expect(b.namedParameters().map(([k]) => k)).toEqual(['scale', 'fc.weight', 'fc.bias']);
    expect(b.children().length).toBe(2);
    const outer = new nn.Sequential(b, new nn.Linear(3, 1));
    expect(Object.keys(outer.stateDict())).toEqual(['0.scale', '0.fc.weight', '0.fc.bias', '1.weight', '1.bias']);
    expect(outer.namedModules().map(([k]) => k)).toEqual(['', '0', '0.fc', '0.drop', '1']);
  });

  it('lists a shared parameter once', () => {
    const a = new nn.Linear(2, 2);
    const m = new nn.Sequential(a, a);
    expect(m.parameters().length).toBe(2);
  });

  it('train()/eval() recurse and return this', () => {
    const inner = new Block();
    const m = new nn.Sequential(inner, new nn.Sequential(new nn.Dropout()));
    expect(m.eval()).toBe(m);
    expect(m.modules().every((x) => !x.training)).toBe(true);
    expect(m.train()).toBe(m);
    expect(m.modules().every((x) => x.training)).toBe(true);
    inner.drop.eval();
    expect(inner.training && !inner.drop.training).toBe(true);
  });

  it('call() runs forward; Linear computes x @ W^T + b', async () => {
    const l = new nn.Linear(3, 2);
    l.loadStateDict({ weight: wt.tensor([[1, 2, 3], [4, 5, 6]], undefined, { device: 'cpu' }), bias: wt.tensor([0.5, -1]) });
    const y = l.call(wt.tensor([[1, 0, -1], [2, 1, 0]]));
    expect(await y.toList()).toEqual([[-1.5, -3], [4.5, 12]]);
  });

  it('zeroGrad drops gradients', async () => {
    const l = new nn.Linear(3, 2);
    l.call(wt.ones([1, 3])).sum().backward();
    expect(l.weight.grad).not.toBeNull();
    l.zeroGrad();
    expect(l.weight.grad).toBeNull();
    expect(l.bias!.grad).toBeNull();
  });

  it('stateDict shares storage; loadStateDict writes in place', async () => {
    const a = new nn.Sequential(new nn.Linear(3, 2), new nn.ReLU(), new nn.Linear(2, 1));
    const b = new nn.Sequential(new nn.Linear(3, 2), new nn.ReLU(), new nn.Linear(2, 1));
    const w = b.at(0) as InstanceType<typeof nn.Linear>;
    const before = w.weight;
    const res = b.loadStateDict(a.stateDict());
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(w.weight).toBe(before); // same tensor object: optimizers stay valid
    const x = wt.randn([4, 3]);
    expect(await b.call(x).toArray()).toEqual(await a.call(x).toArray());
  });

  it('loadStateDict strictness: missing, unexpected, shape mismatch', () => {
    const m = new nn.Sequential(new nn.Linear(3, 2), new nn.Linear(2, 1));
    const sd = m.stateDict();
    const { ['1.bias']: _drop, ...missing } = sd;
    expect(() => m.loadStateDict(missing)).toThrow(/missing keys: 1\.bias/);
    expect(() => m.loadStateDict({ ...sd, extra: wt.zeros([1]), 'x.y': wt.zeros([1]) })).toThrow(/unexpected keys: extra, x\.y/);
    expect(() => m.loadStateDict({ ...sd, '0.weight': wt.zeros([3, 2]) })).toThrow(
      /shape mismatch for '0\.weight': state dict has \[3,2\], model has \[2,3\]/,
    );
    expect(() => m.loadStateDict({ ...sd, '0.bias': wt.zeros([2], { dtype: 'int32' }) })).toThrow(/dtype mismatch/);
    const r = m.loadStateDict({ '0.weight': sd['0.weight'], extra: wt.zeros([1]) }, { strict: false });
    expect(r.missingKeys).toEqual(['0.bias', '1.weight', '1.bias']);
    expect(r.unexpectedKeys).toEqual(['extra']);
  });

  it('to(device) moves every parameter', async () => {
    const m = new nn.Sequential(new nn.Linear(3, 2, { device: 'cpu' }));
    expect(m.parameters().every((p) => p.device === 'cpu')).toBe(true);
    const x = wt.tensor([[1, 2, 3]], undefined, { device: 'cpu' });
    const want = await m.call(x).toArray();
    expect(await m.to('gpu')).toBe(m);
    expect(m.parameters().every((p) => p.device === 'gpu' && p.requiresGrad)).toBe(true);
    expect(Array.from(await m.call(await x.to('gpu')).toArray())).toEqual(Array.from(want));
    await expect(m.to('tpu' as wt.Device)).rejects.toThrow(/device must be 'cpu' or 'gpu', got tpu/);
  });

  it('parameters survive tidy()', async () => {
    const m = wt.tidy(() => new nn.Linear(2, 2));
    expect(m.weight.isDisposed).toBe(false);
    expect((await m.weight.toArray()).length).toBe(4);
  });

  it('validates constructor arguments', () => {
    expect(() => new nn.Conv2d(3, 8, 0)).toThrow('Conv2d: kernelSize must be a positive integer, got 0');
    expect(() => new nn.Conv2d(3, 8, 3, { stride: 1.5 })).toThrow('Conv2d: stride must be a positive integer, got 1.5');
    expect(() => new nn.Conv2d(3, 8, 3, { padding: -1 })).toThrow('Conv2d: padding must be a non-negative integer, got -1');
    expect(() => new nn.Linear(0, 2)).toThrow('Linear: inFeatures must be a positive integer, got 0');
    expect(() => new nn.Linear(2, 2, { device: 'tpu' as wt.Device })).toThrow("Linear: device must be 'cpu' or 'gpu', got tpu");
    expect(() => new nn.Dropout(1.5)).toThrow('Dropout: p must be in [0, 1), got 1.5');
    expect(() => new nn.MaxPool2d(0)).toThrow('MaxPool2d: kernelSize must be a positive integer, got 0');
    expect(() => new nn.MaxPool2d(2, 2, 2)).toThrow(/padding must be at most half of kernelSize/);
    expect(() => new nn.LocalResponseNorm(0)).toThrow('LocalResponseNorm: size must be a positive integer, got 0');
    expect(() => new nn.Sequential(new nn.ReLU(), 3 as unknown as wt.nn.Module)).toThrow('Sequential: argument 1 must be a Module, got number');
  });

  it('default init matches torch bounds; init functions write in place from the seeded generator', async () => {
    wt.manualSeed(7);
    const c = new nn.Conv2d(3, 16, 5, { device: 'cpu' });
    const fanIn = 3 * 25;
    const w = await c.weight.toArray();
    const bound = 1 / Math.sqrt(fanIn); // sqrt(3) * sqrt(2 / (1 + 5)) / sqrt(fan_in)
    expect(Math.max(...w.map(Math.abs))).toBeLessThanOrEqual(bound);
    expect(Math.max(...w.map(Math.abs))).toBeGreaterThan(bound * 0.9);
    const b = await c.bias!.toArray();
    expect(Math.max(...b.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(fanIn));
    // reproducible
    wt.manualSeed(7);
    const c2 = new nn.Conv2d(3, 16, 5);
    expect(Array.from(await c2.weight.toArray())).toEqual(Array.from(w));

    const t = wt.zeros([6, 4, 3, 3]);
    expect(nn.init.xavierUniform_(t)).toBe(t);
    const xb = Math.sqrt(6 / (4 * 9 + 6 * 9));
    const xv = await t.toArray();
    expect(Math.max(...xv.map(Math.abs))).toBeLessThanOrEqual(xb);
    expect(Math.max(...xv.map(Math.abs))).toBeGreaterThan(xb * 0.9);
    nn.init.zeros_(t);
    expect((await t.toArray()).every((v) => v === 0)).toBe(true);
    expect(nn.init.calculateFans(t)).toEqual({ fanIn: 36, fanOut: 54 });
    expect(() => nn.init.xavierUniform_(wt.zeros([3]))).toThrow(/at least 2 dimensions/);
  });

  it('layer modules call their kernels with the stored options', async () => {
    const x = wt.randn([2, 4, 6, 6]);
    const same = async (a: wt.Tensor, b: wt.Tensor) => expect(Array.from(await a.toArray())).toEqual(Array.from(await b.toArray()));
    await same(new nn.MaxPool2d(3, 2, 1).call(x), wt.maxPool2d(x, 3, 2, 1));
    await same(new nn.ReLU().call(x), x.relu());
    await same(new nn.LocalResponseNorm(3, 1e-2, 0.75, 2).call(x), wt.localResponseNorm(x, 3, 1e-2, 0.75, 2));
    expect(new nn.Flatten().call(x).shape).toEqual([2, 144]);
    const d = new nn.Dropout(0.5);
    const kept = Array.from(await d.call(x).toArray());
    expect(kept.filter((v) => v === 0).length).toBeGreaterThan(20);
    await same(d.eval().call(x), x);
    const logits = wt.tensor([[2, 0, -1], [0.5, 0.5, 3]]);
    const labels = wt.tensor([0, 2], undefined, { dtype: 'int32' });
    const loss = await new nn.CrossEntropyLoss().call(logits, labels).item();
    const lse = (r: number[]) => Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    expect(loss).toBeCloseTo((lse([2, 0, -1]) - 2 + lse([0.5, 0.5, 3]) - 3) / 2, 5);
  });

  it('Conv2d: torch shapes, pair sizes, and Sequential fuses Conv2d + ReLU with the same values and grads', async () => {
    const c = new nn.Conv2d(3, 4, [3, 5], { stride: [1, 2], padding: [1, 2] });
    expect(c.weight.shape).toEqual([4, 3, 3, 5]);
    const x = wt.randn([2, 3, 8, 8]);
    const y = c.call(x);
    expect(y.shape).toEqual([2, 4, 8, 4]);
    expect(Array.from(await y.toArray())).toEqual(Array.from(await wt.conv2d(x, c.weight, c.bias, { stride: [1, 2], padding: [1, 2] }).toArray()));

    const seq = new nn.Sequential(new nn.Conv2d(3, 4, 3, { padding: 1 }), new nn.ReLU(), new nn.Flatten(), new nn.Linear(4 * 64, 2));
    const conv = seq.at(0) as InstanceType<typeof nn.Conv2d>;
    const lin = seq.at(3) as InstanceType<typeof nn.Linear>;
    const fused = seq.call(x);
    fused.sum().backward();
    const gFused = Array.from(await conv.weight.grad!.toArray());
    seq.zeroGrad();
    const plain = lin.call(conv.forward(x).relu().flatten(1));
    plain.sum().backward();
    expectClose(await fused.toArray(), await plain.toArray(), 1e-5, 1e-6, 'fused forward');
    expectClose(gFused, await conv.weight.grad!.toArray(), 1e-4, 1e-5, 'fused weight grad');
  });

  it('toString shows the tree', () => {
    const m = new nn.Sequential(new nn.Linear(2, 3), new nn.ReLU());
    expect(m.toString()).toBe('Sequential(\n  (0): Linear(inFeatures=2, outFeatures=3)\n  (1): ReLU()\n)');
  });
});
