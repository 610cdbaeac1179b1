// Inputs too big for one binding, and allocations too big for the device: elementwise ops, ReLU,
// fills and max pooling split into chunks within maxStorageBufferBindingSize (same values as the
// CPU twins); an op that cannot split, or a tensor beyond maxBufferSize, is a clear Error thrown
// before any GPU work, and the library trains normally afterwards.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { limitBindingForTesting, runtime } from '../../src/backend/webgpu.ts';
import { expectClose, initGpu, randArray } from '../helpers.ts';

beforeAll(initGpu);
afterEach(() => limitBindingForTesting(null));

const LIMIT = 1 << 20; // 1 MiB: operands of > 262144 floats split
const dispatches = () => runtime().stats.dispatches;

/** GPU result of `f` on `xs` (uploaded) and the number of dispatches it took. */
async function onGpu(f: (...xs: wt.Tensor[]) => wt.Tensor, xs: { data: Float32Array; shape: number[] }[]) {
  return wt.scope(async () => {
    const ts = xs.map((x) => wt.tensor(x.data, x.shape));
    const d0 = dispatches();
    const y = f(...ts);
    const n = dispatches() - d0;
    return { values: (await y.toArray()) as Float32Array, dispatches: n };
  });
}
async function onCpu(f: (...xs: wt.Tensor[]) => wt.Tensor, xs: { data: Float32Array; shape: number[] }[]) {
  return wt.scope(async () => (await f(...xs.map((x) => wt.tensor(x.data, x.shape, { device: 'cpu' }))).toArray()) as Float32Array);
}

describe('operands over the binding limit split', () => {
  const cases: [string, (...xs: wt.Tensor[]) => wt.Tensor, number[][]][] = [
    ['unary, vec4 length', (x) => x.sigmoid(), [[300_000]]],
    ['unary, odd length', (x) => x.exp(), [[300_001]]],
    ['binary same shape', (a, b) => a.mul(b), [[2, 150_003], [2, 150_003]]],
    ['binary with a number', (a) => wt.sub(a, 0.25), [[300_002]]],
    ['binary broadcast over dim 0 (bias row)', (a, b) => a.add(b), [[700, 501], [501]]],
    ['binary broadcast over dim 0 (column)', (a, b) => a.div(b), [[701, 500], [701, 1]]],
    ['relu', (x) => x.relu(), [[3, 100_001]]],
    ['maxPool2d 3/2, many planes', (x) => wt.maxPool2d(x, 3, 2), [[5, 16, 63, 65]]],
    ['maxPool2d 2/2', (x) => wt.maxPool2d(x, 2), [[3, 7, 128, 120]]],
  ];
  for (const [name, f, shapes] of cases) {
    it(`${name}: same values as the CPU twin, in several dispatches`, async () => {
      const xs = shapes.map((shape, i) => ({ data: randArray(shape.reduce((a, b) => a * b, 1), 10 + i, 0.5, 2), shape }));
      const whole = await onGpu(f, xs);
      limitBindingForTesting(LIMIT);
      const split = await onGpu(f, xs);
      expect(split.dispatches).toBeGreaterThan(whole.dispatches);
      expectClose(split.values, await onCpu(f, xs), 1e-5, 1e-6, name);
      expectClose(split.values, whole.values, 0, 0, `${name} (split vs whole)`);
    });
  }

  it('gradients of relu, maxPool2d and the elementwise ops split too', async () => {
    // 1.15 MB; the 29 x 29 output planes make chunks a multiple of 64 planes (256-byte starts)
    const shape = [10, 8, 60, 60];
    const data = randArray(shape.reduce((a, b) => a * b, 1), 3);
    const grads = async (device: 'cpu' | 'gpu') =>
      wt.scope(async () => {
        const x = wt.tensor(data, shape, { device, requiresGrad: true });
        wt.maxPool2d(x.mul(x).relu(), 3, 2).tanh().sum().backward();
        return (await x.grad!.toArray()) as Float32Array;
      });
    limitBindingForTesting(LIMIT);
    const d0 = dispatches();
    const g = await grads('gpu');
    expect(dispatches() - d0).toBeGreaterThan(20);
    expectClose(g, await grads('cpu'), 1e-4, 1e-5, 'dx');
  });

  it('wt.ones / zeros / full of a tensor over the limit', async () => {
    limitBindingForTesting(LIMIT);
    const t = wt.full([400_000], 2.5);
    const a = await t.toArray();
    expect(a.every((v) => v === 2.5)).toBe(true);
    t.dispose();
  });

  it('a tensor over the real maxStorageBufferBindingSize is split too', async () => {
    const max = wt.deviceInfo().limits.maxStorageBufferBindingSize;
    const n = max / 4 + 1024 * 1024 + 3; // past the limit, odd length
    const r = await wt.scope(async () => (await wt.full([n], 2.5).sigmoid().toArray()) as Float32Array);
    const want = 1 / (1 + Math.exp(-2.5));
    expect(r.length).toBe(n);
    for (const i of [0, 1, max / 4 - 1, max / 4, max / 4 + 1, n - 1]) expect(r[i]).toBeCloseTo(want, 6);
    expect(r.every((v) => Math.abs(v - want) < 1e-6)).toBe(true);
  });
});

describe('too big: clear errors, and the library stays usable', () => {
  it('an op that does not split names the kernel, the size and the limit, before GPU work; nothing leaks', async () => {
    const x = wt.ones([300_000]);
    limitBindingForTesting(LIMIT);
    const m0 = wt.memory().inUse;
    const d0 = dispatches();
    expect(() => x.sum()).toThrow(/kernel reduce.*operand 0 is 1200000 bytes \(1\.1 MiB\), over the adapter's maxStorageBufferBindingSize 1048576 \(1\.0 MiB\)/);
    expect(dispatches()).toBe(d0);
    expect(wt.memory().inUse).toBe(m0);
    limitBindingForTesting(null);
    expect(await x.sum().item()).toBe(300_000);
    x.dispose();
  });

  it('a tensor past maxBufferSize throws at once, allocating nothing; then a model trains a step', async () => {
    const maxBuffer = wt.deviceInfo().limits.maxBufferSize;
    const m0 = wt.memory();
    const huge = Math.floor(maxBuffer / 4) + 1;
    expect(() => wt.zeros([huge])).toThrow(new RegExp(`a tensor of ${huge * 4} bytes .* exceeds the adapter's maxBufferSize ${maxBuffer}`));
    wt.scope(() => {
      const x1 = wt.ones([1, 16]);
      expect(() => x1.expand([huge, 16])).toThrow(/maxBufferSize/);
    });
    expect(wt.memory().inUse).toBe(m0.inUse);
    expect(wt.memory().buffersCreated).toBeLessThanOrEqual(m0.buffersCreated + 1);
    // a tiny model still trains
    wt.manualSeed(1);
    const net = new wt.nn.Sequential(new wt.nn.Linear(4, 8), new wt.nn.ReLU(), new wt.nn.Linear(8, 2));
    const opt = new wt.optim.SGD(net.parameters(), { lr: 0.5 });
    const x = wt.randn([16, 4]);
    const y = wt.tensor(Array.from({ length: 16 }, (_, i) => i % 2), [16], { dtype: 'int32' });
    const losses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const l = await wt.scope(async () => {
        opt.zeroGrad();
        const loss = wt.crossEntropy(net.forward(x) as wt.Tensor, y);
        loss.backward();
        opt.step();
        return loss.item();
      });
      losses.push(l);
    }
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[4]).toBeLessThan(losses[0]);
  });
});
