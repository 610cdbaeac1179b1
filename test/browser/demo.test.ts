// The browser demo (examples/browser) in real browsers, driven by puppeteer-core: Chromium
// (SwiftShader WebGPU) and Firefox (WebGPU on lavapipe). The page fetches Fashion-MNIST from the
// test server, trains LeNet for a fixed number of steps (?steps=N&auto=1), and the test checks that
// the loss fell, a test image got a prediction, and the weights survive the page's own download
// and upload buttons (safetensors through wt.saveBytes / wt.loadBytes).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'puppeteer-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BROWSERS, collectLogs, launchBrowser, missingBrowsersHelp } from './browser_launch.ts';
import { type Served, servePages } from './served_pages.ts';

/** Steps and batch: enough for the loss to fall clearly with Adam, short on SwiftShader (~190
 * examples/s there once the pipelines are compiled; the first step compiles them: ~10-20 s). */
const STEPS = 20;
const BATCH = 32;
const TEST_IMAGES = 128;

interface DemoState {
  state: string;
  adapter: string;
  history: { step: number; loss: number; acc: number }[];
  examplesPerSec: number;
  testAcc: number | null;
  prediction: { index: number; label: string; predicted: string; probability: number } | null;
  loadedWeights: number;
  error: string | null;
}

const readState = (page: Page) => page.evaluate(() => (globalThis as unknown as { demo: unknown }).demo) as Promise<DemoState>;

let served: Served;
const tmp = mkdtempSync(join(tmpdir(), 'wt-demo-test-'));
beforeAll(async () => {
  const help = missingBrowsersHelp();
  if (help) throw new Error(help);
  served = await servePages();
}, 60_000);
afterAll(async () => {
  await served?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe.each(BROWSERS)('the demo page in $name', (spec) => {
  let browser: Browser;
  let page: Page;
  let logs: string[];
  beforeAll(async () => {
    browser = await launchBrowser(spec);
    page = await browser.newPage();
    logs = collectLogs(page);
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
  });

  it(`trains LeNet for ${STEPS} steps: the loss falls and a test image gets a prediction`, async () => {
    await page.goto(`${served.url}?steps=${STEPS}&batch=${BATCH}&test=${TEST_IMAGES}&auto=1`);
    await page
      .waitForFunction(() => ['done', 'error'].includes((globalThis as unknown as { demo?: { state: string } }).demo?.state ?? ''), {
        timeout: 150_000,
        polling: 250,
      })
      .catch(async (e) => {
        throw new Error(`${e.message}; page state: ${JSON.stringify(await readState(page))}; console: ${logs.join('\n')}`);
      });
    const d = await readState(page);
    expect(d.error, `page error; console: ${logs.join('\n')}`).toBeNull();
    expect(d.state).toBe('done');
    expect(d.history.map((h) => h.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const first = mean(d.history.slice(0, 3).map((h) => h.loss));
    const last = mean(d.history.slice(-3).map((h) => h.loss));
    expect(first).toBeGreaterThan(2); // 10 classes from scratch: ~ln 10
    expect(last).toBeLessThan(0.85 * first);
    expect(d.examplesPerSec).toBeGreaterThan(0);
    expect(d.adapter).toMatch(/invocations per workgroup/);
    expect(d.testAcc).toBeGreaterThan(0.2); // above chance (0.1) after the steps
    expect(d.prediction).not.toBeNull();
    const text = await page.$eval('#prediction', (e) => e.textContent ?? '');
    expect(text).toContain(`predicted ${d.prediction!.predicted}`);
    expect(text).toContain(`true class ${d.prediction!.label}`);
    const chartPainted = await page.$eval('#chart', (c) => {
      // (runs in the page; this file compiles without DOM types)
      type Canvas2d = { width: number; height: number; getContext(k: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } };
      const cv = c as unknown as Canvas2d;
      const px = cv.getContext('2d').getImageData(0, 0, cv.width, cv.height).data;
      let colored = 0;
      for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && px[i] !== px[i + 2]) colored++;
      return colored;
    });
    expect(chartPainted).toBeGreaterThan(100); // the red / blue curves
    console.log(
      `[${spec.name}] ${d.adapter}: loss ${first.toFixed(3)} -> ${last.toFixed(3)}, ` +
        `${d.examplesPerSec.toFixed(1)} examples/s (batch ${BATCH}), test acc ${d.testAcc!.toFixed(3)} on ${TEST_IMAGES}`,
    );
  }, 180_000);

  it('downloads the weights as safetensors and loads them back through the file input', async () => {
    const before = await readState(page);
    expect(before.state).toBe('done');
    // capture the download: the button builds a Blob URL and clicks an <a download>
    await page.evaluate(() => {
      type Anchor = { download: string; href: string };
      const g = globalThis as unknown as { captured?: { name: string; b64: string }; HTMLAnchorElement: { prototype: { click(): void } } };
      g.HTMLAnchorElement.prototype.click = function (this: Anchor) {
        const name = this.download;
        void fetch(this.href)
          .then((r) => r.arrayBuffer())
          .then((buf) => {
            let s = '';
            const u8 = new Uint8Array(buf);
            for (let i = 0; i < u8.length; i += 0x8000) s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
            g.captured = { name, b64: btoa(s) };
          });
      };
    });
    await page.click('#download');
    await page.waitForFunction(() => !!(globalThis as unknown as { captured?: unknown }).captured, { timeout: 30_000 });
    const { name, b64 } = (await page.evaluate(() => (globalThis as unknown as { captured: { name: string; b64: string } }).captured));
    expect(name).toMatch(/\.safetensors$/);
    const bytes = Buffer.from(b64, 'base64');
    const headerLen = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + headerLen).toString('utf8'));
    // torch.nn.Sequential's names for d2l's LeNet layout (parameters at indices 0, 3, 7, 9, 11)
    expect(Object.keys(header).filter((k) => k !== '__metadata__').sort()).toEqual(
      ['0', '3', '7', '9', '11'].flatMap((i) => [`${i}.bias`, `${i}.weight`]).sort(),
    );
    expect(header['0.weight'].shape).toEqual([6, 1, 5, 5]);
    expect(header['11.weight'].shape).toEqual([10, 84]);
    const file = join(tmp, `${spec.name}-${name}`);
    writeFileSync(file, bytes);
    // a fresh page (untrained net) loads them and then predicts what the trained page predicted
    await page.goto(`${served.url}?test=${TEST_IMAGES}`);
    await page.waitForFunction(() => (globalThis as unknown as { demo?: { state: string } }).demo?.state === 'ready', { timeout: 60_000 });
    const input = await page.$('#load');
    await (input as unknown as { uploadFile(...paths: string[]): Promise<void> }).uploadFile(file);
    await page.waitForFunction(() => (globalThis as unknown as { demo: { loadedWeights: number } }).demo.loadedWeights === 1, { timeout: 60_000 });
    const after = await readState(page);
    expect(after.error).toBeNull();
    expect(after.testAcc).toBe(before.testAcc);
    expect(after.prediction).toEqual(before.prediction);
  }, 120_000);
});
