// Property-based fuzzing (fast-check) of the IDX reader, raw and gzipped: random truncations, byte
// flips and random headers. The reader must agree with an independent reference decoder: what the
// reference accepts loads with the same sizes and bytes, everything else is rejected with a plain
// Error naming the file. A header claiming more bytes than the input can hold, or a gzip stream that
// expands past its header's sizes (a gzip bomb), is rejected without decompressing it all.
// No GPU needed.
import { gunzipSync, gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';

const D = wt.data;
const FILE = 'fuzz/train-images-idx3-ubyte';

type Kind = 'images' | 'labels';
type Parsed = { n: number; rows?: number; cols?: number; data: number[] };

/** The reference decoder: the IDX rules written out plainly (see src/data/idx.ts). */
function reference(bytes: Uint8Array, kind: Kind): Parsed | null {
  const nd = kind === 'images' ? 3 : 1;
  const head = 4 + 4 * nd;
  if (bytes.length < head) return null;
  const be = (i: number) => ((bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3]) >>> 0;
  if (be(0) !== 0x800 + nd) return null;
  const dims = Array.from({ length: nd }, (_, i) => be(4 + 4 * i));
  let count = 1n;
  for (const d of dims) count *= BigInt(d);
  if (BigInt(bytes.length) !== BigInt(head) + count) return null;
  const data = Array.from(bytes.subarray(head));
  if (kind === 'images') return dims[1] === 0 || dims[2] === 0 ? null : { n: dims[0], rows: dims[1], cols: dims[2], data };
  return data.some((l) => l >= 10) ? null : { n: dims[0], data };
}

/** The reference for possibly gzipped input: zlib's one-shot gunzip, then the raw rules. */
function referenceAny(bytes: Uint8Array, kind: Kind): Parsed | null {
  if (!(bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b)) return reference(bytes, kind);
  let raw: Uint8Array;
  try {
    raw = gunzipSync(bytes);
  } catch {
    return null;
  }
  return reference(raw, kind);
}

/** What the reader does with `bytes`: the parse (as plain values) or the rejection. */
async function read(bytes: Uint8Array, kind: Kind): Promise<{ ok: true; v: Parsed } | { ok: false; err: unknown }> {
  try {
    if (kind === 'images') {
      const r = await D.parseIdxImages(bytes, FILE);
      return { ok: true, v: { n: r.n, rows: r.rows, cols: r.cols, data: Array.from(r.data) } };
    }
    const r = await D.parseIdxLabels(bytes, FILE);
    return { ok: true, v: { n: r.n, data: Array.from(r.data) } };
  } catch (err) {
    return { ok: false, err };
  }
}

function expectClearError(e: unknown, what: string): void {
  const ok = e instanceof Error && Object.getPrototypeOf(e) === Error.prototype && e.message.includes(`IDX file ${FILE}`) && e.message.length < 1000;
  if (!ok) {
    const desc = e instanceof Error ? `${e.constructor.name}: ${e.message.slice(0, 300)}\n${e.stack}` : `non-Error ${String(e)}`;
    throw new Error(`unclear rejection of ${what}: ${desc}`);
  }
}

/** The reader agrees with the reference on `bytes`. */
async function agree(bytes: Uint8Array, kind: Kind, what: string): Promise<boolean> {
  const want = referenceAny(bytes, kind);
  const got = await read(bytes, kind);
  if (!got.ok) {
    expectClearError(got.err, what);
    expect(want, `${what}: rejected, but the reference accepts it`).toBeNull();
    return false;
  }
  expect(got.v, what).toEqual(want);
  return true;
}

const img = Uint8Array.from({ length: 3 * 4 * 5 }, (_, i) => (i * 37) & 255);
const lab = Uint8Array.of(3, 0, 9, 1, 7);
const files: Record<string, { bytes: Uint8Array; kind: Kind }> = {
  images: { bytes: D.encodeIdx([3, 4, 5], img), kind: 'images' },
  labels: { bytes: D.encodeIdx([5], lab), kind: 'labels' },
  'images.gz': { bytes: new Uint8Array(gzipSync(D.encodeIdx([3, 4, 5], img))), kind: 'images' },
  'labels.gz': { bytes: new Uint8Array(gzipSync(D.encodeIdx([5], lab))), kind: 'labels' },
};

describe('IDX reader fuzz', () => {
  it('loads the unchanged files exactly', async () => {
    for (const [name, f] of Object.entries(files)) expect(await agree(f.bytes, f.kind, name), name).toBe(true);
    const r = await read(files['images.gz'].bytes, 'images');
    expect(r.ok && r.v).toEqual({ n: 3, rows: 4, cols: 5, data: Array.from(img) });
  });

  it('rejects every truncation and extension clearly (raw and gzip)', async () => {
    for (const [name, f] of Object.entries(files)) {
      for (let cut = 0; cut < f.bytes.length; cut++) expect(await agree(f.bytes.subarray(0, cut), f.kind, `${name} cut to ${cut}`)).toBe(false);
      const longer = await agree(Buffer.concat([f.bytes, Uint8Array.of(0)]), f.kind, `${name} + 1 byte`);
      if (!name.endsWith('.gz')) expect(longer).toBe(false);
    }
  });

  it('a flipped byte agrees with the reference (raw and gzip)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(files)), fc.nat(), fc.integer({ min: 1, max: 255 }), async (name, p, x) => {
        const f = files[name];
        const bytes = Uint8Array.from(f.bytes);
        const pos = p % bytes.length;
        bytes[pos] ^= x;
        await agree(bytes, f.kind, `${name} byte ${pos} ^ ${x}`);
      }),
      { numRuns: 600 },
    );
  });

  it('several edits (flips, insertions, deletions) agree with the reference', async () => {
    const edit = fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), pos: fc.nat(), x: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('insert' as const), pos: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
      fc.record({ kind: fc.constant('delete' as const), pos: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(files)), fc.array(edit, { minLength: 1, maxLength: 5 }), async (name, edits) => {
        let b = Buffer.from(files[name].bytes);
        for (const e of edits) {
          const p = e.pos % (b.length + 1);
          if (e.kind === 'flip' && p < b.length) b[p] ^= e.x;
          if (e.kind === 'insert') b = Buffer.concat([b.subarray(0, p), e.bytes, b.subarray(p)]);
          if (e.kind === 'delete') b = Buffer.concat([b.subarray(0, p), b.subarray(p + e.n)]);
        }
        await agree(b, files[name].kind, `${name} ${JSON.stringify(edits)}`);
      }),
      { numRuns: 400 },
    );
  });

  it('random headers (sizes up to 2^32 - 1) over random data agree with the reference, raw and gzipped', async () => {
    const dim = fc.oneof(fc.nat({ max: 6 }), fc.constantFrom(2 ** 16, 2 ** 31, 2 ** 32 - 1));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Kind>('images', 'labels'),
        fc.array(dim, { minLength: 3, maxLength: 3 }),
        fc.uint8Array({ maxLength: 200 }),
        fc.boolean(),
        async (kind, dims, data, gz) => {
          const d = kind === 'images' ? dims : dims.slice(0, 1);
          const raw = D.encodeIdx(d, kind === 'labels' ? data.map((v) => v % 11) : data);
          await agree(gz ? new Uint8Array(gzipSync(raw)) : raw, kind, `${kind} [${d}] + ${data.length} bytes${gz ? ' (gzip)' : ''}`);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('a gzip header claiming more than the stream can expand to is rejected before decompressing', async () => {
    const claim = new Uint8Array(gzipSync(D.encodeIdx([60000, 28, 28], new Uint8Array(1000))));
    const r = await read(claim, 'images');
    expect(r.ok).toBe(false);
    if (!r.ok) expect((r.err as Error).message).toMatch(/sizes \[60000, 28, 28\] need 47040016 bytes, more than \d+ bytes of gzip data can hold/);
  });

  it('a gzip bomb (1 GiB of zeros after a 1-pixel image) stops at its header size', async () => {
    // gzip members concatenate: one member with the image, then 1024 members of 1 MiB of zeros
    const zeros = gzipSync(new Uint8Array(2 ** 20), { level: 9 });
    const bomb = Buffer.concat([gzipSync(D.encodeIdx([1, 1, 1], Uint8Array.of(5))), ...Array.from({ length: 1024 }, () => zeros)]);
    expect(bomb.length).toBeLessThan(2 ** 21);
    const rss0 = process.resourceUsage().maxRSS;
    const t0 = performance.now();
    const r = await read(new Uint8Array(bomb), 'images');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expectClearError(r.err, 'gzip bomb');
      expect((r.err as Error).message).toMatch(/holds more than the 17 bytes its header's sizes give \(trailing bytes\)/);
    }
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(process.resourceUsage().maxRSS - rss0).toBeLessThan(128 * 1024); // KiB
  });

  it('readIdxImages on a missing file names it', async () => {
    await expect(D.readIdxImages('/nonexistent/fuzz-idx')).rejects.toThrow(/IDX file \/nonexistent\/fuzz-idx: cannot read it/);
  });
});
