/**
 * FROST(Ed25519) resharing as a `RoundProtocol` (crypto.md §4.1; protocol, id space and ACK
 * duty in `reshare-core.ts`). Run by the dealers and the new committee (see reshare-core.ts); a new member returns
 * `{ share, transcriptDigest }` with a `FrostKeyShare` in keygen's format (ready for
 * `createFrostSigningProtocol`), an old-only party returns `undefined`. The old share is
 * read, never modified.
 *
 * Wire (after version ‖ kind ‖ context[32]): dealer broadcast Y_old[n_old][32] ‖
 * C[t_new+1][32]; sub-share f_i(j)[32] little-endian; echo[32]; empty markers otherwise.
 */
import type { RoundInput, RoundOutput, PartyId } from '../round-protocol.ts';
import {
  Point,
  bytesToIntegerLE,
  decodeElement,
  decodeScalar,
  encodeScalar,
  equalBytes,
  mod,
  type EdwardsPoint,
} from '../frost/ed25519-group.ts';
import { validateFrostKeyShare, type FrostKeyShare } from '../frost/key-share.ts';
import { ReshareError, ReshareErrorCode, invalidOption } from './errors.ts';
import {
  checkedRandom,
  type NewShareResult,
  type ReshareOptions,
  type ReshareProtocol,
} from './options.ts';
import {
  ReshareCore,
  ReshareSequencer,
  validateReshareParameters,
  type OldKeyMaterial,
  type ReshareSuite,
} from './reshare-core.ts';

export const ed25519ReshareSuite: ReshareSuite<EdwardsPoint> = {
  name: 'frost-ed25519',
  group: Point,
  pointBytes: 32,
  encodePoint: (point) => point.toBytes(),
  decodePoint: (bytes) => decodeElement(bytes, 'point'),
  encodeScalar: (value) => encodeScalar(value),
  decodeScalar: (bytes) => decodeScalar(bytes, 'scalar'),
  randomScalar(random) {
    for (;;) {
      const bytes = random(64);
      const value = mod(bytesToIntegerLE(bytes));
      bytes.fill(0);
      if (value !== 0n) return value;
    }
  },
};

function oldMaterial(
  share: FrostKeyShare,
  self: PartyId,
  oldCommittee: readonly PartyId[],
  oldThreshold: number,
  publicKey: Uint8Array,
): OldKeyMaterial {
  try {
    validateFrostKeyShare(share);
  } catch (cause) {
    throw new ReshareError(ReshareErrorCode.InvalidArgument, 'oldShare: invalid key share', {
      field: 'oldShare',
      cause,
    });
  }
  if (share.self !== self) throw invalidOption('oldShare', 'belongs to another party');
  if (share.threshold !== oldThreshold) throw invalidOption('oldShare', 'other threshold');
  if (
    share.participants.length !== oldCommittee.length ||
    share.participants.some((party, index) => party !== oldCommittee[index])
  ) {
    throw invalidOption('oldShare', 'other committee than oldCommittee');
  }
  if (!equalBytes(share.publicKey, publicKey)) {
    throw invalidOption('oldShare', 'other public key than publicKey');
  }
  return {
    secret: decodeScalar(share.secretShare, 'oldShare.secretShare'),
    verifyingShares: share.verifyingShares,
  };
}

export function createFrostReshareProtocol(
  options: ReshareOptions<FrostKeyShare>,
): ReshareProtocol<FrostKeyShare> {
  const parameters = validateReshareParameters(options);
  const random = checkedRandom(options.random);
  try {
    decodeElement(parameters.publicKey, 'publicKey');
  } catch (cause) {
    throw new ReshareError(ReshareErrorCode.InvalidArgument, 'publicKey: not a valid key', {
      field: 'publicKey',
      cause,
    });
  }
  if (options.oldShare !== undefined && !parameters.oldCommittee.includes(parameters.self)) {
    throw invalidOption('oldShare', 'self is not in the old committee');
  }
  const old =
    options.oldShare === undefined
      ? undefined
      : oldMaterial(
          options.oldShare,
          parameters.self,
          parameters.oldCommittee,
          parameters.oldThreshold,
          parameters.publicKey,
        );
  const core = new ReshareCore(ed25519ReshareSuite, parameters, old, random);
  const sequencer = new ReshareSequencer(2);
  return {
    rounds: 2,
    self: parameters.self,
    participants: parameters.participants,
    round(index: number, input: RoundInput): RoundOutput {
      sequencer.enterRound(index);
      return index === 0 ? core.round0() : core.round1(input);
    },
    finish(input: RoundInput): NewShareResult<FrostKeyShare> | undefined {
      sequencer.enterFinish();
      expectNoDirect(input);
      const result = core.finish(input.broadcast);
      if (result === undefined) return undefined;
      const share: FrostKeyShare = {
        self: parameters.self,
        threshold: parameters.newThreshold,
        participants: parameters.newCommittee,
        publicKey: parameters.publicKey.slice(),
        verifyingShares: result.verifyingShares,
        secretShare: encodeScalar(result.secret),
      };
      try {
        validateFrostKeyShare(share);
      } catch (cause) {
        share.secretShare.fill(0);
        throw new ReshareError(ReshareErrorCode.InconsistentResult, 'new key share is invalid', {
          cause,
        });
      }
      return { share, transcriptDigest: result.transcriptDigest };
    },
    confirmedTranscript: () => core.confirmedTranscript,
    wipe(): void {
      core.wipe();
      sequencer.close();
    },
  };
}

function expectNoDirect(input: RoundInput): void {
  for (const sender of input.direct.keys()) {
    throw new ReshareError(
      ReshareErrorCode.UnexpectedSender,
      `reshare round 1: unexpected direct message from party ${sender}`,
      { counterparty: sender },
    );
  }
}
