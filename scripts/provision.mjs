#!/usr/bin/env node
// Provisioning for `npm run alexnet` / `npm test` / `npm run bench`, in plain Node (runs before
// `npm ci`). Idempotent and quick when everything is present:
//  1. npm packages: `npm ci` when node_modules is missing or older than package-lock.json;
//  2. a WebGPU adapter: probed through Dawn; on Debian/Ubuntu as root, installs the Vulkan loader
//     and Mesa >= 24 lavapipe (bookworm: from bookworm-backports); elsewhere prints the commands;
//  3. Fashion-MNIST: the Debian package dataset-fashion-mnist (unless a data dir already exists);
//  4. with --browsers (the browser tests, test/browser): Chromium and Firefox ESR from Debian
//     (`chromium`, `firefox-esr`) as root on Debian; elsewhere prints the command and stops.
// Flags: --no-data (skip 3), --no-adapter (skip 2: the browser demo needs no Dawn), --browsers, --quiet.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, renameSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = new Set(process.argv.slice(2));
const quiet = args.has('--quiet');
const log = (m) => quiet || console.log(`[provision] ${m}`);
const fail = (m) => {
  console.error(`[provision] ${m}`);
  process.exit(1);
};

const [major] = process.versions.node.split('.').map(Number);
if (major < 20) fail(`Node.js >= 20 is required, this is ${process.version}. Install Node 20+ (e.g. from nodesource) and rerun.`);

// ---------- 1. npm packages ----------
function lockHash() {
  const lock = join(root, 'package-lock.json');
  const pkg = readFileSync(join(root, 'package.json'));
  const h = createHash('sha256').update(pkg);
  if (existsSync(lock)) h.update(readFileSync(lock));
  return h.digest('hex');
}
const stamp = join(root, 'node_modules', '.provision-stamp');
const want = lockHash();
if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== want || !existsSync(join(root, 'node_modules', 'webgpu'))) {
  const cmd = existsSync(join(root, 'package-lock.json')) ? ['ci', '--no-audit', '--no-fund'] : ['install', '--no-audit', '--no-fund'];
  log(`installing npm packages (npm ${cmd[0]}) ...`);
  // onnxruntime-node (the ONNX export tests) bundles its CPU binaries; its postinstall would also
  // fetch CUDA binaries from outside the npm registry, which nothing here uses. puppeteer-core
  // (the browser tests) drives the system browsers: no browser download either.
  const env = { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', PUPPETEER_SKIP_DOWNLOAD: '1' };
  const r = spawnSync('npm', cmd, { cwd: root, env, stdio: quiet ? 'ignore' : 'inherit' });
  if (r.status !== 0) fail(`'npm ${cmd.join(' ')}' failed (exit ${r.status}); fix the error above and rerun.`);
  writeFileSync(stamp + '.tmp', want);
  renameSync(stamp + '.tmp', stamp);
}

// ---------- 2. WebGPU adapter ----------
const PROBE = `
process.env.XDG_RUNTIME_DIR ||= '/tmp';
const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);
const a = await create([]).requestAdapter();
if (!a) { console.log('NO_ADAPTER'); process.exit(3); }
console.log('ADAPTER ' + [a.info.vendor, a.info.device, a.info.description].filter(Boolean).join(' | '));
process.exit(0);`;

function probe() {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', PROBE], {
    cwd: root,
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR || '/tmp' },
  });
  const line = (r.stdout || '').split('\n').find((l) => l.startsWith('ADAPTER '));
  return line ? line.slice(8) : null;
}

function osRelease() {
  try {
    const t = readFileSync('/etc/os-release', 'utf8');
    return Object.fromEntries(
      t.split('\n').filter((l) => l.includes('=')).map((l) => {
        const i = l.indexOf('=');
        return [l.slice(0, i), l.slice(i + 1).replace(/^"|"$/g, '')];
      }),
    );
  } catch {
    return {};
  }
}

const os = osRelease();
const isDebian = os.ID === 'debian';
const isUbuntu = os.ID === 'ubuntu';
const codename = os.VERSION_CODENAME || '';
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function aptCommands(pkgs) {
  const cmds = [];
  if (isDebian && codename === 'bookworm' && pkgs.some((p) => p.startsWith('mesa'))) {
    cmds.push(`echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/bookworm-backports.list`);
    cmds.push('apt-get update');
    cmds.push(`DEBIAN_FRONTEND=noninteractive apt-get install -y -t bookworm-backports ${pkgs.join(' ')}`);
  } else {
    cmds.push('apt-get update');
    cmds.push(`DEBIAN_FRONTEND=noninteractive apt-get install -y ${pkgs.join(' ')}`);
  }
  return cmds;
}

function runAll(cmds) {
  for (const c of cmds) {
    log(`$ ${c}`);
    const r = spawnSync('sh', ['-c', c], { stdio: quiet ? 'ignore' : 'inherit' });
    if (r.status !== 0) fail(`command failed (exit ${r.status}): ${c}`);
  }
}

function backportsConfigured() {
  try {
    const out = execFileSync('sh', ['-c', 'grep -rhs bookworm-backports /etc/apt/sources.list /etc/apt/sources.list.d/ || true'], { encoding: 'utf8' });
    return out.trim().length > 0;
  } catch {
    return false;
  }
}

let adapter = args.has('--no-adapter') ? 'not probed (--no-adapter)' : probe();
if (!adapter) {
  const pkgs = ['libvulkan1', 'mesa-vulkan-drivers'];
  if ((isDebian || isUbuntu) && isRoot) {
    log('no WebGPU adapter found: installing the Vulkan loader and Mesa lavapipe ...');
    let cmds = aptCommands(pkgs);
    if (backportsConfigured()) cmds = cmds.filter((c) => !c.startsWith('echo'));
    runAll(cmds);
    adapter = probe();
    if (!adapter)
      fail(
        'still no WebGPU adapter after installing Mesa. Dawn needs Mesa >= 24 (bookworm: from bookworm-backports; ' +
          "Mesa 22 is refused). Check 'apt-cache policy mesa-vulkan-drivers' and 'vulkaninfo --summary'.",
      );
  } else {
    const how = isDebian || isUbuntu ? aptCommands(pkgs).map((c) => `  sudo sh -c '${c.replace(/'/g, "'\\''")}'`).join('\n') : '';
    fail(
      'no WebGPU adapter found. Dawn needs a Vulkan driver: a GPU vendor driver, or Mesa >= 24 lavapipe on CPU-only Linux.\n' +
        (how
          ? `Run as root:\n${how}\nthen rerun this command.`
          : 'Install the Vulkan loader (libvulkan1) and a Vulkan driver (Mesa >= 24 mesa-vulkan-drivers on Linux) and rerun.'),
    );
  }
}
log(`WebGPU adapter: ${adapter}`);

// ---------- 3. Fashion-MNIST ----------
if (!args.has('--no-data')) {
  const dirs = [process.env.FASHION_MNIST_DIR, join(root, 'data', 'fashion-mnist'), '/usr/share/datasets/fashion-mnist'].filter(Boolean);
  const has = (d) =>
    ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte'].every(
      (f) => existsSync(join(d, f + '.gz')) || existsSync(join(d, f)),
    );
  if (!dirs.some(has)) {
    if ((isDebian || isUbuntu) && isRoot) {
      log('Fashion-MNIST not found: installing the Debian package dataset-fashion-mnist ...');
      const r = spawnSync('sh', ['-c', 'DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist || (apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y dataset-fashion-mnist)'], {
        stdio: quiet ? 'ignore' : 'inherit',
      });
      if (r.status !== 0) log('could not install dataset-fashion-mnist; the training script will try to download the files instead.');
    } else {
      log(
        'Fashion-MNIST not found. Install it with `sudo apt-get install dataset-fashion-mnist`, or put the four ' +
          '*-ubyte.gz files in ./data/fashion-mnist (or set FASHION_MNIST_DIR); examples/alexnet.ts can also download them.',
      );
    }
  }
}

// ---------- 4. browsers for the browser tests ----------
// The paths test/browser/browser_launch.ts launches (CHROMIUM_PATH / FIREFOX_PATH override them).
if (args.has('--browsers')) {
  const browsers = [
    { pkg: 'chromium', path: process.env.CHROMIUM_PATH || '/usr/lib/chromium/chromium' },
    { pkg: 'firefox-esr', path: process.env.FIREFOX_PATH || '/usr/bin/firefox-esr' },
  ];
  const missing = browsers.filter((b) => !existsSync(b.path));
  if (missing.length) {
    const pkgs = missing.map((b) => b.pkg).join(' ');
    const cmd = `DEBIAN_FRONTEND=noninteractive apt-get install -y ${pkgs}`;
    if (isDebian && isRoot) {
      log(`installing ${pkgs} for the browser tests (a few minutes) ...`);
      const r = spawnSync('sh', ['-c', `${cmd} || (apt-get update && ${cmd})`], { stdio: quiet ? 'ignore' : 'inherit' });
      if (r.status !== 0) fail(`'${cmd}' failed (exit ${r.status}); fix the error above and rerun.`);
      const still = missing.filter((b) => !existsSync(b.path));
      if (still.length) fail(`installed ${pkgs} but ${still.map((b) => b.path).join(' and ')} is still missing.`);
    } else {
      fail(
        `the browser tests need ${missing.map((b) => `${b.pkg} (${b.path})`).join(' and ')}. ` +
          (isDebian
            ? `Install them as root:\n  sudo sh -c 'apt-get update && ${cmd}'\nthen rerun.`
            : 'Install Chromium and Firefox and point CHROMIUM_PATH / FIREFOX_PATH at their binaries, then rerun.') +
          " To run the other tests without them: npx vitest run --exclude 'test/browser/**'.",
      );
    }
  }
  log(`browsers: ${browsers.map((b) => b.path).join(', ')}`);
}
