/**
 * Builds the session job for an invite (design §5.5): every participant, coordinator
 * included, validates the client request itself, checks that the session's participants
 * match the wallet's committee, derives HD tweaks itself, and only then builds the protocol.
 */
import { createHash } from 'node:crypto';
import type { PartyId } from '../crypto/round-protocol.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import { deriveEd25519Child, deriveSecp256k1Child } from '../crypto/hd/index.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import {
  ecdsaSigningDigest,
  type GenerateKeyMessage,
  type KeyType,
  type PairRefreshMessage,
  type ResharingMessage,
  type SignTxMessage,
} from '../protocol/messages.ts';
import {
  MAX_SIGNING_BATCH,
  type InviteParticipant,
  type SessionInvite,
} from '../transport/control-messages.ts';
import { checkReshareInvite } from './reshare-plan.ts';
import { parallelDriverList, parallelDrivers } from '../session/parallel-driver.ts';
import type { PartyDriver } from '../session/round-runner.ts';
import { deferParty, type EncodedKeygenResult, type ProtocolDrivers } from './protocol-drivers.ts';
import type { EncodedReshareResult } from '../session/worker-messages.ts';
import type { PeerBans } from './peer-bans.ts';
import type { SessionJob } from '../session/session-host.ts';
import type { WalletRepository } from './wallet-repository.ts';
import type { CommitteeMember, WalletMetadata, WalletRecord } from './wallet-record.ts';

/** The wallet's key does not exist on this signer. */
export class KeyNotFoundError extends MpcError {
  constructor(walletId: string, keyType: string) {
    super(ErrorCode.KeyNotFound, `key not found: wallet ${walletId} (${keyType})`);
  }
}

/** This signer holds no share of the wallet's key (resharing moved it away). */
export class NotCommitteeMemberError extends MpcError {
  constructor(walletId: string) {
    super(ErrorCode.ParticipantNotFound, `this signer is not in wallet ${walletId}'s committee`);
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

/** A finished signature and the (derived) key it verifies under. */
export type SignatureOutcome =
  | { readonly keyType: 'ed25519'; readonly signature: Uint8Array; readonly publicKey: Uint8Array }
  | {
      readonly keyType: 'secp256k1';
      readonly r: Uint8Array;
      readonly s: Uint8Array;
      readonly recovery: number;
      /** 33-byte compressed. */
      readonly publicKey: Uint8Array;
    };

/** A finished keygen: both encoded shares (secret) and group keys. */
export interface WalletKeys {
  readonly eddsa: EncodedKeygenResult;
  readonly ecdsa: EncodedKeygenResult;
}

export interface JobFactoryOptions {
  readonly selfNodeId: string;
  /** Every node of the cluster, in party order: node i has party id i + 1 at keygen. */
  readonly clusterNodes: readonly string[];
  readonly threshold: number;
  readonly wallets: WalletRepository;
  readonly chainCode: Uint8Array;
  readonly drivers: ProtocolDrivers;
  /**
   * Burned DKLs23 pairs (absent: none): secp256k1 signing refuses a pair whose state predates
   * the peer's last ban; new pair state (keygen, reshare, refresh) is stamped with the epochs.
   */
  readonly bans?: PeerBans;
}

/**
 * Names a key version's pairwise DKLs23 OT state for the per-pair session cap (a reshare makes
 * a new version with fresh pairwise state, so it gets fresh slots).
 */
export function pairStateKey(
  metadata: Pick<WalletMetadata, 'walletId' | 'keyType' | 'version'>,
): string {
  return `${metadata.walletId}\n${metadata.keyType}\n${metadata.version}`;
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

/** A driver whose result is transformed (drivers may be class instances: no spreading). */
function mapResult<From, To>(
  driver: PartyDriver<From>,
  map: (result: From) => To,
): PartyDriver<To> {
  return {
    rounds: driver.rounds,
    round: (index, input) => driver.round(index, input),
    finish: async (input) => map(await driver.finish(input)),
    wipe: () => driver.wipe(),
  };
}

/** Checks that `participants` are t+1 members of the wallet's committee (wipes on failure). */
function checkSigningSet(
  message: SignTxMessage,
  record: WalletRecord,
  participants: readonly InviteParticipant[],
): WalletRecord {
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

  private otherNodes(participants: readonly Pick<InviteParticipant, 'nodeId'>[]): string[] {
    return participants.map((p) => p.nodeId).filter((node) => node !== this.options.selfNodeId);
  }

  private selfParty(participants: readonly InviteParticipant[]): PartyId {
    const self = participants.find((entry) => entry.nodeId === this.options.selfNodeId);
    if (self === undefined)
      throw new IncompatibleParticipantsError('this signer is not a participant');
    return self.partyId;
  }

  /**
   * The public keys of wallet `walletId` when this signer holds both of its keys, created by
   * keygen `operation` (wallet-record.ts `keygenOperation`); undefined otherwise. Shares
   * are wiped at once.
   */
  async completedKeygen(
    walletId: string,
    operation: string,
  ): Promise<{ readonly eddsa: Uint8Array; readonly ecdsa: Uint8Array } | undefined> {
    const { wallets } = this.options;
    const [eddsa, ecdsa] = await Promise.all([
      wallets.load(walletId, 'ed25519'),
      wallets.load(walletId, 'secp256k1'),
    ]);
    if (eddsa !== undefined) wipeBytes(eddsa.share);
    if (ecdsa !== undefined) wipeBytes(ecdsa.share);
    const created = (record: WalletRecord | undefined): record is WalletRecord =>
      record !== undefined &&
      record.metadata.retired !== true &&
      record.metadata.keygenOperation === operation;
    if (!created(eddsa) || !created(ecdsa)) return undefined;
    return {
      eddsa: new Uint8Array(Buffer.from(eddsa.metadata.publicKey, 'hex')),
      ecdsa: new Uint8Array(Buffer.from(ecdsa.metadata.publicKey, 'hex')),
    };
  }

  /**
   * Keygen among every cluster node: FROST (Ed25519) and DKLs23 (secp256k1) side by side in
   * one session. Both shares are stored before this signer reports done.
   */
  async keygen(
    sessionId: string,
    message: GenerateKeyMessage,
    participants: readonly InviteParticipant[],
    operation: string,
  ): Promise<SessionJob<WalletKeys>> {
    const expected = keygenCommittee(this.options.clusterNodes);
    if (
      participants.length !== expected.length ||
      !expected.every((member) =>
        participants.some((p) => p.nodeId === member.nodeId && p.partyId === member.partyId),
      )
    ) {
      throw new IncompatibleParticipantsError('keygen needs every signer of the cluster');
    }
    const { wallets, threshold, drivers } = this.options;
    // No ban refusal: keygen runs fresh base OTs with every peer, and the new pair state is
    // stamped with each peer's ban epoch as of now (taken before the OTs run).
    const pairEpochs = this.options.bans?.pairEpochsFor(this.otherNodes(participants));
    if (
      (await wallets.exists(message.walletId, 'ed25519')) ||
      (await wallets.exists(message.walletId, 'secp256k1'))
    ) {
      throw new KeyAlreadyExistsError(message.walletId);
    }
    const options = {
      self: this.selfParty(participants),
      participants: expected.map((member) => member.partyId),
      threshold,
      sessionId: sessionIdBytes(sessionId),
    };
    const frost = deferParty(drivers, { protocol: 'frost-keygen', options });
    const dkls23 = deferParty(drivers, { protocol: 'dkls23-keygen', options });
    const party = parallelDrivers(frost.driver, dkls23.driver);
    let pairOrigins: Record<string, string> = {};
    return {
      party: mapResult(party, ([eddsa, ecdsa]) => ({ eddsa, ecdsa })),
      bind: async (binding) => {
        pairOrigins = originsFor(this.otherNodes(participants), binding);
        await Promise.all([frost.bind(binding), dkls23.bind(binding)]);
      },
      async complete(keys) {
        const metadata = (keyType: KeyType, publicKey: Uint8Array): WalletMetadata => ({
          walletId: message.walletId,
          keyType,
          version: 1,
          threshold,
          committee: expected,
          publicKey: Buffer.from(publicKey).toString('hex'),
          keygenOperation: operation,
        });
        try {
          await wallets.save({
            metadata: metadata('ed25519', keys.eddsa.publicKey),
            share: keys.eddsa.share,
          });
          await wallets.save({
            metadata: {
              ...metadata('secp256k1', keys.ecdsa.publicKey),
              ...(pairEpochs === undefined ? {} : { pairEpochs }),
              pairOrigins,
            },
            share: keys.ecdsa.share,
          });
        } finally {
          wipeBytes(keys.eddsa.share, keys.ecdsa.share);
        }
        return `${Buffer.from(keys.eddsa.publicKey).toString('hex')}:${Buffer.from(keys.ecdsa.publicKey).toString('hex')}`;
      },
      dispose: () => party.wipe(),
    };
  }

  /**
   * Builds this signer's part of a resharing session after checking the invite against the
   * signed request and its own record (reshare-plan.ts). Two-phase: `complete` stages the new
   * share as version v+1 (new members) and returns the ACK digest; `commit` makes v+1 current
   * and deletes the old share, or, on an old member that leaves, leaves a share-less tombstone.
   */
  async reshare(
    message: ResharingMessage,
    invite: Pick<SessionInvite, 'sessionId' | 'participants' | 'reshare'>,
  ): Promise<SessionJob<EncodedReshareResult>> {
    const { wallets, drivers, selfNodeId, clusterNodes } = this.options;
    const record = await wallets.load(message.walletId, message.keyType);
    let checked: ReturnType<typeof checkReshareInvite>;
    try {
      checked = checkReshareInvite({
        request: message,
        participants: invite.participants,
        context: invite.reshare,
        current: record?.metadata,
        clusterNodes,
        selfNodeId,
      });
    } catch (error) {
      if (record !== undefined) wipeBytes(record.share);
      throw error;
    }
    const { context, newCommittee } = checked;
    const share = checked.isDealer ? record?.share : undefined;
    if (record !== undefined && !checked.isDealer) wipeBytes(record.share);
    const newVersion = context.oldVersion + 1;
    const publicKey = new Uint8Array(Buffer.from(context.publicKey, 'hex'));
    const deferred = deferParty(drivers, {
      protocol: message.keyType === 'ed25519' ? 'frost-reshare' : 'dkls23-reshare',
      ...(share === undefined ? {} : { share }),
      options: {
        self: checked.selfPartyId,
        oldCommittee: context.oldCommittee.map((member) => member.partyId).sort((a, b) => a - b),
        oldThreshold: context.oldThreshold,
        newCommittee: newCommittee.map((member) => member.partyId),
        newThreshold: message.newThreshold,
        dealers: [...context.dealers].sort((a, b) => a - b),
        publicKey,
        sessionId: sessionIdBytes(invite.sessionId),
      },
    });
    if (share !== undefined) wipeBytes(share);
    const party = deferred.driver;
    // The new committee's pairs come from fresh base OTs (no old pair state is reused), so a
    // ban does not refuse resharing; the new state is stamped with the epochs as of now.
    const newPeers = this.otherNodes(newCommittee);
    const pairEpochs =
      message.keyType === 'secp256k1' ? this.options.bans?.pairEpochsFor(newPeers) : undefined;
    const metadata: WalletMetadata = {
      walletId: message.walletId,
      keyType: message.keyType,
      version: newVersion,
      threshold: message.newThreshold,
      committee: newCommittee,
      publicKey: context.publicKey,
      ...(pairEpochs === undefined ? {} : { pairEpochs }),
    };
    let staged = false;
    let pairOrigins: Record<string, string> | undefined;
    return {
      party,
      bind: (binding) => {
        if (message.keyType === 'secp256k1') pairOrigins = originsFor(newPeers, binding);
        return deferred.bind(binding);
      },
      async complete(result) {
        try {
          if (checked.isNewMember) {
            if (result.share === undefined) {
              throw new MpcError(ErrorCode.ReshareFailure, 'reshare produced no share');
            }
            await wallets.stage({
              metadata: { ...metadata, ...(pairOrigins === undefined ? {} : { pairOrigins }) },
              share: result.share,
            });
            staged = true;
          }
        } finally {
          if (result.share !== undefined) wipeBytes(result.share);
        }
        return reshareAckDigest(metadata, result.transcriptDigest);
      },
      async commit() {
        if (checked.isNewMember) {
          if (!staged) throw new MpcError(ErrorCode.ReshareFailure, 'nothing staged to commit');
          await wallets.activate(message.walletId, message.keyType, newVersion);
        } else {
          await wallets.retire(metadata);
        }
      },
      dispose: () => party.wipe(),
    };
  }

  /**
   * Builds this signer's part of a DKLs23 pairwise refresh (security review M1) after checking
   * the invite against the signed request and its own record: the wallet's current secp256k1
   * share, this signer and the peer both in its committee, the invite's participants exactly
   * those two members. Two-phase like resharing: `complete` stages the share with the new pair
   * as version v+1 (stamped with the peer's ban epoch as of now, taken before the base OTs run)
   * and returns the ACK digest; `commit` makes v+1 current and deletes v (the burned state).
   * One refresh per wallet at a time on this signer (two would both stage v+1).
   */
  async refreshPair(
    message: PairRefreshMessage,
    invite: Pick<SessionInvite, 'sessionId' | 'participants'>,
  ): Promise<SessionJob<EncodedReshareResult>> {
    const { wallets, drivers, selfNodeId } = this.options;
    if (!message.nodeIds.includes(selfNodeId)) {
      throw new IncompatibleParticipantsError('this signer is not one of the pair to refresh');
    }
    const peer = message.nodeIds[0] === selfNodeId ? message.nodeIds[1] : message.nodeIds[0];
    const record = await wallets.load(message.walletId, 'secp256k1');
    if (record === undefined) throw new KeyNotFoundError(message.walletId, 'secp256k1');
    const { metadata } = record;
    let peerPartyId: PartyId;
    try {
      if (metadata.retired === true) throw new NotCommitteeMemberError(message.walletId);
      const member = (node: string) => metadata.committee.find((m) => m.nodeId === node);
      const selfMember = member(selfNodeId);
      const peerMember = member(peer);
      if (selfMember === undefined) throw new NotCommitteeMemberError(message.walletId);
      if (peerMember === undefined) {
        throw new IncompatibleParticipantsError(
          `${peer} is not in wallet ${message.walletId}'s committee`,
        );
      }
      const expected = [selfMember, peerMember];
      const fits =
        invite.participants.length === 2 &&
        expected.every((m) =>
          invite.participants.some((p) => p.nodeId === m.nodeId && p.partyId === m.partyId),
        );
      if (!fits) {
        throw new IncompatibleParticipantsError(
          `refresh participants do not match wallet ${message.walletId}'s committee`,
        );
      }
      if (this.refreshing.has(message.walletId)) {
        throw new MpcError(
          ErrorCode.ConcurrencyLimit,
          `a pairwise refresh of wallet ${message.walletId} is already running on this signer`,
        );
      }
      peerPartyId = peerMember.partyId;
    } catch (error) {
      wipeBytes(record.share);
      throw error;
    }
    this.refreshing.add(message.walletId);
    const release = (): void => {
      this.refreshing.delete(message.walletId);
    };
    const epoch = this.options.bans?.epochOf(peer) ?? 0;
    const deferred = deferParty(drivers, {
      protocol: 'dkls23-refresh-pair',
      share: record.share,
      options: { peer: peerPartyId, sessionId: sessionIdBytes(invite.sessionId) },
    });
    wipeBytes(record.share);
    const party: PartyDriver<EncodedReshareResult> = deferred.driver;
    const newVersion = metadata.version + 1;
    const refreshed: WalletMetadata = {
      ...metadata,
      version: newVersion,
      pairEpochs: { ...metadata.pairEpochs, [peer]: epoch },
    };
    let staged = false;
    let origin: string | undefined;
    return {
      party,
      bind: (binding) => {
        origin = pairOrigin(binding);
        return deferred.bind(binding);
      },
      async complete(result) {
        try {
          if (result.share === undefined || origin === undefined) {
            throw new MpcError(ErrorCode.KeyGeneration, 'pair refresh produced no share');
          }
          await wallets.stage({
            metadata: { ...refreshed, pairOrigins: { ...metadata.pairOrigins, [peer]: origin } },
            share: result.share,
          });
          staged = true;
        } finally {
          if (result.share !== undefined) wipeBytes(result.share);
        }
        return pairRefreshAckDigest(message, metadata.publicKey, result.transcriptDigest);
      },
      async commit() {
        if (!staged) throw new MpcError(ErrorCode.KeyGeneration, 'nothing staged to commit');
        await wallets.activate(message.walletId, 'secp256k1', newVersion);
      },
      dispose: () => {
        party.wipe();
        release();
      },
    };
  }

  /** Wallets with a pairwise refresh in flight on this signer. */
  private readonly refreshing = new Set<string>();

  /** The current record of a key, or undefined (the caller wipes `share`). */
  loadCurrent(walletId: string, keyType: KeyType): ReturnType<WalletRepository['load']> {
    return this.options.wallets.load(walletId, keyType);
  }

  /** Loads the wallet and checks that `participants` are t+1 members of its committee. */
  async loadForSigning(
    message: SignTxMessage,
    participants: readonly InviteParticipant[] | undefined,
  ): Promise<WalletRecord> {
    const record = await this.options.wallets.load(message.walletId, message.keyType);
    if (record === undefined) throw new KeyNotFoundError(message.walletId, message.keyType);
    if (record.metadata.retired === true) throw new NotCommitteeMemberError(message.walletId);
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
    loaded?: WalletRecord,
  ): Promise<SessionJob<SignatureOutcome>> {
    const record =
      loaded === undefined
        ? await this.loadForSigning(message, participants)
        : checkSigningSet(message, loaded, participants);
    const { drivers, chainCode } = this.options;
    const publicKey = new Uint8Array(Buffer.from(record.metadata.publicKey, 'hex'));
    const path = message.derivationPath ?? [];
    const signers = participants.map((p) => p.partyId).sort((a, b) => a - b);
    const session = sessionIdBytes(sessionId);
    try {
      if (message.keyType === 'ed25519') {
        const deferred = this.ed25519Party(message, record, signers, session);
        const party = deferred.driver;
        return {
          party,
          bind: (binding) => deferred.bind(binding),
          complete: async (result) => hexDigest(signatureBytes(result)),
          dispose: () => party.wipe(),
        };
      }
      const peers = this.otherNodes(participants);
      const bans = this.options.bans;
      const metadata = record.metadata;
      // Checked now and before every round: a ban burns the pair at once (session-host.ts).
      const assertUsable = (): void => bans?.assertPairsUsable(peers, metadata);
      assertUsable();
      const tweak =
        path.length === 0 ? undefined : deriveSecp256k1Child(publicKey, chainCode, path).tweak;
      const deferred = deferParty(drivers, {
        protocol: 'dkls23-sign',
        share: record.share,
        options: {
          signers,
          sessionId: session,
          digest: ecdsaSigningDigest(message.tx),
          ...(tweak === undefined ? {} : { tweak }),
        },
      });
      const party = deferred.driver;
      return {
        party: mapResult(party, (result) => ({ keyType: 'secp256k1' as const, ...result })),
        bind: (binding) => deferred.bind(binding),
        complete: async (result) => hexDigest(signatureBytes(result)),
        dispose: () => party.wipe(),
        pairState: {
          key: pairStateKey(record.metadata),
          peers,
          assertUsable,
          origins: new Map(peers.map((peer) => [peer, metadata.pairOrigins?.[peer] ?? ''])),
        },
      };
    } finally {
      wipeBytes(record.share);
    }
  }

  /** A deferred FROST signing party for `message` (the caller wipes `record.share`). */
  private ed25519Party(
    message: SignTxMessage,
    record: WalletRecord,
    signers: readonly PartyId[],
    session: Uint8Array,
  ): { driver: PartyDriver<SignatureOutcome>; bind(binding: Uint8Array): Promise<void> } {
    const publicKey = new Uint8Array(Buffer.from(record.metadata.publicKey, 'hex'));
    const path = message.derivationPath ?? [];
    const tweak =
      path.length === 0
        ? undefined
        : deriveEd25519Child(publicKey, this.options.chainCode, path).tweak;
    const deferred = deferParty(this.options.drivers, {
      protocol: 'frost-sign',
      share: record.share,
      options: {
        signers: [...signers],
        sessionId: session,
        message: message.tx,
        ...(tweak === undefined ? {} : { tweak }),
      },
    });
    return {
      driver: mapResult(deferred.driver, (result) => ({ keyType: 'ed25519' as const, ...result })),
      bind: (binding) => deferred.bind(binding),
    };
  }

  /**
   * Builds the job of a signing batch (`sign-batch` sessions): one FROST signing party per
   * request, run side by side (`parallelDriverList`). Every request was authenticated on its
   * own; each is checked against `participants` like a single request and signs in its own
   * context: request i's party takes the session binding extended by i (`batchItemBinding`),
   * so no message of one request's protocol is accepted by another's. Ed25519 only: DKLs23
   * sessions stay one per request (the per-pair cap counts sessions, SECURITY.md C1). Every
   * record's share is wiped here, success or not.
   */
  async signBatch(
    sessionId: string,
    items: readonly { readonly message: SignTxMessage; readonly record: WalletRecord }[],
    participants: readonly InviteParticipant[],
  ): Promise<SessionJob<SignatureOutcome[]>> {
    const parties: { driver: PartyDriver<SignatureOutcome>; bind(b: Uint8Array): Promise<void> }[] =
      [];
    try {
      if (items.length < 2 || items.length > MAX_SIGNING_BATCH) {
        throw new MpcError(
          ErrorCode.InvalidSessionType,
          `a signing batch carries 2..${MAX_SIGNING_BATCH} requests, got ${items.length}`,
        );
      }
      const signers = participants.map((p) => p.partyId).sort((a, b) => a - b);
      const session = sessionIdBytes(sessionId);
      for (const { message, record } of items) {
        if (message.keyType !== 'ed25519') {
          throw new MpcError(
            ErrorCode.InvalidSessionType,
            `only ed25519 requests are signed in batches (wallet ${message.walletId})`,
          );
        }
        checkSigningSet(message, record, participants);
        parties.push(this.ed25519Party(message, record, signers, session));
      }
    } catch (error) {
      for (const party of parties) party.driver.wipe();
      throw error;
    } finally {
      for (const { record } of items) wipeBytes(record.share);
    }
    const party = parallelDriverList(parties.map((entry) => entry.driver));
    return {
      party,
      bind: async (binding) => {
        await Promise.all(
          parties.map((entry, index) => entry.bind(batchItemBinding(binding, index))),
        );
      },
      complete: async (results) => {
        const digest = createHash('sha256');
        for (const result of results) digest.update(signatureBytes(result));
        return digest.digest('hex');
      },
      dispose: () => party.wipe(),
    };
  }
}

/**
 * The origin of DKLs23 pair state a session creates: the first 16 bytes of its session binding
 * (session-binding.ts), which every participant computes alike and no single one chooses.
 */
export function pairOrigin(binding: Uint8Array): string {
  return Buffer.from(binding.subarray(0, 16)).toString('hex');
}

/**
 * The protocol session id of request `index` of a signing batch: the session binding, a
 * domain label and the index (u32, big-endian). Distinct per request and fixed by the
 * invite's order, which every participant reads alike.
 */
export function batchItemBinding(binding: Uint8Array, index: number): Uint8Array {
  const label = new TextEncoder().encode('\nmpc-signer/sign-batch-item/v1\n');
  const out = new Uint8Array(binding.length + label.length + 4);
  out.set(binding, 0);
  out.set(label, binding.length);
  new DataView(out.buffer).setUint32(binding.length + label.length, index);
  return out;
}

function originsFor(peers: readonly string[], binding: Uint8Array): Record<string, string> {
  const origin = pairOrigin(binding);
  return Object.fromEntries(peers.map((peer) => [peer, origin]));
}

/** Wipes the share of a wallet load whose result will not be used (settled or not). */
export function discardLoaded(loading: Promise<{ share: Uint8Array }> | undefined): void {
  loading?.then(
    (record) => wipeBytes(record.share),
    () => undefined,
  );
}

/** The signature's bytes (Ed25519 R‖S, or ECDSA r‖s‖v) for digests and comparisons. */
export function signatureBytes(outcome: SignatureOutcome): Uint8Array {
  if (outcome.keyType === 'ed25519') return outcome.signature;
  const out = new Uint8Array(65);
  out.set(outcome.r, 0);
  out.set(outcome.s, 32);
  out[64] = outcome.recovery;
  return out;
}

/**
 * The digest both parties of a pairwise refresh report in their `done`: the protocol's
 * transcript (both parties' base-OT messages and a confirmation of the zero seed) bound to the
 * wallet, its key and the pair. Versions are local and not part of it.
 */
export function pairRefreshAckDigest(
  message: Pick<PairRefreshMessage, 'walletId' | 'nodeIds'>,
  publicKey: string,
  transcriptDigest: Uint8Array,
): string {
  return createHash('sha256')
    .update('mpc-signer/refresh-pair-ack/v1\n')
    .update(JSON.stringify([message.walletId, publicKey, [...message.nodeIds].sort()]))
    .update(transcriptDigest)
    .digest('hex');
}

/**
 * The digest every resharing participant reports in its `done` (the ACK round): the confirmed
 * transcript bound to the new version's public description, so a commit's evidence says which
 * committee, threshold and version the participants agreed on.
 */
export function reshareAckDigest(metadata: WalletMetadata, transcriptDigest: Uint8Array): string {
  return createHash('sha256')
    .update('mpc-signer/reshare-ack/v1\n')
    .update(
      JSON.stringify([
        metadata.walletId,
        metadata.keyType,
        metadata.version,
        metadata.threshold,
        metadata.committee.map((member) => [member.nodeId, member.partyId]),
        metadata.publicKey,
      ]),
    )
    .update(transcriptDigest)
    .digest('hex');
}
