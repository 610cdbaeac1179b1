// What every kernel file exports: its WGSL, bindings, uniform layout, dispatch, and CPU twin, in one
// object (the TF.js "program" idea). Shapes travel as uniforms so one pipeline serves many shapes;
// only what is baked into the WGSL (op, tile sizes, ...) goes into `spec`, the pipeline cache key.

export type FloatArray = Float32Array | Float64Array;
export type NumArray = Float32Array | Float64Array | Int32Array | Uint32Array;

/** Binding access: 'read' = var<storage, read>, 'rw' = var<storage, read_write>. */
export type Access = 'read' | 'rw';

/** One uniform word: a plain number is u32; wrap floats and signed ints. */
export type UWord = number | { f: number } | { i: number };

export interface KernelDef<P> {
  /** Kernel name: labels every GPU object and prefixes every error. */
  name: string;
  /** Specialisation key (what the WGSL bakes in); '' when one pipeline serves all params. */
  spec(p: P): string;
  /** WGSL source for this specialisation. Bindings: 0..n-1 in `bindings` order, then the uniform
   * struct at binding n. Entry point `main`. */
  wgsl(p: P): string;
  /** Access of each storage binding, in order. */
  bindings(p: P): Access[];
  /** Uniform words (u32 / f32 / i32), in the struct's field order. */
  uniforms(p: P): UWord[];
  /** Workgroups to launch: a number = 1-D (split over x/y past 65535, see `linearIndex`),
   * or [x, y, z]. */
  dispatch(p: P): number | [number, number, number];
  /** The hand-written CPU twin: same params, same buffers in binding order. */
  cpu(p: P, bufs: NumArray[]): void;
}

/** Pack uniform words into bytes (a multiple of 16, as uniform buffers want). */
export function packUniforms(words: UWord[]): Uint8Array {
  const n = Math.max(4, Math.ceil(words.length / 4) * 4);
  const buf = new ArrayBuffer(n * 4);
  const dv = new DataView(buf);
  words.forEach((w, i) => {
    if (typeof w === 'number') {
      if (!Number.isInteger(w) || w < 0 || w > 0xffffffff) throw new Error(`packUniforms: u32 word ${i} is ${w}`);
      dv.setUint32(i * 4, w, true);
    } else if ('f' in w) dv.setFloat32(i * 4, w.f, true);
    else dv.setInt32(i * 4, w.i, true);
  });
  return new Uint8Array(buf);
}

export const MAX_WG_PER_DIM = 65535;

/** Split a 1-D workgroup count into x*y with x <= 65535 (dispatches past 65535 workgroups). */
export function split1D(groups: number): [number, number, number] {
  if (groups <= MAX_WG_PER_DIM) return [Math.max(1, groups), 1, 1];
  const y = Math.ceil(groups / MAX_WG_PER_DIM);
  const x = Math.ceil(groups / y);
  if (y > MAX_WG_PER_DIM) throw new Error(`dispatch: ${groups} workgroups exceed ${MAX_WG_PER_DIM}^2`);
  return [x, y, 1];
}

/** WGSL: the builtins for a 1-D kernel whose dispatch may be split over x and y. Declares `gid`,
 * the flat invocation index, from `wid`, `nwg` and `lid`. */
export function linearIndex(wgSize: number): string {
  return `@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lidx: u32`;
}
export function linearGid(wgSize: number): string {
  return `let gid = (wid.y * nwg.x + wid.x) * ${wgSize}u + lidx;`;
}

/** Typed-array constructor matching an existing array (float64 CPU runs stay float64). */
export function like(a: NumArray, n: number): NumArray {
  return new (a.constructor as { new (n: number): NumArray })(n);
}
