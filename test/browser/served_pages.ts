// What the browser tests serve: the demo (examples/browser, bundled as `npm run demo` does) and the
// kernel parity page (test/browser/pages), in one temporary folder on 127.0.0.1, with the
// Fashion-MNIST files under /data/.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
// @ts-expect-error plain JavaScript module without types
import { buildDemo, findDataDir, startServer } from '../../examples/browser/serve.mjs';
// @ts-expect-error plain JavaScript module without types
import { bundle } from '../../scripts/build-browser.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');

export interface Served {
  /** Base URL, ending in '/'. */
  url: string;
  close(): Promise<void>;
}

/** Build the demo and the parity page into a temporary folder and serve it; `close` removes it. */
export async function servePages(): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'wt-browser-'));
  await buildDemo({ outDir: dir });
  await bundle({ entry: join(root, 'test/browser/pages/kernel_parity_page.ts'), outfile: join(dir, 'parity.js') });
  writeFileSync(join(dir, 'parity.html'), '<!doctype html><meta charset="utf-8"><link rel="icon" href="data:,"><title>kernel parity</title><script type="module" src="parity.js"></script>\n');
  const dataDir = findDataDir();
  if (!dataDir) throw new Error('browser tests: no Fashion-MNIST folder (FASHION_MNIST_DIR, ./data/fashion-mnist, /usr/share/datasets/fashion-mnist); run `node scripts/provision.mjs`');
  const srv = await startServer({ root: dir, dataDir, port: 0 });
  return {
    url: srv.url,
    close: async () => {
      await srv.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
