// Which forward layout the cross-entropy kernels (src/kernels/cross_entropy.ts) use on a GPU with
// these caps: 'rows' (one 64-invocation workgroup per row, merging online log-sum-exp pairs in
// workgroup memory) or 'lanes' (one invocation per row looping over the classes). Both compute the
// same values (one CPU twin). NLL and per-pixel inputs ([N, C, d1, ...]) always take 'lanes':
// there neighbouring rows are neighbouring addresses, and NLL reads one value per row.
import type { Caps } from '../kernels/kernel.ts';
import type { CeParams } from '../kernels/cross_entropy.ts';

/** Software adapters take 'lanes'. Measured on lavapipe (the 2-core dev machine, shared with other
 * jobs), forward with label smoothing, lanes vs rows: [128, 10] 0.10 vs 0.49 ms, [1024, 10] 0.14
 * vs 5.8 ms, [4096, 100] 6.3 vs 33 ms, [256, 1000] 0.92 vs 2.4 ms, [8, 32000] 1.0 vs 0.96 ms:
 * lavapipe pays per workgroup and per barrier, and 'rows' has one workgroup and six barriers per row. */
export const SOFTWARE_LAYOUT = 'lanes';

/** Hardware GPUs take 'lanes' up to this many classes, 'rows' above. Not timed on hardware; the
 * reason: up to 32 classes a 64-invocation workgroup per row leaves most of its invocations idle,
 * while a row of <= 128 bytes is about one cache line that neighbouring invocations share; beyond,
 * per-invocation rows stop coalescing, and one invocation per row gives a batch of a few hundred
 * rows too few invocations to fill the GPU. */
export const HARDWARE_LANES_MAX_CLASSES = 32;

export function crossEntropyLayout(p: Pick<CeParams, 'c' | 's' | 'nll'>, caps: Caps): 'rows' | 'lanes' {
  if (p.nll || (p.s ?? 1) > 1) return 'lanes';
  if (caps.software) return SOFTWARE_LAYOUT;
  return p.c <= HARDWARE_LANES_MAX_CLASSES ? 'lanes' : 'rows';
}
