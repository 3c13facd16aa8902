import { describe, expect, it } from 'vitest';
import { drainVerdict, type DrainSigner } from './drain.ts';

const signer = (
  name: string,
  node: string | undefined,
  podReady: boolean,
  statusReady?: boolean,
): DrainSigner => ({
  name,
  ...(node === undefined ? {} : { node }),
  podReady,
  ...(statusReady === undefined ? {} : { statusReady }),
});

describe('drainVerdict', () => {
  it('safe when the ready signers left after the drain still reach quorum', () => {
    const verdict = drainVerdict('n1', [
      {
        namespace: 'a',
        name: 'w',
        quorum: 2,
        signers: [signer('w-0', 'n1', true), signer('w-1', 'n2', true), signer('w-2', 'n3', true)],
      },
    ]);
    expect(verdict.safe).toBe(true);
    expect(verdict.clusters[0]).toMatchObject({
      readyNow: 3,
      readyOnNode: 1,
      readyAfter: 2,
      margin: 1,
      safe: true,
    });
  });

  it('not safe when the node holds more ready signers than the margin', () => {
    const signers = [
      signer('w-0', 'n1', true),
      signer('w-1', 'n1', true),
      signer('w-2', 'n2', true),
    ];
    const verdict = drainVerdict('n1', [{ namespace: 'a', name: 'w', quorum: 2, signers }]);
    expect(verdict.safe).toBe(false);
    expect(verdict.clusters[0]).toMatchObject({ readyOnNode: 2, readyAfter: 1, margin: 1 });
    // Draining the other node takes one: fine.
    expect(drainVerdict('n2', [{ namespace: 'a', name: 'w', quorum: 2, signers }]).safe).toBe(true);
  });

  it('a signer down elsewhere eats the margin; an unready signer on the node costs nothing', () => {
    const signers = [
      signer('w-0', 'n1', true),
      signer('w-1', 'n2', false),
      signer('w-2', 'n3', true),
    ];
    expect(drainVerdict('n1', [{ namespace: 'a', name: 'w', quorum: 2, signers }]).safe).toBe(
      false,
    );
    expect(drainVerdict('n2', [{ namespace: 'a', name: 'w', quorum: 2, signers }]).safe).toBe(true);
  });

  it('trusts the operator when it does not count a Ready pod (stale Lease, identity mismatch)', () => {
    const signers = [
      signer('w-0', 'n1', true, true),
      signer('w-1', 'n2', true, false),
      signer('w-2', 'n3', true, true),
    ];
    const verdict = drainVerdict('n1', [{ namespace: 'a', name: 'w', quorum: 2, signers }]);
    expect(verdict.clusters[0]?.readyNow).toBe(2);
    expect(verdict.safe).toBe(false);
    // ...but a pod NotReady now is not ready, whatever an older status says.
    const stale = [signer('w-0', 'n1', true), signer('w-1', 'n2', false, true)];
    expect(
      drainVerdict('n1', [{ namespace: 'a', name: 'x', quorum: 1, signers: stale }]).safe,
    ).toBe(false);
  });

  it('a cluster already below quorum blocks only a drain that takes one of its ready signers', () => {
    const clusters = [
      { namespace: 'b', name: 'ok', quorum: 1, signers: [signer('ok-0', 'n1', true)] },
      { namespace: 'a', name: 'down', quorum: 2, signers: [signer('down-0', 'n1', true)] },
    ];
    const elsewhere = drainVerdict('n9', clusters);
    expect(elsewhere.clusters.map((c) => `${c.namespace}/${c.name}`)).toEqual(['a/down', 'b/ok']);
    expect(elsewhere.clusters.map((c) => [c.safe, c.alreadyBelowQuorum])).toEqual([
      [true, true],
      [true, false],
    ]);
    expect(elsewhere.safe).toBe(true);
    // n1 holds the last ready signer of both: one unsafe cluster decides.
    const there = drainVerdict('n1', clusters);
    expect(there.clusters.map((c) => c.safe)).toEqual([false, false]);
    expect(there.safe).toBe(false);
    expect(drainVerdict('n1', []).safe).toBe(true);
  });

  it('unscheduled signers are never on the node', () => {
    const verdict = drainVerdict('n1', [
      { namespace: 'a', name: 'w', quorum: 1, signers: [signer('w-0', undefined, false)] },
    ]);
    expect(verdict.clusters[0]).toMatchObject({
      readyOnNode: 0,
      readyNow: 0,
      safe: true,
      alreadyBelowQuorum: true,
    });
  });
});
