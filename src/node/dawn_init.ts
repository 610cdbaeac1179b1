// init() for Node: the core's init with Dawn (the `webgpu` package) as the default `GPU`, the
// runtime directory Dawn's Vulkan loader expects, and install help for a missing Vulkan driver.
import { withNodeTuning } from './tuning_files.ts';
import { create, globals } from 'webgpu';
import { checkOptions } from '../backend/options.ts';
import { deviceLost, init as initCore, isInitialised, INIT_KEYS, type DeviceInfo, type InitOptions } from '../backend/device.ts';
import { quietAdapterDiscovery } from './dawn_stderr.ts';

/** Options of the Node entry's {@link init}: the core's, plus Dawn's. */
export interface NodeInitOptions extends InitOptions {
  /** Dawn toggles / options passed to `create()` when `gpu` is not given, e.g. 'disable-dawn-features=...'. */
  dawnOptions?: string[];
}

const NODE_INIT_KEYS = [...INIT_KEYS, 'dawnOptions'];

/** Thrown when Dawn finds no adapter: how to install a Vulkan driver. */
export const DAWN_NO_ADAPTER_HELP =
  'webgpu-tensor: no WebGPU adapter found. Dawn needs a Vulkan driver. ' +
  'On Linux without a GPU install Mesa >= 24 lavapipe: on Debian bookworm run ' +
  '`echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/backports.list && ' +
  'apt-get update && apt-get install -y -t bookworm-backports mesa-vulkan-drivers libvulkan1` ' +
  "(bookworm's own Mesa 22 is refused by Dawn); on Ubuntu >= 24.04 `apt-get install -y mesa-vulkan-drivers libvulkan1`. " +
  'With a GPU, install its vendor Vulkan driver. `npm run provision` does this for you on Debian/Ubuntu as root.';

/**
 * Acquire the adapter and device: from `opts.gpu` when given, else from Dawn's `create(dawnOptions)`.
 * Sets XDG_RUNTIME_DIR to /tmp when unset (Dawn's Vulkan loader warns without it). Safe to call more
 * than once: the first call wins, until the device is lost; then the next call makes a new one.
 */
export async function init(opts: NodeInitOptions = {}): Promise<DeviceInfo> {
  const { dawnOptions, ...given } = checkOptions('init', opts, NODE_INIT_KEYS) as NodeInitOptions;
  // autotuning picks persist under ~/.cache/webgpu-tensor; WT_AUTOTUNE sets the default mode
  const core = withNodeTuning(given);
  if (isInitialised() && !deviceLost()) return initCore(core); // applies debugMemory / checkNumerics
  pending ??= start(core, dawnOptions).finally(() => {
    pending = null;
  });
  return pending;
}

/** The init() in flight (a second call while it runs waits for it rather than creating a second Dawn). */
let pending: Promise<DeviceInfo> | null = null;
/** Dawn's instance, kept for a later init() after a device loss (with the options it was made with). */
let dawn: { gpu: GPU; options: string } | null = null;

async function start(core: InitOptions, dawnOptions: string[] | undefined): Promise<DeviceInfo> {
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = '/tmp';
  Object.assign(globalThis, globals);
  let gpu = core.gpu;
  let fresh = false;
  if (!gpu) {
    const options = JSON.stringify(dawnOptions ?? []);
    if (dawn?.options !== options) {
      dawn = { gpu: create(dawnOptions ?? []), options };
      fresh = true;
    }
    gpu = dawn.gpu;
  }
  const g = gpu;
  const request = () => g.requestAdapter({ powerPreference: core.powerPreference ?? 'high-performance' });
  // a new Dawn instance enumerates the adapters in its first requestAdapter call, and prints
  // notices about the driver's limits there (see dawn_stderr.ts)
  const adapter = core.adapter ?? (await (fresh ? quietAdapterDiscovery(request) : request()));
  if (!adapter) throw new Error(DAWN_NO_ADAPTER_HELP);
  // the core keeps `gpu` alive with the device (Dawn's instance must outlive it)
  return initCore({ ...core, gpu, adapter });
}
