/**
 * A party's DKLs23 key share: its Shamir share of the secret key, public data of the key, and
 * per counterparty the pairwise setup that signing consumes (zero-share seed, OT-extension
 * sender state Δ + seeds, OT-extension receiver state). Everything under `secretShare` and
 * `pairs` is as sensitive as the key itself (crypto.md §1.4 item 11): encrypt it at rest.
 *
 * Encoding (version 1, big-endian, fixed order, exact length):
 *   u8 version ‖ u8 kind=0x01 ‖ keyId[32] ‖ u16 self ‖ u16 threshold ‖ u16 n ‖ u16 participants[n]
 *   ‖ publicKey[33] ‖ secretShare[32] ‖ publicShares[n][33]
 *   ‖ for each other participant ascending: u16 id ‖ zeroSeed[32] ‖ Δ[32] ‖ senderSeeds[κ][32]
 *     ‖ receiverSeeds0[κ][32] ‖ receiverSeeds1[κ][32]
 */
import type { PartyId } from '../round-protocol.ts';
import { Dkls23InvalidKeyShareError, Dkls23Error } from './errors.ts';
import { decodePoint, decodeScalar, Point } from './group.ts';
import type { OtExtensionReceiverSetup, OtExtensionSenderSetup } from './ot-extension.ts';
import { KAPPA, POINT_BYTES, SEED_BYTES, WIRE_VERSION } from './params.ts';
import { Reader, Writer } from './wire.ts';
import { interpolatePoints } from '../shamir.ts';
import { ValidationMemo } from '../validation-memo.ts';

/** Pairwise state with one counterparty. Secret. */
export interface Dkls23PairSetup {
  /** Shared zero-sharing seed. */
  readonly zeroSeed: Uint8Array;
  /** This party as OT-extension sender (RVOLE sender, inputs r_i and sk_i) towards the counterparty. */
  readonly otSender: OtExtensionSenderSetup;
  /** This party as OT-extension receiver (RVOLE receiver) towards the counterparty. */
  readonly otReceiver: OtExtensionReceiverSetup;
}

export interface Dkls23KeyShare {
  /** Identifier of the key: hash of the DKG session id, threshold and participants. */
  readonly keyId: Uint8Array;
  readonly self: PartyId;
  /** t: any t+1 participants sign. */
  readonly threshold: number;
  /** All share holders, ascending. */
  readonly participants: readonly PartyId[];
  /** The group public key, 33-byte compressed. */
  readonly publicKey: Uint8Array;
  /** p(self), 32 bytes big-endian. Secret. */
  readonly secretShare: Uint8Array;
  /** p(k)·G for every participant k, 33 bytes each. */
  readonly publicShares: ReadonlyMap<PartyId, Uint8Array>;
  /** Pairwise setup per other participant. Secret. */
  readonly pairs: ReadonlyMap<PartyId, Dkls23PairSetup>;
}

const KIND_KEY_SHARE = 0x01;
const PAIR_BYTES = 2 + SEED_BYTES + 32 + 3 * KAPPA * SEED_BYTES;

function encodedLength(n: number): number {
  return 2 + 32 + 2 + 2 + 2 + 2 * n + POINT_BYTES + 32 + n * POINT_BYTES + (n - 1) * PAIR_BYTES;
}

export function encodeDkls23KeyShare(share: Dkls23KeyShare): Uint8Array {
  const n = share.participants.length;
  const writer = new Writer(encodedLength(n));
  writer
    .u8(WIRE_VERSION)
    .u8(KIND_KEY_SHARE)
    .raw(share.keyId)
    .u16(share.self)
    .u16(share.threshold)
    .u16(n);
  for (const id of share.participants) writer.u16(id);
  writer.raw(share.publicKey).raw(share.secretShare);
  for (const id of share.participants) writer.raw(share.publicShares.get(id) as Uint8Array);
  for (const id of share.participants) {
    if (id === share.self) continue;
    const pair = share.pairs.get(id) as Dkls23PairSetup;
    writer.u16(id).raw(pair.zeroSeed).raw(pair.otSender.delta).raw(pair.otSender.seeds);
    writer.raw(pair.otReceiver.seeds0).raw(pair.otReceiver.seeds1);
  }
  return writer.finish();
}

function invalid(message: string, field: string): Dkls23InvalidKeyShareError {
  return new Dkls23InvalidKeyShareError(`key share: ${message}`, { field });
}

/** Validates participants/threshold; shared by the codec and the protocol constructors. */
export function checkParticipants(
  participants: readonly PartyId[],
  self: PartyId,
  threshold: number,
): void {
  if (participants.length < 2 || participants.length > 255)
    throw invalid('needs 2..255 participants', 'participants');
  for (let i = 0; i < participants.length; i++) {
    const id = participants[i] as number;
    if (!Number.isInteger(id) || id < 1 || id > 0xffff)
      throw invalid('party ids must be integers in 1..65535', 'participants');
    if (i > 0 && id <= (participants[i - 1] as number))
      throw invalid('participants must be ascending and distinct', 'participants');
  }
  if (!participants.includes(self)) throw invalid('self is not a participant', 'self');
  if (!Number.isInteger(threshold) || threshold < 1 || threshold >= participants.length) {
    throw invalid('threshold t must satisfy 1 <= t < n', 'threshold');
  }
}

/**
 * The checks that tie a share to its public data: the secret share is canonical, non-zero and
 * matches this party's public share, and every public share lies on one degree-t polynomial
 * through the public key. Throws `Dkls23InvalidKeyShareError` (through the caller's mapping).
 */
function checkSharePolynomial(
  self: PartyId,
  threshold: number,
  publicKey: Uint8Array,
  secretShare: Uint8Array,
  publicShares: ReadonlyMap<PartyId, Uint8Array>,
): void {
  const publicKeyPoint = decodePoint(publicKey, { field: 'publicKey' });
  const secret = decodeScalar(secretShare, { field: 'secretShare' }, true);
  const sharePoints = new Map<bigint, InstanceType<typeof Point>>();
  for (const [id, encoded] of publicShares) {
    sharePoints.set(BigInt(id), decodePoint(encoded, { field: 'publicShares' }));
  }
  if (
    !Point.BASE.multiply(secret).equals(sharePoints.get(BigInt(self)) as InstanceType<typeof Point>)
  ) {
    throw invalid('secret share does not match its public share', 'secretShare');
  }
  // Every public share must lie on ONE degree-t polynomial through the public key (finding
  // I5: checking only the first t+1 let a later public share be anything): the first t+1
  // fix the polynomial; it must give the key at 0 and every later share at its id.
  const window = new Map([...sharePoints].slice(0, threshold + 1));
  if (!interpolatePoints(Point, window).equals(publicKeyPoint)) {
    throw invalid('public shares do not interpolate to the public key', 'publicShares');
  }
  for (const [id, point] of [...sharePoints].slice(threshold + 1)) {
    if (!interpolatePoints(Point, window, id).equals(point)) {
      throw invalid(
        `public share of party ${id} is not on the degree-${threshold} polynomial of the others`,
        'publicShares',
      );
    }
  }
}

/** Validated share prefixes (validation-memo.ts): a share decoded again skips the checks. */
const validatedShares = new ValidationMemo(1024);

/** Decodes and validates a key share (canonical encoding, consistent public data). */
export function decodeDkls23KeyShare(bytes: Uint8Array): Dkls23KeyShare {
  try {
    const reader = new Reader(bytes, 'keyShare', 0);
    if (reader.u8('version') !== WIRE_VERSION) throw invalid('unsupported version', 'version');
    if (reader.u8('kind') !== KIND_KEY_SHARE) throw invalid('not a DKLs23 key share', 'kind');
    const keyId = reader.raw(32, 'keyId').slice();
    const self = reader.u16('self');
    const threshold = reader.u16('threshold');
    const n = reader.u16('n');
    if (bytes.length !== encodedLength(n)) throw invalid('wrong length', 'length');
    const participants: PartyId[] = [];
    for (let i = 0; i < n; i++) participants.push(reader.u16('participants'));
    checkParticipants(participants, self, threshold);
    const publicKey = reader.raw(POINT_BYTES, 'publicKey').slice();
    const secretShare = reader.raw(32, 'secretShare').slice();
    const publicShares = new Map<PartyId, Uint8Array>();
    for (const id of participants) {
      publicShares.set(id, reader.raw(POINT_BYTES, 'publicShares').slice());
    }
    // Everything the checks below read, as one prefix of the encoding (validation-memo.ts).
    const checked = reader.consumed();
    if (!validatedShares.has([checked])) {
      checkSharePolynomial(self, threshold, publicKey, secretShare, publicShares);
      validatedShares.remember([checked]);
    }
    const pairs = new Map<PartyId, Dkls23PairSetup>();
    for (const id of participants) {
      if (id === self) continue;
      if (reader.u16('pairs.id') !== id) throw invalid('pair records out of order', 'pairs');
      const zeroSeed = reader.raw(SEED_BYTES, 'pairs.zeroSeed').slice();
      const delta = reader.raw(32, 'pairs.delta').slice();
      const seeds = reader.raw(KAPPA * SEED_BYTES, 'pairs.senderSeeds').slice();
      const seeds0 = reader.raw(KAPPA * SEED_BYTES, 'pairs.receiverSeeds0').slice();
      const seeds1 = reader.raw(KAPPA * SEED_BYTES, 'pairs.receiverSeeds1').slice();
      pairs.set(id, { zeroSeed, otSender: { delta, seeds }, otReceiver: { seeds0, seeds1 } });
    }
    reader.end();
    return { keyId, self, threshold, participants, publicKey, secretShare, publicShares, pairs };
  } catch (error) {
    if (error instanceof Dkls23InvalidKeyShareError) throw error;
    if (error instanceof Dkls23Error) throw invalid(error.message, error.field ?? 'share');
    throw error;
  }
}

/** Overwrites every secret buffer of the share (the object is unusable afterwards). */
export function wipeDkls23KeyShare(share: Dkls23KeyShare): void {
  share.secretShare.fill(0);
  for (const pair of share.pairs.values()) {
    pair.zeroSeed.fill(0);
    pair.otSender.delta.fill(0);
    pair.otSender.seeds.fill(0);
    pair.otReceiver.seeds0.fill(0);
    pair.otReceiver.seeds1.fill(0);
  }
}

/** Deep copy of the secret parts, so a protocol run can wipe its own copy. */
export function copyDkls23KeyShare(share: Dkls23KeyShare): Dkls23KeyShare {
  const pairs = new Map<PartyId, Dkls23PairSetup>();
  for (const [id, pair] of share.pairs) {
    pairs.set(id, {
      zeroSeed: pair.zeroSeed.slice(),
      otSender: { delta: pair.otSender.delta.slice(), seeds: pair.otSender.seeds.slice() },
      otReceiver: {
        seeds0: pair.otReceiver.seeds0.slice(),
        seeds1: pair.otReceiver.seeds1.slice(),
      },
    });
  }
  return {
    ...share,
    participants: [...share.participants],
    secretShare: share.secretShare.slice(),
    pairs,
  };
}
