// The one GPUDevice of the process: adapter choice, limits, error routing.
// Nothing outside src/backend touches GPUDevice directly. The `GPU` object comes from the caller
// (a browser's or Deno's `navigator.gpu`, Dawn's `create()` in Node: see src/node/dawn_init.ts).
import type { Caps } from '../kernels/kernel.ts';
import { debugMemory } from './creation_site.ts';
import { setCheckNumerics } from './faults.ts';
import { checkOptions } from './options.ts';
import type { AutotuneMode, TuningStore } from './tuning_store.ts';

/** Options of {@link init}. */
export interface InitOptions {
  /**
   * The WebGPU entry point to request an adapter from: `navigator.gpu` in a browser or Deno, Dawn's
   * `create([])` in Node. Default: `navigator.gpu` when there is one (the Node entry defaults to Dawn).
   */
  gpu?: GPU;
  /**
   * An adapter you already requested; otherwise one is requested here. Pass the `gpu` it came from
   * too when that is Dawn's: Dawn's instance must stay referenced while its device is in use.
   */
  adapter?: GPUAdapter;
  /** Passed to `requestAdapter` (default 'high-performance'). */
  powerPreference?: GPUPowerPreference;
  /** Record where each GPU tensor is created, for `memory({ detail: true })` (see `debugMemory`). */
  debugMemory?: boolean;
  /**
   * Check every loss output and every gradient the engine gives a leaf for NaN / Inf and raise the
   * first at the next readback or sync, naming the op (default false: no extra GPU work).
   */
  checkNumerics?: boolean;
  /** Kernel autotuning: 'persist', 'memory' or 'off' (see `wt.tuning`). Default: 'persist' on
   * hardware adapters, 'off' on software ones. */
  autotune?: AutotuneMode;
  /** Where autotune 'persist' keeps its picks (the Node entry passes a file store under
   * ~/.cache/webgpu-tensor); without one the picks stay in memory. */
  tuningStore?: TuningStore;
}

/** The keys {@link init} accepts. */
export const INIT_KEYS = ['gpu', 'adapter', 'powerPreference', 'debugMemory', 'checkNumerics', 'autotune', 'tuningStore'] as const;

/** What {@link init} and {@link deviceInfo} report about the adapter and device. */
export interface DeviceInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** true for CPU implementations (lavapipe, SwiftShader, WARP) and fallback adapters (see `isSoftwareAdapter`). */
  software: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  features: string[];
  /** The adapter's limits (the device is created with the ones the library uses raised to these). */
  limits: Record<string, number>;
}

interface DeviceState {
  /** Kept alive with the device: Dawn destroys its instance (and crashes the device's callbacks) once this is collected. */
  gpu: GPU | undefined;
  adapter: GPUAdapter;
  device: GPUDevice;
  info: DeviceInfo;
  caps: Caps;
  /** Errors seen asynchronously (uncaptured errors); thrown at the next call. */
  pendingErrors: Error[];
  /** Why the device was lost (null while it works); every GPU call throws it from then on. */
  lost: string | null;
  /** An error was already reported (later 'invalid due to a previous error' messages are dropped). */
  reported: boolean;
}

let state: DeviceState | null = null;
let initPromise: Promise<DeviceState> | null = null;

/** init() without a `gpu` where there is no `navigator.gpu`. */
export const NO_GPU_HELP =
  "webgpu-tensor: no WebGPU entry point: pass init({ gpu }) (navigator.gpu, or Dawn's create([]) from the `webgpu` " +
  "package), or in Node use the Node entry ('webgpu-tensor' under Node, or 'webgpu-tensor/node'), which creates Dawn's. " +
  'In a browser WebGPU needs a secure context (https or localhost); headless Chromium needs --enable-unsafe-webgpu.';

/** requestAdapter() returned null. */
export const NO_ADAPTER_HELP =
  'webgpu-tensor: no WebGPU adapter found (requestAdapter returned null). In a browser, check that WebGPU is enabled ' +
  'and the GPU is not blocklisted (chrome://gpu, about:support); in Node the Node entry needs a Vulkan driver ' +
  '(`npm run provision` installs Mesa lavapipe on Debian/Ubuntu).';

/** The limits requested at the adapter's value, each because the library may go past its default;
 * the others keep WebGPU's defaults (dispatches split at 65535 workgroups per dimension, 2-D
 * workgroups stay within 256 in y, none has a z extent). */
const LIMITS_TO_RAISE = [
  'maxStorageBufferBindingSize', // operands are split or refused against it (chunked.ts)
  'maxBufferSize', // the pool's largest tensor
  'maxComputeWorkgroupStorageSize', // tiles sized from Caps
  'maxComputeInvocationsPerWorkgroup', // workgroup sizes from Caps
  'maxComputeWorkgroupSizeX', // with the above (1-D workgroups)
  'maxStorageBuffersPerShaderStage', // fused kernels may bind more than the default 8 operands
] as const;

/** The adapter facts {@link isSoftwareAdapter} reads (GPUAdapterInfo, plus `isFallbackAdapter`
 * where the browser reports it there or on the adapter). */
export interface AdapterFacts {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}

/**
 * Whether the adapter is a CPU implementation (lavapipe, SwiftShader, WARP): by name, or by the
 * `isFallbackAdapter` flag, which is the only sign Firefox gives (its info strings are empty; on
 * lavapipe it reports a fallback adapter). The answer only tunes speed: kernels that need
 * subgroups of a given size check `Caps.subgroups` and the sizes themselves, never `software`, so a
 * wrong guess picks slower launch shapes and designs, never wrong results.
 */
export function isSoftwareAdapter(info: AdapterFacts): boolean {
  const s = `${info.vendor ?? ''} ${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.toLowerCase();
  return info.isFallbackAdapter === true || /llvmpipe|lavapipe|swiftshader|software|warp|cpu/.test(s);
}

/** The kernel-facing caps of a device: subgroup sizes count only when the 'subgroups' feature is
 * enabled (Firefox reports sizes 4-128 without offering the feature). */
export function capsOf(software: boolean, features: ReadonlySet<string>, limits: GPUSupportedLimits, subgroupSizes: [number, number]): Caps {
  const subgroups = features.has('subgroups');
  return Object.freeze({
    software,
    subgroups,
    subgroupMinSize: subgroups ? subgroupSizes[0] : 0,
    subgroupMaxSize: subgroups ? subgroupSizes[1] : 0,
    f16: features.has('shader-f16'), // false until a kernel requests it
    maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
    maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
    maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
  });
}

async function doInit(opts: InitOptions): Promise<DeviceState> {
  let adapter = opts.adapter ?? null;
  const gpu = opts.gpu ?? (globalThis as { navigator?: { gpu?: GPU } }).navigator?.gpu;
  if (!adapter) {
    if (!gpu) throw new Error(NO_GPU_HELP);
    adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  }
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
  // what the adapter offers (the device gets its defaults where the library needs no more)
  const limits: Record<string, number> = {};
  for (const k in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, number>)[k];
    if (typeof v === 'number') limits[k] = v;
  }
  const aix = ai as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number; isFallbackAdapter?: boolean };
  // isFallbackAdapter: on GPUAdapterInfo in current browsers, on the adapter in older ones
  const fallback = aix.isFallbackAdapter ?? (adapter as GPUAdapter & { isFallbackAdapter?: boolean }).isFallbackAdapter;
  const info: DeviceInfo = {
    vendor: ai.vendor,
    architecture: ai.architecture,
    device: ai.device,
    description: ai.description,
    software: isSoftwareAdapter({ ...ai, isFallbackAdapter: fallback }),
    subgroupMinSize: aix.subgroupMinSize ?? 0,
    subgroupMaxSize: aix.subgroupMaxSize ?? 0,
    features: [...device.features].map(String).sort(),
    limits,
  };
  const caps = capsOf(info.software, device.features as ReadonlySet<string>, device.limits, [info.subgroupMinSize, info.subgroupMaxSize]);
  const st: DeviceState = { gpu, adapter, device, info, caps, pendingErrors: [], lost: null, reported: false };
  device.addEventListener('uncapturederror', (ev) => {
    const e = (ev as GPUUncapturedErrorEvent).error;
    // follow-on errors (an invalid pipeline used later) add nothing: their root cause is reported
    // by its own error scope (pipelines) or its own uncaptured error
    if (/is invalid due to a previous error/.test(e.message)) return;
    st.reported = true;
    st.pendingErrors.push(new Error(`webgpu-tensor: uncaptured GPU error: ${e.message}`));
  });
  device.lost.then((l) => {
    st.lost = `${l.reason}${l.message ? `: ${l.message}` : ''}`;
    for (const f of lostListeners) f(device);
  });
  return st;
}

let tuningOpts: Pick<InitOptions, 'autotune' | 'tuningStore'> | null = null;

/**
 * Acquire the adapter and device from `opts.gpu` (default `navigator.gpu`). Safe to call more than
 * once: the first call wins. Resolves to what the adapter offers.
 */
export async function init(opts: InitOptions = {}): Promise<DeviceInfo> {
  checkOptions('init', opts, INIT_KEYS);
  if (opts.debugMemory !== undefined) debugMemory(opts.debugMemory);
  if (opts.checkNumerics !== undefined) setCheckNumerics(opts.checkNumerics);
  if (state?.lost) {
    // a lost device is replaced: tensors made on it stay unusable (see GpuStorage.deviceLost)
    state = null;
    initPromise = null;
  }
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

/** The Error of a call after the device was lost. */
export function deviceLostError(op: string, why: string): Error {
  return new Error(
    `${op}: the GPU device was lost (${why}); every GPU tensor and module state on it is gone. ` +
      'Call `await wt.init()` to get a new device, then recreate tensors and modules (e.g. from a checkpoint)',
  );
}

/** The device, for the backend; throws naming `op` before init() or after a device loss. */
export function gpuDevice(op = 'gpu op'): GPUDevice {
  if (!state) throw new Error(`${op}: the GPU is not initialised; call \`await wt.init()\` first`);
  if (state.lost) throw deviceLostError(op, state.lost);
  throwPendingErrors();
  return state.device;
}

/** Whether init() has completed (also after the device was lost, until init() runs again). */
export function isInitialised(): boolean {
  return state !== null;
}

/** Why the device was lost, or null (also before init()). */
export function deviceLost(): string | null {
  return state?.lost ?? null;
}

const lostListeners: ((device: GPUDevice) => void)[] = [];

/** Call `f` with each device that is lost (the runtime drops its buffers and caches). */
export function onDeviceLost(f: (device: GPUDevice) => void): void {
  lostListeners.push(f);
}

/** For tests: destroy the device as a driver reset would lose it, and wait until the loss is seen. */
export async function destroyDeviceForTesting(): Promise<void> {
  const d = gpuDevice('destroyDeviceForTesting');
  d.destroy();
  await d.lost;
}

/** The adapter and device facts init() resolved to; throws before init(). */
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
