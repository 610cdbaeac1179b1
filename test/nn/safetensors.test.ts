// wt.save / wt.load: exact byte layout against a hand-built fixture, round trips (model outputs,
// dtypes, odd shapes), atomic writes, and rejection of malformed files.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu } from '../helpers.ts';

const dir = mkdtempSync(join(tmpdir(), 'wt-safetensors-'));

beforeAll(async () => {
  await initGpu();
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A file from a header object (JSON-encoded, space-padded to 8) and raw data bytes. */
function fileOf(header: unknown, data: number[] | Uint8Array, pad = true): Buffer {
  let json = typeof header === 'string' ? header : JSON.stringify(header);
  if (pad) while ((8 + Buffer.byteLength(json)) % 8) json += ' ';
  const h = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(h.length));
  return Buffer.concat([len, h, Buffer.from(data)]);
}

function write(name: string, bytes: Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

describe('safetensors', () => {
  it('writes the exact byte layout', async () => {
    const path = join(dir, 'fixture.safetensors');
    await wt.save(
      { b: wt.tensor([1, -2], undefined, { dtype: 'int32' }), a: wt.tensor([[1.5], [-0.25]]) },
      path,
      { k: 'v' },
    );
    const json =
      '{"__metadata__":{"k":"v"},"a":{"dtype":"F32","shape":[2,1],"data_offsets":[0,8]},' +
      '"b":{"dtype":"I32","shape":[2],"data_offsets":[8,16]}}';
    expect(json.length).toBe(135); // + 1 space: 8 + 136 is a multiple of 8
    const expected = Buffer.concat([
      Buffer.from([136, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from(json + ' ', 'utf8'),
      Buffer.from([0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x80, 0xbe]), // f32 1.5, -0.25
      Buffer.from([0x01, 0x00, 0x00, 0x00, 0xfe, 0xff, 0xff, 0xff]), // i32 1, -2
    ]);
    expect(expected.length).toBe(160);
    expect(readFileSync(path).equals(expected)).toBe(true);
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([]); // temp file renamed away
    const { tensors, metadata } = await wt.loadSafetensors(path);
    expect(metadata).toEqual({ k: 'v' });
    expect(Object.keys(tensors)).toEqual(['a', 'b']);
    expect(tensors.a.shape).toEqual([2, 1]);
    expect(tensors.a.device).toBe('gpu');
    expect(await tensors.a.toList()).toEqual([[1.5], [-0.25]]);
    expect(tensors.b.dtype).toBe('int32');
    expect(await tensors.b.toList()).toEqual([1, -2]);
  });

  it('reads a file laid out differently (as another writer might)', async () => {
    // b before a in the buffer, metadata last, no padding
    const data = [0x01, 0, 0, 0, 0, 0, 0xc0, 0x3f];
    const p = write('other.safetensors', fileOf(
      { b: { dtype: 'I32', shape: [1], data_offsets: [0, 4] }, a: { dtype: 'F32', shape: [], data_offsets: [4, 8] }, __metadata__: {} },
      data, false,
    ));
    const t = await wt.load(p, { device: 'cpu' });
    expect(t.a.shape).toEqual([]);
    expect(await t.a.item()).toBe(1.5);
    expect(await t.b.toList()).toEqual([1]);
  });

  it('round-trips a model: identical outputs after loading into a fresh one', async () => {
    const make = () => new wt.nn.Sequential(new wt.nn.Linear(5, 7), new wt.nn.ReLU(), new wt.nn.Linear(7, 3));
    const a = make();
    const path = join(dir, 'model.safetensors');
    await wt.save(a.stateDict(), path);
    const b = make();
    b.loadStateDict(await wt.load(path));
    const x = wt.randn([4, 5]);
    expect(Array.from(await b.call(x).toArray())).toEqual(Array.from(await a.call(x).toArray()));
    // a CPU model loads the same file
    const c = await make().to('cpu');
    c.loadStateDict(await wt.load(path, { device: 'cpu' }));
    expectClose(await c.call(await x.to('cpu')).toArray(), await a.call(x).toArray(), 1e-5, 1e-6, 'cpu copy');
  });

  it('round-trips a small AlexNet-shaped Sequential with torch names', async () => {
    const { Sequential, Conv2d, ReLU, MaxPool2d, LocalResponseNorm, Flatten, Linear, Dropout } = wt.nn;
    const make = () =>
      new Sequential(
        new Conv2d(1, 8, 5, { stride: 2, padding: 1 }), new ReLU(), new LocalResponseNorm(5, 1e-4, 0.75, 2), new MaxPool2d(3, 2),
        new Conv2d(8, 16, 3, { padding: 1 }), new ReLU(), new MaxPool2d(3, 2),
        new Flatten(), new Linear(16 * 2 * 2, 32), new ReLU(), new Dropout(0.5), new Linear(32, 10),
      ).eval();
    const a = make();
    const path = join(dir, 'alexnet.safetensors');
    await wt.save(a.stateDict(), path);
    const header = JSON.parse(readFileSync(path).subarray(8, 8 + Number(readFileSync(path).readBigUInt64LE(0))).toString());
    expect(Object.keys(header).sort()).toEqual(['0.bias', '0.weight', '11.bias', '11.weight', '4.bias', '4.weight', '8.bias', '8.weight']);
    expect(header['0.weight']).toMatchObject({ dtype: 'F32', shape: [8, 1, 5, 5] });
    const b = make();
    b.loadStateDict(await wt.load(path));
    const x = wt.randn([2, 1, 23, 23]);
    expect(Array.from(await b.call(x).toArray())).toEqual(Array.from(await a.call(x).toArray()));
  });

  it('round-trips float64, empty and 0-d tensors; overwrites atomically', async () => {
    const path = join(dir, 'kinds.safetensors');
    writeFileSync(path, 'old contents');
    const f64 = wt.tensor([Math.PI, -1e-300], undefined, { device: 'cpu', dtype: 'float64' });
    await wt.save({ f64, empty: wt.zeros([0, 3]), scalar: wt.tensor(2.5) }, path);
    const t = await wt.load(path, { device: 'cpu' });
    expect(t.f64.dtype).toBe('float64');
    expect(Array.from(await t.f64.toArray())).toEqual([Math.PI, -1e-300]);
    expect(t.empty.shape).toEqual([0, 3]);
    expect(await t.scalar.item()).toBe(2.5);
    const g = await wt.load(path, { device: 'gpu' });
    expect(g.f64.dtype).toBe('float32'); // no f64 on the GPU
  });

  it('rejects bad arguments when saving', async () => {
    const p = join(dir, 'bad-save.safetensors');
    await expect(wt.save({ __metadata__: wt.zeros([1]) }, p)).rejects.toThrow(/reserved/);
    await expect(wt.save({ a: 3 as unknown as wt.Tensor }, p)).rejects.toThrow("save: 'a' must be a Tensor, got number");
    await expect(wt.save({}, p, { n: 1 as unknown as string })).rejects.toThrow("save: metadata value 'n' must be a string, got number");
    const d = wt.zeros([1]);
    d.dispose();
    await expect(wt.save({ d }, p)).rejects.toThrow(/disposed/);
  });

  describe('rejects malformed files', () => {
    const good = { a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
    const eight = [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40];
    const cases: [string, Uint8Array, RegExp][] = [
      ['truncated', Buffer.from([1, 2, 3]), /truncated: 3 bytes, need at least 8/],
      ['header past end', fileOf(good, eight).subarray(0, 20), /header length 56 goes beyond the file \(12 bytes after the length field\); truncated/],
      ['huge header length', Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x80, 1, 2]), /header length \d+ goes beyond the file/],
      ['bad JSON', fileOf('{"a": {"dtype": ', []), /header is not valid UTF-8 JSON/],
      ['not an object', fileOf('[1,2]', []), /header must be a JSON object, got an array/],
      ['unknown dtype', fileOf({ a: { dtype: 'BF16', shape: [4], data_offsets: [0, 8] } }, eight), /tensor 'a': unsupported dtype "BF16" \(supported: F32, F64, I32\)/],
      ['bad shape', fileOf({ a: { dtype: 'F32', shape: [-2], data_offsets: [0, 8] } }, eight), /shape must be an array of non-negative integers/],
      ['shape/offset mismatch', fileOf({ a: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, eight), /shape \[3\] of F32 needs 12 bytes but data_offsets \[0, 8\] span 8/],
      ['offsets out of range', fileOf({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, eight), /data_offsets \[0, 16\] are out of range: the data buffer has 8 bytes/],
      ['end before begin', fileOf({ a: { dtype: 'F32', shape: [0], data_offsets: [8, 0] } }, eight), /end before they begin/],
      ['overlap', fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /tensor 'b' data_offsets \[4, 8\] overlap/],
      ['gap', fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, eight), /gap in the data buffer: bytes \[0, 4\)/],
      ['trailing bytes', fileOf({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, eight), /has 8 bytes but the tensors cover only 4/],
      ['bad metadata', fileOf({ ...good, __metadata__: { epoch: 3 } }, eight), /metadata value 'epoch' must be a string/],
      ['bad offsets', fileOf({ a: { dtype: 'F32', shape: [2], data_offsets: [0] } }, eight), /data_offsets must be \[begin, end\]/],
    ];
    for (const [name, bytes, re] of cases)
      it(name, async () => {
        const p = write(`${name.replace(/\W+/g, '-')}.safetensors`, bytes);
        await expect(wt.load(p)).rejects.toThrow(re);
      });
    it('the well-formed variant of the fixtures loads', async () => {
      const t = await wt.load(write('good.safetensors', fileOf(good, eight)));
      expect(await t.a.toList()).toEqual([1, 2]);
    });
  });
});
