// Runs a kernel with fixed caps on whatever adapter the tests have: the hardware-GPU geometry
// (256-lane workgroups, 'flat' layouts) then runs, and is checked, on a software adapter too.
import { BASELINE_CAPS, type Caps, type KernelDef } from '../../src/kernels/kernel.ts';

/** `k` as if the device had `caps` (its own pipeline: the name says so). */
export function withCaps<P>(k: KernelDef<P>, caps: Caps = BASELINE_CAPS, tag = 'hwcaps'): KernelDef<P> {
  return {
    ...k,
    name: `${k.name}.${tag}`,
    spec: (p) => k.spec(p, caps),
    wgsl: (p) => k.wgsl(p, caps),
    uniforms: (p) => k.uniforms(p, caps),
    dispatch: (p) => k.dispatch(p, caps),
  };
}
