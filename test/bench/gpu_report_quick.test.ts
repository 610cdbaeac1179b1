// bench:gpu --quick end to end on this machine's adapter (lavapipe in CI, ~2-3 min): every phase runs
// and the JSON and Markdown reports hold each phase's results.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

describe('bench:gpu --quick', () => {
  it('runs every phase and writes report.json and report.md', () => {
    const out = mkdtempSync(join(tmpdir(), 'wt-gpu-report-'));
    try {
      const r = spawnSync(process.execPath, [join(root, 'node_modules/tsx/dist/cli.mjs'), 'bench/gpu_report.ts', '--quick', '--out', out], {
        cwd: root,
        encoding: 'utf8',
        timeout: 280_000,
        env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || '/tmp' },
      });
      const tail = `${r.stdout ?? ''}\n${r.stderr ?? ''}`.slice(-4000);
      expect(r.status, tail).toBe(0);
      const rep = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8'));
      expect(rep.phases.map((p: { name: string }) => p.name)).toEqual(['autotune', 'peak', 'kernels', 'tfjs', 'train', 'alexnet']);
      for (const p of rep.phases) expect(p, tail).toMatchObject({ ok: true });
      expect(rep.adapter).toEqual(expect.any(String));
      // parity before timing: every tunable variant agreed with its CPU twin
      expect(rep.autotune.parity.length).toBeGreaterThan(0);
      expect(rep.autotune.parity.every((p: { ok: boolean }) => p.ok)).toBe(true);
      expect(rep.autotune.picks.length).toBeGreaterThan(0);
      expect(rep.peak.gflops).toBeGreaterThan(0);
      expect(rep.kernels.length).toBeGreaterThan(0);
      expect(rep.tfjs.length).toBeGreaterThan(0);
      expect(rep.train.examplesPerSec).toBeGreaterThan(0);
      expect(rep.train.breakdown.length).toBeGreaterThan(0);
      if (rep.data) expect(rep.alexnet.epochs.length).toBe(1);
      const md = readFileSync(join(out, 'report.md'), 'utf8');
      for (const h of ['## Parity', '## Autotuning from a cold cache', '## Adapter peak', '## Kernels', '## webgpu-tensor vs TF.js', '## Training step'])
        expect(md).toContain(h);
      expect(existsSync(join(out, 'tuning-cache'))).toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 300_000);
});
