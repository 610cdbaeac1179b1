// Device-side faults: kernels that can detect bad data (a label outside [0, C); a NaN / Inf in a
// loss or gradient under checkNumerics) write a fault record instead of failing silently, and the
// runtime raises it at the next readback or sync, as PyTorch raises a CUDA device assert at the
// next synchronising call. No extra round trip: the records are copied into the staging buffer of
// the readback that happens anyway (or mapped in place of sync's wait), and cleared in the same
// submit. Nothing is copied while no checking kernel ran since the last readback.
//
// Buffer layout: one record per check site (a key such as 'crossEntropy:label'), record k at byte
// k * stride (stride = minStorageBufferOffsetAlignment, so each record binds as its own operand);
// a record is FAULT_RECORD_WORDS i32 words (wgsl_lib.ts: count, first index, first value, extra).
import { FAULT_RECORD_WORDS } from '../kernels/wgsl_lib.ts';
import { GpuStorage, type BufferPool } from './pool.ts';

/** One fault record as read back. */
export interface FaultRecord {
  /** Bad rows / elements since the last readback. */
  count: number;
  /** Row or element of the first one recorded. */
  index: number;
  /** Its value: a label, or the f32 bits of a NaN / Inf. */
  value: number;
  /** Kernel-specific (the class count for labels). */
  extra: number;
}

/** A place in the library that checks data on the device. */
export interface FaultSite {
  /** Launches with the same key share a record (a training loop reuses one). */
  key: string;
  /** 'label' faults are also counted for `wt.metrics.labelErrors()`. */
  kind: 'label' | 'numerics';
  /** The Error message of a record with count > 0, naming the op and what was wrong. */
  describe(r: FaultRecord): string;
}

const BU = { STORAGE: 0x0080, COPY_SRC: 0x0004, COPY_DST: 0x0008 };
/** Records in the buffer; sites past the last share it (a generic message). */
const MAX_RECORDS = 1024;
const RECORD_BYTES = FAULT_RECORD_WORDS * 4;

/** Appended to device faults: where they come from and why they surface here. */
export const DEVICE_FAULT_NOTE =
  'found by a GPU kernel and raised at the next readback or sync (as a CUDA device assert); ' +
  'the flags are cleared, so later work runs normally';

const OVERFLOW_SITE: FaultSite = {
  key: '(more check sites than records)',
  kind: 'numerics',
  describe: (r) => `a device check failed ${r.count} time(s) (first at index ${r.index}, value ${r.value})`,
};

export class FaultLog {
  private buffer: GPUBuffer | null = null;
  private storage: GpuStorage | null = null;
  private readonly slots = new Map<string, number>();
  private readonly sites: FaultSite[] = [];
  /** A checking kernel was recorded since the last snapshot. */
  armed = false;
  /** Bad labels seen at readbacks and not yet taken by `takeLabelCount`. */
  private labelCount = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly pool: BufferPool,
    /** Bytes between records: the device's minStorageBufferOffsetAlignment. */
    private readonly stride: number,
  ) {}

  /** The record of `site` as an operand (created on first use); marks the log armed. */
  slice(site: FaultSite): { storage: GpuStorage; offset: number; bytes: number } {
    let slot = this.slots.get(site.key);
    if (slot === undefined) {
      slot = Math.min(this.sites.length, MAX_RECORDS - 1);
      if (slot === this.sites.length) this.sites.push(slot === MAX_RECORDS - 1 ? OVERFLOW_SITE : site);
      this.slots.set(site.key, slot);
    }
    if (!this.storage) {
      const bytes = MAX_RECORDS * this.stride;
      // new buffers are zero-filled: every record starts with count 0
      this.buffer = this.device.createBuffer({ size: bytes, usage: BU.STORAGE | BU.COPY_SRC | BU.COPY_DST, label: 'device-faults' });
      this.storage = new GpuStorage(this.buffer, bytes, bytes, this.pool);
    }
    this.armed = true;
    return { storage: this.storage, offset: slot * this.stride, bytes: RECORD_BYTES };
  }

  /** Bytes a snapshot copies (the records in use), 0 when not armed. */
  snapshotBytes(): number {
    return this.armed && this.buffer ? (this.sites.length - 1) * this.stride + RECORD_BYTES : 0;
  }

  /** Record into `enc`: copy the records to `dst` at `dstOffset`, then zero them; disarms. */
  snapshot(enc: GPUCommandEncoder, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    enc.copyBufferToBuffer(this.buffer!, 0, dst, dstOffset, bytes);
    enc.clearBuffer(this.buffer!, 0, bytes);
    this.armed = false;
  }

  /**
   * Read a snapshot's bytes: count bad labels, and throw one Error for the faulty records
   * (label faults too unless `keepLabels`, where they are only counted).
   */
  raise(bytes: ArrayBuffer, keepLabels = false): void {
    const w = new Int32Array(bytes);
    const msgs: string[] = [];
    for (let k = 0; k < this.sites.length; k++) {
      const o = (k * this.stride) / 4;
      const count = w[o];
      if (!count) continue;
      const site = this.sites[k];
      if (site.kind === 'label') this.labelCount += count;
      if (site.kind === 'label' && keepLabels) continue;
      msgs.push(site.describe({ count, index: w[o + 1], value: w[o + 2], extra: w[o + 3] }));
    }
    if (msgs.length) throw new Error(`${msgs.join('; ')} (${DEVICE_FAULT_NOTE})`);
  }

  /** Bad labels counted since the last call. */
  takeLabelCount(): number {
    const n = this.labelCount;
    this.labelCount = 0;
    return n;
  }
}

/** Whether loss outputs and leaf gradients are checked for NaN / Inf (`init({ checkNumerics })`). */
let numerics = false;

/** Turn the NaN / Inf checks of losses and gradients on or off (off: no extra dispatch). */
export function setCheckNumerics(on: boolean): void {
  numerics = on;
}

export function isCheckingNumerics(): boolean {
  return numerics;
}
