// wt.scope across awaits: nested and interleaved async scopes never dispose each other's tensors,
// and every scope's tensors are freed once the scopes that could own them have ended.
import { beforeAll, describe, expect, it } from 'vitest';
import * as wt from 'webgpu-tensor';
import { initGpu } from '../helpers.ts';

beforeAll(initGpu);

/** A promise and its resolver: lets two scopes hand control to each other in a fixed order. */
function gate(): { wait: Promise<void>; open: () => void } {
  let open!: () => void;
  const wait = new Promise<void>((r) => (open = r));
  return { wait, open };
}

const values = async (t: wt.Tensor) => Array.from(await t.toArray());

describe('scope: synchronous', () => {
  it('frees everything but the returned value (also inside arrays and objects); keep opts out', () => {
    const m0 = wt.memory().inUse;
    let inner!: wt.Tensor;
    let kept!: wt.Tensor;
    const r = wt.scope(() => {
      inner = wt.ones([8]);
      kept = wt.keep(wt.ones([8]));
      return { a: [inner.add(1)], b: 2 };
    });
    expect(inner.isDisposed).toBe(true);
    expect(r.a[0].isDisposed).toBe(false);
    r.a[0].dispose();
    kept.dispose();
    expect(wt.memory().inUse).toBe(m0);
  });

  it('using s = wt.scope() frees at the end of the block; s.escape hands a tensor out', () => {
    const m0 = wt.memory().inUse;
    let a!: wt.Tensor;
    let out!: wt.Tensor;
    {
      using s = wt.scope();
      a = wt.ones([4]);
      out = s.escape(a.mul(3));
    }
    expect(a.isDisposed).toBe(true);
    expect(out.isDisposed).toBe(false);
    out.dispose();
    expect(wt.memory().inUse).toBe(m0);
  });

  it('a returned tensor moves to the enclosing scope', () => {
    let inner!: wt.Tensor;
    wt.scope(() => {
      inner = wt.scope(() => wt.ones([4]));
      expect(inner.isDisposed).toBe(false);
    });
    expect(inner.isDisposed).toBe(true);
  });
});

describe('scope: async', () => {
  it('frees tensors created before and after awaits; the resolved value survives', async () => {
    const m0 = wt.memory().inUse;
    const made: wt.Tensor[] = [];
    const r = await wt.scope(async () => {
      made.push(wt.ones([16]));
      await wt.sync();
      made.push(made[0].add(1));
      await null;
      made.push(made[1].mul(2));
      return made[2].sum();
    });
    expect(made.map((t) => t.isDisposed)).toEqual([true, true, true]);
    expect(await r.item()).toBe(64);
    r.dispose();
    expect(wt.memory().inUse).toBe(m0);
  });

  it('nested async scopes (awaited in a loop) each free their own temporaries at their end', async () => {
    const m0 = wt.memory().inUse;
    const total = await wt.scope(async () => {
      let acc = wt.zeros([4]);
      for (let i = 0; i < 5; i++) {
        const before = wt.memory().inUse;
        const next = await wt.scope(async (s) => {
          const t = wt.full([4], i); // before the first await: this scope's alone
          await null;
          const u = s.run(() => t.add(acc)); // s.run: this scope's alone
          return u;
        });
        acc = next;
        // only `next` is new; t is gone
        expect(wt.memory().inUse).toBeLessThanOrEqual(before + 256);
      }
      return acc;
    });
    expect(await values(total)).toEqual([10, 10, 10, 10]);
    total.dispose();
    expect(wt.memory().inUse).toBe(m0);
  });

  it('interleaved scopes awaiting each other in alternation dispose none of the other\'s tensors; both free everything', async () => {
    const m0 = wt.memory().inUse;
    const aMade: wt.Tensor[] = [];
    const bMade: wt.Tensor[] = [];
    const toB = [gate(), gate(), gate()];
    const toA = [gate(), gate(), gate()];
    const a = wt.scope(async () => {
      aMade.push(wt.full([32], 1));
      toB[0].open();
      await toA[0].wait; // B runs and creates tensors
      aMade.push(aMade[0].add(1)); // made after an await, while B is open
      toB[1].open();
      await toA[1].wait; // B ends in between
      // B has ended: A's tensors are all alive
      expect(aMade.map((t) => t.isDisposed)).toEqual([false, false]);
      aMade.push(aMade[1].mul(aMade[0]));
      toB[2].open();
      await toA[2].wait;
      return (await aMade[2].sum().item()) as number;
    });
    const b = wt.scope(async () => {
      await toB[0].wait;
      bMade.push(wt.full([32], 5));
      toA[0].open();
      await toB[1].wait;
      bMade.push(bMade[0].sub(aMade[0])); // uses A's tensor, A still owns it
      toA[1].open();
      return (await bMade[1].sum().item()) as number;
    });
    const rb = await b;
    expect(rb).toBe(32 * 4);
    expect(aMade.every((t) => !t.isDisposed)).toBe(true);
    await toB[2].wait;
    toA[2].open();
    const ra = await a;
    expect(ra).toBe(32 * 2);
    expect([...aMade, ...bMade].every((t) => t.isDisposed)).toBe(true);
    expect(wt.memory().inUse).toBe(m0);
  });

  it('with s.run and s.track, an interleaved scope frees its own tensors at its own end', async () => {
    const m0 = wt.memory().inUse;
    const g1 = gate();
    const g2 = gate();
    let aTensor!: wt.Tensor;
    const bMade: wt.Tensor[] = [];
    const a = wt.scope(async (s) => {
      await g1.wait;
      aTensor = s.run(() => wt.ones([64]));
      await g2.wait;
      return (await aTensor.sum().item()) as number;
    });
    await wt.scope(async (s) => {
      g1.open();
      await null;
      await null;
      bMade.push(s.run(() => wt.ones([64]).mul(2)));
      bMade.push(s.track(wt.zeros([64])));
      await wt.sync();
    });
    // B has ended while A is still open: B's tensors are freed now, A's survive
    expect(bMade.every((t) => t.isDisposed)).toBe(true);
    expect(aTensor.isDisposed).toBe(false);
    g2.open();
    expect(await a).toBe(64);
    expect(aTensor.isDisposed).toBe(true);
    expect(wt.memory().inUse).toBe(m0);
  });

  it('a using block that awaits frees everything at its end and takes nothing from a concurrent scope', async () => {
    const m0 = wt.memory().inUse;
    const g = gate();
    const h = gate();
    let other!: wt.Tensor;
    const concurrent = wt.scope(async () => {
      await g.wait;
      other = wt.ones([16]); // made while the using block below is open
      h.open();
      await wt.sync();
      return (await other.sum().item()) as number;
    });
    const mine: wt.Tensor[] = [];
    let tracked!: wt.Tensor;
    async function step(): Promise<number> {
      using s = wt.scope();
      mine.push(wt.ones([16]));
      g.open();
      await h.wait;
      tracked = s.track(wt.ones([16]));
      mine.push(mine[0].add(tracked));
      return (await mine[1].sum().item()) as number;
    }
    expect(await step()).toBe(32);
    // s.track made `tracked` the block's alone; the rest overlapped the concurrent scope (shared)
    expect(tracked.isDisposed).toBe(true);
    expect(other.isDisposed).toBe(false);
    expect(await concurrent).toBe(16);
    expect([other, ...mine].every((t) => t.isDisposed)).toBe(true);
    expect(wt.memory().inUse).toBe(m0);
  });

  it('a using block that awaits inside a called async function does not take the caller\'s returned tensor', async () => {
    const m0 = wt.memory().inUse;
    let a!: wt.Tensor;
    async function f(): Promise<void> {
      using s = wt.scope();
      a = wt.ones([4]);
      await null;
      s.track(a.add(1));
    }
    let t!: wt.Tensor;
    await wt.scope(async (outer) => {
      const r = outer.run(() =>
        wt.scope(() => {
          const p = f(); // f's using block is still open (and innermost) when f returns here
          return { t: wt.full([4], 3).add(1), p };
        }),
      );
      t = r.t; // returned into `outer`, although made while f's block was innermost
      await r.p;
      expect(a.isDisposed).toBe(true);
      expect(t.isDisposed).toBe(false);
      expect(Array.from(await t.toArray())).toEqual([4, 4, 4, 4]);
    });
    expect(t.isDisposed).toBe(true);
    expect(wt.memory().inUse).toBe(m0);
  });

  it('unscoped code creating tensors while an async scope is open shares them with it (keep opts out); the error says so', async () => {
    const p = wt.scope(async () => {
      await null;
      await null;
    });
    const t = wt.ones([2]); // no scope of its own: shared with the pending scope
    const k = wt.keep(wt.ones([2]));
    await p;
    expect(() => t.add(1)).toThrow(/was disposed \(it was made after an await while an async wt.scope was open/);
    expect(k.isDisposed).toBe(false);
    k.dispose();
  });

  it('a rejected async scope frees its tensors and rethrows', async () => {
    const m0 = wt.memory().inUse;
    let t!: wt.Tensor;
    await expect(
      wt.scope(async () => {
        t = wt.ones([8]);
        await null;
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    expect(t.isDisposed).toBe(true);
    expect(wt.memory().inUse).toBe(m0);
  });

  it('an ended scope refuses track / run', () => {
    const s = wt.scope();
    s.end();
    const one = wt.ones([1]);
    expect(() => s.track(one)).toThrow(/already ended/);
    expect(() => s.run(() => 1)).toThrow(/already ended/);
    one.dispose();
  });
});
