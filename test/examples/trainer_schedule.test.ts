// The training loop's 'warmup-cosine' schedule: lr rises linearly over the first 10% of the steps
// (lr/warm, 2 lr/warm, ..., lr), then follows a cosine from lr to 0 over the rest.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { makeScheduler, WARMUP_FRACTION, weightsStandardisation, type Recipe } from '../../examples/lib/trainer.ts';
import { ZOO_RECIPES } from '../../examples/lib/zoo_recipes.ts';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

describe('trainer schedules', () => {
  for (const total of [50, 7]) {
    it(`warmup-cosine over ${total} steps`, () => {
      const p = wt.zeros([3]).requiresGrad_();
      const opt = new wt.optim.Adam([p], { lr: 0.002 });
      const r: Recipe = { ...ZOO_RECIPES.lenet.software, optimizer: 'adam', lr: 0.002, scheduler: 'warmup-cosine' };
      const sched = makeScheduler(opt, r, total)!;
      const warm = Math.max(1, Math.round(total * WARMUP_FRACTION));
      const want = (i: number) => (i < warm ? (0.002 * (i + 1)) / warm : 0.002 * 0.5 * (1 + Math.cos((Math.PI * (i - warm)) / (total - warm))));
      for (let i = 0; i < total; i++) {
        expect(sched.getLastLr()[0], `step ${i}`).toBeCloseTo(want(i), 9);
        sched.step();
      }
      p.dispose();
    });
  }
});

describe('weights metadata: the input standardisation a file records', () => {
  it('reads inputMean / inputStd, a trainer file without them, and another tool’s file', () => {
    expect(weightsStandardisation({ inputMean: '0.286', inputStd: '0.353', resize: '28' }, 'f')).toEqual({ mean: 0.286, std: 0.353 });
    expect(weightsStandardisation({ resize: '28', epoch: '3' }, 'f')).toBeNull();
    expect(weightsStandardisation({}, 'f')).toBeUndefined();
    expect(() => weightsStandardisation({ inputMean: '0.2', inputStd: '0' }, 'w.safetensors')).toThrow(
      /--weights w\.safetensors: expected a finite inputMean and a positive inputStd in its metadata, got 0\.2 and 0/,
    );
    expect(() => weightsStandardisation({ inputMean: 'x' }, 'w.safetensors')).toThrow(/got x and undefined/);
  });
});
