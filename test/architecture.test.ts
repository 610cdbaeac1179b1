// The layering rules of docs/architecture.md, checked on the import statements of the source tree:
// kernels are pure (they import only the kernel core), layers point down only (so no cycle between
// tensor and autograd), bench/ and examples/ use only the package entry, and no two source files share
// a name.
import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { builtinModules } from 'node:module';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');

function files(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(root, dir))) {
    const p = join(dir, name);
    if (statSync(join(root, p)).isDirectory()) out.push(...files(p));
    else if (/\.(ts|mts|mjs|js)$/.test(name)) out.push(p);
  }
  return out;
}

/** Module specifiers of every import / export-from / dynamic import in a file (type-only included). */
function imports(file: string): string[] {
  const src = readFileSync(join(root, file), 'utf8');
  const out: string[] = [];
  for (const m of src.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"`;]*?from\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of src.matchAll(/(?:^|\n)\s*import\s*['"]([^'"]+)['"]/g)) out.push(m[1]);
  for (const m of src.matchAll(/import\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]);
  return out;
}

/** Project-relative path of a relative import, or null for a package import. */
function target(file: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  return relative(root, resolve(root, dirname(file), spec));
}

/** The floor of a source folder: an import may only point to the same floor or lower. */
const FLOOR: Record<string, number> = {
  kernels: 1, backend: 2, policy: 2, tensor: 3, autograd: 4, nn: 5, optim: 5, data: 5, io: 5, models: 6, node: 7,
};
function floorOf(p: string): number {
  const parts = p.split('/');
  if (parts[0] !== 'src') return 99;
  if (parts.length === 2) return 9; // src/index.ts and the other entry modules
  if (p === 'src/node/index.ts') return 10; // the Node entry: the core entry plus src/node
  return FLOOR[parts[1]] ?? 8;
}

const src = files('src');

describe('architecture', () => {
  it('kernels import only the kernel core (no backend, no device queries)', () => {
    const bad: string[] = [];
    for (const f of src.filter((f) => f.startsWith('src/kernels/'))) {
      for (const spec of imports(f)) {
        const t = target(f, spec);
        if (t === null || !t.startsWith('src/kernels/')) bad.push(`${f} imports ${spec}`);
      }
      if (/\b(deviceInfo|isInitialised|deviceCaps)\s*\(/.test(readFileSync(join(root, f), 'utf8'))) bad.push(`${f} queries the device`);
    }
    expect(bad).toEqual([]);
  });

  it('layers point down only (kernels < backend, policy < tensor < autograd < nn, optim, data < models)', () => {
    const bad: string[] = [];
    for (const f of src)
      for (const spec of imports(f)) {
        const t = target(f, spec);
        if (t && t.startsWith('src/') && floorOf(t) > floorOf(f)) bad.push(`${f} (floor ${floorOf(f)}) imports ${t} (floor ${floorOf(t)})`);
      }
    expect(bad).toEqual([]);
  });

  it('src/tensor never imports src/autograd, so the two cannot form a cycle', () => {
    const bad = src
      .filter((f) => f.startsWith('src/tensor/'))
      .flatMap((f) => imports(f).map((s) => [f, target(f, s)] as const))
      .filter(([, t]) => t?.startsWith('src/autograd/'));
    expect(bad).toEqual([]);
  });

  it('bench/ and examples/ import the library only by its package name', () => {
    const bad: string[] = [];
    for (const f of [...files('bench'), ...files('examples')])
      for (const spec of imports(f)) {
        const t = target(f, spec);
        // a path into src/, even to an entry module, bypasses the exports map users get
        if (t !== null && t.startsWith('src/')) bad.push(`${f} imports ${t}`);
      }
    expect(bad).toEqual([]);
  });

  it('the core runs anywhere: only src/node/ imports node: modules or webgpu (Dawn), or uses process / Buffer', () => {
    const bad: string[] = [];
    for (const f of src.filter((f) => !f.startsWith('src/node/'))) {
      for (const spec of imports(f)) if (spec.startsWith('node:') || builtinModules.includes(spec) || spec === 'webgpu' || spec.startsWith('webgpu/')) bad.push(`${f} imports ${spec}`);
      // code only: comments may name them
      const code = readFileSync(join(root, f), 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/.*$/gm, '');
      for (const m of code.matchAll(/\b(process|Buffer)\s*\.\s*\w+|\brequire\s*\(/g)) bad.push(`${f} uses ${m[0]}`);
    }
    expect(bad).toEqual([]);
  });

  it('no two source files share a name (index.ts aside)', () => {
    const seen = new Map<string, string[]>();
    for (const f of [...src, ...files('bench'), ...files('examples'), ...files('scripts'), ...files('test')]) {
      const b = basename(f);
      if (b === 'index.ts') continue;
      seen.set(b, [...(seen.get(b) ?? []), f]);
    }
    expect([...seen.values()].filter((v) => v.length > 1)).toEqual([]);
  });
});
