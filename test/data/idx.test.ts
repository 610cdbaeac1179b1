// IDX reader on hand-made good and corrupt files; dataset search order; offline / checksum errors.
// No GPU and no network needed (downloads use an injected fetch).
import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import * as wt from 'webgpu-tensor';

const D = wt.data;
let tmp: string;

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'wt-idx-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, bytes);
  return p;
}

/** n images of rows x cols with pixel (i, r, c) = (i * 7 + r * 3 + c) & 255, and labels i % 10. */
function fake(n: number, rows = 28, cols = 28): { images: Uint8Array; labels: Uint8Array; img: Uint8Array; lab: Uint8Array } {
  const img = new Uint8Array(n * rows * cols);
  for (let i = 0; i < n; i++)
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) img[(i * rows + r) * cols + c] = (i * 7 + r * 3 + c) & 255;
  const lab = Uint8Array.from({ length: n }, (_, i) => i % 10);
  return { images: D.encodeIdx([n, rows, cols], img), labels: D.encodeIdx([n], lab), img, lab };
}

/** A folder holding the four files (gzipped or raw) of a small fake dataset. */
function fakeDataset(dir: string, n: number, gz: boolean): void {
  mkdirSync(dir, { recursive: true });
  const f = fake(n);
  const w = (name: string, b: Uint8Array) => writeFileSync(join(dir, gz ? `${name}.gz` : name), gz ? gzipSync(b) : b);
  w('train-images-idx3-ubyte', f.images);
  w('train-labels-idx1-ubyte', f.labels);
  w('t10k-images-idx3-ubyte', f.images);
  w('t10k-labels-idx1-ubyte', f.labels);
}

describe('IDX reader', () => {
  it('reads raw and gzipped images and labels', async () => {
    const f = fake(5, 4, 3);
    for (const gz of [false, true]) {
      const im = await D.readIdxImages(file(`im${gz}`, gz ? gzipSync(f.images) : f.images));
      expect([im.n, im.rows, im.cols]).toEqual([5, 4, 3]);
      expect(Array.from(im.data)).toEqual(Array.from(f.img));
      const lb = await D.readIdxLabels(file(`lb${gz}`, gz ? gzipSync(f.labels) : f.labels));
      expect(lb.n).toBe(5);
      expect(Array.from(lb.data)).toEqual([0, 1, 2, 3, 4]);
    }
  });

  it('rejects a wrong magic number, naming the file', async () => {
    const f = fake(2);
    const p = file('swapped', f.labels);
    await expect(D.readIdxImages(p)).rejects.toThrow(/swapped: magic number 0x00000801, expected 0x00000803/);
    await expect(D.readIdxLabels(file('swapped2', f.images))).rejects.toThrow(/magic number 0x00000803, expected 0x00000801/);
    await expect(D.readIdxImages(file('text', new TextEncoder().encode('hello world, not idx')))).rejects.toThrow(/text: magic/);
  });

  it('rejects truncated files and trailing bytes (size must match exactly)', async () => {
    const f = fake(3);
    await expect(D.readIdxImages(file('trunc', f.images.subarray(0, f.images.length - 1)))).rejects.toThrow(
      /trunc: 2367 bytes \(decompressed\), expected exactly 2368 .*truncated/,
    );
    const longer = new Uint8Array(f.images.length + 5);
    longer.set(f.images);
    await expect(D.readIdxImages(file('long', longer))).rejects.toThrow(/long: .*trailing bytes/);
    await expect(D.readIdxImages(file('hdr', f.images.subarray(0, 10)))).rejects.toThrow(/hdr: 10 bytes, too short for the 16-byte header/);
    await expect(D.readIdxLabels(file('tiny', new Uint8Array(2)))).rejects.toThrow(/tiny: only 2 bytes/);
    // size matches the gzip stream but not the header: truncated inside the gzip
    await expect(D.readIdxLabels(file('lgz', gzipSync(f.labels.subarray(0, 10))))).rejects.toThrow(/lgz: .*truncated/);
  });

  it('wraps zlib errors for bad or truncated gzip data', async () => {
    const gz = gzipSync(fake(3).images);
    await expect(D.readIdxImages(file('cut.gz', gz.subarray(0, gz.length >> 1)))).rejects.toThrow(
      /IDX file .*cut\.gz: corrupt or truncated gzip data/,
    );
    const bad = Uint8Array.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8]);
    await expect(D.readIdxImages(file('bad.gz', bad))).rejects.toThrow(/bad\.gz: corrupt or truncated gzip/);
  });

  it('rejects labels out of range', async () => {
    const lab = D.encodeIdx([4], Uint8Array.from([1, 9, 10, 2]));
    await expect(D.readIdxLabels(file('lab10', lab))).rejects.toThrow(/lab10: label 2 is 10, expected 0\.\.9/);
  });

  it('names a missing file', async () => {
    await expect(D.readIdxImages(join(tmp, 'nope'))).rejects.toThrow(/nope: cannot read/);
  });
});

describe('locating Fashion-MNIST', () => {
  const saved = process.env.FASHION_MNIST_DIR;
  afterEach(() => {
    if (saved === undefined) delete process.env.FASHION_MNIST_DIR;
    else process.env.FASHION_MNIST_DIR = saved;
  });

  it('search order: dir, $FASHION_MNIST_DIR, ./data/fashion-mnist, /usr/share/datasets/fashion-mnist', () => {
    process.env.FASHION_MNIST_DIR = '/some/where';
    expect(D.fashionMnistSearchPath()).toEqual(['/some/where', './data/fashion-mnist', '/usr/share/datasets/fashion-mnist']);
    delete process.env.FASHION_MNIST_DIR;
    expect(D.fashionMnistSearchPath()).toEqual(['./data/fashion-mnist', '/usr/share/datasets/fashion-mnist']);
    expect(D.dataDirFromArgv(['node', 'x.ts', '--data', '/d1'])).toBe('/d1');
    expect(D.dataDirFromArgv(['node', 'x.ts', '--data=/d2'])).toBe('/d2');
    expect(D.dataDirFromArgv(['node', 'x.ts'])).toBeUndefined();
  });

  it('dir beats the env var, the env var beats the defaults, empty folders are skipped', async () => {
    const a = join(tmp, 'dsA');
    const b = join(tmp, 'dsB');
    const empty = join(tmp, 'empty');
    fakeDataset(a, 3, true);
    fakeDataset(b, 4, false);
    mkdirSync(empty, { recursive: true });
    process.env.FASHION_MNIST_DIR = b;
    expect(D.locateFashionMNIST({ dir: a })?.dir).toBe(a);
    expect(D.locateFashionMNIST({})?.dir).toBe(b);
    expect(D.locateFashionMNIST({})?.files.trainImages).toBe(join(b, 'train-images-idx3-ubyte'));
    process.env.FASHION_MNIST_DIR = empty;
    expect(D.locateFashionMNIST({ searchPath: [empty, join(tmp, 'missing'), a, b] })?.dir).toBe(a);
    expect(D.locateFashionMNIST({ searchPath: [empty] })).toBeNull();
    expect(() => D.locateFashionMNIST({ dir: empty })).toThrow(/empty \(--data \/ dir\) lacks train-images-idx3-ubyte/);

    const ds = await D.loadFashionMNIST({ dir: a, trainLimit: 2 });
    expect(ds.dir).toBe(a);
    expect([ds.train.n, ds.test.n, ds.train.rows, ds.train.cols]).toEqual([2, 3, 28, 28]);
    expect(ds.train.images.length).toBe(2 * 784);
    expect(Array.from(ds.test.labels)).toEqual([0, 1, 2]);
    expect(ds.train.images[784 + 28 * 2 + 5]).toBe((7 + 6 + 5) & 255);
    await expect(D.loadFashionMNIST({ dir: a, trainLimit: -1 })).rejects.toThrow(/trainLimit must be a non-negative integer, got -1/);
  });

  it('rejects a dataset whose image and label counts differ', async () => {
    const d = join(tmp, 'mismatch');
    fakeDataset(d, 3, false);
    writeFileSync(join(d, 't10k-labels-idx1-ubyte'), fake(2).labels);
    await expect(D.loadFashionMNIST({ dir: d })).rejects.toThrow(/holds 3 images but .*t10k-labels-idx1-ubyte holds 2 labels/);
  });

  it('offline: names the Debian package and --data DIR', async () => {
    const empty = join(tmp, 'empty2');
    const dl = join(tmp, 'dl');
    mkdirSync(empty, { recursive: true });
    const failing = (async () => {
      throw new TypeError('fetch failed', { cause: new Error('getaddrinfo ENOTFOUND') });
    }) as unknown as typeof fetch;
    const err = D.loadFashionMNIST({ searchPath: [empty], downloadDir: dl, fetch: failing });
    await expect(err).rejects.toThrow(/apt-get install dataset-fashion-mnist/);
    await expect(D.loadFashionMNIST({ searchPath: [empty], downloadDir: dl, fetch: failing })).rejects.toThrow(
      /download from http:\/\/fashion-mnist\.s3-website\.eu-central-1\.amazonaws\.com\/ failed \(fetch failed: getaddrinfo ENOTFOUND; offline\?\).*--data DIR/,
    );
    // a server that never answers: the short connect timeout turns it into the same message
    const hanging = ((_u: string, init: RequestInit) =>
      new Promise((_, rej) => init.signal?.addEventListener('abort', () => rej(init.signal?.reason)))) as unknown as typeof fetch;
    await expect(
      D.loadFashionMNIST({ searchPath: [empty], downloadDir: dl, fetch: hanging, connectTimeoutMs: 50 }),
    ).rejects.toThrow(/no answer within 50 ms; offline\?.*dataset-fashion-mnist/);
    await expect(D.loadFashionMNIST({ searchPath: [empty], download: false })).rejects.toThrow(
      /not found \(looked in .*empty2\).*apt-get install dataset-fashion-mnist.*--data DIR/,
    );
    expect(readdirSync(tmp)).not.toContain('dl'); // nothing created when offline
  });

  it('a download with the wrong MD5 is refused and nothing is written', async () => {
    const empty = join(tmp, 'empty3');
    const dl = join(tmp, 'dl3');
    mkdirSync(empty, { recursive: true });
    const wrong = (async () => new Response(new Uint8Array([1, 2, 3]))) as unknown as typeof fetch;
    await expect(D.loadFashionMNIST({ searchPath: [empty], downloadDir: dl, fetch: wrong })).rejects.toThrow(
      /train-images-idx3-ubyte\.gz: MD5 5289df737df57326fcdd22597afb1fac, expected 8d4fb7e6c68d591d4c3dfef9ec88bf0d/,
    );
    expect(readdirSync(tmp)).not.toContain('dl3');
  });
});
