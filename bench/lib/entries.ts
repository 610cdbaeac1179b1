// Loads every bench/entries/*.ts at run time (files added later are picked up without edits).
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BenchEntry } from '../harness.ts';
import { REPO_ROOT } from './peak_measure.ts';

export interface LoadedEntry extends BenchEntry {
  /** The entries file it came from, e.g. 'core'. */
  file: string;
}

export async function loadEntries(small: boolean, warn: (s: string) => void = console.warn): Promise<LoadedEntry[]> {
  const dir = resolve(REPO_ROOT, 'bench/entries');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'))
    .sort();
  const out: LoadedEntry[] = [];
  for (const f of files) {
    const file = f.replace(/\.ts$/, '');
    try {
      const mod = (await import(pathToFileURL(resolve(dir, f)).href)) as { entries?: (small: boolean) => BenchEntry[] };
      if (typeof mod.entries !== 'function') {
        warn(`bench/entries/${f}: exports no entries(small) function; skipped`);
        continue;
      }
      for (const e of mod.entries(small)) out.push({ ...e, setup: e.setup.bind(e), file });
    } catch (e) {
      warn(`bench/entries/${f}: failed to load: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  return out;
}
