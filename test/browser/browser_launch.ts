// The two browsers the browser tests drive with puppeteer-core, from the system packages (no browser
// download): Debian's chromium (SwiftShader WebGPU without a GPU) and firefox-esr (WebGPU on the
// system Vulkan driver, lavapipe without a GPU). scripts/provision.mjs --browsers installs them.
import { existsSync } from 'node:fs';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

export interface BrowserSpec {
  name: 'chromium' | 'firefox';
  executablePath: string;
}

export const BROWSERS: BrowserSpec[] = [
  { name: 'chromium', executablePath: process.env.CHROMIUM_PATH ?? '/usr/lib/chromium/chromium' },
  { name: 'firefox', executablePath: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr' },
];

/** The command that installs the missing browsers (for the failure message). */
export function missingBrowsersHelp(): string | null {
  const missing = BROWSERS.filter((b) => !existsSync(b.executablePath));
  if (!missing.length) return null;
  return (
    `browser tests: ${missing.map((b) => b.executablePath).join(' and ')} not found. ` +
    'Install them with `node scripts/provision.mjs --browsers` (root on Debian/Ubuntu: apt-get install -y chromium firefox-esr).'
  );
}

/** Launch one headless browser with WebGPU enabled. */
export async function launchBrowser(b: BrowserSpec): Promise<Browser> {
  process.env.XDG_RUNTIME_DIR ??= '/tmp';
  if (b.name === 'chromium')
    return puppeteer.launch({
      executablePath: b.executablePath,
      headless: true,
      // Without --enable-unsafe-webgpu Chromium offers no adapter on a machine without a GPU (CPU
      // adapters are blocklisted); as root it refuses to start without --no-sandbox.
      args: ['--headless=new', '--no-sandbox', '--enable-unsafe-webgpu', '--disable-dev-shm-usage'],
      protocolTimeout: 180_000,
    });
  return puppeteer.launch({
    browser: 'firefox',
    executablePath: b.executablePath,
    headless: true,
    extraPrefsFirefox: { 'dom.webgpu.enabled': true, 'gfx.webgpu.ignore-blocklist': true },
    protocolTimeout: 180_000,
  });
}

/** Console errors and page errors of a page, for failure messages. */
export function collectLogs(page: Page): string[] {
  const logs: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warn') logs.push(`${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => logs.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
  return logs;
}
