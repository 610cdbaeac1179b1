// Autotuning picks on disk for the Node entry: one JSON file per adapter under
// $WT_TUNING_DIR, else $XDG_CACHE_HOME/webgpu-tensor, else ~/.cache/webgpu-tensor, written
// atomically (a temporary file renamed over it), so concurrent processes never read half a file.
// WT_AUTOTUNE=persist|memory|off sets the mode when init() is not given one.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { InitOptions } from '../backend/device.ts';
import type { AutotuneMode, TuningStore } from '../backend/tuning_store.ts';

/** The directory of the picks files (see the file comment). */
export function defaultTuningDir(): string {
  const env = process.env;
  if (env.WT_TUNING_DIR) return env.WT_TUNING_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'webgpu-tensor');
}

/** A store of `<dir>/<adapter-id>.json` files. */
export function fileTuningStore(dir: string = defaultTuningDir()): TuningStore {
  const file = (id: string) => join(dir, `${id}.json`);
  return {
    describe: file,
    read(id) {
      try {
        return readFileSync(file(id), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    write(id, text) {
      mkdirSync(dir, { recursive: true });
      const tmp = `${file(id)}.${process.pid}.tmp`;
      writeFileSync(tmp, text);
      renameSync(tmp, file(id));
    },
  };
}

const MODES: readonly AutotuneMode[] = ['off', 'memory', 'persist'];

/** init() options with the Node defaults filled in: the file store, and the mode from WT_AUTOTUNE. */
export function withNodeTuning<T extends InitOptions>(o: T): T {
  const env = process.env.WT_AUTOTUNE;
  if (env !== undefined && env !== '' && !MODES.includes(env as AutotuneMode))
    throw new Error(`webgpu-tensor: WT_AUTOTUNE must be one of ${MODES.join(', ')}, got ${JSON.stringify(env)}`);
  return {
    ...o,
    autotune: o.autotune ?? ((env || undefined) as AutotuneMode | undefined),
    tuningStore: o.tuningStore ?? fileTuningStore(),
  };
}
