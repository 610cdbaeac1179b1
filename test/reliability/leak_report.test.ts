// The leak report: with memory debugging on, wt.memory({ detail: true }) lists the live GPU
// tensors by the line that created them, with counts and bytes, largest first.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { basename } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';

beforeAll(async () => {
  await wt.init({ debugMemory: true });
});
afterAll(() => wt.debugMemory(false));

const file = fileURLToPath(import.meta.url);
/** 1-based line of this file holding `marker` (in a comment at the end of that line). */
function lineOf(marker: string): number {
  const i = readFileSync(file, 'utf8').split('\n').findIndex((l) => l.endsWith(`// ${marker}`));
  if (i < 0) throw new Error(`no line ends with // ${marker}`);
  return i + 1;
}

describe('memory({ detail: true })', () => {
  it('finds a loop that leaks on purpose by its file:line, with count and bytes, largest first', () => {
    const leaked: wt.Tensor[] = [];
    const small: wt.Tensor[] = [];
    for (let i = 0; i < 7; i++) {
      const x = wt.ones([1000]);
      leaked.push(x.mul(2)); // LEAK-BIG
      x.dispose();
      small.push(wt.zeros([3])); // LEAK-SMALL
    }
    const m = wt.memory({ detail: true });
    const site = (marker: string) => `${basename(file)}:${lineOf(marker)}:`;
    const big = m.detail.find((e) => e.site.includes(site('LEAK-BIG')));
    const little = m.detail.find((e) => e.site.includes(site('LEAK-SMALL')));
    expect(big, JSON.stringify(m.detail, null, 1)).toBeDefined();
    expect(big!.count).toBe(7);
    expect(big!.bytes).toBe(7 * 4096); // 4000 bytes in the 4096-byte size class
    expect(little!.count).toBe(7);
    expect(little!.bytes).toBe(7 * 256);
    expect(m.detail.indexOf(big!)).toBeLessThan(m.detail.indexOf(little!));
    // the report covers every live byte, sorted by bytes
    expect(m.detail.reduce((a, e) => a + e.bytes, 0)).toBe(m.inUse);
    for (let i = 1; i < m.detail.length; i++) expect(m.detail[i - 1].bytes).toBeGreaterThanOrEqual(m.detail[i].bytes);
    for (const t of [...leaked, ...small]) t.dispose();
    const after = wt.memory({ detail: true });
    expect(after.detail.some((e) => e.site.includes(site('LEAK-BIG')))).toBe(false);
  });

  it('allocations made while debugging is off are grouped as not recorded', () => {
    wt.debugMemory(false);
    const t = wt.ones([64]);
    wt.debugMemory(true);
    const m = wt.memory({ detail: true });
    expect(m.detail.some((e) => e.site.startsWith('(not recorded') && e.count >= 1)).toBe(true);
    t.dispose();
  });
});
