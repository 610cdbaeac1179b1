// The packed tarball as a user gets it: `npm pack` (which builds dist/ through prepack), unpacked into
// a fresh project's node_modules the way npm installs it, with its dependencies (`webgpu`,
// `@webgpu/types`) linked from this checkout so no registry is needed (`npm install --offline`
// needs the packuments, which the npm cache does not hold after `npm ci`). Then plain `node` trains a
// tiny model on the GPU and saves / loads its weights, and TypeScript consumers with node16 and with
// bundler resolution import it with full types.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const tmp = mkdtempSync(join(tmpdir(), 'wt-package-'));
const app = join(tmp, 'app');
let packed: { files: string[]; pkg: { dependencies?: Record<string, string>; exports?: unknown } };

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env): SpawnSyncReturns<string> {
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.status}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

function listFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? listFiles(join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`],
  );
}

beforeAll(() => {
  run('npm', ['pack', '--pack-destination', tmp, '--silent'], root);
  const tarball = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack left no tarball in ${tmp}`);
  const dest = join(app, 'node_modules', 'webgpu-tensor');
  mkdirSync(dest, { recursive: true });
  run('tar', ['-xzf', join(tmp, tarball), '-C', dest, '--strip-components=1'], tmp);
  const pkg = JSON.parse(readFileSync(join(dest, 'package.json'), 'utf8'));
  packed = { files: listFiles(dest), pkg };
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    mkdirSync(dirname(join(app, 'node_modules', dep)), { recursive: true });
    symlinkSync(join(root, 'node_modules', dep), join(app, 'node_modules', dep), 'dir');
  }
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
}, 180_000);
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const APP = `
import * as wt from 'webgpu-tensor';
import * as core from 'webgpu-tensor/core';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const info = await wt.init();
if (core.Tensor !== wt.Tensor) throw new Error('the Node entry and the core are separate copies');
wt.manualSeed(0);
// 3 classes separated by a fixed linear map of 4 features
const n = 64;
const x = wt.rand([n, 4], { low: -1, high: 1 });
const xa = await x.toArray();
const labels = new Int32Array(n);
for (let i = 0; i < n; i++) {
  const s = [xa[4 * i] + xa[4 * i + 1], xa[4 * i + 2] - xa[4 * i], xa[4 * i + 3]];
  labels[i] = s.indexOf(Math.max(...s));
}
const y = wt.tensor(labels, [n], { dtype: 'int32' });
const net = new wt.nn.Sequential(new wt.nn.Linear(4, 16), new wt.nn.ReLU(), new wt.nn.Linear(16, 3));
const opt = new wt.optim.SGD(net.parameters(), { lr: 0.5, momentum: 0.9 });
const losses = [];
for (let step = 0; step < 20; step++) {
  const loss = wt.tidy(() => {
    const l = wt.crossEntropy(net.forward(x), y);
    l.backward();
    return l;
  });
  opt.step();
  net.zeroGrad();
  losses.push(await loss.item());
  loss.dispose();
}
const out = await net.forward(x).toArray();
const dir = mkdtempSync(join(tmpdir(), 'wt-app-'));
await wt.save(net.stateDict(), join(dir, 'w.safetensors'));
const fresh = new wt.nn.Sequential(new wt.nn.Linear(4, 16), new wt.nn.ReLU(), new wt.nn.Linear(16, 3));
fresh.loadStateDict(await wt.load(join(dir, 'w.safetensors')));
const again = await fresh.forward(x).toArray();
const viaBytes = new wt.nn.Sequential(new wt.nn.Linear(4, 16), new wt.nn.ReLU(), new wt.nn.Linear(16, 3));
viaBytes.loadStateDict(wt.loadBytes(await wt.saveBytes(net.stateDict())));
const third = await viaBytes.forward(x).toArray();
const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
console.log(JSON.stringify({
  adapter: info.description || info.device, first: losses[0], last: losses.at(-1),
  fileRoundTrip: same(out, again), bytesRoundTrip: same(out, third),
  xdg: process.env.XDG_RUNTIME_DIR,
}));
`;

describe('the packed package', () => {
  it('ships dist/ and the README only, with an exports map for Node, browsers and the TypeScript sources', () => {
    const top = [...new Set(packed.files.map((f) => f.split('/')[0]))].sort();
    expect(top.filter((f) => !/^(LICENSE|README)/i.test(f))).toEqual(['dist', 'package.json']);
    expect(packed.files).toContain('README.md');
    for (const f of ['dist/index.js', 'dist/index.d.ts', 'dist/node/index.js', 'dist/node/index.d.ts', 'dist/browser/webgpu-tensor.js', 'dist/browser/webgpu-tensor.js.map'])
      expect(packed.files).toContain(f);
    expect(packed.files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))).toEqual([]);
    // the core's JavaScript loads no Node built-in and not Dawn
    const core = packed.files.filter((f) => f.endsWith('.js') && !f.startsWith('dist/node/'));
    const dir = join(app, 'node_modules', 'webgpu-tensor');
    const bad = core.filter((f) => /from\s+["'](node:|webgpu["'])/.test(readFileSync(join(dir, f), 'utf8')));
    expect(bad).toEqual([]);
    expect(Object.keys(packed.pkg.dependencies ?? {}).sort()).toEqual(['@webgpu/types', 'onnx-proto', 'webgpu']);
  });

  it("ships a ready browser bundle: 'webgpu-tensor/browser' is one ES module with the core's API", async () => {
    const dir = join(app, 'node_modules', 'webgpu-tensor');
    expect(packed.pkg).toHaveProperty(['exports', './browser', 'default'], './dist/browser/webgpu-tensor.js');
    const text = readFileSync(join(dir, 'dist/browser/webgpu-tensor.js'), 'utf8');
    expect(text).not.toMatch(/\bfrom\s*["']|\bimport\s*\(|require\(/); // self-contained
    expect(text).toMatch(/export\s*\{[^}]*\binit\b/);
  });

  it('bundles for the browser (esbuild, platform browser) from the core entry, without Node built-ins', async () => {
    const { build } = await import('esbuild');
    writeFileSync(join(app, 'browser.js'), "import * as wt from 'webgpu-tensor';\nawait wt.init({ gpu: navigator.gpu });\n");
    // esbuild fails on any `node:` import or on the `webgpu` (Dawn) package under platform 'browser'
    const r = await build({ entryPoints: [join(app, 'browser.js')], bundle: true, platform: 'browser', format: 'esm', write: false, logLevel: 'silent' });
    const text = r.outputFiles[0].text;
    expect(text).not.toMatch(/\bfrom\s*["']node:|require\(["']node:/);
    expect(text).toMatch(/navigator/);
  });

  it('plain node: trains a tiny model on the GPU, saves and loads its weights', () => {
    writeFileSync(join(app, 'app.mjs'), APP);
    const env = { ...process.env };
    delete env.XDG_RUNTIME_DIR; // the Node entry sets it
    const r = run(process.execPath, ['app.mjs'], app, env);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!);
    expect(res.last).toBeLessThan(res.first * 0.7);
    expect(res.fileRoundTrip).toBe(true);
    expect(res.bytesRoundTrip).toBe(true);
    expect(res.xdg).toBe('/tmp');
  }, 120_000);

  const TS_NODE16 = `
import * as wt from 'webgpu-tensor';
import { init, type NodeInitOptions } from 'webgpu-tensor/node';
import type { Tensor } from 'webgpu-tensor/core';
const opts: NodeInitOptions = { dawnOptions: [] };
const info: wt.DeviceInfo = await init(opts);
const soft: boolean = info.software;
const net = new wt.nn.Sequential(new wt.nn.Linear(4, 3));
const sd: Record<string, Tensor> = net.stateDict();
await wt.save(sd, 'w.safetensors');
const back: Record<string, wt.Tensor> = await wt.load('w.safetensors', { device: 'cpu' });
const bytes: Uint8Array = await wt.saveBytes(back);
const ds: Promise<wt.data.FashionMNIST> = wt.data.loadFashionMNIST({ trainLimit: 10 });
const opt = new wt.optim.SGD(net.parameters(), { lr: 0.1 });
// @ts-expect-error a shape is numbers, so the types are real (not any)
const s: string = wt.zeros([2]).shape;
export { soft, bytes, ds, opt, s };
`;
  const TS_BUNDLER = `
import * as wt from 'webgpu-tensor';
const gpu: GPU = navigator.gpu;
const info: wt.DeviceInfo = await wt.init({ gpu });
const net = new wt.nn.Sequential(new wt.nn.Linear(4, 3));
const bytes: Uint8Array = await wt.saveBytes(net.stateDict());
net.loadStateDict(wt.loadBytes(bytes));
const ds: Promise<wt.data.FashionMNIST> = wt.data.fetchFashionMNIST({ baseUrl: '/data/fashion-mnist/' });
// @ts-expect-error the browser entry has no file I/O
wt.save(net.stateDict(), 'w.safetensors');
export { info, ds };
`;

  // @webgpu/types names DOM types (BufferSource, EventInit, ...), so a consumer needs lib DOM or skipLibCheck.
  const nodeTypes = { types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] };
  for (const [name, resolution, source, extra] of [
    ['node16 (tsc --init defaults: skipLibCheck, no DOM)', 'node16', TS_NODE16, { ...nodeTypes, lib: ['ES2022'], skipLibCheck: true }],
    ['node16 (every .d.ts checked)', 'node16', TS_NODE16, { ...nodeTypes, lib: ['ES2022', 'DOM'] }],
    ['bundler (browser: every .d.ts checked, no Node types)', 'bundler', TS_BUNDLER, { types: [], lib: ['ES2022', 'DOM'] }],
  ] as const) {
    it(`a TypeScript consumer with moduleResolution ${name} type-checks against the shipped .d.ts`, () => {
      const dir = join(app, name.replace(/\W+/g, '-'));
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'main.ts'), source);
      const compilerOptions = {
        target: 'ES2022', module: resolution === 'node16' ? 'Node16' : 'ESNext', moduleResolution: resolution,
        strict: true, noEmit: true, skipLibCheck: false, ...extra,
      };
      writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['main.ts'] }, null, 2));
      run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], dir);
    }, 120_000);
  }
});
