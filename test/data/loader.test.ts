// The batch loader on the real Fashion-MNIST (a small prefix): seeded shuffling, labels matching
// images, every index once per epoch, resume, augmentation reproducibility, the CPU device, and
// flat GPU memory across batches.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, expectClose } from '../helpers.ts';

const D = wt.data;
let ds: wt.data.FashionMNIST;

beforeAll(async () => {
  await initGpu();
  ds = await D.loadFashionMNIST({ trainLimit: 300, testLimit: 50 });
});

async function collect(loader: wt.data.Loader, e: number, start = 0) {
  const out: { x: Float32Array; y: Int32Array; indices: Int32Array; batch: number }[] = [];
  for (const b of loader.epoch(e, start)) {
    out.push({ x: (await b.x.toArray()) as Float32Array, y: (await b.y.toArray()) as Int32Array, indices: b.indices, batch: b.batch });
    b.x.dispose();
    b.y.dispose();
  }
  return out;
}

describe('Fashion-MNIST files', () => {
  it('loads the installed dataset with limits', () => {
    expect(ds.train.n).toBe(300);
    expect(ds.test.n).toBe(50);
    expect(ds.train.images.length).toBe(300 * 784);
    expect(Array.from(ds.train.labels.subarray(0, 8))).toEqual([9, 0, 0, 3, 0, 2, 7, 2]);
    expect(D.FASHION_MNIST_CLASSES[9]).toBe('Ankle boot');
    expect(D.FASHION_MNIST_CLASSES.length).toBe(10);
  });
});

describe('Loader', () => {
  it('shapes, numBatches, dropLast', async () => {
    const l = new D.Loader(ds.train, { batchSize: 64, resize: 67 });
    expect(l.numBatches).toBe(5);
    expect(new D.Loader(ds.train, { batchSize: 64, dropLast: true }).numBatches).toBe(4);
    const sizes: number[] = [];
    for (const b of l.epoch(0)) {
      expect(b.x.shape).toEqual([b.size, 1, 67, 67]);
      expect([b.x.dtype, b.y.dtype, b.x.device]).toEqual(['float32', 'int32', 'gpu']);
      expect(b.y.shape).toEqual([b.size]);
      sizes.push(b.size);
      b.x.dispose();
      b.y.dispose();
    }
    expect(sizes).toEqual([64, 64, 64, 64, 44]);
  });

  it('labels match images; every index once per epoch; order reproducible by seed', async () => {
    const l = new D.Loader(ds.train, { batchSize: 50, shuffle: true, seed: 7 });
    const e0 = await collect(l, 0);
    const seen = new Int32Array(ds.train.n);
    for (const b of e0) {
      b.indices.forEach((k, i) => {
        seen[k]++;
        expect(b.y[i]).toBe(ds.train.labels[k]);
        const want = Array.from(ds.train.images.subarray(k * 784, k * 784 + 784), (v) => v / 255);
        expectClose(b.x.subarray(i * 784, i * 784 + 784), want, 1e-6, 0, `image ${k}`);
      });
    }
    expect(seen.every((c) => c === 1)).toBe(true);
    const order0 = e0.flatMap((b) => Array.from(b.indices));
    expect(order0).not.toEqual(Array.from({ length: 300 }, (_, i) => i)); // shuffled
    // same seed, same epoch: same order; another epoch or seed: another order
    expect(Array.from(new D.Loader(ds.train, { batchSize: 50, shuffle: true, seed: 7 }).order(0))).toEqual(order0);
    expect(Array.from(l.order(1))).not.toEqual(order0);
    expect(Array.from(new D.Loader(ds.train, { batchSize: 50, shuffle: true, seed: 8 }).order(0))).not.toEqual(order0);
    // no shuffle: dataset order
    expect(Array.from(new D.Loader(ds.train, { batchSize: 50 }).order(3))).toEqual(Array.from({ length: 300 }, (_, i) => i));
    // default seed comes from the global generator (manualSeed)
    wt.manualSeed(123);
    const s1 = new D.Loader(ds.train, { batchSize: 50, shuffle: true }).seed;
    wt.manualSeed(123);
    expect(new D.Loader(ds.train, { batchSize: 50, shuffle: true }).seed).toBe(s1);
  });

  it('resuming at a batch reproduces the uninterrupted run (with augmentation)', async () => {
    const mk = () => new D.Loader(ds.train, { batchSize: 64, shuffle: true, seed: 3, resize: 33, augment: true });
    const full = await collect(mk(), 2);
    const resumed = await collect(mk(), 2, 3);
    expect(resumed.map((b) => b.batch)).toEqual([3, 4]);
    for (const r of resumed) {
      const f = full[r.batch];
      expect(Array.from(r.indices)).toEqual(Array.from(f.indices));
      expect(Array.from(r.x)).toEqual(Array.from(f.x));
    }
  });

  it('augmentation: reproducible by seed, differs by seed and epoch, crops and flips', async () => {
    const mk = (seed: number) => new D.Loader(ds.test, { batchSize: 25, seed, augment: true, resize: 40 });
    const a = await collect(mk(1), 0);
    const b = await collect(mk(1), 0);
    const c = await collect(mk(2), 0);
    const a1 = await collect(mk(1), 1);
    expect(Array.from(a[0].x)).toEqual(Array.from(b[0].x));
    expect(Array.from(a[0].x)).not.toEqual(Array.from(c[0].x));
    expect(Array.from(a[0].x)).not.toEqual(Array.from(a1[0].x));
    // flip only, no resize: every image is either itself or its mirror, and both occur
    const flipOnly = new D.Loader(ds.test, { batchSize: 50, seed: 5, augment: { pad: 0, flip: true } });
    const [fb] = await collect(flipOnly, 0);
    let flipped = 0;
    for (let i = 0; i < 50; i++) {
      const img = ds.test.images.subarray(i * 784, i * 784 + 784);
      const got = fb.x.subarray(i * 784, i * 784 + 784);
      const same = Array.from(img).every((v, k) => Math.abs(got[k] - v / 255) < 1e-6);
      const mirror = Array.from(img).every((v, k) => Math.abs(got[Math.floor(k / 28) * 28 + 27 - (k % 28)] - v / 255) < 1e-6);
      expect(same || mirror).toBe(true);
      if (!same) flipped++;
    }
    expect(flipped).toBeGreaterThan(10);
    expect(flipped).toBeLessThan(40);
    // crop without flip: nearly every image is shifted
    const crop = await collect(new D.Loader(ds.test, { batchSize: 50, seed: 5, augment: { pad: 4, flip: false } }), 0);
    let moved = 0;
    for (let i = 0; i < 50; i++) {
      const img = ds.test.images.subarray(i * 784, i * 784 + 784);
      const got = crop[0].x.subarray(i * 784, i * 784 + 784);
      if (Array.from(img).some((v, k) => Math.abs(got[k] - v / 255) > 1e-6)) moved++;
    }
    expect(moved).toBeGreaterThan(40); // 1/81 chance per image of (dx, dy) = (4, 4)
  });

  it('runs on the CPU device through the kernel twin, matching the GPU', async () => {
    const opts = { batchSize: 40, shuffle: true, seed: 9, resize: 45, augment: true } as const;
    const g = await collect(new D.Loader(ds.test, opts), 0);
    const cl = new D.Loader(ds.test, { ...opts, device: 'cpu' });
    const c = await collect(cl, 0);
    for (const b of cl.epoch(0)) {
      expect(b.x.device).toBe('cpu');
      b.x.dispose();
      b.y.dispose();
      break;
    }
    expect(c.length).toBe(2);
    c.forEach((b, i) => {
      expect(Array.from(b.indices)).toEqual(Array.from(g[i].indices));
      expect(Array.from(b.y)).toEqual(Array.from(g[i].y));
      expectClose(g[i].x, b.x, 1e-5, 1e-5, `cpu vs gpu batch ${i}`);
    });
  });

  it('GPU memory stays flat across batches and epochs; breaking early frees the prefetch', async () => {
    await wt.sync();
    const base = wt.memory().inUse;
    const l = new D.Loader(ds.train, { batchSize: 30, shuffle: true, seed: 1, resize: 64, augment: true });
    let created = -1;
    const inUse: number[] = [];
    for (let e = 0; e < 3; e++) {
      for (const b of l.epoch(e)) {
        const s = b.x.sum();
        await s.item();
        s.dispose();
        b.x.dispose();
        b.y.dispose();
        if (b.batch < l.numBatches - 1) inUse.push(wt.memory().inUse);
      }
      expect(wt.memory().inUse).toBe(base);
      if (e === 0) created = wt.memory().buffersCreated;
    }
    expect(wt.memory().buffersCreated).toBe(created);
    expect(new Set(inUse).size).toBe(1);
    for (const b of l.epoch(0)) {
      b.x.dispose();
      b.y.dispose();
      break;
    }
    expect(wt.memory().inUse).toBe(base);
    // inside tidy the prefetched upload survives the scope
    const it = l.epoch(1);
    const first = wt.tidy(() => it.next().value as wt.data.Batch);
    first.x.dispose();
    first.y.dispose();
    const second = it.next().value as wt.data.Batch;
    expect(second.batch).toBe(1);
    expect(second.y.isDisposed).toBe(false);
    second.x.dispose();
    second.y.dispose();
    it.return?.(undefined);
    expect(wt.memory().inUse).toBe(base);
  });

  it('validates its options', () => {
    expect(() => new D.Loader(ds.train, { batchSize: 0 })).toThrow(/Loader: batchSize must be a positive integer, got 0/);
    expect(() => new D.Loader(ds.train, { batchSize: 8, resize: 2.5 })).toThrow(/resize must be an integer in 1\.\.4096, got 2\.5/);
    expect(() => new D.Loader(ds.train, { batchSize: 8, augment: { pad: -1 } })).toThrow(/augment\.pad must be an integer/);
    expect(() => new D.Loader({ ...ds.train, n: 301 }, { batchSize: 8 })).toThrow(/needs 235984 image bytes and 301 labels/);
    const l = new D.Loader(ds.train, { batchSize: 8 });
    expect(() => l.epoch(-1)).toThrow(/epoch must be a non-negative integer, got -1/);
    expect(() => l.epoch(0, 99)).toThrow(/start batch must be an integer in 0\.\.38, got 99/);
  });
});
