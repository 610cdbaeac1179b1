// The browser bundle build (scripts/build-browser.mjs, part of `npm run build`): the core bundles for
// platform 'browser' without Node polyfills, and the build fails, naming the importer, when the
// bundle would reach a Node built-in, Dawn's `webgpu` package or the globals process / Buffer.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript module without types
import { bundle } from '../../scripts/build-browser.mjs';

const root = resolve(dirname(new URL(import.meta.url).pathname), '../..');
const tmp = mkdtempSync(join(tmpdir(), 'wt-bundle-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const entry = (name: string, code: string) => {
  const f = join(tmp, name);
  writeFileSync(f, code);
  return f;
};

describe('browser bundle', () => {
  it('bundles the core (src/index.ts) minified, without Node built-ins or globals', async () => {
    const { text, bytes } = await bundle({ entry: join(root, 'src/index.ts') });
    expect(bytes).toBeGreaterThan(100_000);
    expect(bytes).toBeLessThan(1_000_000);
    expect(text).not.toMatch(/\bfrom\s*["']node:|require\(["']/);
    expect(text).toMatch(/navigator/);
    // an ES module exporting the API by name
    expect(text).toMatch(/export\s*\{[^}]*\binit\b/);
  }, 60_000);

  it.each([
    ['a node: import', "import { readFileSync } from 'node:fs';\nexport const f = readFileSync;\n", /imports 'node:fs' \(a Node built-in\)/],
    ['a bare built-in', "import * as path from 'path';\nexport const j = path.join;\n", /imports 'path' \(a Node built-in\)/],
    ['Dawn', "import { create } from 'webgpu';\nexport const c = create;\n", /imports 'webgpu'/],
    ['process', 'export const debug = process.env.DEBUG;\n', /references the Node global\(s\) process/],
    ['Buffer', "export const b = (s) => Buffer.from(s, 'base64');\n", /references the Node global\(s\) Buffer/],
  ])('fails on %s', async (what, code, message) => {
    await expect(bundle({ entry: entry(`${what.replace(/\W+/g, '_')}.mjs`, code) })).rejects.toThrow(message);
  });

  it('passes code that mentions process only where it is unreachable or a local name', async () => {
    const code = "const process = { env: {} };\nexport const x = process.env;\nfunction unused() { return Buffer.alloc(1); }\n";
    await expect(bundle({ entry: entry('local.mjs', code) })).resolves.toMatchObject({ bytes: expect.any(Number) });
  });
});
