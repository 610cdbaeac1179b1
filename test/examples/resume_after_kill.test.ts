// examples/alexnet.ts survives a SIGKILL: with --checkpoint-every it replaces
// <out>/checkpoint.safetensors every few steps; a run killed right after the first one appears
// continues with --resume from that step and finishes. Tiny recipe on a small fake dataset
// (24 training images of 28x28, 4 test images) so the two runs take well under a minute.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { parseSafetensors } from '../../src/nn/safetensors-format.ts';

const root = mkdtempSync(join(tmpdir(), 'alexnet-kill-'));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  rmSync(root, { recursive: true, force: true });
});

/** A Fashion-MNIST-shaped folder: n train and m test images (raw IDX files). */
function fakeData(dir: string, n: number, m: number): void {
  mkdirSync(dir, { recursive: true });
  const images = (k: number) => wt.data.encodeIdx([k, 28, 28], Uint8Array.from({ length: k * 784 }, (_, i) => (i * 7 + (i >> 5)) & 255));
  const labels = (k: number) => wt.data.encodeIdx([k], Uint8Array.from({ length: k }, (_, i) => i % 10));
  writeFileSync(join(dir, 'train-images-idx3-ubyte'), images(n));
  writeFileSync(join(dir, 'train-labels-idx1-ubyte'), labels(n));
  writeFileSync(join(dir, 't10k-images-idx3-ubyte'), images(m));
  writeFileSync(join(dir, 't10k-labels-idx1-ubyte'), labels(m));
}

function start(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; out: string }> } {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/alexnet.ts', ...args], {
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
  });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((res) =>
    child.on('close', (code, signal) => res({ code, signal, out })),
  );
  return { child, done };
}

describe('examples/alexnet.ts after SIGKILL', () => {
  it('--resume continues from the last periodic checkpoint and finishes', async () => {
    const data = join(root, 'data');
    const out = join(root, 'out');
    fakeData(data, 24, 4);
    // 6 steps of 4 images; a checkpoint after step 4 and at the end of the epoch
    const args = ['--data', data, '--out', out, '--resize', '65', '--batch-size', '4', '--train-limit', '24', '--test-limit', '4',
      '--epochs', '1', '--momentum', '0', '--seed', '3', '--checkpoint-every', '4'];
    const ckpt = join(out, 'checkpoint.safetensors');

    const t0 = performance.now();
    const a = start(args);
    let aDone = false;
    void a.done.then(() => (aDone = true));
    while (!existsSync(ckpt) && !aDone) await new Promise((res) => setTimeout(res, 50));
    a.child.kill('SIGKILL');
    const ra = await a.done;
    expect(ra.signal, ra.out).toBe('SIGKILL');
    expect(existsSync(join(out, 'metrics.jsonl')), 'the epoch had not finished').toBe(false);

    const { metadata } = parseSafetensors(new Uint8Array(readFileSync(ckpt)), ckpt);
    const step = (JSON.parse(metadata.extra) as { batch: number }).batch;
    expect(metadata.epoch).toBe('0');
    expect(step).toBe(4); // the next save comes at the end of the epoch, after 2 steps and the test set

    const t1 = performance.now();
    const b = start([...args, '--resume']);
    const rb = await b.done;
    console.log(`killed after ${((t1 - t0) / 1000).toFixed(1)} s; the resumed run took ${((performance.now() - t1) / 1000).toFixed(1)} s`);
    expect(rb.code, rb.out).toBe(0);
    expect(rb.out).toMatch(new RegExp(`resumed from .*checkpoint\\.safetensors: epoch 1, batch ${step}\\b`));
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBe(1);
    // the resumed epoch counts the images seen before the kill (restored from the checkpoint) and after it
    expect(rows[0].examplesPerSec * rows[0].seconds).toBeCloseTo(24, 6);
    expect(existsSync(join(out, 'alexnet.safetensors'))).toBe(true);
    // the killed run's temporary file, if any, was removed by the next write
    expect(readdirSync(out).filter((f) => f.includes('.tmp-'))).toEqual([]);
  }, 170_000);
});
