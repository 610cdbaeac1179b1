// Options objects of the public API: a plain object whose keys are all known. An unknown key (a
// typo, a PyTorch spelling such as 'weight_decay') is an Error naming the op, the key and the keys
// accepted, never silently ignored. Here, at the lowest floor that takes options (init, memory,
// the profiler), so every floor above shares it.

/** `opts` as a record (`{}` for undefined), after rejecting anything but a plain object whose keys
 * are all in `accepted`. */
export function checkOptions(op: string, opts: unknown, accepted: readonly string[]): Record<string, unknown> {
  if (opts === undefined) return {};
  if (opts === null || typeof opts !== 'object' || Array.isArray(opts) || !isPlain(opts))
    throw new Error(`${op}: expected an options object { ${accepted.join(', ')} }, got ${describe(opts)}`);
  for (const k of Object.keys(opts))
    if (!accepted.includes(k)) throw new Error(`${op}: unknown option '${k}' (accepted: ${accepted.join(', ') || 'none'})`);
  return opts as Record<string, unknown>;
}

/** An object literal or Object.create(null), not a class instance (a Tensor, a Map, ...). */
function isPlain(o: object): boolean {
  const proto = Object.getPrototypeOf(o);
  return proto === Object.prototype || proto === null;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return 'an array';
  if (v === null) return 'null';
  if (typeof v === 'object') return `a ${(v as object).constructor?.name ?? 'object'}`;
  if (typeof v === 'string') return `'${v}'`;
  return String(v);
}
