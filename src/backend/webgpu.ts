// WebGPU runtime: pipeline cache, buffer pool, bind-group cache, and the command recorder that
// batches many dispatches into one encoder and submits on flush() (step end) or when a readback
// needs it; waits for submitted work without polling ahead of time (see `waitThrough`).
import { gpuDevice, deviceInfo, deviceCaps, deviceLost, deviceLostError, throwPendingErrors, noteErrorReported, onDeviceLost } from './device.ts';
import { BufferPool, GpuStorage, type MemorySite } from './pool.ts';
import { FaultLog, type FaultSite } from './faults.ts';
import { checkOptions } from './options.ts';
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
/** Bind groups kept for reuse; past this many the cache starts over. A training step binds the
 * same pooled buffers in the same way every time (AlexNet: ~110 bind groups per step), so a few
 * thousand entries cover a training and an evaluation loop. createBindGroup cost ~70-200 us per
 * call in Dawn on the dev machine (lavapipe, Node 20), a lookup ~1 us. */
const BIND_GROUP_CACHE_MAX = 4096;
/** Before awaiting submitted work expected to take a while, sleep for this share of the expected
 * time (software adapters): Dawn in Node polls for completion from the event loop while any of its
 * promises is pending, which took ~15-25% of the main thread's time on the dev machine and the
 * core it runs on from lavapipe's threads; a sleep with no Dawn promise pending took ~0%. */
const SLEEP_SHARE = 0.85;
/** Completed steps whose GPU time the sleep estimate looks at: their median (a late wake-up that
 * inflates one measurement barely moves it; the minimum woke too early on the loaded dev machine,
 * where step times varied by 1.5x, and the early poll took the time the sleep was meant to save). */
const STEP_HISTORY = 8;

interface Pipeline {
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
  /** Distinct per pipeline (part of the bind-group cache key). */
  id: number;
}

interface ArenaChunk {
  buffer: GPUBuffer;
  bytes: Uint8Array;
  used: number;
}

/** One `syncInFlight` call's submit: its index, when it was made, and (when more than one call may
 * stay in flight) a completion promise taken right after it. */
interface StepSubmit {
  through: number;
  at: number;
  done?: Promise<void>;
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
  /** Fault records of checking kernels, raised at readbacks (faults.ts). */
  readonly faults: FaultLog;
  stats = { submits: 0, dispatches: 0, pipelines: 0, bindGroups: 0 };
  /** Bind groups by (pipeline, buffers, offsets, sizes, uniform chunk); cleared when a buffer is destroyed. */
  private bindGroups = new Map<string, GPUBindGroup>();
  private bufferIds = new WeakMap<GPUBuffer, number>();
  private nextBufferId = 1;
  /** Submits made so far (flush() calls that had work); submit i is the i-th. */
  private submitted = 0;
  /** Every submit up to this index is known to have finished on the GPU. */
  private doneThrough = 0;
  /** syncInFlight's submits not yet known finished, oldest first. */
  private steps: StepSubmit[] = [];
  /** GPU ms of recent syncInFlight steps (submit to completion). */
  private stepMs: number[] = [];

  constructor(device: GPUDevice) {
    this.device = device;
    this.pool = new BufferPool(device, device.limits.maxBufferSize, (p) => this.scopeChecks.push(p), () => this.bindGroups.clear());
    this.uniformAlign = Math.max(16, device.limits.minUniformBufferOffsetAlignment);
    this.deviceMaxBinding = device.limits.maxStorageBufferBindingSize;
    this.maxBinding = this.deviceMaxBinding;
    this.offsetAlign = device.limits.minStorageBufferOffsetAlignment;
    this.caps = deviceCaps();
    this.faults = new FaultLog(device, this.pool, this.offsetAlign);
  }

  /** The fault record of `site`, to bind as a kernel's 'fault' operand. */
  fault(site: FaultSite): BufferSlice {
    return this.faults.slice(site);
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
          if (this.pipelines.get(key) === pl) this.pipelines.delete(key);
          noteErrorReported();
          throw new Error(`kernel ${key}: pipeline creation failed: ${e.message}`);
        }
      }),
    );
    pl = { pipeline, layout, id: this.stats.pipelines };
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
    const bg = this.bindGroup(pl, entries, k.name);
    const pass = this.computePass();
    pass.setPipeline(pl.pipeline);
    pass.setBindGroup(0, bg, [u.offset]);
    pass.dispatchWorkgroups(x, y, z);
    for (const b of bufs) this.pending.add(b instanceof GpuStorage ? b.buffer : b.storage.buffer);
    this.dispatches++;
    this.stats.dispatches++;
    if (this.dispatches >= AUTO_FLUSH_DISPATCHES) this.flush();
  }

  private bufferId(b: GPUBuffer): number {
    let id = this.bufferIds.get(b);
    if (id === undefined) this.bufferIds.set(b, (id = this.nextBufferId++));
    return id;
  }

  /** The bind group of `entries` (whole-buffer resources: buffer, offset, size) for `pl`, reused when
   * the same buffers were bound the same way before. Pooled buffers are reused as they are (a
   * buffer back in the pool is the same GPUBuffer when handed out again), so only a destroyed
   * buffer invalidates: the pool reports each destroy and the cache starts over. */
  private bindGroup(pl: Pipeline, entries: GPUBindGroupEntry[], label: string): GPUBindGroup {
    let key = String(pl.id);
    for (const e of entries) {
      const r = e.resource as GPUBufferBinding;
      key += `|${this.bufferId(r.buffer)}:${r.offset ?? 0}:${r.size ?? -1}`;
    }
    let bg = this.bindGroups.get(key);
    if (bg) return bg;
    if (this.bindGroups.size >= BIND_GROUP_CACHE_MAX) this.bindGroups.clear();
    bg = this.device.createBindGroup({ layout: pl.layout, entries, label });
    this.bindGroups.set(key, bg);
    this.stats.bindGroups++;
    return bg;
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
    this.submitted++;
  }

  /** The index of the latest submit (0: none yet). */
  get lastSubmit(): number {
    return this.submitted;
  }

  /** Every submit up to this index is known to have finished. */
  get submitsDone(): number {
    return this.doneThrough;
  }

  /** Wait until submit `through` (and everything before it) has finished on the GPU. The completion
   * promise is taken only now, after the submits it covers: Dawn polls while one is pending. A
   * submit made after `through` is covered too when there is one (never returns early). */
  async waitThrough(through: number, done?: Promise<void>): Promise<void> {
    if (through <= this.doneThrough) return;
    const covers = done ? through : this.submitted;
    await (done ?? this.device.queue.onSubmittedWorkDone());
    if (covers > this.doneThrough) this.doneThrough = covers;
  }

  /** Submit recorded work and return once at most `n` of the submits made by these calls are
   * unfinished on the GPU (`n` >= 1; the one made now included). With n = 1 it waits for the
   * earlier work first and then submits, so the completion promise covers exactly that work. On a
   * software adapter it sleeps through most of the expected wait before awaiting (see SLEEP_SHARE). */
  async syncInFlight(n: number, sleepFirst = this.caps.software): Promise<void> {
    this.steps = this.steps.filter((s) => s.through > this.doneThrough);
    const mustFinish = this.steps.length - (n - 1);
    if (mustFinish > 0) {
      const oldest = this.steps[mustFinish - 1];
      if (sleepFirst && this.stepMs.length) {
        const sorted = [...this.stepMs].sort((a, b) => a - b);
        const due = oldest.at + sorted[sorted.length >> 1] * SLEEP_SHARE - performance.now();
        if (due > 2) await new Promise((r) => setTimeout(r, due));
      }
      await this.waitThrough(oldest.through, oldest.done);
      // submit-to-completion time of a step that was alone on the queue when it was submitted
      if (mustFinish === 1 && n === 1) {
        this.stepMs.push(performance.now() - oldest.at);
        if (this.stepMs.length > STEP_HISTORY) this.stepMs.shift();
      }
      this.steps = this.steps.slice(mustFinish);
    }
    await this.checkScopes();
    throwPendingErrors();
    this.flush();
    if (this.submitted > this.doneThrough) {
      const at = performance.now();
      // more than one step in flight: the older ones' completion must be taken before later submits
      const done = n > 1 ? this.device.queue.onSubmittedWorkDone() : undefined;
      this.steps.push({ through: this.submitted, at, done });
    }
  }

  /** Wait for pipeline-creation and allocation error scopes; rethrow the first failure. */
  async checkScopes(): Promise<void> {
    if (!this.scopeChecks.length) return this.pool.throwErrors();
    const checks = this.scopeChecks.splice(0);
    await Promise.all(checks);
    this.pool.throwErrors();
  }

  /** mapAsync for reading; a failure because the device was lost says so. */
  private async map(buffer: GPUBuffer, op: string): Promise<void> {
    try {
      await buffer.mapAsync(1 /* READ */);
    } catch (e) {
      const why = deviceLost();
      throw why ? deviceLostError(op, why) : e;
    }
  }

  private staging(size: number): { buffer: GPUBuffer; free: GPUBuffer[] } {
    let free = this.stagingFree.get(size);
    if (!free) this.stagingFree.set(size, (free = []));
    const buffer = free.pop() ?? this.device.createBuffer({ size, usage: BU.MAP_READ | BU.COPY_DST, label: 'readback-staging' });
    return { buffer, free };
  }

  /** Copy `bytes` of `src` to the host. Submits pending work. Fault records of checking kernels
   * ride along in the same staging buffer and are raised here (faults.ts). */
  async read(src: GpuStorage, bytes: number, srcOffset = 0): Promise<ArrayBuffer> {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    const faultBytes = this.faults.snapshotBytes();
    const st = this.staging(size + faultBytes);
    const copyBytes = Math.min(size, Math.ceil(bytes / 4) * 4, src.buffer.size - srcOffset);
    const enc = this.copyEncoder();
    enc.copyBufferToBuffer(src.buffer, srcOffset, st.buffer, 0, copyBytes);
    if (faultBytes) this.faults.snapshot(enc, st.buffer, size, faultBytes);
    this.flush();
    const covers = this.submitted;
    await this.checkScopes();
    await this.map(st.buffer, 'toArray');
    // the copy ran after everything submitted before it
    if (covers > this.doneThrough) this.doneThrough = covers;
    const out = st.buffer.getMappedRange(0, size).slice(0, bytes);
    const faults = faultBytes ? st.buffer.getMappedRange(size, faultBytes).slice(0) : null;
    st.buffer.unmap();
    st.free.push(st.buffer);
    throwPendingErrors();
    if (faults) this.faults.raise(faults);
    return out;
  }

  /** Snapshot the fault records (submitting pending work) and wait for it; null when not armed. */
  private async readFaults(): Promise<ArrayBuffer | null> {
    const bytes = this.faults.snapshotBytes();
    if (!bytes) return null;
    const st = this.staging(bytes);
    this.faults.snapshot(this.copyEncoder(), st.buffer, 0, bytes);
    this.flush();
    await this.checkScopes();
    await this.map(st.buffer, 'sync');
    const out = st.buffer.getMappedRange(0, bytes).slice(0);
    st.buffer.unmap();
    st.free.push(st.buffer);
    return out;
  }

  /** Wait until the GPU has finished all submitted work; raises device faults. */
  async sync(): Promise<void> {
    const faults = await this.readFaults(); // flushes; its map waits for all submitted work
    if (!faults) {
      this.flush();
      await this.checkScopes();
    }
    // always a fresh wait: it also covers work submitted outside the runtime (profiler markers)
    const covers = this.submitted;
    if (!faults) await this.device.queue.onSubmittedWorkDone();
    if (covers > this.doneThrough) this.doneThrough = covers;
    this.steps = [];
    throwPendingErrors();
    if (faults) this.faults.raise(faults);
  }

  /** Bad labels counted by checking kernels since the last call (reads the records back when
   * armed); other device faults are raised. */
  async labelErrors(): Promise<number> {
    const faults = await this.readFaults();
    throwPendingErrors();
    if (faults) this.faults.raise(faults, true);
    return this.faults.takeLabelCount();
  }
}

let rt: Runtime | null = null;

// a lost device's runtime is dropped: its storages report deviceLost, memory() starts over
onDeviceLost((device) => {
  if (rt?.device !== device) return;
  rt.pool.deviceLost = true;
  rt = null;
});

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

/** {@link memory}`({ detail: true })`: the totals of {@link MemoryInfo} and the live storages by creation site. */
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
  checkOptions('memory', opts, ['detail']);
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
