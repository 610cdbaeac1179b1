// Options shared by the zoo's constructors ({ inChannels, numClasses, imageSize, ... }) with
// d2l's Fashion-MNIST defaults (1 channel, 10 classes), checked with errors that name the model,
// and the output side of a conv or pool window, used to size the Linear after a Flatten.

/** Options every zoo constructor takes: input channels and classes (d2l's Fashion-MNIST defaults). */
export interface ModelOptions {
  /** Channels of the input images (default 1: Fashion-MNIST is grayscale). */
  inChannels?: number;
  /** Classes, the size of the last layer's output (default 10). */
  numClasses?: number;
}

/** Options of the models whose classifier is a Linear after a Flatten: its input size follows
 * from the image side (d2l uses LazyLinear for this). */
export interface SizedModelOptions extends ModelOptions {
  /** Side of the square input images the net is built for. */
  imageSize?: number;
}

/** Check an options object (plain object, known keys, positive integers or, where the default is
 * a boolean, booleans) and fill the defaults. */
export function modelOptions<T extends ModelOptions>(
  op: string,
  o: unknown,
  defaults: Required<T>,
): Required<T> {
  const accepted = Object.keys(defaults);
  if (o === undefined) return { ...defaults };
  if (o === null || typeof o !== 'object' || Array.isArray(o))
    throw new Error(`${op}: expected an options object { ${accepted.join(', ')} }, got ${Array.isArray(o) ? 'an array' : String(o)}`);
  for (const k of Object.keys(o))
    if (!accepted.includes(k)) throw new Error(`${op}: unknown option '${k}' (accepted: ${accepted.join(', ')})`);
  const out = { ...defaults } as Record<string, unknown>;
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) continue;
    if (typeof out[k] === 'boolean') {
      if (typeof v !== 'boolean') throw new Error(`${op}: ${k} must be a boolean, got ${JSON.stringify(v)}`);
    } else if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new Error(`${op}: ${k} must be a positive integer, got ${JSON.stringify(v)}`);
    out[k] = v;
  }
  return out as Required<T>;
}

/** Output side of a window of size k, stride s, padding p over a side of n (torch's floor rule). */
export const windowOut = (n: number, k: number, s = 1, p = 0): number => Math.floor((n + 2 * p - k) / s) + 1;

/** The smallest side in [1, limit] for which `side(n) >= 1` (limit + 1 if none). */
export function smallestSide(side: (n: number) => number, limit = 1024): number {
  for (let n = 1; n <= limit; n++) if (side(n) >= 1) return n;
  return limit + 1;
}

/** Throw unless the net fits `imageSize` (its last feature map is at least 1x1). */
export function checkFits(op: string, imageSize: number, side: (n: number) => number): number {
  const s = side(imageSize);
  if (s < 1) throw new Error(`${op}: imageSize ${imageSize} is too small; the net needs at least ${smallestSide(side)}`);
  return s;
}
