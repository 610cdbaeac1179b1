// Size-class buffer pool: a buffer freed by one tensor is handed to the next tensor of the same
// size class, so a repeated computation (a training step) allocates nothing new.
// Size classes: 2^k * {1, 1.25, 1.5, 1.75}, at least 256 bytes (wasting at most 25%).
// A buffer the device could not allocate (out of memory, reported asynchronously by an error scope)
// marks its storage lost: its error is thrown at the next GPU call and the buffer is destroyed, never
// pooled, so the pool keeps serving valid buffers afterwards.
import { captureSite, isDebuggingMemory } from './creation_site.ts';

const USAGE_STORAGE = 0x0080 | 0x0004 | 0x0008; // STORAGE | COPY_SRC | COPY_DST

export function sizeClass(bytes: number): number {
  const b = Math.max(256, bytes);
  const p = 2 ** Math.floor(Math.log2(b));
  for (const f of [1, 1.25, 1.5, 1.75, 2]) {
    const c = p * f;
    if (c >= b) return Math.ceil(c / 16) * 16;
  }
  return p * 2;
}

/** A pooled GPU buffer shared by a tensor and its views; `refs` counts the tensors using it. */
export class GpuStorage {
  refs = 1;
  freed = false;
  /** The device failed to allocate the buffer (out of memory). */
  lost = false;
  /** Where the tensor that allocated it was created (memory debugging only). */
  site: string | null = null;
  constructor(
    readonly buffer: GPUBuffer,
    /** Bytes the tensor asked for (binding size). */
    readonly byteLength: number,
    readonly classBytes: number,
    private readonly pool: BufferPool,
  ) {}
  /** The device this buffer lives on was lost: the data is gone. */
  get deviceLost(): boolean {
    return this.pool.deviceLost;
  }
  retain(): this {
    this.refs++;
    return this;
  }
  release(): void {
    if (this.freed) return;
    if (--this.refs <= 0) {
      this.freed = true;
      this.pool.give(this);
    }
  }
}

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

/** Live storages grouped by creation site. */
export interface MemorySite {
  /** `file:line:col` of the first frame outside the library, or a note when not recorded. */
  site: string;
  /** Live storages (a tensor and its views share one). */
  count: number;
  /** Their pooled bytes (size-class rounded, as `inUse`). */
  bytes: number;
}

export const UNRECORDED_SITE = '(not recorded: allocated while memory debugging was off)';

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  private live = new Set<GpuStorage>();
  /** Out-of-memory errors not yet thrown. */
  private errors: Error[] = [];
  inUseBytes = 0;
  pooledBytes = 0;
  created = 0;
  /** The device was lost: buffers given back are dropped, storages report `deviceLost`. */
  deviceLost = false;
  constructor(
    private readonly device: GPUDevice,
    private readonly maxBufferSize: number,
    /** Receives the promise of each allocation's error-scope check (the runtime awaits them at readbacks). */
    private readonly onCheck: (p: Promise<void>) => void = () => {},
    /** Called after buffers are destroyed (the runtime drops bind groups that may reference them). */
    private readonly onDestroy: () => void = () => {},
  ) {}

  take(bytes: number, label: string): GpuStorage {
    let cls = sizeClass(bytes);
    if (cls > this.maxBufferSize) cls = Math.ceil(bytes / 16) * 16;
    if (cls > this.maxBufferSize)
      throw new Error(
        `${label}: a tensor of ${bytes} bytes (${MiB(bytes)}) exceeds the adapter's maxBufferSize ` +
          `${this.maxBufferSize} (${MiB(this.maxBufferSize)}); nothing was allocated`,
      );
    const list = this.free.get(cls);
    let buf = list?.pop();
    let scope: Promise<GPUError | null> | null = null;
    if (buf) {
      this.pooledBytes -= cls;
      buf.label = label;
    } else {
      this.device.pushErrorScope('out-of-memory');
      try {
        buf = this.device.createBuffer({ size: cls, usage: USAGE_STORAGE, label });
      } finally {
        scope = this.device.popErrorScope();
      }
      this.created++;
    }
    this.inUseBytes += cls;
    const s = new GpuStorage(buf, bytes, cls, this);
    this.live.add(s);
    if (isDebuggingMemory()) s.site = captureSite();
    if (scope) this.watch(scope, s, label);
    return s;
  }

  /** On an allocation failure mark the storage lost and queue the error. */
  private watch(scope: Promise<GPUError | null>, s: GpuStorage, label: string): void {
    const inUse = this.inUseBytes;
    this.onCheck(
      scope.then((err) => {
        if (!err) return;
        s.lost = true;
        this.trim();
        this.errors.push(
          new Error(
            `${label}: out of GPU memory allocating ${s.classBytes} bytes (${MiB(s.classBytes)}) with ` +
              `${MiB(inUse)} in use by tensors; the tensor is unusable, free memory (dispose, wt.scope) and retry (${err.message})`,
          ),
        );
      }),
    );
  }

  /** Throw the first allocation failure reported since the last call (once). */
  throwErrors(): void {
    if (!this.errors.length) return;
    const errs = this.errors.splice(0);
    throw errs.length === 1 ? errs[0] : new AggregateError(errs, errs.map((e) => e.message).join('\n'));
  }

  give(s: GpuStorage): void {
    this.inUseBytes -= s.classBytes;
    this.live.delete(s);
    if (this.deviceLost) return;
    if (s.lost) {
      s.buffer.destroy();
      this.onDestroy();
      return;
    }
    this.pooledBytes += s.classBytes;
    let list = this.free.get(s.classBytes);
    if (!list) this.free.set(s.classBytes, (list = []));
    list.push(s.buffer);
  }

  /** Live storages grouped by creation site, most bytes first. */
  sites(): MemorySite[] {
    const by = new Map<string, MemorySite>();
    for (const s of this.live) {
      const site = s.site ?? UNRECORDED_SITE;
      let e = by.get(site);
      if (!e) by.set(site, (e = { site, count: 0, bytes: 0 }));
      e.count++;
      e.bytes += s.classBytes;
    }
    return [...by.values()].sort((a, b) => b.bytes - a.bytes || b.count - a.count);
  }

  /** Destroy every pooled (free) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
    this.onDestroy();
  }
}
