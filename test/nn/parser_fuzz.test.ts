// Property-based fuzzing (fast-check) of the safetensors reader (wt.loadSafetensors) and the
// checkpoint reader (wt.loadCheckpoint): random truncations, byte flips, splices and random headers /
// metadata. Every input either loads (and then holds exactly what its bytes say) or is rejected with
// a plain Error whose message names the file; never a TypeError / RangeError / non-Error throw, a
// hang, or an allocation sized by a corrupt header. A rejected checkpoint leaves the model, the
// optimizer and the RNG as they were. CPU only (no wt.init()).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { encodeHeader, parseSafetensors } from '../../src/nn/safetensors-format.ts';

const dir = mkdtempSync(join(tmpdir(), 'wt-parser-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'fuzz.safetensors');

/** A safetensors file from a header value (JSON, space-padded to 8) and data bytes. */
function fileOf(header: unknown, data: Uint8Array): Uint8Array {
  let json = JSON.stringify(header);
  while ((8 + Buffer.byteLength(json)) % 8) json += ' ';
  const h = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

/** Fail unless `e` is a plain Error whose message names `path` and is of readable size. */
function expectClearError(e: unknown, path: string, input: string): void {
  const ok =
    e instanceof Error && Object.getPrototypeOf(e) === Error.prototype && e.message.includes(path) && e.message.length < 1000 && !/\bNaN bytes\b/.test(e.message);
  if (!ok) {
    const what = e instanceof Error ? `${e.constructor.name}: ${e.message.slice(0, 300)}\n${e.stack}` : `non-Error ${String(e)}`;
    throw new Error(`unclear rejection of ${input}: ${what}`);
  }
}

/** Load `bytes` written to the fuzz file; the tensors' values (as plain arrays) or the rejection. */
async function tryLoad(bytes: Uint8Array): Promise<{ ok: true; values: Record<string, number[]>; metadata: Record<string, string> } | { ok: false; err: unknown }> {
  writeFileSync(file, bytes);
  try {
    const { tensors, metadata } = await wt.loadSafetensors(file, { device: 'cpu' });
    const values: Record<string, number[]> = {};
    for (const [k, t] of Object.entries(tensors)) {
      values[k] = Array.from(await t.toArray());
      t.dispose();
    }
    return { ok: true, values, metadata };
  } catch (err) {
    return { ok: false, err };
  }
}

/** What the tensors of a parsable buffer hold, decoded independently of the reader. */
function decode(bytes: Uint8Array): Record<string, number[]> {
  const { entries, dataStart } = parseSafetensors(bytes, 'reference');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Record<string, number[]> = {};
  for (const e of entries) {
    const at = dataStart + e.begin;
    const size = { F32: 4, I32: 4, F64: 8, I64: 8 }[e.code]!;
    const n = (e.end - e.begin) / size;
    out[e.name] = Array.from({ length: n }, (_, i) =>
      e.code === 'F32' ? dv.getFloat32(at + 4 * i, true)
      : e.code === 'I32' ? dv.getInt32(at + 4 * i, true)
      : e.code === 'F64' ? dv.getFloat64(at + 8 * i, true)
      : Number(dv.getBigInt64(at + 8 * i, true)),
    );
  }
  return out;
}

/** A file with every dtype (I64 among them), an empty tensor and metadata. */
function baseFile(): { bytes: Uint8Array; dataStart: number } {
  const f32 = Float32Array.from({ length: 6 }, (_, i) => i * 0.75 - 2);
  const i32 = Int32Array.of(-3, 0, 7, 2147483647);
  const f64 = Float64Array.of(Math.PI, -1e300);
  const i64 = new BigInt64Array([-5n, 1n, 2147483647n]);
  const { header } = encodeHeader(
    [
      { name: 'a', dtype: 'float32', shape: [2, 3] },
      { name: 'b', dtype: 'int32', shape: [4] },
      { name: 'c', dtype: 'float64', shape: [2, 1] },
      { name: 'd', dtype: 'int32', shape: [3], code: 'I64' },
      { name: 'e', dtype: 'float32', shape: [0, 3] },
    ],
    { note: 'fuzz base', n: '5' },
  );
  const data = Buffer.concat([f32, i32, f64, i64].map((a) => Buffer.from(a.buffer)));
  const bytes = new Uint8Array(Buffer.concat([header, data]));
  return { bytes, dataStart: header.length };
}

const base = baseFile();

/** The property every input must satisfy: loads as its bytes say, or a clear rejection. */
async function checkInput(bytes: Uint8Array, what: string): Promise<boolean> {
  const r = await tryLoad(bytes);
  if (!r.ok) {
    expectClearError(r.err, file, what);
    return false;
  }
  expect(r.values, what).toEqual(decode(bytes));
  return true;
}

describe('safetensors reader fuzz', () => {
  it('loads the unchanged file exactly', async () => {
    const r = await tryLoad(base.bytes);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.values).toEqual({
      a: [-2, -1.25, -0.5, 0.25, 1, 1.75],
      b: [-3, 0, 7, 2147483647],
      c: [Math.PI, -1e300],
      d: [-5, 1, 2147483647],
      e: [],
    });
    expect(r.metadata).toEqual({ note: 'fuzz base', n: '5' });
  });

  it('rejects every truncation and every extension clearly', async () => {
    for (let cut = 0; cut < base.bytes.length; cut++) expect(await checkInput(base.bytes.subarray(0, cut), `truncated to ${cut}`)).toBe(false);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 16 }), async (tail) => {
        expect(await checkInput(Buffer.concat([base.bytes, tail]), `extended by ${tail.length}`)).toBe(false);
      }),
      { numRuns: 50 },
    );
  });

  it('a flipped byte loads as its bytes say or is rejected clearly; data flips always load', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: base.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (pos, x) => {
        const bytes = Uint8Array.from(base.bytes);
        bytes[pos] ^= x;
        const loaded = await checkInput(bytes, `byte ${pos} ^ ${x}`);
        // the data bytes of F32 / I32 / F64 tensors accept any value; I64 is range-checked
        const dStart = base.dataStart + 24 + 16 + 16;
        if (pos >= base.dataStart && pos < dStart) expect(loaded, `byte ${pos} ^ ${x}`).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('random splices (several flips, insertions, deletions, a cut) never crash', async () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), x: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 6 }), async (edits) => {
        let b = Buffer.from(base.bytes);
        for (const e of edits) {
          const p = e.pos % (b.length + 1);
          if (e.kind === 'flip' && p < b.length) b[p] ^= e.x;
          if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, p), e.bytes, b.subarray(p)]);
          if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, p), b.subarray(p + e.n)]);
        }
        await checkInput(b, JSON.stringify(edits));
      }),
      { numRuns: 300 },
    );
  });

  it('random headers: odd dtypes, shapes, offsets, names and metadata are loaded as declared or rejected clearly', async () => {
    const num = fc.oneof(
      fc.nat({ max: 8 }),
      fc.constantFrom(-1, 0.5, 2 ** 31, 2 ** 32, 2 ** 40, 2 ** 53, 2 ** 64, 1e308, Number.MAX_SAFE_INTEGER),
      fc.constantFrom('3', null, true, [], {}),
    );
    const entry = fc.oneof(
      fc.record({
        dtype: fc.oneof(fc.constantFrom('F32', 'I32', 'F64', 'I64', 'F16', 'BF16', 'U8', 'toString', '__proto__', 'constructor', ''), fc.integer()),
        shape: fc.oneof(fc.array(num, { maxLength: 4 }), num),
        data_offsets: fc.oneof(fc.tuple(num, num), fc.array(num, { maxLength: 3 }), num),
      }),
      fc.jsonValue({ maxDepth: 2 }),
    );
    const name = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'toString', '__metadata__'));
    await fc.assert(
      fc.asyncProperty(fc.dictionary(name, entry, { maxKeys: 4 }), fc.uint8Array({ maxLength: 64 }), async (header, data) => {
        await checkInput(fileOf(header, data), JSON.stringify(header));
      }),
      { numRuns: 400 },
    );
  });

  it('consistent random headers over random data load exactly', async () => {
    const code = fc.constantFrom('F32', 'I32', 'F64', 'I64');
    const tensor = fc.record({ code, shape: fc.array(fc.nat({ max: 3 }), { maxLength: 3 }) });
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 5 }), tensor), { selector: (t) => t[0], maxLength: 4 }), fc.nat(), async (ts, seed) => {
        const header: Record<string, unknown> = {};
        let off = 0;
        for (const [n, t] of ts) {
          if (n === '__metadata__') continue;
          const bytes = ({ F32: 4, I32: 4, F64: 8, I64: 8 } as Record<string, number>)[t.code] * t.shape.reduce((a, b) => a * b, 1);
          Object.defineProperty(header, n, { value: { dtype: t.code, shape: t.shape, data_offsets: [off, off + bytes] }, enumerable: true });
          off += bytes;
        }
        const data = Uint8Array.from({ length: off }, (_, i) => (seed * 31 + i * 17) & 255);
        // I64 values here are mostly outside int32: rejected, naming the value; all others load
        const loaded = await checkInput(fileOf(header, data), JSON.stringify(header));
        if (!ts.some(([, t]) => t.code === 'I64' && t.shape.every((d) => d > 0))) expect(loaded).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('messages stay short when the header holds huge names, shapes or metadata', async () => {
    const long = 'n'.repeat(100_000);
    const shape = Array.from({ length: 10_000 }, (_, i) => (i === 9_999 ? -1 : 1));
    const headers = [
      { [long]: { dtype: 'F32', shape: [1], data_offsets: [0, 8] } },
      { a: { dtype: long, shape: [1], data_offsets: [0, 4] } },
      { a: { dtype: 'F32', shape, data_offsets: [0, 4] } },
      { a: { dtype: 'F32', shape: shape.map(() => 1), data_offsets: [0, 8] } },
      { __metadata__: { [long]: 3 }, a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
      { __metadata__: [long], a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } },
    ];
    for (const h of headers) {
      const r = await tryLoad(fileOf(h, new Uint8Array(4)));
      expect(r.ok).toBe(false);
      if (!r.ok) expectClearError(r.err, file, JSON.stringify(h).slice(0, 100));
    }
  });

  it('a header claiming 2^40 elements is rejected before anything is allocated', async () => {
    const rss0 = process.resourceUsage().maxRSS;
    const claims = [
      { x: { dtype: 'F32', shape: [2 ** 20, 2 ** 20], data_offsets: [0, 4 * 2 ** 40] } },
      { x: { dtype: 'F64', shape: [2 ** 40], data_offsets: [0, 16] } },
      { x: { dtype: 'I64', shape: [2 ** 20, 2 ** 20, 2 ** 20], data_offsets: [0, 2 ** 63] } },
    ];
    for (const h of claims) {
      const r = await tryLoad(fileOf(h, new Uint8Array(16)));
      expect(r.ok).toBe(false);
      if (!r.ok) {
        expectClearError(r.err, file, JSON.stringify(h));
        expect((r.err as Error).message).toMatch(/out of range|needs \d+ bytes|data_offsets must be/);
      }
    }
    // a header length field of 2^63 - 1
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(2n ** 63n - 1n);
    const r = await tryLoad(huge);
    expect(r.ok).toBe(false);
    if (!r.ok) expect((r.err as Error).message).toMatch(/header length \d+ goes beyond the file/);
    expect(process.resourceUsage().maxRSS - rss0).toBeLessThan(64 * 1024); // KiB
  });
});

// ---------------------------------------------------------------- checkpoints

const makeModel = () => new wt.nn.Sequential(new wt.nn.Linear(3, 4), new wt.nn.ReLU(), new wt.nn.Linear(4, 2));

async function state(model: wt.nn.Module, opt: wt.optim.SGD): Promise<unknown> {
  const params = await Promise.all(model.parameters().map(async (p) => Array.from(await p.toArray())));
  const sd = opt.stateDict();
  const bufs = await Promise.all(Object.entries(sd.state).map(async ([k, s]) => [k, Array.from(await s.momentumBuffer.toArray())]));
  return { params, groups: sd.paramGroups, bufs, rng: wt.getRngState().map(String) };
}

/** A model and SGD with momentum buffers after one step from seed `seed`. */
function trained(seed: number, o: { lr: number; momentum: number; nesterov?: boolean }): { model: wt.nn.Sequential; opt: wt.optim.SGD } {
  wt.manualSeed(seed);
  const model = makeModel();
  const opt = new wt.optim.SGD(model.parameters(), o);
  wt.tidy(() => {
    opt.zeroGrad();
    wt.mseLoss(model.call(wt.randn([5, 3])), wt.randn([5, 2])).backward();
    opt.step();
  });
  return { model, opt };
}

describe('checkpoint reader fuzz', () => {
  const src = trained(7, { lr: 0.1, momentum: 0.9, nesterov: true });
  // the target: a model, optimizer and RNG in a known state, compared after every rejection
  const { model, opt } = trained(99, { lr: 0.5, momentum: 0.5 });
  const ckptFile = join(dir, 'fuzz.ckpt-target.safetensors');
  let good: Uint8Array;
  let goodMeta: Record<string, string>;
  let entries: ReturnType<typeof parseSafetensors>['entries'];
  let goodTensors: Uint8Array;
  beforeAll(async () => {
    const path = join(dir, 'fuzz.ckpt.safetensors');
    await wt.saveCheckpoint(path, { model: src.model, optimizer: src.opt, epoch: 3, extra: { batch: 12, note: 'x' } });
    good = new Uint8Array(readFileSync(path));
    const parsed = parseSafetensors(good, 'reference');
    goodMeta = parsed.metadata;
    entries = parsed.entries;
    goodTensors = good.subarray(parsed.dataStart);
  });

  /** Load `bytes` as a checkpoint; rejected: clear and nothing changed; loaded: the state is restored afterwards. */
  async function checkCheckpoint(bytes: Uint8Array, what: string): Promise<boolean> {
    writeFileSync(ckptFile, bytes);
    const before = await state(model, opt);
    const rng = wt.getRngState();
    let epoch: number;
    try {
      ({ epoch } = await wt.loadCheckpoint(ckptFile, { model, optimizer: opt }));
    } catch (e) {
      expectClearError(e, ckptFile, what);
      expect(await state(model, opt), `state changed by a rejected load: ${what}`).toEqual(before);
      return false;
    }
    // loaded: the model, the epoch and the RNG hold exactly what the file says
    const { metadata } = parseSafetensors(bytes, 'reference');
    const values = decode(bytes);
    const sd = model.stateDict();
    for (const [k, t] of Object.entries(sd)) {
      expect(Array.from(await t.toArray()), `${what}: model.${k}`).toEqual(values[`model.${k}`]);
      t.dispose();
    }
    expect(epoch, what).toBe(JSON.parse(metadata.epoch));
    const fileRng = (JSON.parse(metadata.rng) as (number | null)[]).map((v) => (v === null ? NaN : v));
    expect(wt.getRngState(), `${what}: rng`).toEqual(fileRng);
    wt.setRngState(rng);
    return true;
  }

  /** A checkpoint with the good tensors and the given metadata. */
  function withMetadata(meta: Record<string, string>): Uint8Array {
    const h: Record<string, unknown> = { __metadata__: meta };
    for (const e of entries) h[e.name] = { dtype: e.code, shape: e.shape, data_offsets: [e.begin, e.end] };
    return fileOf(h, goodTensors);
  }

  it('loads the unchanged checkpoint into the target', async () => {
    expect(await checkCheckpoint(good, 'unchanged')).toBe(true);
    const want = await Promise.all(src.model.parameters().map(async (p) => Array.from(await p.toArray())));
    expect(await Promise.all(model.parameters().map(async (p) => Array.from(await p.toArray())))).toEqual(want);
  });

  it('rejects every truncation clearly and leaves the target unchanged', async () => {
    for (let cut = 0; cut < good.length; cut += 1 + (cut % 7)) expect(await checkCheckpoint(good.subarray(0, cut), `cut ${cut}`)).toBe(false);
  });

  it('a flipped byte loads or is rejected clearly with nothing changed', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: good.length - 1 }), fc.integer({ min: 1, max: 255 }), async (pos, x) => {
        const bytes = Uint8Array.from(good);
        bytes[pos] ^= x;
        await checkCheckpoint(bytes, `byte ${pos} ^ ${x}`);
      }),
      { numRuns: 300 },
    );
  });

  it('random metadata values (epoch, rng, optimizer, extra, format) load or are rejected clearly', async () => {
    /** Mostly `good` (so the checks after this one are reached), sometimes one of `bad`. */
    const mostly = <T>(good: T, ...bad: fc.Arbitrary<T>[]) => fc.oneof({ arbitrary: fc.constant(good), weight: 3 }, ...bad.map((b) => ({ arbitrary: b, weight: 1 })));
    const anyJson = fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v));
    const good = { ...goodMeta, rng: JSON.parse(goodMeta.rng) as unknown[], optimizer: JSON.parse(goodMeta.optimizer) as { type: string; paramGroups: Record<string, unknown>[] } };
    const g0 = good.optimizer.paramGroups[0];
    const word = fc.oneof(fc.nat().map(String), fc.constantFrom('-1', '4294967296', '0.5', '1e999', 'null', '"1"', '[]'));
    const rng = mostly(
      goodMeta.rng,
      fc.array(word, { minLength: 0, maxLength: 6 }).map((ws) => `[${ws.join(',')}]`),
      fc.constantFrom('[0,0,0,0,null]', '[1,2,3,4,null]', '[1,2,3,4,0.25]', '[1,2,3,4,"x"]', '[1,2,3,4]', '{}', '"rng"'),
      anyJson,
    );
    const group = fc.record({
      lr: mostly<unknown>(g0.lr, fc.double(), fc.constantFrom(-1, '0.1', null)),
      momentum: mostly<unknown>(g0.momentum, fc.constantFrom(0, -0.5, 2, '0.9', null, undefined)),
      dampening: mostly<unknown>(g0.dampening, fc.constantFrom(0.1, -1, undefined)),
      weightDecay: mostly<unknown>(g0.weightDecay, fc.constantFrom(1e-4, -1, undefined)),
      nesterov: mostly<unknown>(g0.nesterov, fc.constantFrom(false, 'true', 0, undefined)),
      params: mostly<unknown>(g0.params, fc.array(fc.nat({ max: 9 }), { maxLength: 6 }), fc.constantFrom(null, 4, '0123')),
    });
    const optimizer = mostly(
      goodMeta.optimizer,
      fc.record({ type: mostly<unknown>('SGD', fc.constantFrom('Adam', 1)), paramGroups: fc.array(group, { minLength: 1, maxLength: 1 }) }).map((o) => JSON.stringify(o)),
      fc.record({ type: mostly<unknown>('SGD', fc.constantFrom('Adam', 1)), paramGroups: mostly<unknown>([g0], fc.array(fc.oneof(group, fc.jsonValue({ maxDepth: 1 })), { maxLength: 2 }), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }).map((o) => JSON.stringify(o)),
      anyJson,
    );
    const epoch = mostly(goodMeta.epoch, fc.double().map(String), fc.constantFrom('1e999', '-1e999', 'NaN', '"3"', 'null', '[]', '', '{', '-2', '0.5'));
    const meta = fc.record(
      {
        format: mostly(goodMeta.format, fc.constantFrom('webgpu-tensor-checkpoint/2', '')),
        epoch,
        rng,
        optimizer,
        extra: mostly(goodMeta.extra, anyJson, fc.constantFrom('{', 'undefined', '')),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(meta, async (m) => {
        await checkCheckpoint(withMetadata(m as Record<string, string>), JSON.stringify(m));
      }),
      { numRuns: 400 },
    );
    // the good metadata itself loads
    expect(await checkCheckpoint(withMetadata(goodMeta), 'good metadata')).toBe(true);
  });
});
