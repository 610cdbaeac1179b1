// Writes an AlexNet's weights, one input batch and our output to safetensors files, for
// scripts/check-pytorch.py to load into torch.nn.Sequential and compare.
//   npx tsx scripts/export-alexnet.ts OUT_DIR [RESIZE]
import * as wt from 'webgpu-tensor';
import { join } from 'node:path';
import { mkdirSync } from 'node:fs';

const dir = process.argv[2] ?? 'out/pytorch-check';
const resize = Number(process.argv[3] ?? 67);
mkdirSync(dir, { recursive: true });
await wt.init();
wt.manualSeed(7);
const net = wt.models.alexnet({ imageSize: resize });
wt.models.initWeights(net);
net.eval();
const x = wt.rand([4, 1, resize, resize]);
const y = wt.noGrad(() => net.forward(x));
await wt.save(net.stateDict(), join(dir, 'alexnet.safetensors'), { resize: String(resize) });
await wt.save({ x, y }, join(dir, 'io.safetensors'));
console.log(`wrote ${dir}/alexnet.safetensors and io.safetensors (output ${y.shape})`);
