// Train any of the zoo's d2l CNNs on Fashion-MNIST with one command:
//   npm run train -- --model resnet18 [flags]     d2l's recipe on a GPU, a reduced one on a software adapter
//   npm run train -- --list                       models, parameters, GFLOPs per image, recipes
//   npm run train -- --help                       flags
// Recipes are examples/lib/zoo_recipes.ts; the loop, checkpoints (--resume, --checkpoint-every,
// Ctrl-C) and outputs (metrics.jsonl, curves.svg, <model>.safetensors, with --onnx <model>.onnx) are
// examples/lib/trainer.ts.
import * as wt from 'webgpu-tensor';
import { type FlagSpec, type Parsed, helpText, parseFlags } from './lib/cli_args.ts';
import { type Recipe, UsageError, applyFlags, describeRecipe, recipeFlags, runTraining, trainingFlags } from './lib/trainer.ts';
import { ZOO_RECIPES } from './lib/zoo_recipes.ts';

const NAMES = wt.models.MODEL_NAMES as string[];

const FLAGS: Record<string, FlagSpec> = {
  model: { type: 'string', choices: NAMES, help: 'the model to train (see --list)' },
  list: { type: 'bool', help: 'list the models with parameters, GFLOPs per image and their recipes' },
  ratio: { type: 'int', min: 1, max: 64, help: "vgg11 only: divide the channels by this (d2l's small VGG: 4)" },
  ...trainingFlags("default: the model's recipe; see --list"),
};

const fmtInt = (n: number) => n.toLocaleString('en-US');
const fmtGflops = (g: number) => g.toFixed(g < 0.01 ? 4 : 3);

/** Parameters and forward GFLOPs (2 x conv/linear MACs) per image at a side. */
function stats(name: string, side: number): { params: number; gflops: number } {
  return wt.tidy(() => {
    const net = wt.models.buildModel(name, { imageSize: side, ...ZOO_RECIPES[name].modelOptions });
    const params = wt.models.parameterCount(net);
    const gflops = (2 * wt.models.forwardMacs(net, [1, 1, side, side])) / 1e9;
    for (const t of [...net.parameters(), ...net.buffers()]) t.dispose();
    return { params, gflops };
  });
}

function list(): void {
  for (const name of NAMES) {
    const m = wt.models.ZOO[name];
    const rec = ZOO_RECIPES[name];
    const gpu = stats(name, rec.d2l.resize);
    const soft = rec.software.resize === rec.d2l.resize ? gpu : stats(name, rec.software.resize);
    const opts = rec.modelOptions.ratio ? `, channel ratio ${rec.modelOptions.ratio}` : '';
    console.log(
      `${name} (${m.title}, d2l ${m.section}${opts}): ${fmtInt(gpu.params)} parameters at ${rec.d2l.resize}x${rec.d2l.resize}, ` +
        `${fmtGflops(gpu.gflops)} GFLOPs/image forward at ${rec.d2l.resize}x${rec.d2l.resize}, ${fmtGflops(soft.gflops)} at ${rec.software.resize}x${rec.software.resize}`,
    );
    const res = rec.d2lResult;
    console.log(`  d2l (GPU):  ${describeRecipe(rec.d2l)}${res ? `; d2l reports test acc ${res.testAcc.toFixed(3)}` : ''}`);
    console.log(`  lavapipe:   ${describeRecipe(rec.software)}`);
  }
}

async function main(): Promise<void> {
  let flags: Parsed;
  try {
    flags = parseFlags(process.argv.slice(2), FLAGS);
  } catch (e) {
    console.error(`train: ${(e as Error).message}`);
    process.exit(2);
  }
  if (flags.help) {
    console.log(helpText(`Usage: npm run train -- --model <${NAMES.join('|')}> [flags]\n       npm run train -- --list`, FLAGS));
    return;
  }
  if (!flags.list && flags.model === undefined) throw new UsageError(`--model is required (one of ${NAMES.join(', ')}; see --list)`);
  const info = await wt.init();
  if (flags.list) {
    list();
    return;
  }
  const name = flags.model as string;
  const zoo = wt.models.ZOO[name];
  const rec = ZOO_RECIPES[name];
  if (flags.ratio !== undefined && name !== 'vgg11') throw new UsageError(`--ratio is for vgg11 only, not ${name}`);
  const modelOptions = { ...rec.modelOptions, ...(flags.ratio !== undefined ? { ratio: flags.ratio as number } : {}) };
  const adapter = info.description || info.device || info.vendor;
  const r: Recipe = applyFlags(info.software ? rec.software : rec.d2l, flags);
  if (r.resize < zoo.minImageSize) throw new UsageError(`--resize must be >= ${zoo.minImageSize} for ${name}, got ${r.resize}`);
  if (r.headInit !== 'default' && name !== 'nin') throw new UsageError(`--head-init ${r.headInit} is for nin only, not ${name}`);
  const evalOnly = !!flags['eval-only'];
  if (evalOnly && !flags.weights && !flags.resume)
    throw new UsageError('--eval-only needs --weights FILE (or --resume to evaluate the last checkpoint)');

  console.log(`adapter: ${adapter}${info.software ? ' (software)' : ''}`);
  if (!evalOnly) {
    if (info.software)
      console.log(
        `software adapter: using ${name}'s reduced recipe (${describeRecipe(r)}, full 10,000-image test set) that finishes in minutes on a CPU.\n` +
          `  d2l's recipe: npm run train -- --model ${name} ${recipeFlags(rec.d2l)}`,
      );
    else console.log(`recipe: ${describeRecipe(r)}`);
  }

  wt.manualSeed((flags.seed as number) ?? 0);
  const net = wt.models.buildModel(name, { imageSize: r.resize, ...modelOptions });
  wt.models.initWeights(net, r.init);
  if (r.headInit === 'identity') wt.models.ninHeadInit_(net);
  console.log(`${zoo.title} (d2l ${zoo.section}): ${fmtInt(wt.models.parameterCount(net))} parameters`);
  for (const line of wt.models.summary(net, [1, 1, r.resize, r.resize])) console.log(line);
  await runTraining({
    name,
    title: zoo.title,
    net,
    recipe: r,
    adapter,
    software: info.software,
    flags,
    weightsMeta: { model: name, ...(modelOptions.ratio ? { ratio: String(modelOptions.ratio) } : {}) },
  });
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(`train: ${(e as Error).message}`);
    process.exit(e instanceof UsageError ? 2 : 1);
  },
);
