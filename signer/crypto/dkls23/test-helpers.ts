/**
 * Test-only helpers: a deterministic random source, a trusted dealer that builds consistent
 * key shares (including correlated pairwise OT state) without running the slow base OTs, and
 * signing/keygen runners on the in-memory driver. Never use the dealer outside tests.
 */
import { shake256 } from '@noble/hashes/sha3.js';
import type { PartyId } from '../round-protocol.ts';
import { evaluatePolynomial } from '../shamir.ts';
import { Fn, Point, randomScalar, type RandomSource, scalarToBytes } from './group.ts';
import type { Dkls23KeyShare, Dkls23PairSetup } from './key-share.ts';
import { KAPPA, SEED_BYTES } from './params.ts';
import { createDkls23KeygenProtocol } from './keygen-protocol.ts';
import { createDkls23SigningProtocol, type Dkls23Signature } from './signing-protocol.ts';
import { type DriverOptions, runProtocols, type PartyOutcome } from './test-driver.ts';
import { taggedHash } from '../transcript.ts';

/** Deterministic random source: SHAKE256(label ‖ counter). */
export function seededRandom(label: string): RandomSource {
  let counter = 0;
  const seed = new TextEncoder().encode(label);
  return (length) => {
    const input = new Uint8Array(seed.length + 4);
    input.set(seed);
    new DataView(input.buffer).setUint32(seed.length, counter++);
    return shake256(input, { dkLen: length });
  };
}

/** Key shares as a DKG would produce them, made by a trusted dealer (tests only). */
export function dealKeyShares(
  threshold: number,
  participants: readonly PartyId[],
  random: RandomSource,
): Map<PartyId, Dkls23KeyShare> {
  const coefficients = Array.from({ length: threshold + 1 }, () => randomScalar(random));
  const keyId = taggedHash('test/dealer', random(32));
  const publicKey = Point.BASE.multiply(coefficients[0] as bigint).toBytes(true);
  const secretShares = new Map(
    participants.map((id) => [id, evaluatePolynomial(Fn, coefficients, BigInt(id))]),
  );
  const publicShares = new Map(
    participants.map((id) => [
      id,
      Point.BASE.multiply(secretShares.get(id) as bigint).toBytes(true),
    ]),
  );
  const pairs = new Map<PartyId, Map<PartyId, Dkls23PairSetup>>(
    participants.map((id) => [id, new Map()]),
  );
  const zeroSeeds = new Map<string, Uint8Array>();
  for (const sender of participants) {
    for (const receiver of participants) {
      if (sender === receiver) continue;
      const key = `${Math.min(sender, receiver)}-${Math.max(sender, receiver)}`;
      if (!zeroSeeds.has(key)) zeroSeeds.set(key, random(32).slice());
    }
  }
  const otSenders = new Map<
    string,
    { delta: Uint8Array; seeds: Uint8Array; seeds0: Uint8Array; seeds1: Uint8Array }
  >();
  for (const sender of participants) {
    for (const receiver of participants) {
      if (sender === receiver) continue;
      const delta = random(KAPPA / 8).slice();
      const seeds0 = random(KAPPA * SEED_BYTES).slice();
      const seeds1 = random(KAPPA * SEED_BYTES).slice();
      const seeds = new Uint8Array(KAPPA * SEED_BYTES);
      for (let l = 0; l < KAPPA; l++) {
        const bit = ((delta[l >> 3] as number) >> (l & 7)) & 1;
        seeds.set(
          (bit ? seeds1 : seeds0).subarray(l * SEED_BYTES, (l + 1) * SEED_BYTES),
          l * SEED_BYTES,
        );
      }
      otSenders.set(`${sender}>${receiver}`, { delta, seeds, seeds0, seeds1 });
    }
  }
  for (const self of participants) {
    for (const other of participants) {
      if (self === other) continue;
      const mine = otSenders.get(`${self}>${other}`) as { delta: Uint8Array; seeds: Uint8Array };
      const theirs = otSenders.get(`${other}>${self}`) as {
        seeds0: Uint8Array;
        seeds1: Uint8Array;
      };
      (pairs.get(self) as Map<PartyId, Dkls23PairSetup>).set(other, {
        zeroSeed: (
          zeroSeeds.get(`${Math.min(self, other)}-${Math.max(self, other)}`) as Uint8Array
        ).slice(),
        otSender: { delta: mine.delta.slice(), seeds: mine.seeds.slice() },
        otReceiver: { seeds0: theirs.seeds0.slice(), seeds1: theirs.seeds1.slice() },
      });
    }
  }
  return new Map(
    participants.map((self) => [
      self,
      {
        keyId: keyId.slice(),
        self,
        threshold,
        participants: [...participants],
        publicKey: publicKey.slice(),
        secretShare: scalarToBytes(secretShares.get(self) as bigint),
        publicShares: new Map([...publicShares].map(([id, bytes]) => [id, bytes.slice()])),
        pairs: pairs.get(self) as Map<PartyId, Dkls23PairSetup>,
      },
    ]),
  );
}

export interface SignRun {
  readonly shares: ReadonlyMap<PartyId, Dkls23KeyShare>;
  readonly signers: readonly PartyId[];
  readonly digest: Uint8Array;
  readonly sessionId?: Uint8Array;
  readonly tweak?: bigint;
  readonly random?: (party: PartyId) => RandomSource;
  readonly driver?: DriverOptions;
}

export function runSigning(run: SignRun): Map<PartyId, PartyOutcome<Dkls23Signature>> {
  const sessionId = run.sessionId ?? new Uint8Array(32).fill(7);
  const parties = run.signers.map((id) =>
    createDkls23SigningProtocol({
      share: run.shares.get(id) as Dkls23KeyShare,
      signers: run.signers,
      sessionId,
      digest: run.digest,
      ...(run.tweak === undefined ? {} : { tweak: run.tweak }),
      ...(run.random === undefined ? {} : { random: run.random(id) }),
    }),
  );
  return runProtocols(parties, run.driver);
}

export function runKeygen(
  threshold: number,
  participants: readonly PartyId[],
  sessionId: Uint8Array,
  random?: (party: PartyId) => RandomSource,
  driver?: DriverOptions,
): Map<PartyId, PartyOutcome<Dkls23KeyShare>> {
  const parties = participants.map((self) =>
    createDkls23KeygenProtocol({
      self,
      participants,
      threshold,
      sessionId,
      ...(random === undefined ? {} : { random: random(self) }),
    }),
  );
  return runProtocols(parties, driver);
}

/** Unwraps outcomes, rethrowing the first failure. */
export function values<Result>(outcomes: Map<PartyId, PartyOutcome<Result>>): Map<PartyId, Result> {
  const out = new Map<PartyId, Result>();
  for (const [id, outcome] of outcomes) {
    if (!outcome.ok) throw outcome.error;
    out.set(id, outcome.value);
  }
  return out;
}
