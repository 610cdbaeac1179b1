// A buffer the device fails to allocate (out of memory, reported by an error scope after the fact):
// the error names the op and the size and is thrown once at the next call; the lost buffer is
// destroyed, never handed to another tensor, so allocation works normally afterwards.
import { describe, expect, it } from 'vitest';
import { BufferPool } from '../../src/backend/pool.ts';

class FakeBuffer {
  destroyed = false;
  constructor(
    readonly size: number,
    public label: string,
  ) {}
  destroy() {
    this.destroyed = true;
  }
}

/** The GPUDevice calls the pool makes; allocations fail while `full` is set. */
function fakeDevice() {
  const scopes: string[] = [];
  return {
    full: false,
    created: [] as FakeBuffer[],
    pushErrorScope(filter: string) {
      scopes.push(filter);
    },
    popErrorScope(): Promise<{ message: string } | null> {
      const f = scopes.pop();
      return Promise.resolve(f === 'out-of-memory' && this.full ? { message: 'Out of memory (fake device)' } : null);
    },
    createBuffer(d: { size: number; label: string }) {
      const b = new FakeBuffer(d.size, d.label);
      this.created.push(b);
      return b;
    },
    get openScopes() {
      return scopes.length;
    },
  };
}

describe('out of GPU memory', () => {
  it('reports the op and size once, destroys the lost buffer, and keeps allocating', async () => {
    const dev = fakeDevice();
    const checks: Promise<void>[] = [];
    const pool = new BufferPool(dev as unknown as GPUDevice, 2 ** 32 - 1, (p) => checks.push(p));
    const ok = pool.take(1000, 'upload');
    dev.full = true;
    const bad = pool.take(5000, 'conv2d');
    dev.full = false;
    expect(dev.openScopes).toBe(0);
    await Promise.all(checks);
    expect(bad.lost).toBe(true);
    expect(ok.lost).toBe(false);
    expect(() => pool.throwErrors()).toThrow(/conv2d: out of GPU memory allocating 5120 bytes \(0\.0 MiB\).*Out of memory \(fake device\)/);
    expect(() => pool.throwErrors()).not.toThrow(); // once
    bad.release();
    expect((bad.buffer as unknown as FakeBuffer).destroyed).toBe(true);
    expect(pool.pooledBytes).toBe(0);
    expect(pool.inUseBytes).toBe(ok.classBytes);
    // the next allocation of that size class gets a new, valid buffer
    const again = pool.take(5000, 'conv2d');
    await Promise.all(checks);
    expect(again.buffer).not.toBe(bad.buffer);
    expect(again.lost).toBe(false);
    expect(() => pool.throwErrors()).not.toThrow();
    again.release();
    ok.release();
    expect(pool.inUseBytes).toBe(0);
  });

  it('a tensor past maxBufferSize is refused before createBuffer', () => {
    const dev = fakeDevice();
    const pool = new BufferPool(dev as unknown as GPUDevice, (1 << 20) - 1); // like lavapipe's 2^32 - 1
    expect(() => pool.take(1 << 20, 'matmul')).toThrow(/matmul: a tensor of 1048576 bytes \(1\.0 MiB\) exceeds the adapter's maxBufferSize 1048575/);
    expect(dev.created.length).toBe(0);
    // a size whose class would exceed the limit but which itself fits gets an exact-size buffer
    const s = pool.take((1 << 20) - 64, 'matmul');
    expect(s.classBytes).toBe((1 << 20) - 64);
    s.release();
  });
});
