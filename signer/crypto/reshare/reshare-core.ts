/**
 * Curve-independent core of resharing (crypto.md §4.1): moves a key to a new committee and a
 * new threshold under the SAME public key, with Feldman verification and per-dealer blame.
 * `frost-reshare.ts` and `dkls23-reshare.ts` wrap it with a curve suite and the share format.
 *
 * Id space: one `PartyId` space for both committees. A party keeps its id when it is in both,
 * and its id is its Shamir x-coordinate in the old key (x_i) and in the new key (y_j) alike, so
 * "party 2" in the old and in the new committee is the same node; a joining node takes an id
 * that no other node uses (it may reuse the id of a node that leaves for good only if that
 * node's old share is destroyed, since the two would otherwise hold shares at the same x).
 *
 * Thresholds are t as everywhere else in this code base: t+1 parties sign. The dealers are
 * exactly t_old+1 members of the old committee (default: the lowest ids; pass `dealers` to
 * leave out unreachable old members), identical at every party and bound into the context.
 *
 * Participants of the run: dealers ∪ new committee. An old member that neither deals nor joins
 * the new committee contributes nothing and does not take part (it cannot even be reached
 * when it is the node being replaced); it retires its share when the caller's ACK says so.
 * Dealers that are not in the new committee take part and get `undefined`.
 *
 * Rounds (every participant takes part in each):
 * - round 0: a dealer i computes w_i = λ_i·s_i (λ_i over the dealer set at 0, so Σ w_i = sk),
 *   samples f_i of degree t_new with f_i(0) = w_i and broadcasts its old verifying shares
 *   Y_1..Y_nold (as stored in its share) and the Feldman commitments C_{i,0..t_new}; it sends
 *   f_i(j) directly to every new member j. Every other broadcast/direct message is an empty
 *   marker, so the round is symmetric as `RoundProtocol` requires.
 * - round 1: every dealer broadcast is checked: every dealer announced the same old verifying
 *   shares, equal to ours when we hold an old share, lying on one degree-t_old polynomial
 *   through the expected public key (OldKeyMismatch; a joining member blames only on
 *   evidence, never on one dealer's word: see `agreedOldShares`); per dealer C_{i,0} = λ_i·Y_i
 *   (WrongConstantTerm); a new member checks each f_i(j) against C_i (InvalidSubShare), sums
 *   them, checks Σ C_{i,0} = Y (PublicKeyMismatch), computes every new verifying share
 *   Y′_m = Σ_k C′_k·m^k and s′_j·G = Y′_j. Broadcast: echo = H(context, dealer broadcasts).
 * - finish: every echo must equal ours (TranscriptMismatch naming the party that differs).
 *
 * Deviation from crypto.md §4.1 step 1: no hash commitment before the opening. A rushing
 * dealer gains nothing from choosing its commitments after seeing the others': its constant
 * term is pinned to λ_i·Y_i, and any other choice of C_{i,k} it cannot open (it does not know
 * the discrete logarithms) fails the sub-share check at every honest new member.
 *
 * ACK (crypto.md §4.1 step 4) is the caller's job: the result carries `transcriptDigest`; the
 * service must have every new member confirm the same digest before it persists the new
 * shares as active and before any old member deletes its old share. Until then the old shares
 * stay valid (this module never mutates them).
 */
import type { PartyId, RoundInput, RoundOutput } from '../round-protocol.ts';
import {
  evaluatePolynomial,
  feldmanEvaluate,
  lagrangeCoefficient,
  type GroupPoint,
  type PrimeGroup,
} from '../shamir.ts';
import { bytesToHex } from '@noble/hashes/utils.js';
import { taggedHash } from '../transcript.ts';
import { ReshareError, ReshareErrorCode, invalidOption } from './errors.ts';

/** The curve operations the core needs; implemented per curve by the wrappers. */
export interface ReshareSuite<P extends GroupPoint<P>> {
  /** Domain label, distinct per curve and share format. */
  readonly name: string;
  readonly group: PrimeGroup<P>;
  readonly pointBytes: number;
  encodePoint(point: P): Uint8Array;
  /** Decodes a canonical non-identity prime-order point; throws anything otherwise. */
  decodePoint(bytes: Uint8Array): P;
  /** 32-byte canonical encoding of a scalar in [0, q). */
  encodeScalar(value: bigint): Uint8Array;
  /** Inverse of `encodeScalar`; throws anything for non-canonical bytes. */
  decodeScalar(bytes: Uint8Array): bigint;
  /** A uniform non-zero scalar from the injected randomness. */
  randomScalar(random: (length: number) => Uint8Array): bigint;
}

/** Validated public parameters of a run, shared by the core and the wrappers. */
export interface ReshareParameters {
  readonly self: PartyId;
  readonly oldCommittee: readonly PartyId[];
  readonly oldThreshold: number;
  readonly newCommittee: readonly PartyId[];
  readonly newThreshold: number;
  readonly dealers: readonly PartyId[];
  /** dealers ∪ newCommittee, ascending: the participants of the run. */
  readonly participants: readonly PartyId[];
  readonly publicKey: Uint8Array;
  readonly sessionId: Uint8Array;
}

/** The old key material a party holding an old share brings (already validated). */
export interface OldKeyMaterial {
  /** s_self. Secret; the core never modifies it. */
  readonly secret: bigint;
  /** Y_m for every old committee member, as encoded in the share. */
  readonly verifyingShares: ReadonlyMap<PartyId, Uint8Array>;
}

/** What a new member obtains from the core. */
export interface CoreResult {
  /** s′_self. Secret. */
  readonly secret: bigint;
  /** Y′_m for every new committee member, encoded. */
  readonly verifyingShares: ReadonlyMap<PartyId, Uint8Array>;
  /** H(context, dealer broadcasts): what the caller's ACK round must agree on. */
  readonly transcriptDigest: Uint8Array;
}

export const MAX_COMMITTEE = 255;
export const MAX_SESSION_ID_BYTES = 1024;

function checkCommittee(field: string, committee: unknown, threshold: unknown): PartyId[] {
  if (!Array.isArray(committee)) throw invalidOption(field, 'not an array');
  if (committee.length < 2 || committee.length > MAX_COMMITTEE) {
    throw invalidOption(field, `need 2..${MAX_COMMITTEE} parties`);
  }
  let previous = 0;
  for (const party of committee as unknown[]) {
    if (typeof party !== 'number' || !Number.isInteger(party) || party < 1 || party > 0xffff) {
      throw invalidOption(field, 'party ids must be integers in 1..65535');
    }
    if (party <= previous) throw invalidOption(field, 'must be strictly ascending');
    previous = party;
  }
  if (
    typeof threshold !== 'number' ||
    !Number.isInteger(threshold) ||
    threshold < 1 ||
    threshold >= committee.length
  ) {
    throw invalidOption(`${field}.threshold`, `must satisfy 1 ≤ t < ${committee.length}`);
  }
  return [...(committee as PartyId[])];
}

/** Validates the committee options and derives the dealer set and the run's participants. */
export function validateReshareParameters(options: {
  readonly self: PartyId;
  readonly oldCommittee: readonly PartyId[];
  readonly oldThreshold: number;
  readonly newCommittee: readonly PartyId[];
  readonly newThreshold: number;
  readonly dealers?: readonly PartyId[];
  readonly publicKey: Uint8Array;
  readonly sessionId: Uint8Array;
}): ReshareParameters {
  const oldCommittee = checkCommittee('oldCommittee', options.oldCommittee, options.oldThreshold);
  const newCommittee = checkCommittee('newCommittee', options.newCommittee, options.newThreshold);
  let dealers: PartyId[];
  if (options.dealers === undefined) {
    dealers = oldCommittee.slice(0, options.oldThreshold + 1);
  } else {
    if (!Array.isArray(options.dealers)) throw invalidOption('dealers', 'not an array');
    dealers = [...options.dealers];
    if (dealers.length !== options.oldThreshold + 1) {
      throw invalidOption('dealers', 'need exactly oldThreshold + 1 dealers');
    }
    let previous = 0;
    for (const dealer of dealers) {
      if (!oldCommittee.includes(dealer)) throw invalidOption('dealers', 'not an old member');
      if (dealer <= previous) throw invalidOption('dealers', 'must be strictly ascending');
      previous = dealer;
    }
  }
  const participants = [...new Set([...dealers, ...newCommittee])].sort((a, b) => a - b);
  if (!participants.includes(options.self)) {
    throw invalidOption('self', 'neither a dealer nor in the new committee');
  }
  if (!(options.sessionId instanceof Uint8Array) || options.sessionId.length < 1) {
    throw invalidOption('sessionId', 'must be non-empty bytes');
  }
  if (options.sessionId.length > MAX_SESSION_ID_BYTES) {
    throw invalidOption('sessionId', 'too long');
  }
  if (!(options.publicKey instanceof Uint8Array)) throw invalidOption('publicKey', 'not bytes');
  return {
    self: options.self,
    oldCommittee: Object.freeze(oldCommittee),
    oldThreshold: options.oldThreshold,
    newCommittee: Object.freeze(newCommittee),
    newThreshold: options.newThreshold,
    dealers: Object.freeze(dealers),
    participants: Object.freeze(participants),
    publicKey: options.publicKey.slice(),
    sessionId: options.sessionId.slice(),
  };
}

function partyList(parties: readonly PartyId[]): Uint8Array {
  const out = new Uint8Array(parties.length * 2);
  parties.forEach((party, index) => {
    out[2 * index] = party >>> 8;
    out[2 * index + 1] = party & 0xff;
  });
  return out;
}

/** Binds every message of a run to the session, curve, key and both committees. */
export function reshareContext(suite: string, parameters: ReshareParameters): Uint8Array {
  return taggedHash(
    'mpc-signer/reshare/v1/context',
    suite,
    parameters.sessionId,
    parameters.publicKey,
    parameters.oldThreshold,
    partyList(parameters.oldCommittee),
    partyList(parameters.dealers),
    parameters.newThreshold,
    partyList(parameters.newCommittee),
  );
}

// Message framing: version u8 ‖ kind u8 ‖ context[32] ‖ body (fixed length per kind).
const WIRE_VERSION = 1;
const HEADER_BYTES = 2 + 32;
export const KIND_DEALER = 0x21;
export const KIND_NOT_DEALER = 0x22;
export const KIND_SUB_SHARE = 0x23;
export const KIND_NO_SUB_SHARE = 0x24;
export const KIND_ECHO = 0x25;

export function frame(kind: number, context: Uint8Array, ...body: Uint8Array[]): Uint8Array {
  let length = HEADER_BYTES;
  for (const part of body) length += part.length;
  const out = new Uint8Array(length);
  out[0] = WIRE_VERSION;
  out[1] = kind;
  out.set(context, 2);
  let offset = HEADER_BYTES;
  for (const part of body) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function unframe(
  payload: Uint8Array,
  kind: number,
  bodyLength: number,
  context: Uint8Array,
  sender: PartyId,
  what: string,
): Uint8Array {
  const details = { counterparty: sender, field: what };
  if (!(payload instanceof Uint8Array) || payload.length < HEADER_BYTES) {
    throw new ReshareError(
      ReshareErrorCode.MalformedMessage,
      `${what} from party ${sender}: too short`,
      details,
    );
  }
  if (payload[0] !== WIRE_VERSION || payload[1] !== kind) {
    throw new ReshareError(
      ReshareErrorCode.MalformedMessage,
      `${what} from party ${sender}: unexpected version or message kind`,
      details,
    );
  }
  let difference = 0;
  for (let index = 0; index < 32; index++) {
    difference |= (payload[2 + index] as number) ^ (context[index] as number);
  }
  if (difference !== 0) {
    throw new ReshareError(
      ReshareErrorCode.ContextMismatch,
      `${what} from party ${sender}: built for another session or parameter set`,
      details,
    );
  }
  if (payload.length !== HEADER_BYTES + bodyLength) {
    throw new ReshareError(
      ReshareErrorCode.MalformedMessage,
      `${what} from party ${sender}: expected ${HEADER_BYTES + bodyLength} bytes`,
      details,
    );
  }
  return payload.subarray(HEADER_BYTES);
}

/** Requires exactly one message from each expected sender on `channel`, nothing else. */
export function expectFrom(
  received: ReadonlyMap<PartyId, Uint8Array>,
  expected: readonly PartyId[],
  what: string,
): void {
  for (const sender of received.keys()) {
    if (!expected.includes(sender)) {
      throw new ReshareError(
        ReshareErrorCode.UnexpectedSender,
        `${what}: message from party ${String(sender)}, which is not expected`,
        { counterparty: sender },
      );
    }
  }
  for (const sender of expected) {
    if (!received.has(sender)) {
      throw new ReshareError(
        ReshareErrorCode.UnexpectedSender,
        `${what}: no message from party ${sender}`,
        {
          counterparty: sender,
        },
      );
    }
  }
}

export function equalBytes(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index++) {
    difference |= (left[index] as number) ^ (right[index] as number);
  }
  return difference === 0;
}

interface DealerBroadcast<P> {
  readonly oldShares: Map<PartyId, Uint8Array>;
  readonly commitments: P[];
}

/**
 * One party's resharing state machine minus the share format: `round0`, `round1(input)` and
 * `finish(input)` follow the module comment; the wrappers adapt it to `RoundProtocol`.
 */
export class ReshareCore<P extends GroupPoint<P>> {
  readonly parameters: ReshareParameters;
  readonly context: Uint8Array;
  readonly isDealer: boolean;
  readonly isNewMember: boolean;
  private readonly others: readonly PartyId[];
  private coefficients: bigint[] = [];
  private ownSubShare = 0n;
  private newSecret = 0n;
  private newVerifyingShares = new Map<PartyId, Uint8Array>();
  private echo: Uint8Array | undefined;
  private confirmedEcho: Uint8Array | undefined;
  private ownBroadcast: Uint8Array | undefined;
  /** Our old share's verifying shares, decoded and checked against `publicKey` up front. */
  private ownOldPoints: Map<PartyId, P> | undefined;

  constructor(
    private readonly suite: ReshareSuite<P>,
    parameters: ReshareParameters,
    private readonly old: OldKeyMaterial | undefined,
    private readonly random: (length: number) => Uint8Array,
  ) {
    this.parameters = parameters;
    this.context = reshareContext(suite.name, parameters);
    this.isDealer = parameters.dealers.includes(parameters.self);
    this.isNewMember = parameters.newCommittee.includes(parameters.self);
    this.others = parameters.participants.filter((party) => party !== parameters.self);
    if (this.isDealer && old === undefined) {
      throw invalidOption('oldShare', `party ${parameters.self} deals and needs its old share`);
    }
    if (old !== undefined)
      this.ownOldPoints = this.oldSharesConsistent(old.verifyingShares, undefined);
  }

  private get bodyOfDealerBroadcast(): number {
    const { oldCommittee, newThreshold } = this.parameters;
    return this.suite.pointBytes * (oldCommittee.length + newThreshold + 1);
  }

  round0(): RoundOutput {
    const { self, dealers, oldCommittee, newCommittee, newThreshold } = this.parameters;
    const { group } = this.suite;
    const direct = new Map<PartyId, Uint8Array>();
    if (!this.isDealer) {
      for (const other of this.others) direct.set(other, frame(KIND_NO_SUB_SHARE, this.context));
      return { broadcast: frame(KIND_NOT_DEALER, this.context), direct };
    }
    const old = this.old as OldKeyMaterial;
    const lambda = lagrangeCoefficient(
      group.Fn,
      dealers.map((dealer) => BigInt(dealer)),
      BigInt(self),
    );
    this.coefficients = [group.Fn.mul(lambda, old.secret)];
    for (let k = 1; k <= newThreshold; k++) {
      this.coefficients.push(this.suite.randomScalar(this.random));
    }
    const commitments = this.coefficients.map((coefficient) =>
      this.suite.encodePoint(group.BASE.multiply(coefficient)),
    );
    const oldShares = oldCommittee.map((party) => old.verifyingShares.get(party) as Uint8Array);
    this.ownBroadcast = frame(KIND_DEALER, this.context, ...oldShares, ...commitments);
    for (const other of this.others) {
      if (newCommittee.includes(other)) {
        const share = evaluatePolynomial(group.Fn, this.coefficients, BigInt(other));
        const encoded = this.suite.encodeScalar(share);
        direct.set(other, frame(KIND_SUB_SHARE, this.context, encoded));
        encoded.fill(0);
      } else {
        direct.set(other, frame(KIND_NO_SUB_SHARE, this.context));
      }
    }
    if (this.isNewMember) {
      this.ownSubShare = evaluatePolynomial(group.Fn, this.coefficients, BigInt(self));
    }
    this.coefficients.fill(0n);
    this.coefficients = [];
    return { broadcast: this.ownBroadcast.slice(), direct };
  }

  private decodePoint(bytes: Uint8Array, sender: PartyId, field: string): P {
    try {
      return this.suite.decodePoint(bytes);
    } catch (cause) {
      throw new ReshareError(
        ReshareErrorCode.InvalidPoint,
        `${field} from party ${sender}: not a valid group element`,
        { counterparty: sender, field, cause },
      );
    }
  }

  private parseDealer(dealer: PartyId, payload: Uint8Array): DealerBroadcast<P> {
    const { oldCommittee, newThreshold } = this.parameters;
    const size = this.suite.pointBytes;
    const body = unframe(
      payload,
      KIND_DEALER,
      this.bodyOfDealerBroadcast,
      this.context,
      dealer,
      'dealer broadcast',
    );
    const oldShares = new Map<PartyId, Uint8Array>();
    oldCommittee.forEach((party, index) => {
      oldShares.set(party, body.slice(index * size, (index + 1) * size));
    });
    const commitments: P[] = [];
    const offset = oldCommittee.length * size;
    for (let k = 0; k <= newThreshold; k++) {
      const bytes = body.subarray(offset + k * size, offset + (k + 1) * size);
      commitments.push(this.decodePoint(bytes, dealer, `commitments[${k}]`));
    }
    return { oldShares, commitments };
  }

  /**
   * Checks that `shares` (old verifying shares) lie on one degree-t_old polynomial through Y.
   * `dealer` is the party that announced them, or `undefined` for our own old share (then a
   * failure is an invalid `oldShare` option).
   */
  private oldSharesConsistent(
    shares: ReadonlyMap<PartyId, Uint8Array>,
    dealer: PartyId | undefined,
  ): Map<PartyId, P> {
    const { oldCommittee, oldThreshold } = this.parameters;
    const { group } = this.suite;
    const points = new Map<PartyId, P>();
    for (const party of oldCommittee) {
      const bytes = shares.get(party);
      if (dealer === undefined) {
        try {
          points.set(party, this.suite.decodePoint(bytes as Uint8Array));
        } catch (cause) {
          throw new ReshareError(
            ReshareErrorCode.InvalidArgument,
            `oldShare: verifying share of party ${party} is not a valid group element`,
            { field: 'oldShare', cause },
          );
        }
        continue;
      }
      points.set(
        party,
        this.decodePoint(bytes as Uint8Array, dealer, `oldVerifyingShares[${party}]`),
      );
    }
    const expected = this.decodePublicKey();
    const basis = oldCommittee.slice(0, oldThreshold + 1).map((party) => BigInt(party));
    const interpolate = (x: bigint): P => {
      let sum = group.ZERO;
      for (const id of basis) {
        const point = points.get(Number(id)) as P;
        sum = sum.add(point.multiplyUnsafe(lagrangeCoefficient(group.Fn, basis, id, x)));
      }
      return sum;
    };
    let consistent = interpolate(0n).equals(expected);
    for (const party of oldCommittee.slice(oldThreshold + 1)) {
      if (!consistent) break;
      consistent = interpolate(BigInt(party)).equals(points.get(party) as P);
    }
    if (!consistent) {
      if (dealer === undefined) {
        throw invalidOption('oldShare', 'verifying shares do not interpolate to publicKey');
      }
      throw new ReshareError(
        ReshareErrorCode.OldKeyMismatch,
        `party ${dealer}: announced old verifying shares do not lie on one degree-${oldThreshold} polynomial through the public key`,
        { counterparty: dealer, field: 'oldVerifyingShares' },
      );
    }
    return points;
  }

  /** A party holding an old share: every dealer must announce exactly its verifying shares. */
  private checkAgainstOwn(parsed: ReadonlyMap<PartyId, DealerBroadcast<P>>): Map<PartyId, P> {
    const { dealers, oldCommittee } = this.parameters;
    const ours = (this.old as OldKeyMaterial).verifyingShares;
    for (const dealer of dealers) {
      const announced = (parsed.get(dealer) as DealerBroadcast<P>).oldShares;
      for (const party of oldCommittee) {
        if (!equalBytes(announced.get(party) as Uint8Array, ours.get(party) as Uint8Array)) {
          throw new ReshareError(
            ReshareErrorCode.OldKeyMismatch,
            `party ${dealer}: announced old verifying share of party ${party} differs from ours`,
            { counterparty: dealer, field: 'oldVerifyingShares' },
          );
        }
      }
    }
    return this.ownOldPoints as Map<PartyId, P>;
  }

  /**
   * A party without an old share (a joining member) has nothing of its own to compare with, so
   * it never takes one dealer's word (finding L1: taking the first dealer's announcement as the
   * reference let a lying first dealer get honest dealers blamed). It groups the dealers by
   * what they announced and blames only on evidence:
   * 1. an announcement that does not lie on one degree-t_old polynomial through the public key
   *    is false (OldKeyMismatch naming its lowest dealer);
   * 2. a dealer whose constant term C_{i,0} is not λ_i times its OWN announced Y_i contradicts
   *    itself (WrongConstantTerm);
   * 3. if announcements still differ, the set announced by a strict majority of the dealers is
   *    the reference and the lowest dealer announcing anything else is named (OldKeyMismatch);
   *    without a strict majority (two dealers, one lying consistently with its own dealing) the
   *    run aborts with OldKeyMismatch naming nobody.
   * Honest dealers all announce the true set, so rule 3 never names an honest dealer while
   * honest dealers are a strict majority of the dealers: with one lying dealer, whenever
   * t_old ≥ 2. For t_old = 1 a lie that rules 1 and 2 do not catch is a tie and nobody is named.
   * (Comparing against every dealer's constant term decides nothing more: with one liar, a set
   * all constant terms back is the true one, but it is then also the majority's, or for
   * t_old = 1 the liar's own constant term already contradicts its announcement.)
   */
  private agreedOldShares(parsed: ReadonlyMap<PartyId, DealerBroadcast<P>>): Map<PartyId, P> {
    const { dealers, oldCommittee } = this.parameters;
    const { group } = this.suite;
    const groups = new Map<string, { dealers: PartyId[]; points: Map<PartyId, P> }>();
    for (const dealer of dealers) {
      const announced = (parsed.get(dealer) as DealerBroadcast<P>).oldShares;
      const key = oldCommittee
        .map((party) => bytesToHex(announced.get(party) as Uint8Array))
        .join('');
      const existing = groups.get(key);
      if (existing !== undefined) existing.dealers.push(dealer);
      else
        groups.set(key, { dealers: [dealer], points: this.oldSharesConsistent(announced, dealer) });
    }
    const dealerIds = dealers.map((dealer) => BigInt(dealer));
    const constantMatches = (points: ReadonlyMap<PartyId, P>, dealer: PartyId): boolean => {
      const lambda = lagrangeCoefficient(group.Fn, dealerIds, BigInt(dealer));
      const constant = (parsed.get(dealer) as DealerBroadcast<P>).commitments[0] as P;
      return constant.equals((points.get(dealer) as P).multiplyUnsafe(lambda));
    };
    for (const { dealers: members, points } of groups.values()) {
      for (const dealer of members) {
        if (!constantMatches(points, dealer)) {
          throw new ReshareError(
            ReshareErrorCode.WrongConstantTerm,
            `dealer ${dealer}: constant-term commitment is not λ·Y of the old share it announced`,
            { counterparty: dealer, field: 'commitments[0]' },
          );
        }
      }
    }
    const announcements = [...groups.values()];
    if (announcements.length === 1) return (announcements[0] as (typeof announcements)[0]).points;
    const reference = announcements.find(
      ({ dealers: members }) => 2 * members.length > dealers.length,
    );
    if (reference === undefined) {
      throw new ReshareError(
        ReshareErrorCode.OldKeyMismatch,
        `dealers announced ${announcements.length} different sets of old verifying shares and no set has a majority of dealers; no dealer can be named`,
        { field: 'oldVerifyingShares' },
      );
    }
    const liar = dealers.find((dealer) => !reference.dealers.includes(dealer)) as PartyId;
    throw new ReshareError(
      ReshareErrorCode.OldKeyMismatch,
      `party ${liar}: announced old verifying shares differ from those of dealers ${reference.dealers.join(', ')}, the majority of dealers`,
      { counterparty: liar, field: 'oldVerifyingShares' },
    );
  }

  private decodePublicKey(): P {
    try {
      return this.suite.decodePoint(this.parameters.publicKey);
    } catch (cause) {
      throw new ReshareError(
        ReshareErrorCode.InvalidArgument,
        'publicKey: not a valid group element',
        {
          field: 'publicKey',
          cause,
        },
      );
    }
  }

  round1(input: RoundInput): RoundOutput {
    const { self, dealers, newCommittee, newThreshold } = this.parameters;
    const { group } = this.suite;
    expectFrom(input.broadcast, this.others, 'reshare round 0 broadcast');
    expectFrom(input.direct, this.others, 'reshare round 0 direct');
    const parsed = new Map<PartyId, DealerBroadcast<P>>();
    for (const party of this.others) {
      const payload = input.broadcast.get(party) as Uint8Array;
      if (dealers.includes(party)) parsed.set(party, this.parseDealer(party, payload));
      else unframe(payload, KIND_NOT_DEALER, 0, this.context, party, 'non-dealer broadcast');
    }
    if (this.isDealer) parsed.set(self, this.parseDealer(self, this.ownBroadcast as Uint8Array));

    // The old verifying shares every dealer announced must be one and the same: equal to ours
    // when we hold an old share, otherwise the set the announcements themselves single out.
    const oldPoints =
      this.old === undefined ? this.agreedOldShares(parsed) : this.checkAgainstOwn(parsed);

    // Per-dealer check: C_{i,0} = λ_i·Y_i, then Σ C_{i,0} = Y.
    const dealerIds = dealers.map((dealer) => BigInt(dealer));
    let constantSum = group.ZERO;
    for (const dealer of dealers) {
      const commitments = (parsed.get(dealer) as DealerBroadcast<P>).commitments;
      const lambda = lagrangeCoefficient(group.Fn, dealerIds, BigInt(dealer));
      const expected = (oldPoints.get(dealer) as P).multiplyUnsafe(lambda);
      if (!(commitments[0] as P).equals(expected)) {
        throw new ReshareError(
          ReshareErrorCode.WrongConstantTerm,
          `dealer ${dealer}: constant-term commitment is not λ·Y of its old share`,
          { counterparty: dealer, field: 'commitments[0]' },
        );
      }
      constantSum = constantSum.add(commitments[0] as P);
    }
    if (!constantSum.equals(this.decodePublicKey())) {
      throw new ReshareError(
        ReshareErrorCode.PublicKeyMismatch,
        'dealt key differs from the public key',
        {
          field: 'publicKey',
        },
      );
    }

    // Sub-shares (new members only); every other direct message must be an empty marker.
    let secret = this.ownSubShare;
    this.ownSubShare = 0n;
    for (const party of this.others) {
      const payload = input.direct.get(party) as Uint8Array;
      if (!(this.isNewMember && dealers.includes(party))) {
        unframe(payload, KIND_NO_SUB_SHARE, 0, this.context, party, 'empty direct message');
        continue;
      }
      const body = unframe(payload, KIND_SUB_SHARE, 32, this.context, party, 'sub-share');
      let share: bigint;
      try {
        share = this.suite.decodeScalar(body);
      } catch (cause) {
        throw new ReshareError(
          ReshareErrorCode.MalformedMessage,
          `sub-share from party ${party}: not a canonical scalar`,
          {
            counterparty: party,
            field: 'sub-share',
            cause,
          },
        );
      }
      const commitments = (parsed.get(party) as DealerBroadcast<P>).commitments;
      if (!group.BASE.multiply(share).equals(feldmanEvaluate(group, commitments, BigInt(self)))) {
        throw new ReshareError(
          ReshareErrorCode.InvalidSubShare,
          `dealer ${party}: sub-share does not match its commitments`,
          { counterparty: party, field: 'sub-share' },
        );
      }
      secret = group.Fn.add(secret, share);
    }

    if (this.isNewMember) {
      const aggregate: P[] = [];
      for (let k = 0; k <= newThreshold; k++) {
        let sum = group.ZERO;
        for (const dealer of dealers) {
          sum = sum.add((parsed.get(dealer) as DealerBroadcast<P>).commitments[k] as P);
        }
        aggregate.push(sum);
      }
      for (const member of newCommittee) {
        const point = feldmanEvaluate(group, aggregate, BigInt(member));
        if (point.is0()) {
          throw new ReshareError(
            ReshareErrorCode.InconsistentResult,
            `new verifying share of party ${member} is the identity`,
          );
        }
        this.newVerifyingShares.set(member, this.suite.encodePoint(point));
      }
      const own = this.newVerifyingShares.get(self) as Uint8Array;
      if (secret === 0n || !equalBytes(this.suite.encodePoint(group.BASE.multiply(secret)), own)) {
        throw new ReshareError(
          ReshareErrorCode.InconsistentResult,
          'new share does not match its verifying share',
        );
      }
      this.newSecret = secret;
    }
    secret = 0n;

    const broadcasts = dealers.map((dealer) =>
      dealer === self
        ? (this.ownBroadcast as Uint8Array)
        : (input.broadcast.get(dealer) as Uint8Array),
    );
    this.echo = taggedHash('mpc-signer/reshare/v1/echo', this.context, ...broadcasts);
    return { broadcast: frame(KIND_ECHO, this.context, this.echo) };
  }

  /** Checks the echoes; returns the new member's result, `undefined` for an old-only party. */
  finish(broadcast: ReadonlyMap<PartyId, Uint8Array>): CoreResult | undefined {
    expectFrom(broadcast, this.others, 'reshare round 1 broadcast');
    for (const party of this.others) {
      const body = unframe(
        broadcast.get(party) as Uint8Array,
        KIND_ECHO,
        32,
        this.context,
        party,
        'echo',
      );
      if (!equalBytes(body, this.echo as Uint8Array)) {
        throw new ReshareError(
          ReshareErrorCode.TranscriptMismatch,
          `party ${party} saw different dealer broadcasts`,
          { counterparty: party, field: 'echo' },
        );
      }
    }
    this.confirmedEcho = (this.echo as Uint8Array).slice();
    if (!this.isNewMember) return undefined;
    const result: CoreResult = {
      secret: this.newSecret,
      verifyingShares: new Map(this.newVerifyingShares),
      transcriptDigest: (this.echo as Uint8Array).slice(),
    };
    this.newSecret = 0n;
    return result;
  }

  /**
   * The transcript digest every participant confirmed (set once `finish` passed the echo
   * check; old-only parties have it too). Public: the caller's ACK round compares it.
   */
  get confirmedTranscript(): Uint8Array | undefined {
    return this.confirmedEcho?.slice();
  }

  /** Drops every secret (bigints cannot be overwritten; references are dropped). */
  wipe(): void {
    this.coefficients.fill(0n);
    this.coefficients = [];
    this.ownSubShare = 0n;
    this.newSecret = 0n;
  }
}

/** Call-order guard shared by the wrappers: round(0..rounds-1), finish, nothing after wipe. */
export class ReshareSequencer {
  private next = 0;
  constructor(private readonly rounds: number) {}
  enterRound(index: number): void {
    if (index !== this.next || index >= this.rounds) {
      throw new ReshareError(ReshareErrorCode.ProtocolState, `round(${index}) called out of order`);
    }
    this.next++;
  }
  enterFinish(): void {
    if (this.next !== this.rounds) {
      throw new ReshareError(ReshareErrorCode.ProtocolState, 'finish called out of order');
    }
    this.next++;
  }
  close(): void {
    this.next = Number.POSITIVE_INFINITY;
  }
}
