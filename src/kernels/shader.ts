// The WGSL builder: a kernel declares its storage bindings and its uniform fields by name, and
// `defineKernel` writes the `@group(0) @binding(n)` lines, the `struct U`, the uniform binding, and
// packs the uniform words in the declared order with WGSL's alignment rules, so declarations and
// packing cannot drift apart. The kernel writes only its helpers and entry point (`body`).
import type { Access, Caps, KernelDef, NumArray, UWord } from './kernel.ts';

/** A storage binding: `var<storage, read|read_write> name: array<elem>`. */
export interface StorageDecl {
  name: string;
  /** Element type, e.g. 'f32', 'vec4<f32>', 'i32', 'u32'. */
  elem: string;
  access: Access;
}
/** A read-only storage binding `var<storage, read> name: array<elem>` (elem default 'f32'). */
export const read = (name: string, elem = 'f32'): StorageDecl => ({ name, elem, access: 'read' });
/** A read-write storage binding `var<storage, read_write> name: array<elem>` (elem default 'f32'). */
export const rw = (name: string, elem = 'f32'): StorageDecl => ({ name, elem, access: 'rw' });

/** One field of `struct U`. `words` are the packed values; `align` is in 4-byte words. */
export interface UField {
  name: string;
  type: string;
  words: UWord[];
  align: number;
}
/** A `u32` uniform field with value `v`. */
export const u32 = (name: string, v: number): UField => ({ name, type: 'u32', words: [v], align: 1 });
/** An `i32` uniform field with value `v`. */
export const i32 = (name: string, v: number): UField => ({ name, type: 'i32', words: [{ i: v }], align: 1 });
/** An `f32` uniform field with value `v`. */
export const f32 = (name: string, v: number): UField => ({ name, type: 'f32', words: [{ f: v }], align: 1 });
/** `array<vec4<u32>, n>` from a list of 4n u32 values (rank-6 shapes and strides live in two). */
export function u32x4s(name: string, values: readonly number[]): UField {
  if (values.length % 4 !== 0) throw new Error(`u32x4s: ${name} needs a multiple of 4 values, got ${values.length}`);
  return { name, type: `array<vec4<u32>, ${values.length / 4}>`, words: [...values], align: 4 };
}

/** Pack fields at their WGSL uniform-layout offsets (scalars 4-byte aligned, vec4 arrays 16). */
export function packFields(fields: readonly UField[]): UWord[] {
  const out: UWord[] = [];
  for (const f of fields) {
    while (out.length % f.align !== 0) out.push(0);
    out.push(...f.words);
  }
  return out;
}

/** `struct U { ... }` for the fields (WGSL inserts the same padding that `packFields` does). */
export function structU(fields: readonly UField[]): string {
  const body = fields.length ? fields.map((f) => `${f.name}: ${f.type}`).join(', ') : '_unused: u32';
  return `struct U { ${body} }`;
}

/** Binding lines for the storage list, then `struct U` and `var<uniform> u` after them. */
export function declarations(storage: readonly StorageDecl[], fields: readonly UField[]): string {
  const lines = storage.map(
    (s, i) => `@group(0) @binding(${i}) var<storage, ${s.access === 'read' ? 'read' : 'read_write'}> ${s.name}: array<${s.elem}>;`,
  );
  lines.push(structU(fields), `@group(0) @binding(${storage.length}) var<uniform> u: U;`);
  return lines.join('\n');
}

/** What a kernel file writes; `defineKernel` turns it into a `KernelDef`. */
export interface KernelSource<P> {
  name: string;
  spec(p: P, caps: Caps): string;
  /** Storage bindings in binding order. Must depend only on what `spec` encodes. */
  storage(p: P): StorageDecl[];
  /** Uniform fields in struct order (names and types fixed per spec; values per launch). */
  uniforms(p: P, caps: Caps): UField[];
  /** WGSL `enable` extensions, e.g. ['subgroups']. */
  enables?(p: P, caps: Caps): string[];
  /** Helpers and the `main` entry point; `u` and the storage names are in scope. */
  body(p: P, caps: Caps): string;
  dispatch(p: P, caps: Caps): number | [number, number, number];
  cpu(p: P, bufs: NumArray[]): void;
}

/**
 * Builds a {@link KernelDef} from a {@link KernelSource}: writes the `@group(0) @binding(n)` lines of
 * the storage list, the uniform `struct U` and its binding, and packs the uniform words in the
 * declared order; the source writes only its helpers and `main`.
 *
 * @example
 * ```ts
 * const scale = wt.kernels.defineKernel<{ n: number; s: number }>({
 *   name: 'scale',
 *   spec: () => '',
 *   storage: () => [wt.kernels.read('x'), wt.kernels.rw('y')],
 *   uniforms: (p) => [wt.kernels.u32('n', p.n), wt.kernels.f32('s', p.s)],
 *   body: () => `@compute @workgroup_size(64)
 * fn main(@builtin(global_invocation_id) id: vec3<u32>) {
 *   if (id.x < u.n) { y[id.x] = x[id.x] * u.s; }
 * }`,
 *   dispatch: (p) => Math.ceil(p.n / 64),
 *   cpu: (p, [x, y]) => { for (let i = 0; i < p.n; i++) y[i] = x[i] * p.s; },
 * });
 * const [y] = wt.kernels.runKernel(scale, { n: 4, s: 2 }, [x, { shape: [4] }]);
 * ```
 */
export function defineKernel<P>(k: KernelSource<P>): KernelDef<P> {
  return {
    name: k.name,
    spec: (p, caps) => k.spec(p, caps),
    bindings: (p) => k.storage(p).map((s) => s.access),
    uniforms: (p, caps) => packFields(k.uniforms(p, caps)),
    dispatch: (p, caps) => k.dispatch(p, caps),
    wgsl: (p, caps) => {
      const en = k.enables?.(p, caps) ?? [];
      return `${en.map((e) => `enable ${e};\n`).join('')}${declarations(k.storage(p), k.uniforms(p, caps))}\n${k.body(p, caps)}`;
    },
    cpu: (p, bufs) => k.cpu(p, bufs),
  };
}
