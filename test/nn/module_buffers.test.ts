// Module buffers (registerBuffer): names, stateDict membership, strict loading, device moves,
// safetensors round trips with int32 buffers written as I64, checkpoints; and module traversal
// (apply, children, modules) in torch's order.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

const { nn } = wt;
const dir = mkdtempSync(join(tmpdir(), 'wt-buffers-'));

beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** BatchNorm-shaped state: a child layer, a float and an int32 persistent buffer, a scratch one. */
class Stats extends nn.Module {
  running_mean!: wt.Tensor; // declared for typing; registerBuffer makes it the buffer
  declare num_batches_tracked: wt.Tensor;
  declare scratch: wt.Tensor;
  declare empty: wt.Tensor | null;
  fc = new nn.Linear(2, 2);
  constructor(opts: { device?: wt.Device } = {}) {
    super();
    this.registerBuffer('running_mean', wt.zeros([2], { device: opts.device }));
    this.registerBuffer('num_batches_tracked', wt.zeros([], { dtype: 'int32', device: opts.device }));
    this.registerBuffer('scratch', wt.ones([3], { device: opts.device }), { persistent: false });
    this.registerBuffer('empty', null);
  }
  forward(x: wt.Tensor): wt.Tensor {
    return this.fc.call(x).sub(this.running_mean);
  }
}

/** The header JSON of a safetensors file. */
function headerOf(path: string): Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }> {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  return JSON.parse(buf.subarray(8, 8 + n).toString('utf8'));
}

describe('Module buffers', () => {
  it('are in stateDict (persistent ones) and namedBuffers, not in parameters', () => {
    const s = new Stats();
    expect(s.namedBuffers().map(([k]) => k)).toEqual(['running_mean', 'num_batches_tracked', 'scratch']);
    expect(s.buffers()[1]).toBe(s.num_batches_tracked);
    expect(s.namedParameters().map(([k]) => k)).toEqual(['fc.weight', 'fc.bias']);
    expect(s.parameters()).not.toContain(s.running_mean);
    // torch order: each module's parameters, then its persistent buffers, then its children
    expect(Object.keys(s.stateDict())).toEqual(['running_mean', 'num_batches_tracked', 'fc.weight', 'fc.bias']);

    const m = new nn.Sequential(new nn.Linear(2, 2), new nn.Sequential(s));
    expect(m.namedBuffers().map(([k]) => k)).toEqual(['1.0.running_mean', '1.0.num_batches_tracked', '1.0.scratch']);
    expect(Object.keys(m.stateDict())).toEqual([
      '0.weight', '0.bias', '1.0.running_mean', '1.0.num_batches_tracked', '1.0.fc.weight', '1.0.fc.bias',
    ]);
    expect(m.stateDict()['1.0.num_batches_tracked'].dtype).toBe('int32');
    expect(m.parameters().length).toBe(4);
  });

  it('assigning a registered name replaces the buffer; only a Tensor or null is accepted', async () => {
    const s = new Stats({ device: 'cpu' });
    const t = wt.tensor([3, 4], undefined, { device: 'cpu' });
    s.running_mean = t;
    expect(s.running_mean).toBe(t);
    expect(s.namedBuffers()[0]).toEqual(['running_mean', t]);
    expect(await s.stateDict().running_mean.toList()).toEqual([3, 4]);
    expect(s.parameters()).not.toContain(t);
    expect(() => {
      (s as unknown as Record<string, unknown>).running_mean = 5;
    }).toThrow("buffer 'running_mean' must be a Tensor or null, got Number");
    // null: still registered, absent from buffers and stateDict until a tensor comes back
    s.empty = wt.ones([1], { device: 'cpu' });
    expect(Object.keys(s.stateDict())).toContain('empty');
    s.empty = null;
    expect(Object.keys(s.stateDict())).not.toContain('empty');
    expect(s.namedBuffers().map(([k]) => k)).not.toContain('empty');
  });

  it('registerBuffer validates its arguments', () => {
    const s = new Stats();
    expect(() => s.registerBuffer('fc', wt.zeros([1]))).toThrow("registerBuffer: attribute 'fc' already exists");
    expect(() => s.registerBuffer('forward', wt.zeros([1]))).toThrow("attribute 'forward' already exists");
    expect(() => s.registerBuffer('a.b', wt.zeros([1]))).toThrow("name cannot contain '.'");
    expect(() => s.registerBuffer('_x', wt.zeros([1]))).toThrow("name cannot start with '_'");
    expect(() => s.registerBuffer('', wt.zeros([1]))).toThrow('name cannot be empty');
    expect(() => s.registerBuffer('x', [1, 2] as unknown as wt.Tensor)).toThrow("buffer 'x' must be a Tensor or null, got Array");
    // re-registering a buffer replaces it (and may change persistence)
    s.registerBuffer('scratch', wt.zeros([3]));
    expect(Object.keys(s.stateDict())).toContain('scratch');
  });

  it('survive tidy() and move with to(device)', async () => {
    const s = wt.tidy(() => new Stats({ device: 'cpu' }));
    expect(s.buffers().every((b) => !b.isDisposed && b.device === 'cpu')).toBe(true);
    await s.to('gpu');
    expect(s.buffers().map((b) => b.device)).toEqual(['gpu', 'gpu', 'gpu']);
    expect(s.num_batches_tracked.dtype).toBe('int32');
    expect(await s.scratch.toList()).toEqual([1, 1, 1]);
  });

  it('load strictly: missing and unexpected buffer keys, shape and dtype mismatches name the key', async () => {
    const s = new Stats({ device: 'cpu' });
    const sd = s.stateDict();
    const { num_batches_tracked: _n, ...missing } = sd;
    expect(() => s.loadStateDict(missing)).toThrow(/\(missing keys: num_batches_tracked\)/);
    // a non-persistent buffer is not expected: its key is unexpected, like any unknown key
    expect(() => s.loadStateDict({ ...sd, scratch: wt.ones([3]), 'fc.running_var': wt.ones([2]) })).toThrow(
      /\(unexpected keys: scratch, fc\.running_var\)/,
    );
    expect(() => s.loadStateDict({ ...sd, running_mean: wt.zeros([3]) })).toThrow(
      "loadStateDict: shape mismatch for 'running_mean': state dict has [3], model has [2]",
    );
    expect(() => s.loadStateDict({ ...sd, num_batches_tracked: wt.zeros([]) })).toThrow(
      "loadStateDict: dtype mismatch for 'num_batches_tracked': state dict has float32, model has int32",
    );
    // a failed load wrote nothing
    expect(await s.running_mean.toList()).toEqual([0, 0]);

    const r = s.loadStateDict({ running_mean: wt.tensor([1, 2], undefined, { device: 'cpu' }) }, { strict: false });
    expect(r).toEqual({ missingKeys: ['num_batches_tracked', 'fc.weight', 'fc.bias'], unexpectedKeys: [] });
    expect(await s.running_mean.toList()).toEqual([1, 2]);

    const before = s.num_batches_tracked;
    const res = s.loadStateDict({ ...s.stateDict(), num_batches_tracked: wt.tensor(7, undefined, { dtype: 'int32', device: 'cpu' }) });
    expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(s.num_batches_tracked).toBe(before); // in place
    expect(await s.num_batches_tracked.item()).toBe(7);
  });

  it('round-trip through wt.save / wt.load with the int32 buffer written as I64', async () => {
    const a = new Stats();
    a.loadStateDict({
      ...a.stateDict(),
      running_mean: wt.tensor([0.5, -1.25]),
      num_batches_tracked: wt.tensor(-3, undefined, { dtype: 'int32' }),
    });
    const path = join(dir, 'stats.safetensors');
    await wt.save(a.stateDict(), path, undefined, { int32As: 'I64' });
    const h = headerOf(path);
    expect(h.num_batches_tracked.dtype).toBe('I64');
    expect(h.num_batches_tracked.shape).toEqual([]);
    expect(h.running_mean.dtype).toBe('F32');
    expect(Object.keys(h).sort()).toEqual(['fc.bias', 'fc.weight', 'num_batches_tracked', 'running_mean']);
    // -3 as little-endian i64
    const [b0, b1] = h.num_batches_tracked.data_offsets;
    const buf = readFileSync(path);
    const start = 8 + Number(buf.readBigUInt64LE(0));
    expect([...buf.subarray(start + b0, start + b1)]).toEqual([0xfd, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);

    const loaded = await wt.load(path);
    expect(loaded.num_batches_tracked.dtype).toBe('int32');
    const b = new Stats();
    expect(b.loadStateDict(loaded)).toEqual({ missingKeys: [], unexpectedKeys: [] });
    expect(await b.num_batches_tracked.item()).toBe(-3);
    expect(await b.running_mean.toList()).toEqual([0.5, -1.25]);
    expect(await b.scratch.toList()).toEqual([1, 1, 1]); // non-persistent: not saved, untouched
    const x = wt.tensor([[1, 2]]);
    expect(await b.call(x).toList()).toEqual(await a.call(x).toList());

    // without the option int32 stays I32
    await wt.save(a.stateDict(), path);
    expect(headerOf(path).num_batches_tracked.dtype).toBe('I32');
  });

  it('reads I64 into int32 and refuses values outside int32', async () => {
    const file = (vals: bigint[]) => {
      const json = JSON.stringify({ n: { dtype: 'I64', shape: [vals.length], data_offsets: [0, 8 * vals.length] } }).padEnd(48, ' ');
      const len = Buffer.alloc(8);
      len.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([len, Buffer.from(json), Buffer.from(new BigInt64Array(vals).buffer)]);
    };
    const ok = join(dir, 'i64.safetensors');
    writeFileSync(ok, file([2147483647n, -2147483648n, -1n, 0n]));
    const t = (await wt.load(ok, { device: 'cpu' })).n;
    expect(t.dtype).toBe('int32');
    expect(await t.toList()).toEqual([2147483647, -2147483648, -1, 0]);
    const bad = join(dir, 'i64-big.safetensors');
    writeFileSync(bad, file([1n, 2147483648n]));
    await expect(wt.load(bad, { device: 'cpu' })).rejects.toThrow(
      /tensor 'n': I64 value 2147483648 at element 1 does not fit in int32/,
    );
    writeFileSync(bad, file([-2147483649n]));
    await expect(wt.load(bad, { device: 'cpu' })).rejects.toThrow(/I64 value -2147483649 at element 0 does not fit in int32/);
  });

  it('are saved and restored by checkpoints (int32 as I64)', async () => {
    const a = new Stats();
    a.loadStateDict({ ...a.stateDict(), num_batches_tracked: wt.tensor(12, undefined, { dtype: 'int32' }), running_mean: wt.tensor([2, 3]) });
    const path = join(dir, 'ckpt.safetensors');
    await wt.saveCheckpoint(path, { model: a, epoch: 1 });
    expect(headerOf(path)['model.num_batches_tracked'].dtype).toBe('I64');
    const b = new Stats();
    await wt.loadCheckpoint(path, { model: b });
    expect(await b.num_batches_tracked.item()).toBe(12);
    expect(await b.running_mean.toList()).toEqual([2, 3]);
  });
});

describe('Module traversal', () => {
  const build = () => {
    const inner = new nn.Sequential(new nn.ReLU(), new Stats());
    return new nn.Sequential(new nn.Linear(2, 2), inner);
  };

  it('namedModules / modules: depth first, root first with name ""', () => {
    const m = build();
    expect(m.namedModules().map(([k]) => k)).toEqual(['', '0', '1', '1.0', '1.1', '1.1.fc']);
    expect(m.modules()[0]).toBe(m);
    expect(m.modules().map((x) => x.constructor.name)).toEqual(['Sequential', 'Linear', 'Sequential', 'ReLU', 'Stats', 'Linear']);
    expect(m.namedChildren().map(([k, c]) => `${k}:${c.constructor.name}`)).toEqual(['0:Linear', '1:Sequential']);
    expect(m.children()).toEqual([m.at(0), m.at(1)]);
  });

  it('apply calls fn on every child (recursively) before the module itself, and returns this', () => {
    const m = build();
    const names = new Map(m.namedModules().map(([k, x]) => [x, k] as const));
    const seen: string[] = [];
    expect(m.apply((x) => seen.push(names.get(x)!))).toBe(m);
    expect(seen).toEqual(['0', '1.0', '1.1.fc', '1.1', '1', '']);
    expect(() => m.apply(3 as unknown as (x: wt.nn.Module) => void)).toThrow('apply: fn must be a function, got number');
  });
});
