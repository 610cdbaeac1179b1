// The example end to end on real Fashion-MNIST images (CI-sized): loss falls, accuracy beats chance,
// and a run interrupted mid-epoch resumes from its checkpoint.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function run(args: string[]): { out: string; status: number | null } {
  const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', 'examples/alexnet.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
    timeout: 300_000,
  });
  return { out: (r.stdout ?? '') + (r.stderr ?? ''), status: r.status };
}

const SMALL = ['--resize', '67', '--batch-size', '32', '--lr', '0.005', '--momentum', '0.9', '--init', 'kaiming', '--train-limit', '640', '--test-limit', '500', '--seed', '1'];

describe('examples/alexnet.ts', { timeout: 300_000 }, () => {
  it('trains on a few hundred real images: loss falls, accuracy beats chance', () => {
    const out = mkdtempSync(join(tmpdir(), 'alexnet-'));
    const r = run([...SMALL, '--epochs', '2', '--out', out]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/Conv2d output shape:\s+\[1, 96, 15, 15\]/);
    expect(r.out).toMatch(/loss \d\.\d{3}, train acc \d\.\d{3}, test acc \d\.\d{3}/);
    expect(r.out).toMatch(/examples\/sec on /);
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rows.length).toBe(2);
    expect(rows[1].trainLoss).toBeLessThan(rows[0].trainLoss);
    expect(rows[1].testAcc).toBeGreaterThan(0.3); // chance is 0.1
    expect(existsSync(join(out, 'curves.svg'))).toBe(true);
    expect(existsSync(join(out, 'alexnet.safetensors'))).toBe(true);
  });

  it('--resume after an interrupted run continues from the saved epoch and batch', () => {
    const out = mkdtempSync(join(tmpdir(), 'alexnet-'));
    const a = run([...SMALL, '--train-limit', '256', '--test-limit', '64', '--epochs', '2', '--out', out, '--interrupt-after', '10']);
    expect(a.status, a.out).toBe(130);
    expect(a.out).toMatch(/saved .*checkpoint\.safetensors at epoch 2, batch 2/);
    const b = run([...SMALL, '--train-limit', '256', '--test-limit', '64', '--epochs', '2', '--out', out, '--resume']);
    expect(b.status, b.out).toBe(0);
    expect(b.out).toMatch(/resumed from .*: epoch 2, batch 2/);
    const rows = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
    expect(rows.length).toBe(2);
  });

  it('rejects bad flags with a clear message', () => {
    expect(run(['--epochs', '0']).out).toMatch(/--epochs must be >= 1, got 0/);
    expect(run(['--resize', '40']).out).toMatch(/--resize must be >= 6\d/);
    expect(run(['--bogus']).out).toMatch(/unknown flag --bogus/);
    expect(run(['--help']).out).toMatch(/--batch-size <int>/);
  });
});
