// Where kernel autotuning keeps its picks, and their file format. The core keeps no files: a
// `TuningStore` is passed to `init({ tuningStore })` (the Node entry passes one that writes
// ~/.cache/webgpu-tensor/<adapter-id>.json, see src/node/tuning_files.ts).

/**
 * Kernel autotuning (see `wt.tuning`):
 * - 'persist': time the candidates of a (kernel family, shape class) on its first use, keep the
 *   fastest, and save the picks per adapter in the tuning store (read back at the next start);
 * - 'memory': the same, kept in memory only (nothing read or written);
 * - 'off': the built-in defaults, no timing.
 */
export type AutotuneMode = 'off' | 'memory' | 'persist';

/** Text storage for the picks of one adapter, keyed by the adapter id. Synchronous: it is read once
 * per process and written after a tuning pass. */
export interface TuningStore {
  /** The text saved for this adapter, or null when there is none. */
  read(adapterId: string): string | null;
  /** Replace the text saved for this adapter. */
  write(adapterId: string, text: string): void;
  /** Where the picks of this adapter are kept (for messages), e.g. a file path. */
  describe(adapterId: string): string;
}

/** A store in a Map (for tests and for environments without files). */
export function memoryTuningStore(): TuningStore & { readonly texts: Map<string, string> } {
  const texts = new Map<string, string>();
  return {
    texts,
    read: (id) => texts.get(id) ?? null,
    write: (id, text) => void texts.set(id, text),
    describe: (id) => `memory:${id}`,
  };
}

/** Bumped when the meaning of saved picks changes; files of another format are ignored. */
export const TUNING_FORMAT = 1;

/** One tuned (family, shape class). */
export interface SavedPick {
  /** The candidate picked. */
  pick: string;
  /** The built-in default when it was tuned. */
  default: string;
  /** ms per run of each candidate timed, the fastest of its samples (null: it failed). */
  ms: Record<string, number | null>;
  /** The shape it was timed on (the first of its class seen). */
  shape: string;
  /** Some candidates are not timed yet (a process's budget ran out): `pick` is the default until a
   * later process times the rest. */
  partial?: boolean;
}

/** The file: picks by family, then by shape class. */
export interface TuningFile {
  format: number;
  adapter: string;
  picks: Record<string, Record<string, SavedPick>>;
}

/** Parse and check a saved file; throws a short reason when it is not one. */
export function parseTuningFile(text: string): TuningFile {
  let j: unknown;
  try {
    j = JSON.parse(text);
  } catch (e) {
    throw new Error(`not JSON (${(e as Error).message})`);
  }
  const obj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
  if (!obj(j)) throw new Error('not a JSON object');
  if (j.format !== TUNING_FORMAT) throw new Error(`format ${JSON.stringify(j.format)}, expected ${TUNING_FORMAT}`);
  if (typeof j.adapter !== 'string') throw new Error('no adapter name');
  if (!obj(j.picks)) throw new Error('no picks object');
  for (const [fam, classes] of Object.entries(j.picks)) {
    if (!obj(classes)) throw new Error(`picks.${fam} is not an object`);
    for (const [cls, p] of Object.entries(classes)) {
      if (!obj(p) || typeof p.pick !== 'string' || typeof p.default !== 'string' || !obj(p.ms) || typeof p.shape !== 'string')
        throw new Error(`picks.${fam}["${cls}"] is not { pick, default, ms, shape }`);
      if (p.partial !== undefined && typeof p.partial !== 'boolean') throw new Error(`picks.${fam}["${cls}"].partial is not a boolean`);
      for (const v of Object.values(p.ms))
        if (v !== null && typeof v !== 'number') throw new Error(`picks.${fam}["${cls}"].ms holds a non-number`);
    }
  }
  return j as unknown as TuningFile;
}
