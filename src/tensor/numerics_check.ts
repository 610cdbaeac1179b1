// checkNumerics (`wt.init({ checkNumerics: true })`): a loss output or a leaf gradient holding NaN
// or Inf is recorded on the device (nonfinite_check.ts) and raised at the next readback or sync,
// naming the op; on the CPU it is raised at once. Off (the default) this launches nothing.
import { isCheckingNumerics, type FaultSite } from '../backend/faults.ts';
import { nonfiniteCheckKernel } from '../kernels/nonfinite_check.ts';
import { launch } from './launch.ts';
import type { Tensor } from './tensor.ts';

const sites = new Map<string, FaultSite>();

/** 'NaN', 'Inf' or '-Inf' for f32 bits. */
function kindOf(bits: number): string {
  if ((bits & 0x007fffff) !== 0) return 'NaN';
  return bits < 0 ? '-Inf' : 'Inf';
}

/** With checkNumerics on, check `t` for NaN / Inf; `what` says whose values they are in the Error
 * (e.g. "mseLoss's output"), `key` identifies the check site (one fault record per key). */
export function checkFinite(t: Tensor, key: string, what: () => string): void {
  if (!isCheckingNumerics() || t.dtype === 'int32' || t.size === 0 || t.isDisposed) return;
  let site = sites.get(key);
  if (!site) {
    const text = what();
    site = {
      key: `numerics:${key}`,
      kind: 'numerics',
      describe: (r) =>
        `checkNumerics: ${text} holds ${kindOf(r.value)} at element ${r.index}` +
        (r.count > 1 ? ` (${r.count} non-finite values)` : ''),
    };
    sites.set(key, site);
  }
  launch(nonfiniteCheckKernel, { n: t.size }, [t, { fault: site }]);
}
