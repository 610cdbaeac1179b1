#!/usr/bin/env node
// The browser bundle: the core (src/index.ts) as one minified ES module with a source map,
// dist/browser/webgpu-tensor.js (`import * as wt from './webgpu-tensor.js'` in a page). esbuild,
// platform 'browser', no Node polyfills: the build fails when the bundle reaches a `node:` import,
// a Node built-in, the `webgpu` package (Dawn) or a reference to the globals `process` or `Buffer`.
// CommonJS dependencies are fine: esbuild bundles their `require` calls (protobufjs's optional
// `inquire` keeps a guarded dynamic require that returns null in a browser).
// Also exported for the demo and the browser tests: `bundle(options)` with the same checks.
//   node scripts/build-browser.mjs [--out dist/browser] [--quiet]
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Node-only globals a browser does not have; each free reference is renamed (esbuild `define`) to a
 * marker the output is searched for. `typeof process` checks count too: the core needs none. */
const NODE_GLOBALS = ['process', 'Buffer'];
const MARK = '__wt_node_global_';
const BUILTINS = new Set(builtinModules);

/** esbuild plugin: any import of a Node built-in or of Dawn's `webgpu` package fails the build, naming the importer. */
const noNodePlugin = {
  name: 'no-node',
  setup(b) {
    b.onResolve({ filter: /.*/ }, (args) => {
      const p = args.path;
      const bare = p.startsWith('node:') ? p.slice(5) : p;
      const isBuiltin = p.startsWith('node:') || BUILTINS.has(bare) || BUILTINS.has(bare.split('/')[0]);
      if (!isBuiltin && p !== 'webgpu') return undefined;
      const from = args.importer ? relative(ROOT, args.importer) : '(entry)';
      return { errors: [{ text: `browser bundle: ${from} imports '${p}' (${isBuiltin ? 'a Node built-in' : "Dawn, Node only"})` }] };
    });
  },
};

/**
 * Bundle `entry` for browsers with the checks above. Options: outfile (written when given, else
 * returned in memory), minify (default true), sourcemap (default true when writing).
 * Returns { text, bytes } of the JavaScript.
 */
export async function bundle({ entry, outfile, minify = true, sourcemap, define = {} }) {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify,
    sourcemap: sourcemap ?? !!outfile,
    outfile,
    write: !!outfile,
    metafile: false,
    logLevel: 'silent',
    legalComments: 'none',
    conditions: ['source'],
    define: { ...Object.fromEntries(NODE_GLOBALS.map((g) => [g, MARK + g])), ...define },
    plugins: [noNodePlugin],
  }).catch((e) => {
    const msgs = (e.errors ?? []).map((m) => `${m.location ? `${m.location.file}:${m.location.line}: ` : ''}${m.text}`);
    throw new Error(`browser bundle of ${relative(ROOT, entry)} failed:\n  ${msgs.join('\n  ') || e.message}`);
  });
  const js = r.outputFiles?.find((f) => !f.path.endsWith('.map'));
  const text = js ? js.text : (await import('node:fs')).readFileSync(outfile, 'utf8');
  const hits = NODE_GLOBALS.filter((g) => text.includes(MARK + g));
  if (hits.length)
    throw new Error(
      `browser bundle of ${relative(ROOT, entry)}: the bundle references the Node global(s) ${hits.join(', ')} ` +
        `(search the sources reachable from it for ${hits.map((h) => `'${h}'`).join(', ')})`,
    );
  return { text, bytes: Buffer.byteLength(text) };
}

async function main() {
  const args = process.argv.slice(2);
  const outDir = args.includes('--out') ? args[args.indexOf('--out') + 1] : join(ROOT, 'dist', 'browser');
  const outfile = join(outDir, 'webgpu-tensor.js');
  const { bytes } = await bundle({ entry: join(ROOT, 'src', 'index.ts'), outfile });
  const { gzipSync } = await import('node:zlib');
  const { readFileSync } = await import('node:fs');
  const gz = gzipSync(readFileSync(outfile)).length;
  if (!args.includes('--quiet'))
    console.log(
      `browser bundle: ${relative(process.cwd(), outfile)} ${(bytes / 1024).toFixed(1)} KiB (${(gz / 1024).toFixed(1)} KiB gzipped), ` +
        `source map ${(statSync(outfile + '.map').size / 1024).toFixed(0)} KiB`,
    );
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}
