// AlexNet on Fashion-MNIST, the d2l.ai chapter 8.1 recipe (train_ch6): xavier-uniform init, SGD,
// cross-entropy; per epoch train loss, train acc, test acc and examples/sec.
//   npm run alexnet                      sensible defaults for the adapter
//   npm run alexnet -- --help            flags
// On a software adapter (lavapipe) a reduced recipe is announced and used unless flags override it.
// The loop, checkpoints (--resume, --checkpoint-every, Ctrl-C) and outputs are examples/lib/trainer.ts;
// `npm run train -- --model alexnet` trains the same net from the zoo's table.
import * as wt from 'webgpu-tensor';
import { type FlagSpec, type Parsed, helpText, parseFlags } from './lib/cli_args.ts';
import { type Recipe, UsageError, applyFlags, describeRecipe, recipeFlags, runTraining, trainingFlags } from './lib/trainer.ts';
import { ZOO_RECIPES } from './lib/zoo_recipes.ts';

const minResize = wt.models.ZOO.alexnet.minImageSize;

const FLAGS: Record<string, FlagSpec> = {
  ...trainingFlags(`full recipe: 224; min ${minResize}`),
  model: { type: 'string', choices: ['seed', 'original'], help: "'seed' (d2l) or 'original' (adds the 2012 paper's LRN layers)" },
};

/** d2l's recipe and the reduced one (examples/lib/zoo_recipes.ts): the latter chosen from
 * measurements on a 2-core CPU with lavapipe, finishing in under 10 minutes. */
const FULL: Recipe = ZOO_RECIPES.alexnet.d2l;
const REDUCED: Recipe = ZOO_RECIPES.alexnet.software;

async function main(): Promise<void> {
  let flags: Parsed;
  try {
    flags = parseFlags(process.argv.slice(2), FLAGS);
  } catch (e) {
    console.error(`alexnet: ${(e as Error).message}`);
    process.exit(2);
  }
  if (flags.help) {
    console.log(helpText('Usage: npm run alexnet -- [flags]', FLAGS));
    return;
  }
  const info = await wt.init();
  const adapter = info.description || info.device || info.vendor;
  const r = applyFlags(info.software ? REDUCED : FULL, flags);
  if (r.resize < minResize) throw new UsageError(`--resize must be >= ${minResize} (the third max-pool needs a 3x3 map), got ${r.resize}`);
  if (r.headInit !== 'default') throw new UsageError(`--head-init ${r.headInit} is for nin only (npm run train -- --model nin)`);
  const evalOnly = !!flags['eval-only'];
  if (evalOnly && !flags.weights && !flags.resume)
    throw new UsageError('--eval-only needs --weights FILE (or --resume to evaluate the last checkpoint)');

  console.log(`adapter: ${adapter}${info.software ? ' (software)' : ''}`);
  if (info.software && !evalOnly)
    console.log(
      `software adapter: using a reduced recipe (${describeRecipe(r)}, full 10,000-image test set) that finishes in minutes on a CPU.\n` +
        `  The full d2l recipe: npm run alexnet -- ${recipeFlags(FULL)}`,
    );

  wt.manualSeed((flags.seed as number) ?? 0);
  const net = wt.models.alexnet({ imageSize: r.resize, lrn: flags.model === 'original' });
  wt.models.initWeights(net, r.init);
  for (const line of wt.models.summary(net, [1, 1, r.resize, r.resize])) console.log(line);
  await runTraining({ name: 'alexnet', title: 'AlexNet', net, recipe: r, adapter, software: info.software, flags });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`alexnet: ${(e as Error).message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
