// wt.nn.init.eye_ and dirac_ against torch.nn.init (1.13): the flat indices of the ones, taken from
// torch for each shape (every other element must be 0), and the errors for shapes torch refuses.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

/** torch.nn.init.dirac_(torch.empty(shape), groups).flatten().nonzero() */
const DIRAC: [number[], number, number[]][] = [
  [[6, 4, 3, 3], 1, [4, 49, 94, 139]],
  [[6, 3, 3, 3], 2, [4, 40, 76, 85, 121, 157]],
  [[4, 6, 1, 1], 1, [0, 7, 14, 21]],
  [[3, 3, 2], 1, [1, 9, 17]],
  [[4, 2, 3, 2, 3], 2, [10, 64, 82, 136]],
  [[5, 5, 1, 1], 1, [0, 6, 12, 18, 24]],
];
/** torch.nn.init.eye_(torch.empty(shape)).flatten().nonzero() */
const EYE: [number[], number[]][] = [
  [[3, 5], [0, 6, 12]],
  [[4, 2], [0, 3]],
];

async function ones(t: wt.Tensor): Promise<number[]> {
  const a = await t.toArray();
  const idx: number[] = [];
  a.forEach((v, i) => {
    if (v !== 0) {
      expect(v).toBe(1);
      idx.push(i);
    }
  });
  return idx;
}

describe('nn.init identity initialisers', () => {
  for (const [shape, groups, want] of DIRAC)
    it(`dirac_ [${shape}] groups ${groups}`, async () => {
      const t = wt.randn(shape);
      expect(wt.nn.init.dirac_(t, groups)).toBe(t);
      expect(await ones(t)).toEqual(want);
      t.dispose();
    });
  for (const [shape, want] of EYE)
    it(`eye_ [${shape}]`, async () => {
      const t = wt.randn(shape);
      expect(wt.nn.init.eye_(t)).toBe(t);
      expect(await ones(t)).toEqual(want);
      t.dispose();
    });
  it('a 1x1 dirac_ conv passes its input through', async () => {
    const conv = new wt.nn.Conv2d(5, 5, 1);
    wt.nn.init.dirac_(conv.weight);
    wt.nn.init.zeros_(conv.bias!);
    const x = wt.randn([2, 5, 3, 4]);
    const y = conv.forward(x);
    expect(Array.from(await y.toArray())).toEqual(Array.from(await x.toArray()));
    for (const t of [x, y]) t.dispose();
  });
  it('refuses shapes torch refuses', () => {
    const t2 = wt.zeros([3, 3]);
    const t4 = wt.zeros([6, 4, 3, 3]);
    expect(() => wt.nn.init.dirac_(t2)).toThrow(/dirac_: expected a 3-, 4- or 5-D tensor, got shape \[3,3\]/);
    expect(() => wt.nn.init.dirac_(t4, 4)).toThrow(/dirac_: dim 0 \(6\) must be divisible by groups \(4\)/);
    expect(() => wt.nn.init.dirac_(t4, 0)).toThrow(/groups must be a positive integer, got 0/);
    expect(() => wt.nn.init.eye_(t4)).toThrow(/eye_: expected a 2-D tensor, got shape \[6,4,3,3\]/);
    for (const t of [t2, t4]) t.dispose();
  });
});
