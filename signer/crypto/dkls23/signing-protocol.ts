/**
 * DKLs23 threshold ECDSA signing (eprint 2023/765, Protocol 3.6), three rounds, for exactly
 * t+1 signers. For each ordered pair (i, j) one RVOLE runs with i as receiver (random input
 * χ_ij) and j as sender (inputs r_j, sk_j).
 *
 * Round 0 — direct to j: commitment H(ctx, i, R_i, salt) and i's OT-extension message as RVOLE
 *   receiver towards j.
 * Round 1 — sk_i = λ_i·p(i) + ζ_i (+ tweak for the lowest signer), pk_i = sk_i·G. Direct to j:
 *   R_i and salt (opening), pk_i, Γu = c_u·G, Γv = c_v·G, ψ_ij = φ_i − χ_ij and the RVOLE
 *   sender message answering j's round-0 extension (KOS check first: ban on failure).
 * Round 2 — per j: opening of R_j, RVOLE check (ban), χ_ij·R_j = d_u·G + Γu and
 *   χ_ij·pk_j = d_v·G + Γv (ban); then Σ pk = PK + tweak·G, R = Σ R_j ≠ O. Broadcast
 *   u_i = r_i(φ_i + Σψ_ji) + Σ(c_u + d_u), w_i = H(m)·φ_i + r_x·(sk_i(φ_i + Σψ_ji) + Σ(c_v + d_v)).
 * Finish — s = Σw / Σu, low-S, recovery id, and verification against the (tweaked) key before
 *   the signature is returned.
 *
 * Every multiplication by a secret scalar (r_i, sk_i, c_u, c_v, χ_ij, d_u, d_v) runs in constant
 * time on WebAssembly field arithmetic (scalar-multiply.ts), and so does this protocol's own check
 * of the assembled signature (ecdsa-verify.ts); the request coordinator verifies every signature
 * again with noble, an implementation independent of ours, before releasing it.
 *
 * Message layouts (after the 38-byte header):
 *   0x20 direct:    commitment[32] ‖ OT extension (nonce[32] ‖ u[κ][80] ‖ x̃[16] ‖ t̃[κ][16])
 *   0x21 direct:    R[33] ‖ salt[32] ‖ pk[33] ‖ Γu[33] ‖ Γv[33] ‖ ψ[32] ‖ rvoleNonce[32] ‖ τ[ξ][3][32] ‖ δ[2][32] ‖ η[32] ‖ μ[32]
 *   0x22 broadcast: u[32] ‖ w[32]
 */
import { bytesToNumberBE } from '@noble/curves/utils.js';
import type { PartyId, RoundInput, RoundOutput, RoundProtocol } from '../round-protocol.ts';
import { lagrangeCoefficient } from '../shamir.ts';
import { taggedHash } from '../transcript.ts';
import {
  Dkls23CommitmentMismatchError,
  Dkls23DegenerateNonceError,
  Dkls23GammaCheckError,
  Dkls23InvalidArgumentError,
  Dkls23InvalidSignatureError,
  Dkls23PublicKeyMismatchError,
} from './errors.ts';
import {
  decodePoint,
  decodeScalar,
  Fn,
  ORDER,
  Point,
  randomScalar,
  type RandomSource,
  scalarToBytes,
} from './group.ts';
import {
  checkParticipants,
  copyDkls23KeyShare,
  type Dkls23KeyShare,
  type Dkls23PairSetup,
  wipeDkls23KeyShare,
} from './key-share.ts';
import { OT_EXTENSION_MESSAGE_BYTES, type OtExtensionMessage } from './ot-extension.ts';
import { multiplyBase, multiplyPoint } from './scalar-multiply.ts';
import { verifyPrehashed } from './ecdsa-verify.ts';
import { BATCH, KAPPA, POINT_BYTES, ROW_BYTES, RVOLE_WIDTH } from './params.ts';
import { checkedRandom, encodePartyList, expectMessages, RoundSequencer } from './round-input.ts';
import {
  RVOLE_SENDER_MESSAGE_BYTES,
  rvoleReceiverFinish,
  rvoleReceiverStart,
  type RvoleReceiverState,
  rvoleSenderRespond,
  type RvoleSenderMessage,
  wipeRvoleReceiverState,
} from './rvole.ts';
import { bytesEqual, HEADER_BYTES, Reader, Writer } from './wire.ts';
import { zeroShare } from './zero-share.ts';

type CurvePoint = InstanceType<typeof Point>;

export interface Dkls23SigningOptions {
  readonly share: Dkls23KeyShare;
  /** Exactly t+1 distinct participants including self (any order). */
  readonly signers: readonly PartyId[];
  /** Unique per signing session; all signers pass the same bytes. */
  readonly sessionId: Uint8Array;
  /** 32-byte message digest (already hashed). */
  readonly digest: Uint8Array;
  /** Additive HD tweak in [0, n): the signature verifies under P + tweak·G. */
  readonly tweak?: bigint;
  readonly random?: RandomSource;
}

export interface Dkls23Signature {
  readonly r: Uint8Array;
  /** Low-S. */
  readonly s: Uint8Array;
  /** 0..3: bit 0 = parity of R.y (after low-S normalisation), bit 1 = R.x ≥ n. */
  readonly recovery: number;
  /** The (tweaked) public key the signature verifies under, 33 bytes compressed. */
  readonly publicKey: Uint8Array;
}

const KIND_COMMIT = 0x20;
const KIND_OPEN = 0x21;
const KIND_FINAL = 0x22;
const COMMIT_LENGTH = HEADER_BYTES + 32 + OT_EXTENSION_MESSAGE_BYTES;
const OPEN_LENGTH = HEADER_BYTES + 4 * POINT_BYTES + 32 + 32 + RVOLE_SENDER_MESSAGE_BYTES;
const FINAL_LENGTH = HEADER_BYTES + 64;

/** Context hash binding every signing message (replays from other sessions are rejected). */
export function signingContext(
  share: Dkls23KeyShare,
  signers: readonly PartyId[],
  sessionId: Uint8Array,
  digest: Uint8Array,
  tweak: bigint,
): Uint8Array {
  return taggedHash(
    'DKLs23/v1/sign/context',
    share.keyId,
    share.publicKey,
    encodePartyList(signers),
    sessionId,
    digest,
    scalarToBytes(tweak),
  );
}

/** Session id of the RVOLE where `sender` inputs (r, sk) and `receiver` inputs χ. */
export function signingPairSessionId(
  context: Uint8Array,
  sender: PartyId,
  receiver: PartyId,
): Uint8Array {
  return taggedHash('DKLs23/v1/sign/pair', context, sender, receiver);
}

function nonceCommitment(
  context: Uint8Array,
  party: PartyId,
  point: Uint8Array,
  salt: Uint8Array,
): Uint8Array {
  return taggedHash('DKLs23/v1/sign/nonce-commitment', context, party, point, salt);
}

export function createDkls23SigningProtocol(
  options: Dkls23SigningOptions,
): RoundProtocol<Dkls23Signature> {
  return new SigningParty(options);
}

interface PairState {
  receiver?: RvoleReceiverState;
  commitment?: Uint8Array;
  cu: bigint;
  cv: bigint;
}

class SigningParty implements RoundProtocol<Dkls23Signature> {
  readonly rounds = 3;
  readonly self: PartyId;
  readonly participants: readonly PartyId[];
  private readonly others: readonly PartyId[];
  private readonly share: Dkls23KeyShare;
  private readonly digest: Uint8Array;
  private readonly tweak: bigint;
  private readonly targetKey: CurvePoint;
  private readonly context: Uint8Array;
  private readonly random: RandomSource;
  private readonly sequencer = new RoundSequencer(3);
  private readonly pairs = new Map<PartyId, PairState>();

  private instanceKey = 0n; // r_i
  private inversionMask = 0n; // φ_i
  private salt = new Uint8Array(32);
  private nonce: CurvePoint = Point.ZERO; // R
  private signingKey = 0n; // sk_i
  /** r_i·G and sk_i·G, computed once (public once opened; scalar multiplications are costly). */
  private ownNoncePoint: Point | undefined;
  private publicKeySharePoint: Point | undefined;

  constructor(options: Dkls23SigningOptions) {
    const { share } = options;
    try {
      checkParticipants(share.participants, share.self, share.threshold);
    } catch (error) {
      throw new Dkls23InvalidArgumentError(`share: ${(error as Error).message}`, {
        field: 'share',
      });
    }
    const signers = [...options.signers].sort((a, b) => a - b);
    if (signers.length !== share.threshold + 1) {
      throw new Dkls23InvalidArgumentError(`signers: exactly ${share.threshold + 1} required`, {
        field: 'signers',
      });
    }
    for (let i = 0; i < signers.length; i++) {
      const id = signers[i] as number;
      if (!share.participants.includes(id))
        throw new Dkls23InvalidArgumentError(`signers: ${id} holds no share`, { field: 'signers' });
      if (i > 0 && id === signers[i - 1])
        throw new Dkls23InvalidArgumentError('signers: duplicate', { field: 'signers' });
    }
    if (!signers.includes(share.self))
      throw new Dkls23InvalidArgumentError('signers: self missing', { field: 'signers' });
    if (
      !(options.sessionId instanceof Uint8Array) ||
      options.sessionId.length < 16 ||
      options.sessionId.length > 1024
    ) {
      throw new Dkls23InvalidArgumentError('sessionId must be 16..1024 bytes', {
        field: 'sessionId',
      });
    }
    if (!(options.digest instanceof Uint8Array) || options.digest.length !== 32) {
      throw new Dkls23InvalidArgumentError('digest must be 32 bytes', { field: 'digest' });
    }
    const tweak = options.tweak ?? 0n;
    if (typeof tweak !== 'bigint' || tweak < 0n || tweak >= ORDER) {
      throw new Dkls23InvalidArgumentError('tweak must be in [0, n)', { field: 'tweak' });
    }
    let targetKey: CurvePoint;
    try {
      targetKey = decodePoint(share.publicKey, { field: 'share.publicKey' });
    } catch (error) {
      throw new Dkls23InvalidArgumentError('share.publicKey is not a valid point', {
        field: 'share.publicKey',
        cause: error,
      });
    }
    if (tweak !== 0n) targetKey = targetKey.add(Point.BASE.multiply(tweak));
    if (targetKey.is0())
      throw new Dkls23InvalidArgumentError('tweaked key is the identity', { field: 'tweak' });
    this.share = copyDkls23KeyShare(share);
    this.self = share.self;
    this.participants = Object.freeze(signers);
    this.others = signers.filter((id) => id !== share.self);
    this.digest = options.digest.slice();
    this.tweak = tweak;
    this.targetKey = targetKey;
    this.context = signingContext(share, signers, options.sessionId, options.digest, tweak);
    this.random = checkedRandom(options.random);
  }

  round(index: number, input: RoundInput): RoundOutput {
    this.sequencer.enter(index);
    if (index === 0) return this.round0();
    if (index === 1) return this.round1(input);
    return this.round2(input);
  }

  private round0(): RoundOutput {
    this.instanceKey = randomScalar(this.random);
    this.inversionMask = randomScalar(this.random);
    this.salt = this.random(32).slice();
    this.ownNoncePoint = multiplyBase(this.instanceKey);
    const ownNonce = this.ownNoncePoint.toBytes(true);
    const commitment = nonceCommitment(this.context, this.self, ownNonce, this.salt);
    const direct = new Map<PartyId, Uint8Array>();
    for (const other of this.others) {
      const pair = this.share.pairs.get(other);
      if (pair === undefined)
        throw new Dkls23InvalidArgumentError(`share has no pairwise setup with ${other}`, {
          field: 'share',
        });
      const { message, state } = rvoleReceiverStart(
        pair.otReceiver,
        signingPairSessionId(this.context, other, this.self),
        this.random,
      );
      this.pairs.set(other, { receiver: state, cu: 0n, cv: 0n });
      direct.set(
        other,
        new Writer(COMMIT_LENGTH)
          .header(KIND_COMMIT, this.self, other, this.context)
          .raw(commitment)
          .raw(message.nonce)
          .raw(message.u)
          .raw(message.xTilde)
          .raw(message.tTilde)
          .finish(),
      );
    }
    return { direct };
  }

  private round1(input: RoundInput): RoundOutput {
    const messages = expectMessages(input, 'direct', this.others, 'signing round 0');
    const parsed = new Map<PartyId, OtExtensionMessage>();
    for (const other of this.others) {
      const reader = new Reader(messages.get(other) as Uint8Array, 'sign.commit', other);
      reader.header(KIND_COMMIT, other, this.self, this.context, COMMIT_LENGTH);
      (this.pairs.get(other) as PairState).commitment = reader.raw(32, 'commitment').slice();
      parsed.set(other, {
        nonce: reader.raw(32, 'nonce'),
        u: reader.raw(KAPPA * ROW_BYTES, 'u'),
        xTilde: reader.raw(16, 'xTilde'),
        tTilde: reader.raw(KAPPA * 16, 'tTilde'),
      });
      reader.end();
    }
    const signerIds = this.participants.map(BigInt);
    const lagrange = lagrangeCoefficient(Fn, signerIds, BigInt(this.self));
    const secret = decodeScalar(this.share.secretShare, { field: 'share.secretShare' }, true);
    const seeds = new Map([...this.share.pairs].map(([id, pair]) => [id, pair.zeroSeed]));
    let signingKey = Fn.add(
      Fn.mul(lagrange, secret),
      zeroShare(this.self, this.participants, seeds, this.context),
    );
    if (this.self === this.participants[0]) signingKey = Fn.add(signingKey, this.tweak);
    this.signingKey = signingKey;
    const publicKeyShare = multiplyBase(signingKey);
    this.publicKeySharePoint = publicKeyShare;
    const ownNonce = this.ownNoncePoint as Point;

    const direct = new Map<PartyId, Uint8Array>();
    for (const other of this.others) {
      const pairSetup = this.share.pairs.get(other);
      const state = this.pairs.get(other) as PairState;
      const { message, outputs } = rvoleSenderRespond(
        (pairSetup as Dkls23PairSetup).otSender,
        signingPairSessionId(this.context, this.self, other),
        parsed.get(other) as OtExtensionMessage,
        [this.instanceKey, signingKey],
        this.random,
        other,
      );
      state.cu = outputs[0] as bigint;
      state.cv = outputs[1] as bigint;
      const chi = (state.receiver as RvoleReceiverState).input;
      const writer = new Writer(OPEN_LENGTH)
        .header(KIND_OPEN, this.self, other, this.context)
        .point(ownNonce)
        .raw(this.salt)
        .point(publicKeyShare)
        .point(multiplyBase(state.cu))
        .point(multiplyBase(state.cv))
        .scalar(Fn.sub(this.inversionMask, chi))
        .raw(message.nonce)
        .raw(message.tau);
      for (const value of message.delta) writer.scalar(value);
      direct.set(other, writer.scalar(message.eta).raw(message.mu).finish());
    }
    return { direct };
  }

  private round2(input: RoundInput): RoundOutput {
    const messages = expectMessages(input, 'direct', this.others, 'signing round 1');
    let nonce = this.ownNoncePoint as Point;
    let keySum = this.publicKeySharePoint as Point;
    let psiSum = 0n;
    let uCross = 0n;
    let vCross = 0n;
    for (const other of this.others) {
      const state = this.pairs.get(other) as PairState;
      const reader = new Reader(messages.get(other) as Uint8Array, 'sign.open', other);
      reader.header(KIND_OPEN, other, this.self, this.context, OPEN_LENGTH);
      const nonceBytes = reader.raw(POINT_BYTES, 'R');
      const theirNonce = decodePoint(nonceBytes, { field: 'sign.open.R', counterparty: other });
      const salt = reader.raw(32, 'salt');
      const publicKeyShare = reader.point('pk');
      const gammaU = reader.point('gammaU');
      const gammaV = reader.point('gammaV');
      const psi = reader.scalar('psi');
      const senderNonce = reader.raw(32, 'rvoleNonce');
      const tau = reader.raw(BATCH * RVOLE_WIDTH * 32, 'tau');
      const delta = [reader.scalar('delta[0]'), reader.scalar('delta[1]')];
      const eta = reader.scalar('eta');
      const mu = reader.raw(32, 'mu');
      reader.end();
      if (
        !bytesEqual(
          nonceCommitment(this.context, other, nonceBytes, salt),
          state.commitment as Uint8Array,
        )
      ) {
        throw new Dkls23CommitmentMismatchError(
          `party ${other}: nonce opening does not match its commitment`,
          {
            counterparty: other,
            field: 'R',
          },
        );
      }
      const receiver = state.receiver as RvoleReceiverState;
      const rvoleMessage: RvoleSenderMessage = { nonce: senderNonce, tau, delta, eta, mu };
      const [du, dv] = rvoleReceiverFinish(
        receiver,
        signingPairSessionId(this.context, other, this.self),
        rvoleMessage,
        other,
      ) as [bigint, bigint];
      const chi = receiver.input;
      if (!multiplyPoint(theirNonce, chi).equals(multiplyBase(du).add(gammaU))) {
        throw new Dkls23GammaCheckError(`party ${other}: Γu check failed`, {
          counterparty: other,
          field: 'gammaU',
        });
      }
      if (!multiplyPoint(publicKeyShare, chi).equals(multiplyBase(dv).add(gammaV))) {
        throw new Dkls23GammaCheckError(`party ${other}: Γv check failed`, {
          counterparty: other,
          field: 'gammaV',
        });
      }
      nonce = nonce.add(theirNonce);
      keySum = keySum.add(publicKeyShare);
      psiSum = Fn.add(psiSum, psi);
      uCross = Fn.add(uCross, Fn.add(state.cu, du));
      vCross = Fn.add(vCross, Fn.add(state.cv, dv));
    }
    if (!keySum.equals(this.targetKey)) {
      throw new Dkls23PublicKeyMismatchError(
        'the signers’ key shares do not add up to the public key',
        { field: 'pk' },
      );
    }
    if (nonce.is0()) throw new Dkls23DegenerateNonceError('R is the identity', { field: 'R' });
    this.nonce = nonce;
    const rx = Fn.create(nonce.toAffine().x);
    if (rx === 0n) throw new Dkls23DegenerateNonceError('r = 0', { field: 'R' });
    const phi = Fn.add(this.inversionMask, psiSum);
    const u = Fn.add(Fn.mul(this.instanceKey, phi), uCross);
    const v = Fn.add(Fn.mul(this.signingKey, phi), vCross);
    const w = Fn.add(Fn.mul(this.messageScalar(), this.inversionMask), Fn.mul(rx, v));
    this.ownU = u;
    this.ownW = w;
    return {
      broadcast: new Writer(FINAL_LENGTH)
        .header(KIND_FINAL, this.self, 0, this.context)
        .scalar(u)
        .scalar(w)
        .finish(),
    };
  }

  private ownU = 0n;
  private ownW = 0n;

  private messageScalar(): bigint {
    return Fn.create(bytesToNumberBE(this.digest));
  }

  finish(input: RoundInput): Dkls23Signature {
    this.sequencer.enterFinish();
    const messages = expectMessages(input, 'broadcast', this.others, 'signing round 2');
    let uSum = this.ownU;
    let wSum = this.ownW;
    for (const other of this.others) {
      const reader = new Reader(messages.get(other) as Uint8Array, 'sign.final', other);
      reader.header(KIND_FINAL, other, 0, this.context, FINAL_LENGTH);
      uSum = Fn.add(uSum, reader.scalar('u'));
      wSum = Fn.add(wSum, reader.scalar('w'));
      reader.end();
    }
    if (uSum === 0n) throw new Dkls23DegenerateNonceError('Σu = 0', { field: 'u' });
    const affine = this.nonce.toAffine();
    const r = Fn.create(affine.x);
    let s = Fn.mul(wSum, Fn.inv(uSum));
    if (s === 0n) throw new Dkls23InvalidSignatureError('s = 0', { field: 's' });
    let recovery = (affine.y & 1n ? 1 : 0) | (affine.x >= ORDER ? 2 : 0);
    if (s > ORDER >> 1n) {
      s = ORDER - s;
      recovery ^= 1;
    }
    const signature = {
      r: scalarToBytes(r),
      s: scalarToBytes(s),
      recovery,
      publicKey: this.targetKey.toBytes(true),
    };
    if (!verifyPrehashed(this.digest, r, s, this.targetKey)) {
      throw new Dkls23InvalidSignatureError(
        'assembled signature does not verify; nothing released',
        { field: 'signature' },
      );
    }
    return signature;
  }

  wipe(): void {
    this.sequencer.markWiped();
    wipeDkls23KeyShare(this.share);
    for (const state of this.pairs.values()) {
      if (state.receiver) wipeRvoleReceiverState(state.receiver);
      state.cu = 0n;
      state.cv = 0n;
    }
    this.pairs.clear();
    this.instanceKey = 0n;
    this.inversionMask = 0n;
    this.signingKey = 0n;
    this.ownNoncePoint = undefined;
    this.publicKeySharePoint = undefined;
    this.salt.fill(0);
  }
}
