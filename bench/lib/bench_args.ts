// Tiny argv parser for the bench scripts: `--name value`, `--name=value`, boolean `--flag`.

export interface ArgSpec {
  /** Flags that take a value. */
  values?: string[];
  /** Flags that are booleans. */
  flags?: string[];
}

export interface Args {
  values: Map<string, string>;
  flags: Set<string>;
  /** Value of `--name`, or `def`. */
  str(name: string, def?: string): string | undefined;
  /** Integer value of `--name`, or `def`; throws on a non-integer. */
  int(name: string, def?: number): number | undefined;
  has(name: string): boolean;
}

export function parseArgs(argv: string[], spec: ArgSpec, usage: string): Args {
  const values = new Map<string, string>();
  const flags = new Set<string>();
  const vset = new Set(spec.values ?? []);
  const fset = new Set([...(spec.flags ?? []), 'help']);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}'\n${usage}`);
    const eq = a.indexOf('=');
    const name = a.slice(2, eq >= 0 ? eq : undefined);
    if (vset.has(name)) {
      const v = eq >= 0 ? a.slice(eq + 1) : argv[++i];
      if (v === undefined) throw new Error(`--${name} needs a value\n${usage}`);
      values.set(name, v);
    } else if (fset.has(name)) {
      if (eq >= 0) throw new Error(`--${name} takes no value\n${usage}`);
      flags.add(name);
    } else throw new Error(`unknown option --${name}\n${usage}`);
  }
  if (flags.has('help')) {
    console.log(usage);
    process.exit(0);
  }
  return {
    values,
    flags,
    str: (n, d) => values.get(n) ?? d,
    int: (n, d) => {
      const v = values.get(n);
      if (v === undefined) return d;
      const x = Number(v);
      if (!Number.isInteger(x) || x < 0) throw new Error(`--${n} expects a non-negative integer, got '${v}'`);
      return x;
    },
    has: (n) => flags.has(n),
  };
}

/** Match a name against a --filter: a /regex/ if it parses as one, else a case-insensitive substring. */
export function makeFilter(pattern: string | undefined): (name: string) => boolean {
  if (!pattern) return () => true;
  let re: RegExp | null = null;
  const m = /^\/(.*)\/([a-z]*)$/.exec(pattern);
  try {
    re = m ? new RegExp(m[1], m[2]) : new RegExp(pattern, 'i');
  } catch {
    re = null;
  }
  const low = pattern.toLowerCase();
  return (name) => name.toLowerCase().includes(low) || (re !== null && re.test(name));
}
