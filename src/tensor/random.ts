// The seeded generator behind rand/randn, init and shuffling (xoshiro128**, seeded by splitmix32).
// `manualSeed(n)` makes every draw reproducible; its state round-trips through checkpoints.

/** A seeded random generator (xoshiro128**): uniform and normal draws, state save / restore. */
export class Generator {
  private s = new Uint32Array(4);
  private spare: number | null = null;
  constructor(seed = 0) {
    this.seed(seed);
  }
  seed(n: number): void {
    if (!Number.isFinite(n)) throw new Error(`manualSeed: seed must be a finite number, got ${n}`);
    let x = (Math.floor(n) >>> 0) ^ Math.floor(n / 2 ** 32);
    for (let i = 0; i < 4; i++) {
      // splitmix32
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if (!this.s.some((v) => v)) this.s[0] = 1;
    this.spare = null;
  }
  /** Uniform uint32. */
  nextU32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }
  /** Uniform in [0, 1) with 32 random bits. */
  random(): number {
    return this.nextU32() / 4294967296;
  }
  /** Standard normal (Box-Muller, caching the second value). */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.random() * n);
  }
  getState(): number[] {
    return [...this.s, this.spare === null ? NaN : this.spare];
  }
  setState(st: readonly number[]): void {
    if (!Array.isArray(st) || st.length !== 5) throw new Error('setRngState: expected the 5 numbers from getRngState()');
    for (let i = 0; i < 4; i++) this.s[i] = st[i] >>> 0;
    this.spare = Number.isNaN(st[4]) || st[4] === null ? null : st[4];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** The process-wide generator. */
export const globalGenerator = new Generator(0x5eed);

/** Seed the global generator (rand, randn, init, dropout masks, shuffling). */
export function manualSeed(n: number): void {
  globalGenerator.seed(n);
}
/** The global generator's state (5 numbers), e.g. for a checkpoint. */
export function getRngState(): number[] {
  return globalGenerator.getState();
}
/** Restore the global generator's state from {@link getRngState}. */
export function setRngState(s: readonly number[]): void {
  globalGenerator.setState(s);
}
