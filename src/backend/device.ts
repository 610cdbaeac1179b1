// The one GPUDevice of the process: adapter choice, limits, error routing.
// Nothing outside src/backend touches GPUDevice directly.
import { create, globals } from 'webgpu';
import type { Caps } from '../kernels/kernel.ts';
import { debugMemory } from './creation_site.ts';
import type { AutotuneMode, TuningStore } from './tuning_store.ts';

export interface InitOptions {
  /** An adapter you already requested; otherwise one is requested here. */
  adapter?: GPUAdapter;
  powerPreference?: GPUPowerPreference;
  /** Extra Dawn toggles / options passed to `create()`. */
  dawnOptions?: string[];
  /** Record where each GPU tensor is created, for `memory({ detail: true })` (see `debugMemory`). */
  debugMemory?: boolean;
  /** Kernel autotuning: 'persist', 'memory' or 'off' (see `wt.tuning`). Default: 'persist' on
   * hardware adapters, 'off' on software ones. */
  autotune?: AutotuneMode;
  /** Where autotune 'persist' keeps its picks (the Node entry passes a file store under
   * ~/.cache/webgpu-tensor); without one the picks stay in memory. */
  tuningStore?: TuningStore;
}

export interface DeviceInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** true for CPU implementations (lavapipe, SwiftShader, WARP). */
  software: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  features: string[];
  limits: Record<string, number>;
}

interface DeviceState {
  gpu: GPU;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: DeviceInfo;
  caps: Caps;
  /** Errors seen asynchronously (uncaptured errors, device loss); thrown at the next call. */
  pendingErrors: Error[];
  lost: boolean;
  /** An error was already reported (later 'invalid due to a previous error' messages are dropped). */
  reported: boolean;
}

let state: DeviceState | null = null;
let initPromise: Promise<DeviceState> | null = null;

export const NO_ADAPTER_HELP =
  'webgpu-tensor: no WebGPU adapter found. Dawn needs a Vulkan driver. ' +
  'On Linux without a GPU install Mesa >= 24 lavapipe: on Debian bookworm run ' +
  '`echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list && ' +
  'apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1` ' +
  "(bookworm's own Mesa 22 is refused by Dawn); on Ubuntu >= 24.04 `apt-get install -y mesa-vulkan-drivers libvulkan1`. " +
  'With a GPU, install its vendor Vulkan driver. `npm run provision` does this for you on Debian/Ubuntu as root.';

const LIMITS_TO_RAISE = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxStorageBuffersPerShaderStage',
  'maxComputeWorkgroupsPerDimension',
] as const;

function isSoftware(info: GPUAdapterInfo): boolean {
  const s = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  return /llvmpipe|lavapipe|swiftshader|software|warp|cpu/.test(s);
}

async function doInit(opts: InitOptions): Promise<DeviceState> {
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  Object.assign(globalThis, globals);
  const gpu = create(opts.dawnOptions ?? []);
  let adapter = opts.adapter ?? null;
  if (!adapter) adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new Error(NO_ADAPTER_HELP);
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMITS_TO_RAISE) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') requiredLimits[k] = v;
  }
  // the features some kernel or the profiler uses (no kernel uses f16 yet, so shader-f16 is not requested)
  const wanted: GPUFeatureName[] = ['timestamp-query', 'subgroups'];
  const requiredFeatures = wanted.filter((f) => adapter!.features.has(f));
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures, label: 'webgpu-tensor' });
  const ai = adapter.info;
  const limits: Record<string, number> = {};
  for (const k in device.limits) {
    const v = (device.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') limits[k] = v;
  }
  const aix = ai as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const info: DeviceInfo = {
    vendor: ai.vendor,
    architecture: ai.architecture,
    device: ai.device,
    description: ai.description,
    software: isSoftware(ai),
    subgroupMinSize: aix.subgroupMinSize ?? 0,
    subgroupMaxSize: aix.subgroupMaxSize ?? 0,
    features: [...device.features].map(String).sort(),
    limits,
  };
  const caps: Caps = Object.freeze({
    software: info.software,
    subgroups: device.features.has('subgroups'),
    subgroupMinSize: info.subgroupMinSize,
    subgroupMaxSize: info.subgroupMaxSize,
    f16: device.features.has('shader-f16'), // false until a kernel requests it
    maxStorageBufferBindingSize: device.limits.maxStorageBufferBindingSize,
    maxComputeInvocationsPerWorkgroup: device.limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
  });
  const st: DeviceState = { gpu, adapter, device, info, caps, pendingErrors: [], lost: false, reported: false };
  device.addEventListener('uncapturederror', (ev) => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    // follow-on errors (an invalid pipeline used later) add nothing: their root cause is reported
    // by its own error scope (pipelines) or its own uncaptured error
    if (/is invalid due to a previous error/.test(e.message)) return;
    st.reported = true;
    st.pendingErrors.push(new Error(`webgpu-tensor: uncaptured GPU error: ${e.message}`));
  });
  device.lost.then((l) => {
    if (l.reason === 'destroyed' && !st.lost) return;
    st.lost = true;
    st.pendingErrors.push(new Error(`webgpu-tensor: GPU device lost (${l.reason}): ${l.message}`));
  });
  return st;
}

let tuningOpts: Pick<InitOptions, 'autotune' | 'tuningStore'> | null = null;

/** Acquire the adapter and device. Safe to call more than once: the first call wins. */
export async function init(opts: InitOptions = {}): Promise<DeviceInfo> {
  if (opts.debugMemory !== undefined) debugMemory(opts.debugMemory);
  if (state) return state.info;
  if (opts.autotune !== undefined && !['off', 'memory', 'persist'].includes(opts.autotune))
    throw new Error(`init: autotune must be 'off', 'memory' or 'persist', got ${JSON.stringify(opts.autotune)}`);
  tuningOpts ??= { autotune: opts.autotune, tuningStore: opts.tuningStore };
  if (!initPromise) initPromise = doInit(opts);
  try {
    state = await initPromise;
  } catch (e) {
    initPromise = null;
    tuningOpts = null;
    throw e;
  }
  return state.info;
}

/** The autotuning options of the init() call that acquired the device. */
export function initTuningOptions(): Pick<InitOptions, 'autotune' | 'tuningStore'> {
  return tuningOpts ?? {};
}

/** Mark that an error was reported (so its follow-on 'invalid' errors are dropped). */
export function noteErrorReported(): void {
  if (state) state.reported = true;
}

/** Throws any GPU error that arrived asynchronously since the last call. */
export function throwPendingErrors(): void {
  if (!state) return;
  if (!state.pendingErrors.length) return;
  if (state.pendingErrors.length) {
    const errs = state.pendingErrors.splice(0);
    throw errs.length === 1 ? errs[0] : new AggregateError(errs, errs.map((e) => e.message).join('\n'));
  }
}

export function gpuDevice(op = 'gpu op'): GPUDevice {
  if (!state) throw new Error(`${op}: the GPU is not initialised; call \`await wt.init()\` first`);
  throwPendingErrors();
  if (state.lost) throw new Error(`${op}: the GPU device was lost`);
  return state.device;
}

export function isInitialised(): boolean {
  return state !== null;
}

export function deviceInfo(): DeviceInfo {
  if (!state) throw new Error('deviceInfo: the GPU is not initialised; call `await wt.init()` first');
  return state.info;
}

/** The adapter facts kernels are specialised on (see `Caps`). */
export function deviceCaps(): Caps {
  if (!state) throw new Error('deviceCaps: the GPU is not initialised; call `await wt.init()` first');
  return state.caps;
}

/** For tests: a short adapter name, e.g. "llvmpipe (LLVM 19.1.7, 256 bits)". */
export function adapterName(): string {
  if (!state) return 'cpu';
  const i = state.info;
  return i.description || i.device || i.vendor || 'unknown adapter';
}
