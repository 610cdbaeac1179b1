// matmul kernel: both GEMM designs ('lanes' = software adapters, 'tiled' = hardware GPUs, forced
// here so the hardware path is checked on lavapipe too) against the CPU twin on awkward shapes,
// every transpose combination, batched / broadcast operands, vector-load alignments, fused
// bias / ReLU; and the raw `mm` entry's edge cases.
import { describe, it, expect, beforeAll } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu, randArray, expectClose } from '../helpers.ts';
import { launch } from '../../src/tensor/launch.ts';
import { matmulKernel, type MatmulParams } from '../../src/kernels/matmul.ts';
import type { GemmVariant } from '../../src/kernels/gemm.ts';
import { mm } from '../../src/autograd/matmul_op.ts';

beforeAll(async () => {
  await initGpu();
});

type Case = [batch: number, m: number, n: number, k: number, bcastA?: boolean, bcastB?: boolean];

/** Runs the kernel on `device`; the bias is seeded from n so both devices see the same data. */
async function run(device: 'cpu' | 'gpu', p: MatmulParams, seed: number): Promise<Float32Array> {
  const na = p.aBatch ? p.batch * p.m * p.k : p.m * p.k;
  const nb = p.bBatch ? p.batch * p.n * p.k : p.n * p.k;
  const a = wt.tensor(randArray(na, seed), [na], { device });
  const b = wt.tensor(randArray(nb, seed + 1), [nb], { device });
  const bias = wt.tensor(randArray(p.n, seed + 2), [p.n], { device });
  const out = { shape: [p.batch, p.m, p.n] };
  const c = launch(matmulKernel, p, p.bias ? [a, b, bias, out] : [a, b, out])[0];
  const r = (await c.toArray()) as Float32Array;
  [a, b, bias, c].forEach((t) => t.dispose());
  return r;
}

const cases: Case[] = [
  [1, 1, 1, 1],
  [1, 17, 65, 33],
  [1, 65, 17, 64],
  [2, 17, 17, 17],
  [1, 1, 65, 17],
  [1, 65, 1, 65],
  [3, 24, 36, 20], // vector loads: K, N, M multiples of 4
  [2, 8, 16, 12, true], // A broadcast over the batch
  [2, 40, 44, 16, false, true], // B broadcast
  [1, 130, 66, 70],
];

describe('matmul kernel: GPU vs CPU twin', () => {
  for (const variant of ['lanes', 'tiled'] as GemmVariant[])
    for (const [batch, m, n, k, bcastA, bcastB] of cases)
      it(`${variant} batch ${batch} ${m}x${n}x${k}${bcastA ? ' bcastA' : ''}${bcastB ? ' bcastB' : ''}`, async () => {
        let seed = 10;
        for (const transA of [false, true])
          for (const transB of [false, true]) {
            const fused = (transA ? 1 : 0) + (transB ? 2 : 0); // vary the epilogue too
            const p: MatmulParams = {
              batch, m, n, k, transA, transB,
              aBatch: bcastA ? 0 : m * k,
              bBatch: bcastB ? 0 : n * k,
              bias: fused >= 2,
              relu: fused % 2 === 1,
              variant,
            };
            seed += 3;
            const g = await run('gpu', p, seed);
            const c = await run('cpu', p, seed);
            expectClose(g, c, 1e-4, 1e-5, `${variant} ${JSON.stringify(p)}`);
          }
      });

  it('1024-wide K and a large tile grid agree (lanes and tiled)', async () => {
    for (const variant of ['lanes', 'tiled'] as GemmVariant[]) {
      const p: MatmulParams = { batch: 1, m: 100, n: 72, k: 1024, transA: false, transB: true, aBatch: 0, bBatch: 0, bias: true, relu: false, variant };
      expectClose(await run('gpu', p, 3), await run('cpu', p, 3), 1e-4, 1e-4, variant);
    }
  });
});

describe('mm (raw entry)', () => {
  it('K = 0 gives zeros plus bias', async () => {
    const a = wt.zeros([3, 0]);
    const b = wt.zeros([0, 2]);
    const bias = wt.tensor([1, -2], [2]);
    expect(Array.from(await mm(a, b).toArray())).toEqual([0, 0, 0, 0, 0, 0]);
    expect(Array.from(await mm(a, b, false, false, 1, bias).toArray())).toEqual([1, -2, 1, -2, 1, -2]);
    expect(Array.from(await mm(a, b, false, false, 1, bias, true).toArray())).toEqual([1, 0, 1, 0, 1, 0]);
  });

  it('fused bias + ReLU matches the unfused ops', async () => {
    const a = wt.tensor(randArray(6 * 5, 1), [6, 5]);
    const b = wt.tensor(randArray(5 * 7, 2), [5, 7]);
    const bias = wt.tensor(randArray(7, 3), [7]);
    const fused = await mm(a, b, false, false, 1, bias, true).toArray();
    const ref = await wt.relu(wt.add(wt.matmul(a, b), bias)).toArray();
    expectClose(fused, ref, 1e-5, 1e-6, 'fused');
  });

  it('rejects an output larger than the binding limit before any GPU work', () => {
    const max = wt.deviceInfo().limits.maxStorageBufferBindingSize;
    const side = Math.ceil(Math.sqrt(max / 4)) + 1; // side x side floats > max bytes
    const a = wt.zeros([side, 1]);
    const b = wt.zeros([1, side]);
    expect(() => mm(a, b)).toThrow(/matmul: output \[\d+,\d+\] needs .* maxStorageBufferBindingSize/);
  });
});
