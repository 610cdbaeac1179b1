// The kernel core's types: what every kernel file exports (its WGSL, bindings, uniform words,
// dispatch and CPU twin, in one object: the TF.js "program" idea), and `Caps`, the adapter facts a
// kernel may depend on. A leaf module: it imports nothing from the project. Shapes travel as
// uniforms so one pipeline serves many shapes; only what is baked into the WGSL (op, tile sizes,
// ...) goes into `spec`, the pipeline cache key. Every method is a pure function of its arguments.

export type FloatArray = Float32Array | Float64Array;
/** The typed arrays a CPU tensor or a CPU twin's buffer can be: float32, float64, int32 or uint32. */
export type NumArray = Float32Array | Float64Array | Int32Array | Uint32Array;

/** Binding access: 'read' = var<storage, read>, 'rw' = var<storage, read_write>. */
export type Access = 'read' | 'rw';

/** One uniform word: a plain number is u32; wrap floats and signed ints. */
export type UWord = number | { f: number } | { i: number };

/** What the adapter offers, as far as kernels care. Built by the backend from the device. */
export interface Caps {
  /** A CPU implementation (lavapipe, SwiftShader, WARP). */
  software: boolean;
  /** The 'subgroups' feature is enabled, with these subgroup sizes (0 when absent). */
  subgroups: boolean;
  subgroupMinSize: number;
  subgroupMaxSize: number;
  /** The 'shader-f16' feature is enabled. */
  f16: boolean;
  maxStorageBufferBindingSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupStorageSize: number;
}

/** Caps of a plain hardware GPU without optional features (used before a device exists). */
export const BASELINE_CAPS: Caps = Object.freeze({
  software: false,
  subgroups: false,
  subgroupMinSize: 0,
  subgroupMaxSize: 0,
  f16: false,
  maxStorageBufferBindingSize: 128 * 2 ** 20,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupStorageSize: 16384,
});

/**
 * A compute kernel as pure functions of its params `P` and the adapter's {@link Caps}: WGSL, storage
 * bindings, uniform words, workgroup count and a hand-written CPU twin. Build one with
 * {@link defineKernel} and launch it with {@link runKernel}.
 */
export interface KernelDef<P> {
  /** Kernel name: labels every GPU object and prefixes every error. */
  name: string;
  /** Specialisation key (what the WGSL bakes in); '' when one pipeline serves all params. */
  spec(p: P, caps: Caps): string;
  /** WGSL source for this specialisation. Bindings: 0..n-1 in `bindings` order, then the uniform
   * struct at binding n. Entry point `main`. */
  wgsl(p: P, caps: Caps): string;
  /** Access of each storage binding, in order. */
  bindings(p: P): Access[];
  /** Uniform words (u32 / f32 / i32), packed in the struct's layout. */
  uniforms(p: P, caps: Caps): UWord[];
  /** Workgroups to launch: a number = 1-D (split over x/y past 65535, see `split1D`),
   * or [x, y, z]. */
  dispatch(p: P, caps: Caps): number | [number, number, number];
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

/** Typed-array constructor matching an existing array (float64 CPU runs stay float64). */
export function like(a: NumArray, n: number): NumArray {
  return new (a.constructor as { new (n: number): NumArray })(n);
}
