// Where GPU memory was allocated, for leak reports: with memory debugging on, each new storage
// records the first stack frame outside this library (the user's line that created the tensor),
// and `memory({ detail: true })` groups the live storages by that site.

let debugging = false;

/** This library's source folder (src/), as URL and path prefixes a stack frame may show. */
const LIB_URL = new URL('../', import.meta.url).href;
const LIB_PATH = decodeURIComponent(new URL('../', import.meta.url).pathname);

/** Record creation sites of GPU storages from now on (costs a stack capture per allocation). */
export function debugMemory(on = true): void {
  debugging = on;
}

export function isDebuggingMemory(): boolean {
  return debugging;
}

/** `path:line:col` of a frame's location, or null for native / internal frames. */
function frameLocation(line: string): string | null {
  const m = /((?:[a-zA-Z][\w+.-]*:\/\/|\/|[A-Za-z]:\\)[^\s()@]*?):(\d+):(\d+)\)?\s*$/.exec(line.trim());
  if (!m) return null;
  if (m[1].startsWith('node:')) return null;
  return `${m[1]}:${m[2]}:${m[3]}`;
}

function inLibrary(loc: string): boolean {
  return loc.startsWith(LIB_URL) || loc.startsWith(LIB_PATH);
}

/** Shorten to a path relative to the working directory where there is one (Node). */
function shorten(loc: string): string {
  const m = /^file:\/\/(.*)$/.exec(loc);
  const path = m ? decodeURIComponent(m[1]) : loc;
  const cwd = (globalThis as { process?: { cwd?: () => string } }).process?.cwd?.();
  return cwd && path.startsWith(`${cwd}/`) ? path.slice(cwd.length + 1) : path;
}

/** The caller's site: the first frame outside this library, as `file:line:col`. */
export function captureSite(): string {
  const E = Error as ErrorConstructor & { stackTraceLimit?: number };
  const limit = E.stackTraceLimit;
  E.stackTraceLimit = 64;
  const stack = new Error().stack ?? '';
  E.stackTraceLimit = limit;
  for (const line of stack.split('\n').slice(1)) {
    const loc = frameLocation(line);
    if (loc && !inLibrary(loc)) return shorten(loc);
  }
  return '(inside webgpu-tensor)';
}
