// npm run bench:peak: the adapter's FP32 FMA peak and copy bandwidth, saved to out/peak.json
// (per adapter) for `npm run bench`'s "% of peak" column.
//   --quick     one configuration per kind, fewer runs
//   --runs N    timed runs per configuration (default 5)
//   --json FILE also write this result to FILE
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import * as wt from 'webgpu-tensor';
import { parseArgs } from './lib/bench_args.ts';
import { DEV_CPU, PEAK_FILE, measurePeak, savePeak, type PeakResult } from './lib/peak_measure.ts';

export { measurePeak, peakFor, cachedPeak, type PeakResult } from './lib/peak_measure.ts';

const USAGE = `usage: tsx bench/peak.ts [--quick] [--runs N] [--json FILE]`;

export function describePeak(r: PeakResult): string {
  const pct = (x: number, of: number) => `${((100 * x) / of).toFixed(1)}%`;
  return [
    `adapter: ${r.description}${r.software ? ' (software)' : ''}; clock: ${r.method}`,
    `FP32 FMA peak: ${r.gflops.toFixed(1)} GFLOP/s  (${pct(r.gflops, DEV_CPU.gflops)} of the dev CPU's ${DEV_CPU.gflops} GFLOP/s FMA peak)`,
    `copy bandwidth: ${r.gbps.toFixed(1)} GB/s     (${pct(r.gbps, DEV_CPU.gbps)} of the dev CPU's ${DEV_CPU.gbps} GB/s copy)`,
  ].join('\n');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { values: ['runs', 'json'], flags: ['quick'] }, USAGE);
  // timestamps at full resolution (Dawn quantises them by default)
  await wt.init({ dawnOptions: ['disable-dawn-features=timestamp_quantization'] });
  const r = await measurePeak({ quick: args.has('quick'), runs: args.int('runs'), log: console.log });
  savePeak(r);
  console.log(describePeak(r));
  console.log(`saved to ${PEAK_FILE}`);
  const j = args.str('json');
  if (j) writeFileSync(j, JSON.stringify(r, null, 2) + '\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e instanceof Error ? e.message : e);
      process.exit(1);
    },
  );
}
