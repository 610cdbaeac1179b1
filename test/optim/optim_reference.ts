// PyTorch 1.13 reference trajectories for the optim tests (test/optim/torch_reference.json, written
// by test/optim/torch_reference.py), and helpers to replay them here.
import { readFileSync } from 'node:fs';
import * as wt from 'webgpu-tensor';
import { expectClose } from '../helpers.ts';

export interface OptRun {
  n: number;
  seed: number;
  p0: number[];
  grads: number[][];
  /** the parameter after each step */
  traj: number[][];
  /** each group's lr used by each step */
  lrs: number[][];
  /** torch's state after the last step (snake_case keys) */
  state: Record<string, number | number[]>;
  /** torch's keyword arguments (snake_case) */
  opts: Record<string, unknown>;
  optimizer?: string;
  scheduler?: string;
  schedOpts?: Record<string, unknown>;
}

export interface LrSeq {
  lrs: number[][];
  momentum: number[][];
}

export interface ClipCase {
  normType: number | 'inf';
  maxNorm: number;
  grads: number[][];
  total: number;
  clipped: number[][];
}

export interface Reference {
  adam: OptRun[];
  adamw: OptRun[];
  rmsprop: OptRun[];
  withScheduler: OptRun[];
  groups: { a: { p0: number[]; grads: number[][]; traj: number[][] }; b: { p0: number[]; grads: number[][]; traj: number[][] }; lrs: number[][] };
  schedulers: Record<string, LrSeq>;
  clip: ClipCase[];
  torch: string;
}

export const ref: Reference = JSON.parse(readFileSync(new URL('./torch_reference.json', import.meta.url), 'utf8'));

const camel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/** torch keyword arguments -> our options (snake_case -> camelCase, T_max -> tMax). */
export function toOpts(kw: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(kw).map(([k, v]) => [k === 'T_max' ? 'tMax' : camel(k), Array.isArray(v) ? [...v] : v]));
}

/** Replays `run` with an optimizer from `make` on `device`; compares every step to torch's. */
export async function replay(
  run: OptRun,
  device: 'gpu' | 'cpu',
  make: (p: wt.Tensor) => { step(): void; stepScheduler?(): void; lrs(): number[] },
  rtol = 1e-6,
  atol = 1e-6,
): Promise<wt.Tensor> {
  const p = wt.tensor(run.p0, [run.n], { device }).requiresGrad_();
  const o = make(p);
  for (let t = 0; t < run.grads.length; t++) {
    expectClose(o.lrs(), run.lrs[t], 1e-12, 0, `${device} step ${t + 1} lr`);
    p.grad = wt.tensor(run.grads[t], [run.n], { device });
    o.step();
    expectClose(await p.toArray(), run.traj[t], rtol, atol, `${device} n=${run.n} ${JSON.stringify(run.opts)} step ${t + 1}`);
    o.stepScheduler?.();
  }
  return p;
}
