/**
 * Canonical wire encodings of the FROST protocol messages (version 1). Every message is
 * fixed-size for given parameters, so there is exactly one encoding of each value and the
 * size cap is the exact length:
 *
 * | message | layout | length |
 * |---|---|---|
 * | DKG round 1 (broadcast) | 0x01 ‖ 0x01 ‖ context(32) ‖ C_0..C_t (32 each) ‖ PoK R(32) ‖ PoK z(32) | 98 + 32(t+1) |
 * | DKG round 2 (direct) | 0x01 ‖ 0x02 ‖ context(32) ‖ transcript(32) ‖ f_i(j) (32) | 98 |
 * | signing commitments (broadcast) | 0x01 ‖ 0x11 ‖ context(32) ‖ D_i(32) ‖ E_i(32) | 98 |
 * | signature share (broadcast) | 0x01 ‖ 0x12 ‖ context(32) ‖ z_i(32) | 66 |
 *
 * `context` is a SHA-256 digest of the session id and every public parameter of the run
 * (see `dkgContextDigest`, `signingContextDigest`), so a message from another session, with
 * other parameters, another message to sign or another key is rejected as
 * FROST_CONTEXT_MISMATCH before any of its content is used. The sender is never encoded: it
 * is the transport-authenticated PartyId.
 */
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import type { PartyId } from '../round-protocol.ts';
import { equalBytes } from './ed25519-group.ts';
import { FrostError, FrostErrorCode } from './errors.ts';

export const WIRE_VERSION = 1;
export const TAG_DKG_ROUND1 = 0x01;
export const TAG_DKG_ROUND2 = 0x02;
export const TAG_SIGN_COMMITMENTS = 0x11;
export const TAG_SIGN_SHARE = 0x12;
export const DIGEST_BYTES = 32;
const HEADER_BYTES = 2 + DIGEST_BYTES;

const encoder = new TextEncoder();
const DKG_CONTEXT_LABEL = encoder.encode('mpc-signer/frost-ed25519/dkg/v1');
const DKG_TRANSCRIPT_LABEL = encoder.encode('mpc-signer/frost-ed25519/dkg-transcript/v1');
const SIGN_CONTEXT_LABEL = encoder.encode('mpc-signer/frost-ed25519/sign/v1');

/** Length-prefixed concatenation (u32 BE lengths), unambiguous for variable fields. */
function framed(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += 4 + part.length;
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part.length);
    out.set(part, offset + 4);
    offset += 4 + part.length;
  }
  return out;
}

function partyList(parties: readonly PartyId[]): Uint8Array {
  const out = new Uint8Array(parties.length * 2);
  const view = new DataView(out.buffer);
  parties.forEach((party, index) => view.setUint16(index * 2, party));
  return out;
}

function u16(value: number): Uint8Array {
  return new Uint8Array([(value >> 8) & 0xff, value & 0xff]);
}

/** Binds DKG messages to the session id, threshold and committee. */
export function dkgContextDigest(
  sessionId: Uint8Array,
  threshold: number,
  participants: readonly PartyId[],
): Uint8Array {
  return sha256(framed(DKG_CONTEXT_LABEL, sessionId, u16(threshold), partyList(participants)));
}

/** Digest of every party's round-1 payload (ascending PartyId), echoed in round 2. */
export function dkgTranscriptDigest(
  context: Uint8Array,
  round1: ReadonlyMap<PartyId, Uint8Array>,
  participants: readonly PartyId[],
): Uint8Array {
  const parts: Uint8Array[] = [DKG_TRANSCRIPT_LABEL, context];
  for (const party of participants) parts.push(u16(party), round1.get(party) as Uint8Array);
  return sha256(framed(...parts));
}

/** Binds signing messages to session, master and effective key, signer set and message. */
export function signingContextDigest(
  sessionId: Uint8Array,
  groupKey: Uint8Array,
  effectiveKey: Uint8Array,
  signers: readonly PartyId[],
  message: Uint8Array,
): Uint8Array {
  return sha256(
    framed(
      SIGN_CONTEXT_LABEL,
      sessionId,
      groupKey,
      effectiveKey,
      partyList(signers),
      sha512(message),
    ),
  );
}

/** Builds `version ‖ tag ‖ context ‖ body…`. */
export function encodeMessage(tag: number, context: Uint8Array, ...body: Uint8Array[]): Uint8Array {
  let length = HEADER_BYTES;
  for (const part of body) length += part.length;
  const out = new Uint8Array(length);
  out[0] = WIRE_VERSION;
  out[1] = tag;
  out.set(context, 2);
  let offset = HEADER_BYTES;
  for (const part of body) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Checks version, tag, exact length and context of a received message and returns its body
 * (a view; callers copy what they keep). Throws with the sender as counterparty.
 */
export function openMessage(
  payload: Uint8Array,
  tag: number,
  bodyLength: number,
  context: Uint8Array,
  sender: PartyId,
  what: string,
): Uint8Array {
  if (!(payload instanceof Uint8Array) || payload.length !== HEADER_BYTES + bodyLength) {
    throw new FrostError(
      FrostErrorCode.MalformedMessage,
      `${what} from party ${sender}: expected ${HEADER_BYTES + bodyLength} bytes`,
      { counterparty: sender, field: what },
    );
  }
  if (payload[0] !== WIRE_VERSION || payload[1] !== tag) {
    throw new FrostError(
      FrostErrorCode.MalformedMessage,
      `${what} from party ${sender}: unknown version or message type`,
      { counterparty: sender, field: what },
    );
  }
  if (!equalBytes(payload.subarray(2, HEADER_BYTES), context)) {
    throw new FrostError(
      FrostErrorCode.ContextMismatch,
      `${what} from party ${sender}: built for another session, parameter set or message`,
      { counterparty: sender, field: what },
    );
  }
  return payload.subarray(HEADER_BYTES);
}
