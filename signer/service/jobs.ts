/**
 * Builds the session job for an invite (design §5.5): every participant, coordinator
 * included, validates the client request itself, checks that the session's participants
 * match the wallet's committee, derives HD tweaks itself, and only then builds the protocol.
 */
import { createHash } from 'node:crypto';
import type { PartyId } from '../crypto/round-protocol.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import {
  createFrostKeygenProtocol,
  createFrostSigningProtocol,
  decodeFrostKeyShare,
  encodeFrostKeyShare,
  wipeFrostKeyShare,
  type FrostKeyShare,
} from '../crypto/frost/index.ts';
import { deriveEd25519Child } from '../crypto/hd/index.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import type { GenerateKeyMessage, SignTxMessage } from '../protocol/messages.ts';
import type { InviteParticipant } from '../transport/control-messages.ts';
import { localPartyDriver } from '../session/round-runner.ts';
import type { SessionJob } from '../session/session-host.ts';
import type { WalletRepository } from './wallet-repository.ts';
import type { CommitteeMember, WalletMetadata } from './wallet-record.ts';

/** The wallet's key does not exist on this signer. */
export class KeyNotFoundError extends MpcError {
  constructor(walletId: string, keyType: string) {
    super(ErrorCode.KeyNotFound, `key not found: wallet ${walletId} (${keyType})`);
  }
}

/** A keygen for a wallet that already has keys. */
export class KeyAlreadyExistsError extends MpcError {
  constructor(walletId: string) {
    super(ErrorCode.KeyAlreadyExists, `key already exists: wallet ${walletId}`);
  }
}

/** The invite's participants do not fit the wallet's committee or the cluster. */
export class IncompatibleParticipantsError extends MpcError {
  constructor(message: string) {
    super(ErrorCode.IncompatiblePeerIds, message);
  }
}

export interface SignatureOutcome {
  readonly signature: Uint8Array;
  readonly publicKey: Uint8Array;
}

export interface JobFactoryOptions {
  readonly selfNodeId: string;
  /** Every node of the cluster, in party order: node i has party id i + 1 at keygen. */
  readonly clusterNodes: readonly string[];
  readonly threshold: number;
  readonly wallets: WalletRepository;
  readonly chainCode: Uint8Array;
}

export function sessionIdBytes(sessionId: string): Uint8Array {
  return new TextEncoder().encode(sessionId);
}

export function hexDigest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Keygen committee: every cluster node, party ids by configured order. */
export function keygenCommittee(clusterNodes: readonly string[]): CommitteeMember[] {
  return clusterNodes.map((nodeId, index) => ({ nodeId, partyId: index + 1 }));
}

/** Checks that `participants` are t+1 members of the wallet's committee (wipes on failure). */
function checkSigningSet(
  message: SignTxMessage,
  record: { metadata: WalletMetadata; share: Uint8Array },
  participants: readonly InviteParticipant[],
): { metadata: WalletMetadata; share: Uint8Array } {
  const { metadata } = record;
  const fits =
    participants.length === metadata.threshold + 1 &&
    participants.every((p) =>
      metadata.committee.some((m) => m.nodeId === p.nodeId && m.partyId === p.partyId),
    );
  if (!fits) {
    wipeBytes(record.share);
    throw new IncompatibleParticipantsError(
      `signing set does not match wallet ${message.walletId}'s committee`,
    );
  }
  return record;
}

export class JobFactory {
  constructor(private readonly options: JobFactoryOptions) {}

  private selfParty(participants: readonly InviteParticipant[]): PartyId {
    const self = participants.find((entry) => entry.nodeId === this.options.selfNodeId);
    if (self === undefined)
      throw new IncompatibleParticipantsError('this signer is not a participant');
    return self.partyId;
  }

  /** Ed25519 keygen among every cluster node. */
  async keygen(
    sessionId: string,
    message: GenerateKeyMessage,
    participants: readonly InviteParticipant[],
  ): Promise<SessionJob<FrostKeyShare>> {
    const expected = keygenCommittee(this.options.clusterNodes);
    if (
      participants.length !== expected.length ||
      !expected.every((member) =>
        participants.some((p) => p.nodeId === member.nodeId && p.partyId === member.partyId),
      )
    ) {
      throw new IncompatibleParticipantsError('keygen needs every signer of the cluster');
    }
    if (await this.options.wallets.exists(message.walletId, 'ed25519')) {
      throw new KeyAlreadyExistsError(message.walletId);
    }
    const protocol = createFrostKeygenProtocol({
      self: this.selfParty(participants),
      participants: expected.map((member) => member.partyId),
      threshold: this.options.threshold,
      sessionId: sessionIdBytes(sessionId),
    });
    const wallets = this.options.wallets;
    const threshold = this.options.threshold;
    return {
      party: localPartyDriver(protocol),
      async complete(share) {
        const publicKey = Buffer.from(share.publicKey).toString('hex');
        const metadata: WalletMetadata = {
          walletId: message.walletId,
          keyType: 'ed25519',
          version: 1,
          threshold,
          committee: expected,
          publicKey,
        };
        const encoded = encodeFrostKeyShare(share);
        try {
          await wallets.save({ metadata, share: encoded });
        } finally {
          wipeBytes(encoded);
          wipeFrostKeyShare(share);
        }
        return publicKey;
      },
      dispose: () => protocol.wipe(),
    };
  }

  /** Loads the wallet and checks that `participants` are t+1 members of its committee. */
  async loadForSigning(
    message: SignTxMessage,
    participants: readonly InviteParticipant[] | undefined,
  ): Promise<{ metadata: WalletMetadata; share: Uint8Array }> {
    const record = await this.options.wallets.load(message.walletId, message.keyType);
    if (record === undefined) throw new KeyNotFoundError(message.walletId, message.keyType);
    return participants === undefined ? record : checkSigningSet(message, record, participants);
  }

  /**
   * Builds the signing job. `loaded` is the record the coordinator already read (it is
   * checked against `participants` and wiped here like a freshly loaded one).
   */
  async sign(
    sessionId: string,
    message: SignTxMessage,
    participants: readonly InviteParticipant[],
    loaded?: { metadata: WalletMetadata; share: Uint8Array },
  ): Promise<SessionJob<SignatureOutcome>> {
    if (message.keyType !== 'ed25519') {
      loaded?.share.fill(0);
      throw new MpcError(ErrorCode.InvalidSessionType, 'secp256k1 signing is not available yet');
    }
    const record =
      loaded === undefined
        ? await this.loadForSigning(message, participants)
        : checkSigningSet(message, loaded, participants);
    const share = decodeFrostKeyShare(record.share);
    wipeBytes(record.share);
    const path = message.derivationPath ?? [];
    const tweak =
      path.length === 0
        ? undefined
        : deriveEd25519Child(share.publicKey, this.options.chainCode, path).tweak;
    const messageCopy = message.tx.slice();
    const protocol = createFrostSigningProtocol({
      share,
      signers: participants.map((p) => p.partyId).sort((a, b) => a - b),
      sessionId: sessionIdBytes(sessionId),
      message: messageCopy,
      ...(tweak === undefined ? {} : { tweak }),
    });
    return {
      party: localPartyDriver(protocol),
      complete: async (result) => hexDigest(result.signature),
      dispose: () => {
        protocol.wipe();
        wipeFrostKeyShare(share);
        wipeBytes(messageCopy);
      },
    };
  }
}
