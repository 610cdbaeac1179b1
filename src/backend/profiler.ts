// wt.profiler: GPU timing and the runtime's counters.
//
// A timer bracket is two extra command buffers on the queue, each holding one empty compute pass
// whose timestampWrites mark "begin" and "end". The queue runs command buffers in submission
// order, and an end-of-pass timestamp is written after all earlier work on the queue has finished,
// so the difference is the GPU time of whatever was submitted between the two markers. The
// runtime records dispatches into one command encoder and submits them at `flush()`, so the usual
// pattern is: record work, `begin()`, `wt.flush()`, `end(i)`.
import { gpuDevice, isInitialised } from './device.ts';
import { hasRuntime, runtime } from './webgpu.ts';
import { checkOptions } from './options.ts';

const QU = { QUERY_RESOLVE: 0x0200, COPY_SRC: 0x0004, COPY_DST: 0x0008, MAP_READ: 0x0001 };

/** Counters of the runtime since the device was initialised. */
export interface RuntimeStats {
  /** Command-buffer submits of recorded work (`flush()`, readbacks, and the automatic submit
   * after 2048 dispatches). Timer markers are not counted. */
  submits: number;
  /** Compute dispatches recorded. */
  dispatches: number;
  /** Compute pipelines compiled (one per kernel name and specialisation). */
  pipelines: number;
  /** Bind groups created (a dispatch binding the same buffers the same way as an earlier one reuses
   * its bind group, so a repeated training step adds none). */
  bindGroups: number;
}

/** A snapshot of the runtime's counters (all 0 before the first GPU op). Take two and subtract to
 * count what a piece of code dispatches and submits. */
export function stats(): RuntimeStats {
  if (!isInitialised() || !hasRuntime()) return { submits: 0, dispatches: 0, pipelines: 0, bindGroups: 0 };
  const s = runtime('profiler.stats').stats;
  return { submits: s.submits, dispatches: s.dispatches, pipelines: s.pipelines, bindGroups: s.bindGroups };
}

/**
 * True when the device can write GPU timestamps (the 'timestamp-query' feature, which `wt.init()`
 * enables wherever the adapter offers it). `device` defaults to webgpu-tensor's own device, which
 * must be initialised.
 */
export function timestampsAvailable(device?: GPUDevice): boolean {
  return (device ?? gpuDevice('profiler.timestampsAvailable')).features.has('timestamp-query');
}

/** Options of `profiler.timer()`. */
export interface TimerOptions {
  /** The device whose queue is timed; default webgpu-tensor's own. Another library's device on
   * the same adapter works too (to time it the same way). */
  device?: GPUDevice;
}

/** Timestamp brackets on one device's queue: up to `capacity` brackets between two `reset()`s. */
export interface GpuTimer {
  /** Brackets available between two `reset()`s. */
  readonly capacity: number;
  /** Submit the begin marker of the next bracket; returns its index (0, 1, ...). Throws when all
   * `capacity` brackets are used. */
  begin(): number;
  /** Submit the end marker of bracket `i` (a bracket begun since the last reset, not yet ended). */
  end(i: number): void;
  /**
   * GPU milliseconds of every bracket begun since the last reset, by index; NaN for a bracket that
   * was not ended or whose timestamps are unusable (zero, or end not after begin). Waits for the
   * queue to reach the markers. Does not reset.
   */
  read(): Promise<number[]>;
  /** Forget all brackets; the next `begin()` returns 0. */
  reset(): void;
  /** Free the query set and buffers; the timer is unusable afterwards. */
  destroy(): void;
}

class TimestampTimer implements GpuTimer {
  readonly capacity: number;
  private readonly device: GPUDevice;
  private readonly qs: GPUQuerySet;
  private readonly resolveBuf: GPUBuffer;
  private readonly readBuf: GPUBuffer;
  /** Per bracket begun since the reset: whether its end marker was submitted. */
  private ended: boolean[] = [];
  private destroyed = false;

  constructor(device: GPUDevice, pairs: number) {
    this.device = device;
    this.capacity = pairs;
    this.qs = device.createQuerySet({ type: 'timestamp', count: pairs * 2, label: 'wt-profiler' });
    this.resolveBuf = device.createBuffer({ size: pairs * 16, usage: QU.QUERY_RESOLVE | QU.COPY_SRC, label: 'wt-profiler-resolve' });
    this.readBuf = device.createBuffer({ size: pairs * 16, usage: QU.MAP_READ | QU.COPY_DST, label: 'wt-profiler-read' });
  }

  private live(op: string): void {
    if (this.destroyed) throw new Error(`profiler timer.${op}: the timer was destroyed`);
  }

  private marker(index: number, begin: boolean): void {
    const enc = this.device.createCommandEncoder({ label: 'wt-profiler-marker' });
    const tw: GPUComputePassTimestampWrites = begin
      ? { querySet: this.qs, beginningOfPassWriteIndex: index }
      : { querySet: this.qs, endOfPassWriteIndex: index };
    enc.beginComputePass({ label: 'wt-profiler-marker', timestampWrites: tw }).end();
    this.device.queue.submit([enc.finish()]);
  }

  reset(): void {
    this.ended = [];
  }

  begin(): number {
    this.live('begin');
    const i = this.ended.length;
    if (i >= this.capacity)
      throw new Error(`profiler timer.begin: all ${this.capacity} brackets are used; read() then reset(), or create a larger timer`);
    this.ended.push(false);
    this.marker(2 * i, true);
    return i;
  }

  end(i: number): void {
    this.live('end');
    if (!Number.isInteger(i) || i < 0 || i >= this.ended.length)
      throw new Error(`profiler timer.end: bracket ${i} was not begun since the last reset (${this.ended.length} begun)`);
    if (this.ended[i]) throw new Error(`profiler timer.end: bracket ${i} was already ended`);
    this.ended[i] = true;
    this.marker(2 * i + 1, false);
  }

  async read(): Promise<number[]> {
    this.live('read');
    const n = this.ended.length;
    if (!n) return [];
    const enc = this.device.createCommandEncoder({ label: 'wt-profiler-resolve' });
    enc.resolveQuerySet(this.qs, 0, 2 * n, this.resolveBuf, 0);
    enc.copyBufferToBuffer(this.resolveBuf, 0, this.readBuf, 0, 16 * n);
    this.device.queue.submit([enc.finish()]);
    await this.readBuf.mapAsync(1 /* READ */, 0, 16 * n);
    const v = new BigUint64Array(this.readBuf.getMappedRange(0, 16 * n).slice(0));
    this.readBuf.unmap();
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const d = Number(v[2 * i + 1] - v[2 * i]) / 1e6; // ns -> ms
      out.push(!this.ended[i] || v[2 * i] === 0n || v[2 * i + 1] === 0n || !(d > 0) ? NaN : d);
    }
    return out;
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.qs.destroy();
    this.resolveBuf.destroy();
    this.readBuf.destroy();
  }
}

/**
 * A timer with `pairs` timestamp brackets (default 64). Throws where the device has no
 * 'timestamp-query' (check `timestampsAvailable()` first and fall back to wall clock there).
 *
 * ```ts
 * const t = wt.profiler.createTimer();
 * const y = wt.matmul(a, b);   // recorded, not yet submitted
 * const i = t.begin();
 * wt.flush();                  // submits the recorded work between the markers
 * t.end(i);
 * const [ms] = await t.read(); // GPU time of the matmul
 * ```
 */
export function createTimer(pairs = 64, o: TimerOptions = {}): GpuTimer {
  checkOptions('profiler.createTimer', o, ['device']);
  if (!Number.isInteger(pairs) || pairs < 1 || pairs > 2048)
    throw new Error(`profiler.createTimer: pairs must be an integer in [1, 2048], got ${pairs}`);
  const device = o.device ?? gpuDevice('profiler.createTimer');
  if (!timestampsAvailable(device))
    throw new Error("profiler.createTimer: the device has no 'timestamp-query' feature; check profiler.timestampsAvailable() first");
  return new TimestampTimer(device, pairs);
}
