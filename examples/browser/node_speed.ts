// The demo's training in Node (Dawn), for comparing examples/s with the page on the same model,
// batch, data and loop (demo_model.ts):
//   npx tsx --conditions=source examples/browser/node_speed.ts [--steps 30] [--batch 64] [--train 12000]
// Prints one JSON line: adapter, steps, first and last loss, examples/s over steps 2..N.
import * as wt from 'webgpu-tensor';
import { DemoTrainer, train } from './demo_model.ts';

const args = process.argv.slice(2);
const flag = (name: string, dflt: number) => {
  const i = args.indexOf(`--${name}`);
  const v = i >= 0 ? Number(args[i + 1]) : dflt;
  if (!Number.isInteger(v) || v <= 0) throw new Error(`--${name} must be a positive integer, got ${args[i + 1]}`);
  return v;
};
const steps = flag('steps', 30);
const batch = flag('batch', 64);
const trainLimit = flag('train', 12000);

const info = await wt.init();
const data = await wt.data.loadFashionMNIST({ trainLimit, testLimit: 10 });
const trainer = new DemoTrainer(data.train, { batch });
let t0 = 0;
let timed = 0;
const results = await train(trainer, steps, (r) => {
  if (r.step === 1) t0 = performance.now();
  else timed += r.size;
});
const secs = (performance.now() - t0) / 1000;
console.log(
  JSON.stringify({
    adapter: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / '),
    software: info.software,
    steps,
    batch,
    firstLoss: +results[0].loss.toFixed(4),
    lastLoss: +results.at(-1)!.loss.toFixed(4),
    examplesPerSec: +(timed / secs).toFixed(1),
  }),
);
