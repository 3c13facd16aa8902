/**
 * Pairwise refresh (security review M1): after a failed check burned a pair, the two parties
 * rerun the pairwise setup with fresh base OTs. Checked here: the refreshed pair signs, its OT
 * state and zero seed share nothing with the old one, the key and every other pair are
 * unchanged, old and new state do not mix (the mix fails the KOS check, a ban verdict, so a
 * half-committed refresh can never sign silently), and messages are bound to key, pair and
 * session.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { describe, expect, it } from 'vitest';
import type { PartyId } from '../round-protocol.ts';
import {
  Dkls23ContextMismatchError,
  Dkls23InvalidArgumentError,
  Dkls23InvalidPointError,
  Dkls23OtExtensionCheckError,
} from './errors.ts';
import { type Dkls23KeyShare } from './key-share.ts';
import {
  createDkls23PairRefreshProtocol,
  type Dkls23PairRefreshResult,
} from './pair-refresh-protocol.ts';
import { runProtocols } from './test-driver.ts';
import { dealKeyShares, runSigning, seededRandom, values } from './test-helpers.ts';

const DIGEST = new Uint8Array(32).fill(0x5a);

function refresh(
  shares: ReadonlyMap<PartyId, Dkls23KeyShare>,
  pair: readonly [PartyId, PartyId],
  sessionIds: readonly [Uint8Array, Uint8Array] = [
    new Uint8Array(16).fill(1),
    new Uint8Array(16).fill(1),
  ],
  intercept?: Parameters<typeof runProtocols>[1] extends infer O
    ? O extends { intercept?: infer I }
      ? I
      : never
    : never,
) {
  const parties = pair.map((self, index) =>
    createDkls23PairRefreshProtocol({
      share: shares.get(self) as Dkls23KeyShare,
      peer: pair[1 - index] as PartyId,
      sessionId: sessionIds[index] as Uint8Array,
    }),
  );
  return runProtocols<Dkls23PairRefreshResult>(
    parties,
    intercept === undefined ? {} : { intercept },
  );
}

function withRefreshed(
  shares: ReadonlyMap<PartyId, Dkls23KeyShare>,
  results: ReadonlyMap<PartyId, Dkls23PairRefreshResult>,
): Map<PartyId, Dkls23KeyShare> {
  const out = new Map(shares);
  for (const [id, result] of results) out.set(id, result.share);
  return out;
}

describe('DKLs23 pairwise refresh', () => {
  const shares = dealKeyShares(1, [1, 2, 3], seededRandom('pair-refresh'));
  // Base OTs cost seconds per run: the first three cases share one refresh.
  let cached: Map<PartyId, Dkls23PairRefreshResult> | undefined;
  const refreshed12 = (): Map<PartyId, Dkls23PairRefreshResult> =>
    (cached ??= values(refresh(shares, [1, 2])));

  it('gives the pair fresh OT state and zero seed; key, secret share and other pairs unchanged; it signs', () => {
    const results = refreshed12();
    const one = results.get(1) as Dkls23PairRefreshResult;
    const two = results.get(2) as Dkls23PairRefreshResult;
    expect(Buffer.from(one.transcriptDigest)).toEqual(Buffer.from(two.transcriptDigest));
    for (const [self, peer, result] of [
      [1, 2, one],
      [2, 1, two],
    ] as const) {
      const before = shares.get(self) as Dkls23KeyShare;
      const after = result.share;
      expect(after.publicKey).toEqual(before.publicKey);
      expect(after.secretShare).toEqual(before.secretShare);
      expect(after.keyId).toEqual(before.keyId);
      const oldPair = before.pairs.get(peer);
      const newPair = after.pairs.get(peer);
      expect(newPair?.otSender.delta).not.toEqual(oldPair?.otSender.delta);
      expect(newPair?.otSender.seeds).not.toEqual(oldPair?.otSender.seeds);
      expect(newPair?.otReceiver.seeds0).not.toEqual(oldPair?.otReceiver.seeds0);
      expect(newPair?.zeroSeed).not.toEqual(oldPair?.zeroSeed);
      // The pair with party 3 is untouched.
      expect(after.pairs.get(3)).toEqual(before.pairs.get(3));
    }
    // Zero seeds agree; the OT correlation is right (signing verifies).
    expect(one.share.pairs.get(2)?.zeroSeed).toEqual(two.share.pairs.get(1)?.zeroSeed);
    const refreshed = withRefreshed(shares, results);
    for (const signers of [
      [1, 2],
      [1, 3],
      [2, 3],
    ]) {
      const signatures = values(runSigning({ shares: refreshed, signers, digest: DIGEST }));
      const signature = signatures.get(signers[0] as PartyId);
      if (signature === undefined) throw new Error('no signature');
      const compact = new Uint8Array([...signature.r, ...signature.s]);
      expect(
        secp256k1.verify(compact, DIGEST, signature.publicKey, { prehash: false, lowS: true }),
      ).toBe(true);
    }
  });

  it('old and new state do not mix: signing with one side refreshed fails the KOS check (ban verdict)', () => {
    const results = refreshed12();
    const mixed = new Map(shares);
    mixed.set(1, (results.get(1) as Dkls23PairRefreshResult).share);
    const outcomes = runSigning({ shares: mixed, signers: [1, 2], digest: DIGEST });
    const errors = [...outcomes.values()].flatMap((outcome) => (outcome.ok ? [] : [outcome.error]));
    expect(errors.some((error) => error instanceof Dkls23OtExtensionCheckError)).toBe(true);
    expect(errors.some((error) => (error as { banPair?: boolean }).banPair === true)).toBe(true);
  });

  it('two refreshes of the same pair give different state (fresh randomness, not derived)', () => {
    const first = refreshed12();
    const second = values(refresh(shares, [1, 2]));
    expect(first.get(1)?.share.pairs.get(2)?.otSender.delta).not.toEqual(
      second.get(1)?.share.pairs.get(2)?.otSender.delta,
    );
  });

  it('binds the session id: different session ids fail with a context mismatch', () => {
    const outcomes = refresh(
      shares,
      [1, 2],
      [new Uint8Array(16).fill(1), new Uint8Array(16).fill(2)],
    );
    for (const outcome of outcomes.values()) {
      expect(outcome.ok).toBe(false);
      if (!outcome.ok) expect(outcome.error).toBeInstanceOf(Dkls23ContextMismatchError);
    }
  });

  it('binds the key: shares of another key fail with a context mismatch', () => {
    const other = dealKeyShares(1, [1, 2, 3], seededRandom('another key'));
    const mixed = new Map(shares);
    mixed.set(2, other.get(2) as Dkls23KeyShare);
    const outcomes = refresh(mixed, [1, 2]);
    const failure = outcomes.get(1);
    expect(failure?.ok).toBe(false);
    if (failure?.ok === false) expect(failure.error).toBeInstanceOf(Dkls23ContextMismatchError);
  });

  it('rejects degenerate base-OT points from a cheating peer', () => {
    const outcomes = refresh(shares, [1, 2], undefined, (delivery) => {
      if (delivery.round !== 0 || delivery.from !== 2) return delivery.payload;
      const tampered = delivery.payload.slice();
      // r_1 := r_0 for the first OT (offset: header 38 + contribution 32).
      tampered.copyWithin(38 + 32 + 33, 38 + 32, 38 + 32 + 33);
      return tampered;
    });
    const failure = outcomes.get(1);
    expect(failure?.ok).toBe(false);
    if (failure?.ok === false) expect(failure.error).toBeInstanceOf(Dkls23InvalidPointError);
  });

  it('refuses a peer that is self or not a participant, and a short session id', () => {
    const share = shares.get(1) as Dkls23KeyShare;
    const sessionId = new Uint8Array(16);
    expect(() => createDkls23PairRefreshProtocol({ share, peer: 1, sessionId })).toThrow(
      Dkls23InvalidArgumentError,
    );
    expect(() => createDkls23PairRefreshProtocol({ share, peer: 9, sessionId })).toThrow(
      Dkls23InvalidArgumentError,
    );
    expect(() =>
      createDkls23PairRefreshProtocol({ share, peer: 2, sessionId: new Uint8Array(8) }),
    ).toThrow(Dkls23InvalidArgumentError);
  });
});
