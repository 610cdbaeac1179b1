#!/usr/bin/env node
// The browser demo: bundles examples/browser/main.ts (with the library's TypeScript sources) into a
// served folder and serves it on 127.0.0.1 with node:http, plus the Fashion-MNIST files under /data/.
//   npm run demo [-- --port 8080] [--out out/browser-demo] [--no-build]
// Data folder: $FASHION_MNIST_DIR, ./data/fashion-mnist or /usr/share/datasets/fashion-mnist (the
// four *-ubyte.gz files; Debian's dataset-fashion-mnist). Exports `buildDemo` and `startServer`
// for the browser tests.
import { copyFileSync, createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundle, ROOT } from '../../scripts/build-browser.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
export const DEFAULT_OUT = join(ROOT, 'out', 'browser-demo');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.gz': 'application/gzip',
  '.safetensors': 'application/octet-stream',
};

const IDX = ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'];

/** The first folder holding the four .gz files, or null. */
export function findDataDir() {
  const dirs = [process.env.FASHION_MNIST_DIR, join(ROOT, 'data', 'fashion-mnist'), '/usr/share/datasets/fashion-mnist'];
  return dirs.filter(Boolean).find((d) => IDX.every((f) => existsSync(join(d, `${f}.gz`)))) ?? null;
}

/** Bundle main.ts into `outDir` (main.js + source map) next to a copy of index.html. */
export async function buildDemo({ outDir = DEFAULT_OUT, minify = true } = {}) {
  mkdirSync(outDir, { recursive: true });
  copyFileSync(join(HERE, 'index.html'), join(outDir, 'index.html'));
  return bundle({ entry: join(HERE, 'main.ts'), outfile: join(outDir, 'main.js'), minify });
}

/** A file under `base` for a URL path below it, or null (no '..' escapes, no directories). */
function resolveUnder(base, urlPath) {
  let rel;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  const p = normalize(join(base, rel));
  if (p !== base && !p.startsWith(base.endsWith(sep) ? base : base + sep)) return null;
  try {
    return statSync(p).isFile() ? p : null;
  } catch {
    return null;
  }
}

/**
 * Serve `root` at / and `dataDir` at /data/ on host:port (port 0 = any free one). Resolves with
 * { url, port, close() }.
 */
export function startServer({ root = DEFAULT_OUT, dataDir = findDataDir(), port = 8080, host = '127.0.0.1', quiet = true } = {}) {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    let path = url.pathname;
    if (path.endsWith('/')) path += 'index.html';
    const file = path.startsWith('/data/') ? (dataDir ? resolveUnder(dataDir, path.slice(6)) : null) : resolveUnder(root, path.slice(1));
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405).end();
      return;
    }
    if (!file) {
      const why = path.startsWith('/data/') && !dataDir ? ' (no Fashion-MNIST folder: set FASHION_MNIST_DIR or apt-get install dataset-fashion-mnist)' : '';
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${path}${why}\n`);
      return;
    }
    if (!quiet) console.log(`${req.method} ${path}`);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-length': statSync(file).size,
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file).pipe(res);
  });
  return new Promise((resolveP, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const actual = server.address().port;
      resolveP({
        url: `http://${host}:${actual}/`,
        port: actual,
        close: () => new Promise((r) => server.close(() => r())),
      });
    });
  });
}

async function main() {
  const args = process.argv.slice(2);
  const flag = (name, dflt) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
  if (args.includes('--help')) {
    console.log('usage: node examples/browser/serve.mjs [--port 8080] [--out DIR] [--no-build] [--verbose]');
    return;
  }
  const port = Number(flag('--port', '8080'));
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be an integer in 0..65535, got ${flag('--port')}`);
  const outDir = flag('--out', DEFAULT_OUT);
  if (!args.includes('--no-build')) {
    const { bytes } = await buildDemo({ outDir });
    console.log(`built ${relative(process.cwd(), join(outDir, 'main.js'))} (${(bytes / 1024).toFixed(0)} KiB)`);
  }
  const dataDir = findDataDir();
  if (!dataDir)
    console.warn(
      'warning: no Fashion-MNIST folder found (FASHION_MNIST_DIR, ./data/fashion-mnist, /usr/share/datasets/fashion-mnist): ' +
        'the page cannot load data. `sudo apt-get install dataset-fashion-mnist` on Debian/Ubuntu.',
    );
  const { url } = await startServer({ root: outDir, dataDir, port, quiet: !args.includes('--verbose') });
  console.log(`serving the demo at ${url} (data: ${dataDir ?? 'none'}); Ctrl-C stops`);
  console.log('  needs WebGPU: Chrome / Edge (without a GPU: --enable-unsafe-webgpu), Firefox with dom.webgpu.enabled, Safari 26');
  console.log(`  ${url}?steps=200&auto=1 trains 200 steps on load`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e.message ?? e);
    process.exit(1);
  });
}
