// Size-class buffer pool: a buffer freed by one tensor is handed to the next tensor of the same
// size class, so a repeated computation (a training step) allocates nothing new.
// Size classes: 2^k * {1, 1.25, 1.5, 1.75}, at least 256 bytes (wasting at most 25%).

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
  constructor(
    readonly buffer: GPUBuffer,
    /** Bytes the tensor asked for (binding size). */
    readonly byteLength: number,
    readonly classBytes: number,
    private readonly pool: BufferPool,
  ) {}
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

export class BufferPool {
  private free = new Map<number, GPUBuffer[]>();
  inUseBytes = 0;
  pooledBytes = 0;
  created = 0;
  constructor(private readonly device: GPUDevice, private readonly maxBufferSize: number) {}

  take(bytes: number, label: string): GpuStorage {
    const cls = sizeClass(bytes);
    if (cls > this.maxBufferSize)
      throw new Error(`${label}: a buffer of ${bytes} bytes exceeds the adapter's maxBufferSize ${this.maxBufferSize}`);
    const list = this.free.get(cls);
    let buf = list?.pop();
    if (buf) {
      this.pooledBytes -= cls;
      buf.label = label;
    } else {
      buf = this.device.createBuffer({ size: cls, usage: USAGE_STORAGE, label });
      this.created++;
    }
    this.inUseBytes += cls;
    return new GpuStorage(buf, bytes, cls, this);
  }

  give(s: GpuStorage): void {
    this.inUseBytes -= s.classBytes;
    this.pooledBytes += s.classBytes;
    let list = this.free.get(s.classBytes);
    if (!list) this.free.set(s.classBytes, (list = []));
    list.push(s.buffer);
  }

  /** Destroy every pooled (free) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
  }
}
