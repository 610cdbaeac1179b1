// WebGPU runtime: pipeline cache, buffer pool, and the command recorder that batches many
// dispatches into one encoder and submits on flush() (step end) or when a readback needs it.
import { gpuDevice, deviceInfo, deviceCaps, throwPendingErrors, noteErrorReported } from './device.ts';
import { BufferPool, GpuStorage, type MemorySite } from './pool.ts';
import { type Caps, type KernelDef, packUniforms, split1D, MAX_WG_PER_DIM } from '../kernels/kernel.ts';

export { GpuStorage, type MemorySite } from './pool.ts';
export { debugMemory } from './creation_site.ts';

/** Part of a storage bound as one operand: `offset` a multiple of the device's
 * minStorageBufferOffsetAlignment, `bytes` within the binding limit. */
export interface BufferSlice {
  storage: GpuStorage;
  offset: number;
  bytes: number;
}

const MiB = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

const BU = { MAP_READ: 0x0001, COPY_DST: 0x0008, UNIFORM: 0x0040 };
const ARENA_BYTES = 65536;
/** Submit automatically after this many dispatches, so an op loop without flush() stays bounded. */
const AUTO_FLUSH_DISPATCHES = 2048;

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

interface ArenaChunk {
  buffer: GPUBuffer;
  bytes: Uint8Array;
  used: number;
}

class Runtime {
  readonly device: GPUDevice;
  readonly pool: BufferPool;
  private pipelines = new Map<string, Pipeline>();
  private scopeChecks: Promise<void>[] = [];
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = new Set<GPUBuffer>();
  private dispatches = 0;
  private arenaFree: ArenaChunk[] = [];
  private arenaUsed: ArenaChunk[] = [];
  private stagingFree = new Map<number, GPUBuffer[]>();
  private readonly uniformAlign: number;
  /** The device's maxStorageBufferBindingSize. */
  private readonly deviceMaxBinding: number;
  /** The binding limit operands are checked and split against (the device's, or lower for tests). */
  maxBinding: number;
  /** minStorageBufferOffsetAlignment: where a bound slice may start. */
  readonly offsetAlign: number;
  readonly caps: Caps;
  stats = { submits: 0, dispatches: 0, pipelines: 0 };

  constructor(device: GPUDevice) {
    this.device = device;
    this.pool = new BufferPool(device, device.limits.maxBufferSize, (p) => this.scopeChecks.push(p));
    this.uniformAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.deviceMaxBinding = device.limits.maxStorageBufferBindingSize;
    this.maxBinding = this.deviceMaxBinding;
    this.offsetAlign = device.limits.minStorageBufferOffsetAlignment;
    this.caps = deviceCaps();
  }

  /** Compile (once per name + spec) inside error scopes that rethrow with the kernel's name. */
  pipeline<P>(k: KernelDef<P>, p: P): Pipeline {
    const spec = k.spec(p, this.caps);
    const key = spec ? `${k.name}|${spec}` : k.name;
    let pl = this.pipelines.get(key);
    if (pl) return pl;
    const dev = this.device;
    const access = k.bindings(p);
    const entries: GPUBindGroupLayoutEntry[] = access.map((a, i) => ({
      binding: i,
      visibility: 4, // COMPUTE
      buffer: { type: a === 'read' ? 'read-only-storage' : 'storage' },
    }));
    entries.push({ binding: access.length, visibility: 4, buffer: { type: 'uniform', hasDynamicOffset: true } });
    dev.pushErrorScope('validation');
    dev.pushErrorScope('out-of-memory');
    const code = k.wgsl(p, this.caps);
    const module = dev.createShaderModule({ code, label: key });
    const layout = dev.createBindGroupLayout({ entries, label: key });
    const pipeline = dev.createComputePipeline({
      label: key,
      layout: dev.createPipelineLayout({ bindGroupLayouts: [layout], label: key }),
      compute: { module, entryPoint: 'main' },
    });
    const oom = dev.popErrorScope();
    const val = dev.popErrorScope();
    this.scopeChecks.push(
      Promise.all([oom, val]).then(([a, b]) => {
        const e = a ?? b;
        if (e) {
          this.pipelines.delete(key);
          noteErrorReported();
          throw new Error(`kernel ${key}: pipeline creation failed: ${e.message}`);
        }
      }),
    );
    pl = { pipeline, layout };
    this.pipelines.set(key, pl);
    this.stats.pipelines++;
    return pl;
  }

  private uniformSlot(data: Uint8Array): { buffer: GPUBuffer; offset: number } {
    let chunk = this.arenaUsed[this.arenaUsed.length - 1];
    const need = Math.ceil(data.byteLength / this.uniformAlign) * this.uniformAlign;
    if (data.byteLength > 256) throw new Error(`uniforms: ${data.byteLength} bytes exceed the 256-byte slot`);
    if (!chunk || chunk.used + 256 > ARENA_BYTES) {
      chunk = this.arenaFree.pop() ?? {
        buffer: this.device.createBuffer({ size: ARENA_BYTES, usage: BU.UNIFORM | BU.COPY_DST, label: 'uniform-arena' }),
        bytes: new Uint8Array(ARENA_BYTES),
        used: 0,
      };
      chunk.used = 0;
      this.arenaUsed.push(chunk);
    }
    const offset = chunk.used;
    chunk.bytes.set(data, offset);
    chunk.used += need;
    return { buffer: chunk.buffer, offset };
  }

  private computePass(): GPUComputePassEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'webgpu-tensor batch' });
    if (!this.pass) this.pass = this.encoder.beginComputePass({ label: 'webgpu-tensor pass' });
    return this.pass;
  }

  private copyEncoder(): GPUCommandEncoder {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    if (!this.encoder) this.encoder = this.device.createCommandEncoder({ label: 'webgpu-tensor batch' });
    return this.encoder;
  }

  /** Record one dispatch of kernel `k` over `bufs` (binding order): whole storages, or slices. */
  run<P>(k: KernelDef<P>, p: P, bufs: (GpuStorage | BufferSlice)[]): void {
    throwPendingErrors();
    this.pool.throwErrors();
    const access = k.bindings(p);
    if (bufs.length !== access.length)
      throw new Error(`kernel ${k.name}: expected ${access.length} buffers, got ${bufs.length}`);
    const spec = () => {
      const sp = k.spec(p, this.caps);
      return sp ? `${k.name} (${sp})` : k.name;
    };
    const entries: GPUBindGroupEntry[] = bufs.map((b, i) => {
      const st = b instanceof GpuStorage ? b : b.storage;
      if (st.freed) throw new Error(`kernel ${spec()}: a buffer was already freed (disposed tensor)`);
      if (st.lost) throw new Error(`kernel ${spec()}: operand ${i}'s buffer could not be allocated (out of GPU memory)`);
      const offset = b instanceof GpuStorage ? 0 : b.offset;
      const bytes = b instanceof GpuStorage ? b.byteLength : b.bytes;
      if (bytes > this.maxBinding)
        throw new Error(
          `kernel ${spec()}: operand ${i} is ${bytes} bytes (${MiB(bytes)}), over the adapter's ` +
            `maxStorageBufferBindingSize ${this.maxBinding} (${MiB(this.maxBinding)}); this op does not split, ` +
            'use a smaller batch or smaller inputs',
        );
      if (offset % this.offsetAlign !== 0)
        throw new Error(`kernel ${spec()}: operand ${i} starts at byte ${offset}, not a multiple of ${this.offsetAlign}`);
      // rounded up to 16 bytes (inside the pooled buffer) so a kernel may read the tensor as vec4s
      const size = Math.min(st.buffer.size - offset, this.deviceMaxBinding, Math.max(16, Math.ceil(bytes / 16) * 16));
      return { binding: i, resource: { buffer: st.buffer, offset, size } };
    });
    const d = k.dispatch(p, this.caps);
    const [x, y, z] = typeof d === 'number' ? split1D(d) : d;
    if (x === 0 || y === 0 || z === 0) return;
    if (x > MAX_WG_PER_DIM || y > MAX_WG_PER_DIM || z > MAX_WG_PER_DIM)
      throw new Error(`kernel ${spec()}: dispatch [${x}, ${y}, ${z}] exceeds ${MAX_WG_PER_DIM} workgroups per dimension`);
    const pl = this.pipeline(k, p);
    const u = this.uniformSlot(packUniforms(k.uniforms(p, this.caps)));
    entries.push({ binding: bufs.length, resource: { buffer: u.buffer, offset: 0, size: 256 } });
    const bg = this.device.createBindGroup({ layout: pl.layout, entries, label: k.name });
    const pass = this.computePass();
    pass.setPipeline(pl.pipeline);
    pass.setBindGroup(0, bg, [u.offset]);
    pass.dispatchWorkgroups(x, y, z);
    for (const b of bufs) this.pending.add(b instanceof GpuStorage ? b.buffer : b.storage.buffer);
    this.dispatches++;
    this.stats.dispatches++;
    if (this.dispatches >= AUTO_FLUSH_DISPATCHES) this.flush();
  }

  /** Copy bytes between two storages inside the batch (ordered with the dispatches). */
  copy(src: GpuStorage, srcOffset: number, dst: GpuStorage, dstOffset: number, bytes: number): void {
    this.copyEncoder().copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, bytes);
    this.pending.add(src.buffer).add(dst.buffer);
  }

  /** Upload host data. If pending (unsubmitted) work uses the buffer, submit that first so the
   * write cannot overtake it (writeBuffer is queued ahead of an unsubmitted encoder). */
  write(dst: GpuStorage, data: ArrayBufferView, byteOffset = 0): void {
    if (this.pending.has(dst.buffer)) this.flush();
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = bytes.byteLength % 4 === 0 ? bytes : (() => {
      const p = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      p.set(bytes);
      return p;
    })();
    this.device.queue.writeBuffer(dst.buffer, byteOffset, padded as Uint8Array<ArrayBuffer>);
  }

  /** Submit everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
    for (const c of this.arenaUsed) this.device.queue.writeBuffer(c.buffer, 0, c.bytes as Uint8Array<ArrayBuffer>, 0, Math.max(16, c.used));
    this.device.queue.submit([this.encoder.finish()]);
    this.arenaFree.push(...this.arenaUsed);
    this.arenaUsed = [];
    this.encoder = null;
    this.pending.clear();
    this.dispatches = 0;
    this.stats.submits++;
  }

  /** Wait for pipeline-creation and allocation error scopes; rethrow the first failure. */
  async checkScopes(): Promise<void> {
    if (!this.scopeChecks.length) return this.pool.throwErrors();
    const checks = this.scopeChecks.splice(0);
    await Promise.all(checks);
    this.pool.throwErrors();
  }

  /** Copy `bytes` of `src` to the host. Submits pending work. */
  async read(src: GpuStorage, bytes: number, srcOffset = 0): Promise<ArrayBuffer> {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    let list = this.stagingFree.get(size);
    if (!list) this.stagingFree.set(size, (list = []));
    const staging =
      list.pop() ?? this.device.createBuffer({ size, usage: BU.MAP_READ | BU.COPY_DST, label: 'readback-staging' });
    const copyBytes = Math.min(size, Math.ceil(bytes / 4) * 4, src.buffer.size - srcOffset);
    this.copyEncoder().copyBufferToBuffer(src.buffer, srcOffset, staging, 0, copyBytes);
    this.flush();
    await this.checkScopes();
    await staging.mapAsync(1 /* READ */);
    const out = staging.getMappedRange(0, size).slice(0, bytes);
    staging.unmap();
    list.push(staging);
    throwPendingErrors();
    return out;
  }

  /** Wait until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.checkScopes();
    await this.device.queue.onSubmittedWorkDone();
    throwPendingErrors();
  }
}

let rt: Runtime | null = null;

export function runtime(op = 'gpu op'): Runtime {
  const dev = gpuDevice(op);
  if (!rt || rt.device !== dev) rt = new Runtime(dev);
  return rt;
}

export function hasRuntime(): boolean {
  return rt !== null;
}

/** GPU memory held by webgpu-tensor's buffer pool (see {@link memory}). */
export interface MemoryInfo {
  /** Bytes held by live GPU tensors (size-class rounded). */
  inUse: number;
  /** Bytes kept in the pool for reuse. */
  pooled: number;
  /** GPU buffers created so far (grows only when the pool has no fit). */
  buffersCreated: number;
}

export interface MemoryDetail extends MemoryInfo {
  /** Live GPU storages grouped by the line that created them, most bytes first. Sites are recorded
   * while memory debugging is on (`wt.init({ debugMemory: true })` or `wt.debugMemory(true)`). */
  detail: MemorySite[];
}

/** Bytes in use and pooled on the GPU, and buffers created so far (zeros before init()); with
 * `{ detail: true }` also the live tensors by creation site (a leak report). */
export function memory(): MemoryInfo;
export function memory(opts: { detail: true }): MemoryDetail;
export function memory(opts?: { detail?: boolean }): MemoryInfo | MemoryDetail;
export function memory(opts: { detail?: boolean } = {}): MemoryInfo | MemoryDetail {
  const info = rt
    ? { inUse: rt.pool.inUseBytes, pooled: rt.pool.pooledBytes, buffersCreated: rt.pool.created }
    : { inUse: 0, pooled: 0, buffersCreated: 0 };
  if (!opts.detail) return info;
  return { ...info, detail: rt ? rt.pool.sites() : [] };
}

/** The binding limit operands are split against and where a bound slice may start. */
export function bindingLimits(): { maxBinding: number; offsetAlign: number } {
  const r = runtime('bindingLimits');
  return { maxBinding: r.maxBinding, offsetAlign: r.offsetAlign };
}

/** For tests: check and split operands against `bytes` instead of the device's
 * maxStorageBufferBindingSize (null restores it), so splitting runs on small tensors. */
export function limitBindingForTesting(bytes: number | null): void {
  const r = runtime('limitBindingForTesting');
  r.maxBinding = bytes ?? r.caps.maxStorageBufferBindingSize;
}

export { deviceInfo };
