// The one GPUDevice of the process: adapter choice, limits, error routing.
// Nothing outside src/backend touches GPUDevice directly. The `GPU` object comes from the caller
// (a browser's or Deno's `navigator.gpu`, Dawn's `create()` in Node: see src/node/dawn_init.ts).
import type { Caps } from '../kernels/kernel.ts';
import { debugMemory } from './creation_site.ts';

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
}

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
  limits: Record<string, number>;
}

interface DeviceState {
  /** Kept alive with the device: Dawn destroys its instance (and crashes the device's callbacks) once this is collected. */
  gpu: GPU | undefined;
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
  const limits: Record<string, number> = {};
  for (const k in device.limits) {
    const v = (device.limits as unknown as Record<string, number>)[k];
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

/**
 * Acquire the adapter and device from `opts.gpu` (default `navigator.gpu`). Safe to call more than
 * once: the first call wins. Resolves to what the adapter offers.
 */
export async function init(opts: InitOptions = {}): Promise<DeviceInfo> {
  if (opts.debugMemory !== undefined) debugMemory(opts.debugMemory);
  if (state) return state.info;
  if (!initPromise) initPromise = doInit(opts);
  try {
    state = await initPromise;
  } catch (e) {
    initPromise = null;
    throw e;
  }
  return state.info;
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

/** The device, for the backend; throws naming `op` before init() or after a device loss. */
export function gpuDevice(op = 'gpu op'): GPUDevice {
  if (!state) throw new Error(`${op}: the GPU is not initialised; call \`await wt.init()\` first`);
  throwPendingErrors();
  if (state.lost) throw new Error(`${op}: the GPU device was lost`);
  return state.device;
}

/** Whether init() has completed. */
export function isInitialised(): boolean {
  return state !== null;
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
