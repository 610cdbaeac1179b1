// The adapter's measured ceilings: FP32 FMA throughput and copy bandwidth. Cached per adapter in
// out/peak.json so `npm run bench` can print "% of peak" without re-measuring every time.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as wt from 'webgpu-tensor';
import { copyKernel, fmaFlops, fmaPeakKernel, type CopyParams, type FmaParams } from './peak-kernels.ts';
import { measure } from './timer.ts';

/** This development machine's CPU (2 Zen 4 cores), measured natively: see shared/notes. */
export const DEV_CPU = { gflops: 235, gbps: 28 };

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const PEAK_FILE = resolve(REPO_ROOT, 'out/peak.json');

export interface PeakResult {
  /** Cache key: vendor | architecture | device | description. */
  adapter: string;
  description: string;
  software: boolean;
  /** Best FP32 FMA throughput, GFLOP/s. */
  gflops: number;
  /** Copy bandwidth, GB/s (bytes read + bytes written). */
  gbps: number;
  fma: { config: string; invocations: number; iters: number; ms: number; gflops: number }[];
  copy: { config: string; bytes: number; ms: number; gbps: number }[];
  method: 'timestamp' | 'wall';
  quick: boolean;
  measuredAt: string;
}

export function adapterKey(info: wt.DeviceInfo = wt.deviceInfo()): string {
  return [info.vendor, info.architecture, info.device, info.description].join(' | ');
}

export interface PeakOptions {
  /** One configuration per kind and fewer runs (what `npm run bench` uses when nothing is cached). */
  quick?: boolean;
  /** Timed runs per configuration (default 5, 3 when quick). */
  runs?: number;
  log?: (s: string) => void;
}

async function checkFma(): Promise<void> {
  const p: FmaParams = { n: 70, iters: 3, accs: 4, unroll: 2, wg: 64, m: 0.999, c: 0.001 };
  const t = wt.kernels.runKernel(fmaPeakKernel, p, [{ shape: [p.n * 4] }], { device: 'gpu' })[0];
  const got = (await t.toArray()) as Float32Array;
  t.dispose();
  const want = new Float32Array(p.n * 4);
  fmaPeakKernel.cpu(p, [want]);
  for (let i = 0; i < want.length; i++)
    if (!(Math.abs(got[i] - want[i]) <= 1e-4 * Math.abs(want[i]) + 1e-6))
      throw new Error(`peak: the FMA kernel disagrees with its CPU twin at ${i}: ${got[i]} vs ${want[i]}`);
}

async function checkCopy(): Promise<void> {
  const n4 = 1000;
  const src = wt.arange(0, n4 * 4);
  const want = new Float32Array(n4 * 4);
  for (const p of [{ n4, wg: 64, groups: 0 }, { n4, wg: 64, groups: 3 }] as CopyParams[]) {
    const dst = wt.kernels.runKernel(copyKernel, p, [src, { shape: [n4 * 4] }])[0];
    const got = await dst.toArray();
    copyKernel.cpu(p, [await src.toArray(), want]);
    dst.dispose();
    for (let i = 0; i < want.length; i++)
      if (got[i] !== want[i]) throw new Error(`peak: the copy kernel (${copyKernel.name}) disagrees with its CPU twin at ${i}`);
  }
  src.dispose();
}

/** Measure FMA peak and copy bandwidth on the initialised device. */
export async function measurePeak(o: PeakOptions = {}): Promise<PeakResult> {
  const log = o.log ?? (() => {});
  const info = wt.deviceInfo();
  const sw = info.software;
  const quick = !!o.quick;
  const runs = o.runs ?? (quick ? 3 : 5);
  await checkFma();
  await checkCopy();
  let method: PeakResult['method'] = 'timestamp';

  // ---- FMA ----
  const maxWg = info.limits.maxComputeInvocationsPerWorkgroup ?? 256;
  // software: few invocations (the rasteriser runs one workgroup per thread at a time);
  // hardware: enough to fill every SM / CU many times over.
  const invocations = sw ? 16384 : 1 << 21;
  const configs: [number, number, number][] = sw
    ? quick
      ? [[8, 2, 256]]
      : [[4, 4, 64], [8, 2, 64], [8, 4, 64], [8, 2, 256], [4, 4, 256]]
    : quick
      ? [[8, 4, 256]]
      : [[8, 4, 256], [16, 4, 256], [16, 8, 128], [8, 8, 64], [32, 2, 256]];
  const targetMs = sw ? (quick ? 60 : 150) : 20;
  const fma: PeakResult['fma'] = [];
  for (const [accs, unroll, wg0] of configs) {
    const wg = Math.min(wg0, maxWg);
    const base: FmaParams = { n: invocations, iters: 16, accs, unroll, wg, m: 0.999, c: 0.001 };
    const run = (p: FmaParams) => () => void wt.tidy(() => wt.kernels.runKernel(fmaPeakKernel, p, [{ shape: [p.n * 4] }], { device: 'gpu' }));
    // calibrate the loop length to the target time: grow until a run is long enough to scale from
    let iters = base.iters;
    for (let step = 0; step < 6; step++) {
      const probe = await measure(run({ ...base, iters }), { runs: 2, warmup: 1, minSampleMs: 0, maxReps: 1 });
      const scale = targetMs / Math.max(probe.min, 0.01);
      if (probe.min >= targetMs / 4 || step === 5) {
        iters = Math.round(iters * scale);
        break;
      }
      iters = Math.round(iters * Math.min(scale, 64));
    }
    iters = Math.max(16, Math.min(1 << 22, iters));
    const p = { ...base, iters };
    const m = await measure(run(p), { runs, warmup: 1, minSampleMs: sw ? 0 : 10 });
    if (m.method === 'wall') method = 'wall';
    const gflops = fmaFlops(p) / m.min / 1e6;
    const config = `${accs} acc x ${unroll} unroll, wg ${wg}`;
    fma.push({ config, invocations, iters, ms: m.min, gflops });
    log(`  fma  ${config.padEnd(34)} ${invocations} inv x ${iters} iters: ${m.min.toFixed(2)} ms  ${gflops.toFixed(1)} GFLOP/s`);
  }

  // ---- copy ----
  const cap = Math.min(info.limits.maxStorageBufferBindingSize ?? 128 << 20, info.limits.maxBufferSize ?? 256 << 20);
  const bytes = Math.min(sw ? 64 << 20 : 256 << 20, Math.floor(cap / 16) * 16);
  const n4 = bytes / 16;
  const copy: PeakResult['copy'] = [];
  const src = wt.full([n4 * 4], 1.5);
  // [workgroup size, workgroups (0 = one vec4 per invocation)]
  const copyConfigs: [number, number][] = sw
    ? quick
      ? [[256, 16]]
      : [[256, 0], [64, 16], [256, 16], [256, 64], [8, 64], [8, 512], [8, 4096]]
    : quick
      ? [[256, 0]]
      : [[256, 0], [256, 1024], [256, 4096], [128, 2048]];
  for (const [wg0, groups] of copyConfigs) {
    const wg = Math.min(wg0, maxWg);
    const p: CopyParams = { n4, wg, groups };
    const m = await measure(() => void wt.tidy(() => wt.kernels.runKernel(copyKernel, p, [src, { shape: [n4 * 4] }])), {
      runs: Math.max(runs, 5),
      warmup: 1,
      minSampleMs: sw ? 0 : 10,
    });
    if (m.method === 'wall') method = 'wall';
    const gbps = (2 * bytes) / m.min / 1e6;
    const config = groups ? `vec4 grid-stride, ${groups} x wg ${wg}` : `vec4 one/invocation, wg ${wg}`;
    copy.push({ config, bytes, ms: m.min, gbps });
    log(`  copy ${config.padEnd(34)} ${(bytes / 2 ** 20).toFixed(0)} MiB: ${m.min.toFixed(2)} ms  ${gbps.toFixed(1)} GB/s`);
  }
  src.dispose();
  await wt.sync();

  return {
    adapter: adapterKey(info),
    description: info.description || info.device || info.vendor,
    software: sw,
    gflops: Math.max(...fma.map((f) => f.gflops)),
    gbps: Math.max(...copy.map((c) => c.gbps)),
    fma,
    copy,
    method,
    quick,
    measuredAt: new Date().toISOString(),
  };
}

function readCache(): Record<string, PeakResult> {
  if (!existsSync(PEAK_FILE)) return {};
  try {
    return JSON.parse(readFileSync(PEAK_FILE, 'utf8')) as Record<string, PeakResult>;
  } catch {
    return {};
  }
}

export function savePeak(r: PeakResult): void {
  const all = readCache();
  all[r.adapter] = r;
  mkdirSync(dirname(PEAK_FILE), { recursive: true });
  writeFileSync(PEAK_FILE, JSON.stringify(all, null, 2) + '\n');
}

/** The cached peak of this adapter, or null. */
export function cachedPeak(): PeakResult | null {
  return readCache()[adapterKey()] ?? null;
}

/** The cached peak, or a quick measurement (saved to out/peak.json). */
export async function peakFor(o: { remeasure?: boolean; log?: (s: string) => void } = {}): Promise<PeakResult> {
  const c = o.remeasure ? null : cachedPeak();
  if (c) return c;
  o.log?.('measuring the adapter peak (quick; run `npm run bench:peak` for the full sweep)...');
  const r = await measurePeak({ quick: true, log: o.log });
  savePeak(r);
  return r;
}
