// The webgpu-tensor side of scripts/check-zoo-pytorch.py (which runs it): every zoo model's state
// dict and logits as safetensors files, and logits of state dicts that PyTorch wrote.
//   npx tsx scripts/export-zoo.ts save DIR [--small]  each model (seeded, BatchNorm statistics from two
//       training-mode batches): DIR/<name>.wt.safetensors (wt.save of the state dict, int32 as I64),
//       DIR/<name>.wt-io.safetensors (x, logits in eval mode), DIR/manifest.json (sizes, options)
//   npx tsx scripts/export-zoo.ts load DIR             each DIR/<name>.torch.safetensors loaded strictly,
//       logits of x from DIR/<name>.torch-io.safetensors -> DIR/<name>.wt-from-torch.safetensors
//   npx tsx scripts/export-zoo.ts onnx DIR [--small]   each model exported with wt.onnx and run in ONNX
//       Runtime: prints the largest logit difference (needs the devDependency onnxruntime-node)
// --small uses reduced image sides (quick runs); the default is the side d2l trains each model at.
import { join } from 'node:path';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as wt from 'webgpu-tensor';

const { ZOO, buildModel } = wt.models;
type ZooBuildOptions = wt.models.ZooBuildOptions;
const { exportBytes } = wt.onnx;

interface Entry {
  name: string;
  side: number;
  options: ZooBuildOptions;
}

const BATCH = 2;

function entries(small: boolean): Entry[] {
  return Object.values(ZOO).map((m) => {
    const side = small ? Math.max(m.minImageSize, m.name === 'lenet' ? 28 : 64) : m.d2lImageSize;
    const sized = ['lenet', 'alexnet', 'vgg11'].includes(m.name);
    const options: ZooBuildOptions = { ...(sized ? { imageSize: side } : {}), ...(m.name === 'vgg11' ? { ratio: 4 } : {}) };
    return { name: m.name, side, options };
  });
}

function randomInput(side: number, seed: number): wt.Tensor {
  wt.manualSeed(seed);
  return wt.randn([BATCH, 1, side, side]);
}

async function save(dir: string, small: boolean): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const list = entries(small);
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(list, null, 1));
  for (const [i, e] of list.entries()) {
    wt.manualSeed(100 + i);
    const net = buildModel(e.name, e.options);
    // two training-mode batches give BatchNorm running statistics and num_batches_tracked = 2
    wt.noGrad(() => {
      net.train();
      for (let k = 0; k < 2; k++) net.forward(wt.randn([4, 1, e.side, e.side], { mean: 0.2, std: 1.3 }));
    });
    net.eval();
    const x = randomInput(e.side, 200 + i);
    const y = wt.noGrad(() => net.forward(x));
    await wt.save(net.stateDict(), join(dir, `${e.name}.wt.safetensors`), { model: e.name }, { int32As: 'I64' });
    await wt.save({ x, logits: y }, join(dir, `${e.name}.wt-io.safetensors`));
    console.log(`saved ${e.name} (${e.side}x${e.side})`);
  }
}

async function load(dir: string): Promise<void> {
  const list = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Entry[];
  for (const e of list) {
    const net = buildModel(e.name, e.options);
    const sd = await wt.load(join(dir, `${e.name}.torch.safetensors`));
    net.loadStateDict(sd, { strict: true });
    const { x } = await wt.load(join(dir, `${e.name}.torch-io.safetensors`));
    const y = wt.noGrad(() => net.eval().forward(x));
    await wt.save({ logits: y }, join(dir, `${e.name}.wt-from-torch.safetensors`));
    console.log(`loaded ${e.name} strictly`);
  }
}

async function onnx(small: boolean): Promise<void> {
  const mod = await import('onnxruntime-node');
  const ort = (mod as unknown as { default?: typeof mod }).default ?? mod;
  for (const [i, e] of entries(small).entries()) {
    wt.manualSeed(100 + i);
    const net = buildModel(e.name, e.options);
    const x = randomInput(e.side, 200 + i);
    const bytes = await exportBytes(net, x, { dynamicBatch: true });
    const s = await ort.InferenceSession.create(bytes);
    const r = await s.run({ input: new ort.Tensor('float32', (await x.toArray()) as Float32Array, x.shape) });
    const ours = await wt.noGrad(() => net.eval().forward(x)).toArray();
    const theirs = r.output.data as Float32Array;
    let m = 0;
    for (let k = 0; k < ours.length; k++) m = Math.max(m, Math.abs(ours[k] - theirs[k]));
    console.log(`${e.name.padEnd(10)} ${e.side}x${e.side}  onnx ${(bytes.length / 2 ** 20).toFixed(1)} MiB  max |logit diff| vs ONNX Runtime ${m.toExponential(2)}`);
    await s.release();
  }
}

const [mode, dir, ...flags] = process.argv.slice(2);
const small = flags.includes('--small');
if (!['save', 'load', 'onnx'].includes(mode ?? '') || (mode !== 'onnx' && !dir)) {
  console.error('usage: export-zoo.ts save DIR [--small] | load DIR | onnx [--small]');
  process.exit(2);
}
await wt.init();
if (mode === 'save') await save(dir, small);
else if (mode === 'load') await load(dir);
else await onnx(small || dir === '--small');
