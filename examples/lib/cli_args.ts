// A small, strict flag parser: --name value / --name=value / boolean --flag; unknown flags and bad
// values are errors that name the flag.

export interface FlagSpec {
  type: 'int' | 'float' | 'string' | 'bool';
  help: string;
  min?: number;
  max?: number;
  choices?: string[];
}

export type Parsed = Record<string, string | number | boolean | undefined>;

export function parseFlags(argv: string[], specs: Record<string, FlagSpec>): Parsed {
  const out: Parsed = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument '${a}' (flags start with --; see --help)`);
    let [name, val] = a.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    const spec = specs[name];
    if (!spec) throw new Error(`unknown flag --${name} (see --help)`);
    if (spec.type === 'bool') {
      if (val !== undefined && !['true', 'false', '1', '0'].includes(val))
        throw new Error(`--${name} takes no value or true/false, got '${val}'`);
      out[name] = val === undefined ? true : val === 'true' || val === '1';
      continue;
    }
    if (val === undefined) {
      val = argv[++i];
      if (val === undefined || val.startsWith('--')) throw new Error(`--${name} needs a value`);
    }
    if (spec.type === 'string') {
      if (spec.choices && !spec.choices.includes(val))
        throw new Error(`--${name} must be one of ${spec.choices.join(', ')}, got '${val}'`);
      out[name] = val;
      continue;
    }
    const num = Number(val);
    if (val.trim() === '' || !Number.isFinite(num)) throw new Error(`--${name} must be a number, got '${val}'`);
    if (spec.type === 'int' && !Number.isInteger(num)) throw new Error(`--${name} must be an integer, got '${val}'`);
    if (spec.min !== undefined && num < spec.min) throw new Error(`--${name} must be >= ${spec.min}, got ${num}`);
    if (spec.max !== undefined && num > spec.max) throw new Error(`--${name} must be <= ${spec.max}, got ${num}`);
    out[name] = num;
  }
  return out;
}

export function helpText(usage: string, specs: Record<string, FlagSpec>): string {
  const rows = Object.entries(specs).map(([k, s]) => {
    const arg = s.type === 'bool' ? '' : s.type === 'string' ? (s.choices ? ` <${s.choices.join('|')}>` : ' <str>') : ` <${s.type}>`;
    const left = `  --${k}${arg}`;
    return (left.length >= 30 ? `${left}  ` : left.padEnd(30)) + s.help;
  });
  return `${usage}\n\nFlags:\n${rows.join('\n')}`;
}
