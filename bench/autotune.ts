// npm run bench:autotune: check every tunable kernel variant against its CPU twin, then tune each
// kernel family's sample shapes (AlexNet's layers; --quick: small ones) and print what was picked.
// The picks go where the Node entry keeps them (WT_TUNING_DIR, else ~/.cache/webgpu-tensor); a
// cold cache is an empty WT_TUNING_DIR (bench:gpu passes a fresh one).
//   --quick        small sample shapes
//   --json FILE    write { adapter, parity, tuneMs, picks } to FILE
//   --budget-ms N  tuning budget per kernel family (default: the library's)
import { writeFileSync } from 'node:fs';
import * as wt from 'webgpu-tensor';
import { parseArgs } from './lib/bench_args.ts';

const USAGE = 'usage: tsx bench/autotune.ts [--quick] [--json FILE] [--budget-ms N]';

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2), { values: ['json', 'budget-ms'], flags: ['quick'] }, USAGE);
  const quick = args.has('quick');
  // timestamps at full resolution (Dawn quantises them by default)
  const info = await wt.init({ autotune: 'persist', dawnOptions: ['disable-dawn-features=timestamp_quantization'] });
  const budget = args.int('budget-ms');
  if (budget !== undefined) wt.tuning.configure({ budgetMs: budget });
  const adapter = info.description || info.device || info.vendor;
  console.log(`adapter: ${adapter}${info.software ? ' (software)' : ''}; autotune ${wt.tuning.mode()}`);

  // parity first: a variant that disagrees with the CPU twin is never timed (nor picked)
  const tp = performance.now();
  const parity = await wt.tuning.checkParity({ quick: true });
  const bad = parity.filter((p) => !p.ok);
  console.log(`parity: ${parity.length - bad.length}/${parity.length} variant checks agree with the CPU twin (${((performance.now() - tp) / 1000).toFixed(1)} s)`);
  for (const p of parity)
    console.log(`  ${p.ok ? 'ok  ' : 'FAIL'} ${p.family.padEnd(16)} ${p.candidate.padEnd(9)} ${p.shape}: rel err ${Number.isFinite(p.relErr) ? p.relErr.toExponential(2) : p.relErr}${p.error ? ` (${p.error})` : ''}`);

  const t0 = performance.now();
  await wt.tuning.tuneSamples({ quick });
  const tuneMs = performance.now() - t0;
  console.log(`\ntuning from the cache state at start: ${(tuneMs / 1000).toFixed(1)} s`);
  const rows = wt.tuning.report();
  console.log(wt.tuning.formatReport(rows));
  const j = args.str('json');
  if (j) {
    const clean = (v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v);
    writeFileSync(j, JSON.stringify({ adapter, software: info.software, quick, parity, tuneMs, picks: rows }, (_, v) => clean(v), 2) + '\n');
    console.log(`wrote ${j}`);
  }
  if (bad.length) process.exitCode = 3;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
