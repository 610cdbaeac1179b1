// GPU kernels against their CPU twins: every unary/binary op, every broadcast pattern, awkward sizes.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { unaryKernel } from '../../src/kernels/unary.ts';
import { BINARY, UNARY, UNARY_INTERNAL, type BinaryName, type UnaryName } from '../../src/autograd/pointwise_table.ts';
import { binary, unary } from '../../src/autograd/pointwise.ts';
import { expectClose, gpuVsCpu, initGpu, randArray } from '../helpers.ts';

beforeAll(initGpu);

const positive = new Set(['log', 'sqrt', 'powS', 'reciprocal']);

describe('unary kernels (every entry of the pointwise table)', () => {
  for (const op of [...Object.keys(UNARY), ...Object.keys(UNARY_INTERNAL)] as UnaryName[]) {
    for (const n of [1, 7, 1024, 4099]) {
      it(`${op} n=${n}`, async () => {
        const lo = positive.has(op) ? 0.1 : -3;
        const data = randArray(n, n + op.length, lo, 3);
        const s = op === 'powS' ? 2.5 : 0.75;
        await gpuVsCpu((device) => unary(op, wt.tensor(data, [n], { device }), s), 1e-5, 1e-6, `${op} n=${n}`);
      });
    }
  }
  it('pow with negative bases and integer exponents matches Math.pow', async () => {
    const x = wt.tensor([-2, -1.5, 0, 3, -3]);
    expectClose(await x.pow(3).toArray(), [-8, -3.375, 0, 27, -27], 1e-6, 1e-6, 'pow3');
    expectClose(await x.pow(2).toArray(), [4, 2.25, 0, 9, 9], 1e-6, 1e-6, 'pow2');
    expectClose(await x.pow(0).toArray(), [1, 1, 1, 1, 1], 0, 0, 'pow0');
    const h = await x.pow(0.5).toArray();
    expect(Number.isNaN(h[0])).toBe(true);
    expect(h[3]).toBeCloseTo(Math.sqrt(3), 5);
  });
  it('kernel description has a CPU twin with the same signature', () => {
    const x = new Float64Array([1, -2, 3]);
    const y = new Float64Array(3);
    unaryKernel.cpu({ op: 'neg', expr: UNARY.neg.wgsl, f: UNARY.neg.cpu, n: 3 }, [x, y]);
    expect(Array.from(y)).toEqual([-1, 2, -3]);
  });
});

describe('binary kernels with broadcasting', () => {
  const patterns: [number[], number[]][] = [
    [[5], [5]],
    [[4, 3], [4, 3]],
    [[2, 3], [3]],
    [[2, 3], [2, 1]],
    [[2, 1, 4], [3, 1]],
    [[1], [3, 5]],
    [[3, 1, 5], [1, 4, 1]],
    [[2, 3, 4, 5], [5]],
    [[1, 1, 1], [2, 3, 4]],
    [[7, 1, 3, 1, 2, 1], [1, 5, 1, 4, 1, 3]],
    [[], [3, 2]],
    [[3, 2], []],
    [[1, 7], [9, 1]],
  ];
  for (const op of Object.keys(BINARY) as BinaryName[]) {
    for (const [sa, sb] of patterns) {
      it(`${op} ${JSON.stringify(sa)} x ${JSON.stringify(sb)}`, async () => {
        const na = sa.reduce((a, b) => a * b, 1);
        const nb = sb.reduce((a, b) => a * b, 1);
        const pos = op === 'pow';
        const da = randArray(na, 1 + na, pos ? 0.2 : -2, 2);
        const db = randArray(nb, 2 + nb, pos ? -2 : -2, 2).map((v) => (op === 'div' && Math.abs(v) < 0.1 ? 0.5 : v));
        if (op === 'eq' || op === 'ne' || op === 'ge' || op === 'le') da.set(db.slice(0, Math.min(na, nb)).subarray(0, Math.min(na, nb)));
        await gpuVsCpu(
          (device) => binary(op, wt.tensor(da, sa, { device }), wt.tensor(db, sb, { device })),
          1e-5,
          1e-6,
          `${op} ${sa} ${sb}`,
        );
      });
    }
  }
});

describe('binary kernels with a scalar operand', () => {
  for (const op of Object.keys(BINARY) as BinaryName[]) {
    for (const side of ['a', 'b'] as const) {
      for (const n of [1, 6, 1028]) {
        it(`${op} scalar ${side} n=${n}`, async () => {
          const data = randArray(n, 7 + n, op === 'pow' ? 0.2 : -2, 2);
          const s = op === 'pow' && side === 'a' ? 1.7 : 0.625;
          if (op === 'eq' || op === 'ne') data[0] = s;
          await gpuVsCpu(
            (device) => {
              const t = wt.tensor(data, [n], { device });
              return side === 'a' ? binary(op, s, t) : binary(op, t, s);
            },
            1e-5,
            1e-6,
            `${op} ${side} ${n}`,
          );
        });
      }
    }
  }
});

describe('large tensors', () => {
  it('an op over more than 65535 workgroups', async () => {
    const n = 256 * 70_000 + 5; // > 65535 workgroups of 256 (non-vec4 path)
    const x = wt.full([n], 1.5);
    const y = x.mul(2).add(1);
    const a = await y.toArray();
    expect(a.length).toBe(n);
    expect(a[0]).toBe(4);
    expect(a[n - 1]).toBe(4);
    expect(a[Math.floor(n / 2)]).toBe(4);
    expect(await y.sum().item()).toBeCloseTo(4 * n, -3);
    x.dispose();
    y.dispose();
  });
});
