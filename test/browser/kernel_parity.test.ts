// Kernel parity in real browsers: test/browser/pages/kernel_parity_page.ts runs GPU kernels against
// their CPU twins in the page (pointwise table, matmul and conv2d forward / both backwards under the
// GEMM designs, pooling, softmax, batch norm, cross-entropy) on Chromium's SwiftShader (subgroups of
// 4, 256 invocations per workgroup) and Firefox's lavapipe (no subgroups, empty adapter strings)
// and reports pass / fail counts; all must pass.
import type { Browser } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSERS, collectLogs, launchBrowser, missingBrowsersHelp } from './browser_launch.ts';
import { type Served, servePages } from './served_pages.ts';

/** GEMM designs per browser. SwiftShader takes ~10 s to compile each 'tiled' pipeline (256
 * invocations with barriers) and the policy never picks 'tiled' on a software adapter, so Chromium
 * runs the lanes designs (its width 4 and width 1); Firefox compiles 'tiled' quickly and runs all. */
const DESIGNS: Record<string, string> = { chromium: 'lanes', firefox: 'lanes,tiled' };

interface Parity {
  done: boolean;
  adapter: string;
  caps: Record<string, unknown>;
  variants: string[];
  passed: number;
  failed: number;
  results: { name: string; ok: boolean; ms: number; error?: string }[];
  error?: string;
}

let served: Served;
beforeAll(async () => {
  const help = missingBrowsersHelp();
  if (help) throw new Error(help);
  served = await servePages();
}, 60_000);
afterAll(async () => {
  await served?.close();
});

describe.each(BROWSERS)('kernel parity in $name', (spec) => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser(spec);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it('every GPU kernel checked matches its CPU twin', async () => {
    const page = await browser.newPage();
    const logs = collectLogs(page);
    await page.goto(`${served.url}parity.html?designs=${DESIGNS[spec.name]}`);
    await page.waitForFunction(() => (globalThis as unknown as { parity?: { done: boolean } }).parity?.done === true, {
      timeout: 170_000,
      polling: 500,
    });
    const p = (await page.evaluate(() => (globalThis as unknown as { parity: unknown }).parity)) as Parity;
    expect(p.error, `page error; console: ${logs.join('\n')}`).toBeUndefined();
    const failures = p.results.filter((r) => !r.ok).map((r) => `${r.name}: ${r.error}`);
    expect(failures).toEqual([]);
    expect(p.failed).toBe(0);
    expect(p.passed).toBeGreaterThan(80);
    // the adapter's real capabilities decide the designs: SwiftShader has subgroups of 4, Firefox none
    const caps = p.caps;
    expect(caps.software).toBe(true);
    if (spec.name === 'chromium') expect([caps.subgroupMinSize, p.variants]).toEqual([4, ['lanes w4', 'lanes w1']]);
    else expect([caps.subgroups, caps.subgroupMinSize, p.variants]).toEqual([false, 0, ['tiled', 'lanes w1']]);
    const slowest = [...p.results].sort((a, b) => b.ms - a.ms).slice(0, 3).map((r) => `${r.name} ${r.ms} ms`);
    console.log(`[${spec.name}] ${p.adapter}: ${p.passed} passed, ${p.failed} failed; designs ${p.variants.join(', ')}; slowest: ${slowest.join('; ')}`);
  }, 180_000);
});
