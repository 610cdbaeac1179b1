// "% of copy measured alongside" for bandwidth entries on software adapters. On the 2-core dev VM
// a kernel's time swings by up to 2x between moments of one run (the host, not the kernel), so an
// entry's median set against a copy peak measured at another moment says little. Here each round
// submits a timestamp bracket around the entry and then one around a 64 MiB vec4 copy (the peak's
// kernel and size), back to back in one queue, so both see the same moment; the result is the
// entry's median rate over the copy's median rate. The copy runs from DRAM and leaves the caches
// cold for the entry's bracket, so memory-bound entries read lower here than in the warm repeats
// of the main measurement.
import * as wt from 'webgpu-tensor';
import { copyKernel, type CopyParams } from './peak-kernels.ts';
import { gpuTimer } from './timer.ts';
import { median, sleep } from './stats.ts';

export interface Alongside {
  /** entry ms per run, one per round */
  entryMs: number[];
  /** copy GB/s (read + write), one per round */
  copyGbps: number[];
  /** entry median GB/s */
  gbps: number;
  /** entry median rate / copy median rate, percent */
  pct: number;
}

let ref: { run(): void; bytes: number } | null = null;

/** The 64 MiB vec4 grid-stride copy, allocated once per process. */
function copyRef(): { run(): void; bytes: number } {
  if (!ref) {
    const bytes = 64 << 20;
    const p: CopyParams = { n4: bytes / 16, wg: 64, groups: 16 };
    const src = wt.full([bytes / 4], 1.5);
    const dst = wt.zeros([bytes / 4]);
    ref = { run: () => void wt.kernels.runKernel(copyKernel, p, [src, dst]), bytes: 2 * bytes };
  }
  return ref;
}

/** `rounds` rounds of [entry x reps][copy]; null without timestamp queries. */
export async function measureAlongside(run: () => void, workBytes: number, reps: number, rounds = 12): Promise<Alongside | null> {
  const timer = gpuTimer();
  if (!timer) return null;
  const c = copyRef();
  c.run(); // warm-up (pipeline)
  await wt.sync();
  const entryMs: number[] = [];
  const copyGbps: number[] = [];
  let expect = 20;
  for (let r = 0; r < rounds; r++) {
    timer.reset();
    const a = timer.begin();
    for (let i = 0; i < reps; i++) run();
    wt.flush();
    timer.end(a);
    const b = timer.begin();
    c.run();
    wt.flush();
    timer.end(b);
    await sleep(expect * 1.25); // let the queue drain before Dawn's busy wait starts
    await wt.sync();
    const [ta, tb] = await timer.read();
    expect = ta + tb;
    if (!(ta > 0 && tb > 0)) continue;
    entryMs.push(ta / reps);
    copyGbps.push(c.bytes / tb / 1e6);
  }
  if (!entryMs.length) return null;
  const gbps = workBytes / median(entryMs) / 1e6;
  return { entryMs, copyGbps, gbps, pct: (100 * gbps) / median(copyGbps) };
}
