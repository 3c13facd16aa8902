import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToNumberBE } from '@noble/curves/utils.js';
import { decodeDkls23KeyShare, encodeDkls23KeyShare, type Dkls23KeyShare } from './key-share.ts';
import { dealKeyShares, runKeygen, runSigning, seededRandom, values } from './test-helpers.ts';
import type { Dkls23Signature } from './signing-protocol.ts';
import { createDkls23SigningProtocol } from './signing-protocol.ts';
import { createDkls23KeygenProtocol } from './keygen-protocol.ts';
import { Fn, Point, ORDER } from './group.ts';
import {
  Dkls23InvalidArgumentError,
  Dkls23InvalidKeyShareError,
  Dkls23ProtocolStateError,
} from './errors.ts';
import { EMPTY_ROUND_INPUT, type PartyId } from '../round-protocol.ts';

function checkSignature(
  signature: Dkls23Signature,
  digest: Uint8Array,
  expectedKey: Uint8Array,
): void {
  expect(signature.publicKey).toEqual(expectedKey);
  const compact = new Uint8Array([...signature.r, ...signature.s]);
  expect(secp256k1.verify(compact, digest, expectedKey, { prehash: false, lowS: true })).toBe(true);
  expect(bytesToNumberBE(signature.s) <= ORDER >> 1n).toBe(true);
  const recovered = new Uint8Array([signature.recovery, ...compact]);
  expect(secp256k1.recoverPublicKey(recovered, digest, { prehash: false })).toEqual(expectedKey);
}

function tweakedKey(publicKey: Uint8Array, tweak: bigint): Uint8Array {
  const point = Point.fromBytes(publicKey);
  return (tweak === 0n ? point : point.add(Point.BASE.multiply(tweak))).toBytes(true);
}

const configuration = fc
  .record({
    n: fc.integer({ min: 2, max: 5 }),
    t: fc.integer({ min: 1, max: 4 }),
    seed: fc.integer({ min: 0, max: 1e9 }),
  })
  .filter(({ n, t }) => t < n && t <= 2);

describe('DKLs23 signing (dealt shares)', () => {
  it('t+1-of-n for random subsets, digests and tweaks: verifies and recovers', () => {
    fc.assert(
      fc.property(configuration, fc.boolean(), ({ n, t, seed }, withTweak) => {
        const random = seededRandom(`prop-${seed}`);
        const participants = Array.from({ length: n }, (_, i) => i + 1);
        const shares = dealKeyShares(t, participants, random);
        const shuffled = [...participants].sort(() => (random(1)[0] as number) - 128);
        const signers = shuffled.slice(0, t + 1);
        const digest = random(32).slice();
        const tweak = withTweak ? Fn.create(bytesToNumberBE(random(32))) : 0n;
        const outcome = values(
          runSigning({ shares, signers, digest, tweak, sessionId: random(32).slice() }),
        );
        const expectedKey = tweakedKey((shares.get(1) as Dkls23KeyShare).publicKey, tweak);
        const first = outcome.get(signers[0] as PartyId) as Dkls23Signature;
        checkSignature(first, digest, expectedKey);
        for (const signature of outcome.values()) expect(signature).toEqual(first);
      }),
      { numRuns: 6 },
    );
  });

  it('3-of-5 with a tweak', () => {
    const random = seededRandom('3of5');
    const shares = dealKeyShares(2, [1, 2, 3, 4, 5], random);
    const digest = random(32).slice();
    const tweak = 0xdeadbeefn;
    const outcome = values(runSigning({ shares, signers: [5, 2, 4], digest, tweak }));
    checkSignature(
      outcome.get(2) as Dkls23Signature,
      digest,
      tweakedKey((shares.get(1) as Dkls23KeyShare).publicKey, tweak),
    );
  });

  it('rejects bad arguments by field', () => {
    const shares = dealKeyShares(1, [1, 2, 3], seededRandom('args'));
    const share = shares.get(1) as Dkls23KeyShare;
    const base = {
      share,
      signers: [1, 2],
      sessionId: new Uint8Array(32),
      digest: new Uint8Array(32),
    };
    const cases: [Record<string, unknown>, string][] = [
      [{ signers: [1, 2, 3] }, 'signers'],
      [{ signers: [1, 1] }, 'signers'],
      [{ signers: [2, 3] }, 'signers'],
      [{ signers: [1, 9] }, 'signers'],
      [{ digest: new Uint8Array(31) }, 'digest'],
      [{ sessionId: new Uint8Array(0) }, 'sessionId'],
      [{ tweak: ORDER }, 'tweak'],
    ];
    for (const [override, field] of cases) {
      expect(() => createDkls23SigningProtocol({ ...base, ...override } as typeof base)).toThrow(
        Dkls23InvalidArgumentError,
      );
      try {
        createDkls23SigningProtocol({ ...base, ...override } as typeof base);
      } catch (error) {
        expect((error as Dkls23InvalidArgumentError).field).toBe(field);
      }
    }
  });

  it('enforces the call order and refuses use after wipe', () => {
    const shares = dealKeyShares(1, [1, 2], seededRandom('order'));
    const party = createDkls23SigningProtocol({
      share: shares.get(1) as Dkls23KeyShare,
      signers: [1, 2],
      sessionId: new Uint8Array(32),
      digest: new Uint8Array(32),
    });
    expect(() => party.round(1, EMPTY_ROUND_INPUT)).toThrow(Dkls23ProtocolStateError);
    party.round(0, EMPTY_ROUND_INPUT);
    expect(() => party.finish(EMPTY_ROUND_INPUT)).toThrow(Dkls23ProtocolStateError);
    party.wipe();
    party.wipe();
    expect(() => party.round(1, EMPTY_ROUND_INPUT)).toThrow(Dkls23ProtocolStateError);
    // The caller's share is untouched by the party's wipe.
    expect((shares.get(1) as Dkls23KeyShare).secretShare.some((byte) => byte !== 0)).toBe(true);
  });
});

describe('DKLs23 key generation (real base OTs)', () => {
  it('2-of-3: same public key everywhere, shares round-trip, every pair signs, with and without tweak', () => {
    const outcome = values(runKeygen(1, [1, 2, 3], new Uint8Array(32).fill(42)));
    const shares = new Map(
      [...outcome].map(([id, share]) => [id, decodeDkls23KeyShare(encodeDkls23KeyShare(share))]),
    );
    const publicKey = (shares.get(1) as Dkls23KeyShare).publicKey;
    for (const share of shares.values()) {
      expect(share.publicKey).toEqual(publicKey);
      expect(encodeDkls23KeyShare(share)).toEqual(
        encodeDkls23KeyShare(outcome.get(share.self) as Dkls23KeyShare),
      );
    }
    // Any two shares reconstruct the secret key behind the public key.
    const ids = [1n, 3n];
    let secret = 0n;
    for (const id of ids) {
      const share = shares.get(Number(id)) as Dkls23KeyShare;
      const lagrange = Fn.mul(
        ids.filter((other) => other !== id).reduce((acc, other) => Fn.mul(acc, other), 1n),
        Fn.inv(
          ids
            .filter((other) => other !== id)
            .reduce((acc, other) => Fn.mul(acc, Fn.sub(other, id)), 1n),
        ),
      );
      secret = Fn.add(secret, Fn.mul(lagrange, bytesToNumberBE(share.secretShare)));
    }
    expect(Point.BASE.multiply(secret).toBytes(true)).toEqual(publicKey);
    const digest = new Uint8Array(32).fill(5);
    for (const signers of [
      [1, 2],
      [1, 3],
      [2, 3],
    ]) {
      const signature = values(runSigning({ shares, signers, digest })).get(
        signers[0] as PartyId,
      ) as Dkls23Signature;
      checkSignature(signature, digest, publicKey);
    }
    const tweak = 7n;
    const tweaked = values(runSigning({ shares, signers: [3, 2], digest, tweak })).get(
      2,
    ) as Dkls23Signature;
    checkSignature(tweaked, digest, tweakedKey(publicKey, tweak));
  }, 300_000);

  it('rejects bad keygen arguments', () => {
    const base = { self: 1, participants: [1, 2, 3], threshold: 1, sessionId: new Uint8Array(32) };
    expect(() => createDkls23KeygenProtocol({ ...base, threshold: 3 })).toThrow(
      Dkls23InvalidArgumentError,
    );
    expect(() => createDkls23KeygenProtocol({ ...base, self: 4 })).toThrow(
      Dkls23InvalidArgumentError,
    );
    expect(() => createDkls23KeygenProtocol({ ...base, participants: [1, 1, 2] })).toThrow(
      Dkls23InvalidArgumentError,
    );
    expect(() => createDkls23KeygenProtocol({ ...base, participants: [0, 1, 2] })).toThrow(
      Dkls23InvalidArgumentError,
    );
    expect(() => createDkls23KeygenProtocol({ ...base, sessionId: new Uint8Array(3) })).toThrow(
      Dkls23InvalidArgumentError,
    );
  });
});

describe('key-share encoding', () => {
  const share = dealKeyShares(2, [1, 3, 4, 9], seededRandom('codec')).get(3) as Dkls23KeyShare;
  const encoded = encodeDkls23KeyShare(share);

  it('round-trips canonically', () => {
    expect(encodeDkls23KeyShare(decodeDkls23KeyShare(encoded))).toEqual(encoded);
  });

  const header = 2 + 32 + 2 + 2 + 2 + 2 * 4;
  const mutations: [string, (bytes: Uint8Array) => Uint8Array][] = [
    ['wrong version', (b) => ((b[0] = 2), b)],
    ['wrong kind', (b) => ((b[1] = 9), b)],
    ['truncated', (b) => b.subarray(0, b.length - 1)],
    ['trailing byte', (b) => new Uint8Array([...b, 0])],
    ['unsorted participants', (b) => ((b[header - 1] = 2), b)],
    ['non-canonical secret share', (b) => (b.fill(0xff, header + 33, header + 65), b)],
    ['public key off the curve', (b) => ((b[header] = 0x05), b)],
    ['secret share altered', (b) => ((b[header + 64] = (b[header + 64] as number) ^ 1), b)],
    ['pair record order', (b) => ((b[header + 65 + 4 * 33 + 1] = 7), b)],
  ];
  it('rejects a tampered public share after the first t+1 (finding I5)', () => {
    // Party 9's public share is the 4th of four (t + 1 = 3): replace it with another valid
    // point, or with the honest point plus G, and the share must not decode.
    const offset = header + 33 + 32 + 3 * 33;
    const honest = Point.fromBytes(encoded.subarray(offset, offset + 33));
    for (const replacement of [Point.BASE.multiply(5n), honest.add(Point.BASE)]) {
      const tampered = encoded.slice();
      tampered.set(replacement.toBytes(true), offset);
      let error: unknown;
      try {
        decodeDkls23KeyShare(tampered);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(Dkls23InvalidKeyShareError);
      expect((error as Dkls23InvalidKeyShareError).field).toBe('publicShares');
    }
  });

  it('rejects a tampered secret share after the genuine share was decoded (validation memo)', () => {
    decodeDkls23KeyShare(encoded);
    decodeDkls23KeyShare(encoded); // the second decode skips the checks (same bytes)
    const tampered = encoded.slice();
    tampered[header + 64] = (tampered[header + 64] as number) ^ 1;
    expect(() => decodeDkls23KeyShare(tampered)).toThrow(/does not match its public share/);
    expect(encodeDkls23KeyShare(decodeDkls23KeyShare(encoded))).toEqual(encoded);
  });

  for (const [name, mutate] of mutations) {
    it(`rejects: ${name}`, () => {
      expect(() => decodeDkls23KeyShare(mutate(encoded.slice()))).toThrow(
        Dkls23InvalidKeyShareError,
      );
    });
  }
});
