/**
 * Per-session secure channels between signers (design §8).
 *
 * Every participant of a session makes an ephemeral X25519 key pair and announces it in a
 * `SessionHello` signed with its long-term Ed25519 identity key. From two authenticated hellos
 * both sides derive the same pair of direction keys:
 *
 *   okm = HKDF-SHA256(ikm = X25519(eph_a, eph_b), salt = sessionId,
 *                     info = "mpc-direct-v1" ‖ lp(lowNode) ‖ lp(highNode) ‖ ephLow ‖ ephHigh)
 *   key(low → high) = okm[0..32], key(high → low) = okm[32..64]
 *
 * Direct messages are sealed with AES-256-GCM under the sender's direction key, a 96-bit
 * nonce that is the per-direction message counter, and the encoded `EnvelopeHeader` as
 * associated data, so a ciphertext cannot be moved to another session, round, sender or
 * recipient. Broadcasts are signed (Ed25519) over the header and payload; in a session of two
 * signers the session layer may seal a broadcast like a direct message instead, addressed to the
 * one recipient (ParticipantSession, "sealed broadcasts").
 *
 * Key lifetime: the X25519 output is wiped as soon as HKDF has consumed it, and so is the HKDF
 * output once split into the two direction keys. The direction keys are wiped by
 * `wipePairKeys()` (the session's `dispose()` calls it). The ephemeral private key is a
 * node:crypto `KeyObject` that is never exported: JavaScript cannot overwrite it, so it is
 * released (not wiped) when the session drops its reference, and it never leaves OpenSSL.
 */
import {
  createPublicKey,
  createCipheriv,
  createDecipheriv,
  diffieHellman,
  generateKeyPairSync,
  hkdfSync,
  type KeyObject,
} from 'node:crypto';
import { MpcError, ErrorCode } from '../protocol/errors.ts';
import { wipeBytes } from '../crypto/wipe.ts';

/** Maximum payload of one protocol message (DKLs23 messages are at most ~60 KB per pair). */
export const MAX_PAYLOAD_BYTES = 1 << 20;

/** A message failed authentication, decryption or decoding; `peer` names the sender. */
export class ChannelAuthenticationError extends MpcError {
  readonly peer: string;

  constructor(peer: string, message: string) {
    super(ErrorCode.MessageVerification, `message from ${peer} rejected: ${message}`);
    this.peer = peer;
  }
}

/** Message kinds carried by envelopes. */
export const EnvelopeKind = {
  Broadcast: 1,
  Direct: 2,
} as const;
export type EnvelopeKind = (typeof EnvelopeKind)[keyof typeof EnvelopeKind];

/** The authenticated header of every protocol message (associated data / signed bytes). */
export interface EnvelopeHeader {
  readonly kind: EnvelopeKind;
  readonly sessionId: string;
  readonly round: number;
  readonly from: string;
  /** Recipient node id; empty for broadcasts. */
  readonly to: string;
}

export interface Envelope {
  readonly header: EnvelopeHeader;
  /** Ciphertext (direct) or plaintext (broadcast). */
  readonly body: Uint8Array;
  /**
   * Ed25519 signature over header ‖ body: broadcasts (unless sealed, two-party sessions only);
   * direct envelopes are signed by the session layer too, so a receiver can check one that
   * arrives before its channel keys, until the recipient is known to have started.
   */
  readonly signature: Uint8Array;
}

const ENVELOPE_VERSION = 1;
const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

function writeString(parts: Uint8Array[], value: string): void {
  const bytes = textEncoder.encode(value);
  if (bytes.length > 255) throw new RangeError('envelope string field longer than 255 bytes');
  parts.push(Uint8Array.of(bytes.length), bytes);
}

/** Canonical header bytes: version, kind, round (u16), then length-prefixed strings. */
export function encodeHeader(header: EnvelopeHeader): Uint8Array {
  const parts: Uint8Array[] = [
    Uint8Array.of(ENVELOPE_VERSION, header.kind, header.round >> 8, header.round & 0xff),
  ];
  writeString(parts, header.sessionId);
  writeString(parts, header.from);
  writeString(parts, header.to);
  return concatBytes(parts);
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += part.length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/** Wire form: header ‖ u32 body length ‖ body ‖ u8 signature length ‖ signature. */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  const header = encodeHeader(envelope.header);
  const bodyLength = new Uint8Array(4);
  new DataView(bodyLength.buffer).setUint32(0, envelope.body.length);
  return concatBytes([
    header,
    bodyLength,
    envelope.body,
    Uint8Array.of(envelope.signature.length),
    envelope.signature,
  ]);
}

class Reader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}
  byte(): number {
    const value = this.bytes[this.offset];
    if (value === undefined) throw new RangeError('truncated envelope');
    this.offset += 1;
    return value;
  }
  take(length: number): Uint8Array {
    if (this.offset + length > this.bytes.length) throw new RangeError('truncated envelope');
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
  string(): string {
    return textDecoder.decode(this.take(this.byte()));
  }
  u32(): number {
    const view = this.take(4);
    return new DataView(view.buffer, view.byteOffset, 4).getUint32(0);
  }
  done(): boolean {
    return this.offset === this.bytes.length;
  }
}

/** Parses an envelope; throws `RangeError` on any malformed or oversized input. */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  const reader = new Reader(bytes);
  const version = reader.byte();
  if (version !== ENVELOPE_VERSION) throw new RangeError(`unknown envelope version ${version}`);
  const kind = reader.byte();
  if (kind !== EnvelopeKind.Broadcast && kind !== EnvelopeKind.Direct) {
    throw new RangeError(`unknown envelope kind ${kind}`);
  }
  const round = (reader.byte() << 8) | reader.byte();
  const sessionId = reader.string();
  const from = reader.string();
  const to = reader.string();
  const bodyLength = reader.u32();
  if (bodyLength > MAX_PAYLOAD_BYTES + 16) throw new RangeError('envelope body too large');
  const body = reader.take(bodyLength);
  const signature = reader.take(reader.byte());
  if (!reader.done()) throw new RangeError('trailing bytes after envelope');
  return { header: { kind, round, sessionId, from, to }, body, signature };
}

/** An ephemeral X25519 key pair for one session. */
export interface EphemeralKeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: KeyObject;
}

export function generateEphemeralKeyPair(): EphemeralKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const jwk = publicKey.export({ format: 'jwk' });
  return { publicKey: new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url')), privateKey };
}

function x25519PublicKey(raw: Uint8Array): KeyObject {
  if (raw.length !== 32) throw new RangeError('X25519 public key must be 32 bytes');
  return createPublicKey({
    key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw).toString('base64url') },
    format: 'jwk',
  });
}

/** Direction keys between this node and one peer, plus message counters. */
export interface PairKeys {
  readonly sendKey: Uint8Array;
  readonly receiveKey: Uint8Array;
  sendCounter: number;
}

function lengthPrefixed(value: Uint8Array): Uint8Array {
  return concatBytes([Uint8Array.of(value.length), value]);
}

/**
 * Derives the pair keys between `self` and `peer` for `sessionId`. Throws when the shared
 * secret is all zeros (a low-order peer key).
 */
export function derivePairKeys(options: {
  sessionId: string;
  selfNodeId: string;
  selfKeyPair: EphemeralKeyPair;
  peerNodeId: string;
  peerEphemeralPublicKey: Uint8Array;
  /**
   * Key agreement; node:crypto's X25519 `diffieHellman` by default. Its output is wiped in
   * place after use (so a test can pass a wrapper and observe that).
   */
  keyAgreement?: (privateKey: KeyObject, publicKey: KeyObject) => Uint8Array;
}): PairKeys {
  const { sessionId, selfNodeId, selfKeyPair, peerNodeId, peerEphemeralPublicKey } = options;
  const agree =
    options.keyAgreement ??
    ((privateKey: KeyObject, publicKey: KeyObject) => diffieHellman({ privateKey, publicKey }));
  if (peerEphemeralPublicKey.length !== 32) {
    throw new ChannelAuthenticationError(peerNodeId, 'ephemeral key must be 32 bytes');
  }
  // The agreement's own buffer (no copy), so wiping it leaves no copy of the secret behind.
  const shared = agree(selfKeyPair.privateKey, x25519PublicKey(peerEphemeralPublicKey));
  if (shared.every((byte) => byte === 0)) {
    throw new ChannelAuthenticationError(peerNodeId, 'degenerate key agreement');
  }
  const selfIsLow = selfNodeId < peerNodeId;
  const [lowNode, highNode] = selfIsLow ? [selfNodeId, peerNodeId] : [peerNodeId, selfNodeId];
  const [lowKey, highKey] = selfIsLow
    ? [selfKeyPair.publicKey, peerEphemeralPublicKey]
    : [peerEphemeralPublicKey, selfKeyPair.publicKey];
  const info = concatBytes([
    textEncoder.encode('mpc-direct-v1'),
    lengthPrefixed(textEncoder.encode(lowNode)),
    lengthPrefixed(textEncoder.encode(highNode)),
    lowKey,
    highKey,
  ]);
  const okm = new Uint8Array(hkdfSync('sha256', shared, textEncoder.encode(sessionId), info, 64));
  wipeBytes(shared);
  const lowToHigh = okm.slice(0, 32);
  const highToLow = okm.slice(32, 64);
  wipeBytes(okm);
  return selfIsLow
    ? { sendKey: lowToHigh, receiveKey: highToLow, sendCounter: 0 }
    : { sendKey: highToLow, receiveKey: lowToHigh, sendCounter: 0 };
}

function counterNonce(counter: number): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, BigInt(counter));
  return nonce;
}

/** Seals a direct message. The nonce counter is carried in the first 8 body bytes. */
export function sealDirect(
  keys: PairKeys,
  header: EnvelopeHeader,
  plaintext: Uint8Array,
): Envelope {
  if (plaintext.length > MAX_PAYLOAD_BYTES) throw new RangeError('direct payload too large');
  const counter = keys.sendCounter++;
  const nonce = counterNonce(counter);
  const cipher = createCipheriv('aes-256-gcm', keys.sendKey, nonce);
  cipher.setAAD(encodeHeader(header));
  const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const body = concatBytes([nonce.subarray(4), ciphertext]);
  return { header, body, signature: new Uint8Array(0) };
}

/** Opens a direct message or throws `ChannelAuthenticationError`. */
export function openDirect(keys: PairKeys, envelope: Envelope): Uint8Array {
  const { header, body } = envelope;
  if (body.length < 8 + 16) throw new ChannelAuthenticationError(header.from, 'truncated');
  const nonce = new Uint8Array(12);
  nonce.set(body.subarray(0, 8), 4);
  const ciphertext = body.subarray(8, body.length - 16);
  const tag = body.subarray(body.length - 16);
  try {
    const decipher = createDecipheriv('aes-256-gcm', keys.receiveKey, nonce);
    decipher.setAAD(encodeHeader(header));
    decipher.setAuthTag(tag);
    return new Uint8Array(Buffer.concat([decipher.update(ciphertext), decipher.final()]));
  } catch {
    throw new ChannelAuthenticationError(header.from, 'authentication failed');
  }
}

/** Bytes signed for a broadcast: encoded header ‖ body. */
export function broadcastSignedBytes(header: EnvelopeHeader, body: Uint8Array): Uint8Array {
  return concatBytes([encodeHeader(header), body]);
}

export function wipePairKeys(keys: PairKeys): void {
  wipeBytes(keys.sendKey, keys.receiveKey);
}
