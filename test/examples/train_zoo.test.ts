// npm run train (examples/train_zoo.ts) end to end on real Fashion-MNIST images, CI-sized: LeNet
// with AdamW, one-cycle schedule and label smoothing trains and writes its outputs; an interrupted
// run resumes (scheduler included); warm-up cosine with clipping and standardised inputs; --onnx writes a model ONNX Runtime runs to our outputs; --list and
// bad flags.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import * as wt from 'webgpu-tensor';
import { expectClose, initGpu, randArray } from '../helpers.ts';

function run(args: string[]): { out: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/train_zoo.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    timeout: 300_000,
  });
  return { out: (r.stdout ?? '') + (r.stderr ?? ''), status: r.status };
}

const SMALL = ['--model', 'lenet', '--batch-size', '64', '--optimizer', 'adamw', '--lr', '0.01', '--scheduler', 'onecycle',
  '--label-smoothing', '0.1', '--weight-decay', '0.01', '--train-limit', '1024', '--test-limit', '256', '--seed', '2'];

describe('examples/train_zoo.ts', () => {
  it('trains LeNet with AdamW, one-cycle and label smoothing: loss falls, outputs written', () => {
    const out = mkdtempSync(join(tmpdir(), 'train-'));
    const r = run([...SMALL, '--epochs', '3', '--out', out]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/software adapter: using lenet's reduced recipe \(resize 28, batch 64, AdamW lr 0\.01 weight decay 0\.01, onecycle schedule, xavier init, label smoothing 0\.1, 3 epoch\(s\) on 1024 training images/);
    expect(r.out).toMatch(/LeNet \(d2l 7\.6\): 61,706 parameters/);
    expect(r.out).toMatch(/Flatten output shape:\s+\[1, 400\]/);
    expect(r.out).toMatch(/loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}/);
    expect(r.out).toMatch(/examples\/sec on /);
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBe(3);
    expect(rows[2].trainLoss).toBeLessThan(rows[0].trainLoss);
    expect(existsSync(join(out, 'curves.svg'))).toBe(true);
    expect(readFileSync(join(out, 'curves.svg'), 'utf8')).toContain('LeNet on Fashion-MNIST');
    expect(existsSync(join(out, 'lenet.safetensors'))).toBe(true);
  });

  it('trains with warm-up cosine, gradient clipping and standardised inputs; the weights record the standardisation', () => {
    const out = mkdtempSync(join(tmpdir(), 'train-'));
    const r = run(['--model', 'lenet', '--batch-size', '64', '--optimizer', 'adam', '--lr', '0.01', '--scheduler', 'warmup-cosine',
      '--clip-grad-norm', '1', '--normalize', '--train-limit', '512', '--test-limit', '128', '--epochs', '2', '--out', out]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Adam lr 0\.01, warmup-cosine schedule, xavier init, gradient norm clipped to 1, standardised inputs, 2 epoch\(s\)/);
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows[1].trainLoss).toBeLessThan(rows[0].trainLoss);
    const bytes = readFileSync(join(out, 'lenet.safetensors'));
    const header = JSON.parse(bytes.subarray(8, 8 + Number(bytes.readBigUInt64LE(0))).toString('utf8'));
    expect(header.__metadata__).toMatchObject({ inputMean: '0.286', inputStd: '0.353', model: 'lenet' });
    // evaluating the file without --normalize standardises as the file records: the training run's
    // last test accuracy on the same images
    const trained = [...r.out.matchAll(/test acc (\d\.\d{3})/g)].map((m) => m[1]);
    const e = run(['--model', 'lenet', '--eval-only', '--weights', join(out, 'lenet.safetensors'), '--test-limit', '128', '--out', out]);
    expect(e.status, e.out).toBe(0);
    expect(e.out).toContain(`inputs standardised as ${join(out, 'lenet.safetensors')} records: (x - 0.286) / 0.353`);
    expect(e.out).toContain(`test acc ${trained[trained.length - 1]} on 128 images`);
  });

  it('--resume after an interrupted run continues from the saved epoch, batch and schedule', () => {
    const out = mkdtempSync(join(tmpdir(), 'train-'));
    const args = [...SMALL, '--train-limit', '512', '--test-limit', '64', '--epochs', '2', '--out', out];
    const a = run([...args, '--interrupt-after', '11']);
    expect(a.status, a.out).toBe(130);
    expect(a.out).toMatch(/saved .*checkpoint\.safetensors at epoch 2, batch 3/);
    const b = run([...args, '--resume']);
    expect(b.status, b.out).toBe(0);
    expect(b.out).toMatch(/resumed from .*: epoch 2, batch 3/);
    expect(readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').length).toBe(2);
  });

  it('--onnx exports the trained model: ONNX Runtime gives the saved weights\' outputs at any batch size', async () => {
    const out = mkdtempSync(join(tmpdir(), 'train-'));
    const r = run([...SMALL, '--train-limit', '256', '--test-limit', '64', '--epochs', '1', '--out', out, '--onnx']);
    expect(r.status, r.out).toBe(0);
    const path = join(out, 'lenet.onnx');
    expect(r.out).toContain(`wrote ${path} (ONNX opset 17, input [N, 1, 28, 28])`);
    expect(existsSync(path)).toBe(true);

    // the trained weights in our LeNet (eval mode) against the exported graph, batch 3 (traced at 1)
    await initGpu();
    const net = wt.models.buildModel('lenet', { imageSize: 28 });
    net.loadStateDict(await wt.load(join(out, 'lenet.safetensors')));
    const xs = randArray(3 * 28 * 28, 7, 0, 1);
    const ours = (await wt.noGrad(() => net.eval().forward(wt.tensor(xs, [3, 1, 28, 28]))).toArray()) as Float32Array;
    const s = await ort.InferenceSession.create(path);
    try {
      const y = (await s.run({ input: new ort.Tensor('float32', xs, [3, 1, 28, 28]) })).output;
      expect(y.dims).toEqual([3, 10]);
      expectClose(y.data as Float32Array, ours, 1e-4, 1e-4);
    } finally {
      await s.release();
    }
  });

  it('--list prints every model with its parameters, GFLOPs and both recipes', () => {
    const r = run(['--list']);
    expect(r.status, r.out).toBe(0);
    for (const [name, params] of [['lenet', '61,706'], ['alexnet', '46,764,746'], ['vgg11', '43,093,322'], ['nin', '1,992,166'],
      ['googlenet', '5,977,530'], ['resnet18', '11,178,378'], ['densenet', '758,226'], ['regnetx32', '179,290']])
      expect(r.out).toMatch(new RegExp(`^${name} \\(.*\\): ${params} parameters at \\d+x\\d+, \\d+\\.\\d+ GFLOPs/image`, 'm'));
    expect(r.out).toMatch(/alexnet .* 1\.876 GFLOPs\/image forward at 224x224/);
    expect(r.out.match(/^ {2}d2l \(GPU\): /gm)?.length).toBe(8);
    expect(r.out.match(/^ {2}lavapipe: /gm)?.length).toBe(8);
  });

  it('rejects bad flags with a clear message', () => {
    expect(run([]).out).toMatch(/--model is required \(one of lenet, alexnet, vgg11, nin, googlenet, resnet18, densenet, regnetx32/);
    expect(run(['--model', 'resnet50']).out).toMatch(/--model must be one of lenet, .*, got 'resnet50'/);
    expect(run(['--model', 'densenet', '--resize', '20']).out).toMatch(/--resize must be >= 29 for densenet, got 20/);
    expect(run(['--model', 'lenet', '--ratio', '2']).out).toMatch(/--ratio is for vgg11 only, not lenet/);
    expect(run(['--model', 'lenet', '--optimizer', 'lbfgs']).out).toMatch(/--optimizer must be one of sgd, adam, adamw, got 'lbfgs'/);
    expect(run(['--help']).out).toMatch(/--scheduler <none\|cosine\|onecycle\|warmup-cosine>/);
    expect(run(['--model', 'lenet', '--head-init', 'identity']).out).toMatch(/--head-init identity is for nin only, not lenet/);
  });
});
