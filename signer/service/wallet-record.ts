/**
 * What a signer stores per (wallet, key type, version): public metadata and the encoded
 * key share. The store seals the whole record (AES-256-GCM, design §10); this module only
 * frames it.
 *
 * Layout (version 1): `0x01 ‖ u32 metadataLength ‖ metadata JSON ‖ share bytes`. The share
 * bytes stay binary so the secret never becomes a JS string.
 */
import type { KeyType } from '../protocol/messages.ts';

/** One member of a wallet's committee: a node id and the party id (share x-coordinate). */
export interface CommitteeMember {
  readonly nodeId: string;
  readonly partyId: number;
}

export interface WalletMetadata {
  readonly walletId: string;
  readonly keyType: KeyType;
  readonly version: number;
  /** t: signing needs t+1 of the committee. */
  readonly threshold: number;
  readonly committee: readonly CommitteeMember[];
  /** Hex public key: 32-byte Ed25519 or 33-byte compressed secp256k1. */
  readonly publicKey: string;
  /**
   * Set on the tombstone a signer keeps after resharing moved the key away from it: the record
   * names the new committee but holds no share, so this signer knows it is not a member.
   */
  readonly retired?: true;
  /**
   * secp256k1 only: per other committee member (node id), that peer's ban epoch when this
   * version's DKLs23 pair state with it was created (keygen, reshare or pairwise refresh).
   * The pair signs only while this is >= the peer's current ban epoch (service/peer-bans.ts);
   * absent entries count as 0.
   */
  readonly pairEpochs?: Readonly<Record<string, number>>;
  /**
   * secp256k1 only: per other committee member (node id), the origin of this version's DKLs23
   * pair state with it: `pairOrigin(binding)` of the keygen, reshare or pairwise refresh
   * session that ran its base OTs. Both ends of a pair record the same origin, so a signing
   * session compares them before any OT state is used (participant-session.ts) and refuses a
   * mismatch, left by an interrupted reshare or refresh, instead of failing the OT check and
   * banning an honest peer. Absent entries (records from before) count as "".
   */
  readonly pairOrigins?: Readonly<Record<string, string>>;
  /**
   * The operation (`operationKey('keygen', clientId, walletId)`) of the keygen that created
   * the key. A redelivered keygen request whose earlier session completed here, its result
   * lost to a crash, is answered with these keys instead of `ERROR_KEY_ALREADY_EXISTS`.
   * Absent on records from before.
   */
  readonly keygenOperation?: string;
}

export interface WalletRecord {
  readonly metadata: WalletMetadata;
  /** The encoded key share (secret); the caller wipes it after use. */
  readonly share: Uint8Array;
}

const RECORD_VERSION = 1;

export function encodeWalletRecord(record: WalletRecord): Uint8Array {
  const metadata = new TextEncoder().encode(JSON.stringify(record.metadata));
  const out = new Uint8Array(5 + metadata.length + record.share.length);
  out[0] = RECORD_VERSION;
  new DataView(out.buffer).setUint32(1, metadata.length);
  out.set(metadata, 5);
  out.set(record.share, 5 + metadata.length);
  return out;
}

/** Decodes a record; the returned share is a copy the caller must wipe. */
export function decodeWalletRecord(bytes: Uint8Array): WalletRecord {
  if (bytes.length < 5 || bytes[0] !== RECORD_VERSION) {
    throw new RangeError('unknown wallet record version');
  }
  const metadataLength = new DataView(bytes.buffer, bytes.byteOffset, bytes.length).getUint32(1);
  if (5 + metadataLength > bytes.length) throw new RangeError('truncated wallet record');
  const metadata = JSON.parse(
    new TextDecoder().decode(bytes.subarray(5, 5 + metadataLength)),
  ) as WalletMetadata;
  const share = bytes.slice(5 + metadataLength);
  return { metadata, share };
}
