// Optimizer steps, timed through the public optimizers (one fused dispatch per parameter plus the
// host-side bookkeeping): memory-bound, reported in GB/s. Adam moves param, grad, expAvg and
// expAvgSq in and param, expAvg, expAvgSq out (7 x 4 bytes per element; amsgrad adds the max
// buffer: 9 x 4); RMSprop with momentum moves param, grad, squareAvg, buf in and 3 out. 4M
// parameters on hardware (a 2048x2048 layer), 1M on a software adapter.
import * as wt from 'webgpu-tensor';
import type { BenchEntry } from '../harness.ts';

const F = 4; // bytes per f32

function entry(name: string, n: number, bytesPerElem: number, make: (p: wt.Tensor) => { step(): void; disposeState(): void }): BenchEntry {
  return {
    name,
    shape: `${n}`,
    kind: 'bytes',
    work: bytesPerElem * F * n,
    setup() {
      const p = wt.randn([n]).requiresGrad_();
      p.grad = wt.randn([n]);
      const opt = make(p);
      opt.step(); // state buffers exist before timing
      return {
        run: () => opt.step(),
        dispose: () => {
          opt.disposeState();
          p.dispose();
        },
      };
    },
  };
}

export function entries(small: boolean): BenchEntry[] {
  const n = small ? 1 << 20 : 1 << 22;
  return [
    entry('adam.step', n, 7, (p) => new wt.optim.Adam([p], { lr: 1e-3, weightDecay: 1e-4 })),
    entry('adamw.step.amsgrad', n, 9, (p) => new wt.optim.AdamW([p], { lr: 1e-3, amsgrad: true })),
    entry('rmsprop.step.momentum', n, 7, (p) => new wt.optim.RMSprop([p], { lr: 1e-3, momentum: 0.9 })),
  ];
}
