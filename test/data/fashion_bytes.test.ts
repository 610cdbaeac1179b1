// Fashion-MNIST without files (the core, for browsers): from the four files' bytes, gzipped
// (DecompressionStream) or raw, and fetched from a base URL (injected fetch; no network).
import { describe, expect, it } from 'vitest';
import { gzipSync } from 'node:zlib';
import * as wt from 'webgpu-tensor';

const D = wt.data;

/** n 28x28 images with pixel (i, r, c) = (i + r * 3 + c) & 255, labels i % 10, as IDX bytes. */
function fake(n: number): Record<wt.data.FashionMNISTFile, Uint8Array> {
  const img = new Uint8Array(n * 784).map((_, j) => (Math.floor(j / 784) + Math.floor((j % 784) / 28) * 3 + (j % 28)) & 255);
  const lab = Uint8Array.from({ length: n }, (_, i) => i % 10);
  const images = D.encodeIdx([n, 28, 28], img);
  const labels = D.encodeIdx([n], lab);
  return { trainImages: images, trainLabels: labels, testImages: images, testLabels: labels };
}

describe('Fashion-MNIST from bytes', () => {
  it('parses raw and gzipped files, with limits', async () => {
    const raw = fake(6);
    const gz = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, new Uint8Array(gzipSync(v))])) as typeof raw;
    for (const files of [raw, gz]) {
      const ds = await D.fashionMNISTFromBytes(files, { trainLimit: 4 });
      expect([ds.train.n, ds.test.n, ds.train.rows, ds.train.cols]).toEqual([4, 6, 28, 28]);
      expect(Array.from(ds.train.labels)).toEqual([0, 1, 2, 3]);
      expect(ds.test.images[784 + 28 + 1]).toBe((1 + 3 + 1) & 255);
    }
  });

  it('names the file for corrupt gzip data and mismatched splits', async () => {
    const files = fake(3);
    const gz = new Uint8Array(gzipSync(files.trainImages));
    await expect(D.fashionMNISTFromBytes({ ...files, trainImages: gz.subarray(0, gz.length >> 1) }, { dir: 'mem' })).rejects.toThrow(
      /IDX file mem\/train-images-idx3-ubyte: corrupt or truncated gzip data/,
    );
    await expect(D.fashionMNISTFromBytes({ ...files, testLabels: D.encodeIdx([2], new Uint8Array(2)) })).rejects.toThrow(
      /fashionMNISTFromBytes: .*t10k-images-idx3-ubyte holds 3 images but .*t10k-labels-idx1-ubyte holds 2 labels/,
    );
    await expect(D.fashionMNISTFromBytes(files, { testLimit: 1.5 })).rejects.toThrow(/testLimit must be a non-negative integer, got 1.5/);
  });

  it('fetches the four .gz files from a base URL', async () => {
    const files = fake(2);
    const urls: string[] = [];
    const fetch = (async (url: string) => {
      urls.push(url);
      const key = (Object.keys(files) as wt.data.FashionMNISTFile[]).find((k) => url.endsWith(`${D.FASHION_MNIST_FILES[k].name}.gz`));
      if (!key) return new Response(null, { status: 404 });
      return new Response(new Uint8Array(gzipSync(files[key])));
    }) as typeof globalThis.fetch;
    const ds = await D.fetchFashionMNIST({ baseUrl: 'https://example.test/fm', fetch });
    expect(ds.dir).toBe('https://example.test/fm');
    expect(ds.train.n).toBe(2);
    expect(urls.sort()).toEqual(Object.values(D.FASHION_MNIST_FILES).map((f) => `https://example.test/fm/${f.name}.gz`).sort());
    await expect(D.fetchFashionMNIST({ baseUrl: 'https://example.test/none/', fetch: (async () => new Response(null, { status: 404 })) as typeof globalThis.fetch })).rejects.toThrow(
      /fetchFashionMNIST: GET https:\/\/example.test\/none\/.*: HTTP 404/,
    );
  });
});
