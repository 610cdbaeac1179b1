// A quiet start: `await wt.init()` in plain Node prints no Dawn warning (Dawn's notices about the
// driver's dynamic-buffer limits are filtered from native stderr while it enumerates adapters;
// anything else on stderr passes), and deviceInfo() still reports the adapter's real limits.
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { create } from 'webgpu';

const dir = mkdtempSync(join(tmpdir(), 'wt-quiet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CHILD = `
import('webgpu-tensor').then(async (wt) => {
  console.error('before init');
  const info = await wt.init();
  await wt.tensor([1, 2, 3]).add(1).toArray();
  console.error('after init');
  console.log(JSON.stringify(info.limits));
});`;

/** Run CHILD with its stderr in a file (a terminal or a shell redirect; see dawn_stderr.ts). */
function runChild(): { stdout: string; stderr: string; status: number | null } {
  const errFile = join(dir, `stderr-${Date.now()}.txt`);
  const fd = openSync(errFile, 'w');
  try {
    const r = spawnSync(process.execPath, ['--conditions=source', '--import', 'tsx', '-e', CHILD], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', fd],
      env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR ?? '/tmp' },
      timeout: 120_000,
    });
    return { stdout: r.stdout, stderr: readFileSync(errFile, 'utf8'), status: r.status };
  } finally {
    closeSync(fd);
  }
}

describe('quiet start', () => {
  it('wt.init() prints no Dawn warning; other stderr output passes; deviceInfo() has the adapter limits', async () => {
    const r = runChild();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).not.toMatch(/Warning/);
    expect(r.stderr).toBe('before init\nafter init\n');
    const limits = JSON.parse(r.stdout) as Record<string, number>;
    // the adapter's own limits (the device gets defaults where the library needs no more)
    const adapter = await create([]).requestAdapter({ powerPreference: 'high-performance' });
    const want: Record<string, number> = {};
    for (const k in adapter!.limits) {
      const v = (adapter!.limits as unknown as Record<string, number>)[k];
      if (typeof v === 'number') want[k] = v;
    }
    expect(limits).toEqual(want);
  });
});
