/**
 * Early envelopes (issue 12 item 3): before its start a session buffers only envelopes signed
 * by one of its participants, one per sender, round and kind, so forged frames injected into a
 * live session id never take the place of real ones.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PeerMessenger } from '../transport/peer-messenger.ts';
import { EnvelopeKind, broadcastSignedBytes, type Envelope } from '../transport/secure-channel.ts';
import { ParticipantSession } from './participant-session.ts';

function identity(nodeId: string) {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return {
    nodeId,
    publicKey: new Uint8Array(
      Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'),
    ),
    sign: (bytes: Uint8Array) => new Uint8Array(sign(null, bytes, privateKey)),
  };
}

const alice = identity('alice');
const bob = identity('bob');
const carol = identity('carol'); // in the roster, not in this session
const roster = new Map([alice, bob, carol].map((node) => [node.nodeId, node.publicKey]));

function envelope(
  signer: ReturnType<typeof identity>,
  overrides: { from?: string; to?: string; kind?: number; round?: number } = {},
): Envelope {
  const header = {
    kind: (overrides.kind ?? EnvelopeKind.Direct) as typeof EnvelopeKind.Direct,
    sessionId: 's',
    round: overrides.round ?? 0,
    from: overrides.from ?? signer.nodeId,
    to: overrides.to ?? 'bob',
  };
  const body = Uint8Array.of(1, 2, 3);
  return { header, body, signature: signer.sign(broadcastSignedBytes(header, body)) };
}

describe('ParticipantSession early envelopes', () => {
  it('buffers only signed envelopes from participants, one per sender, round and kind', () => {
    const session = new ParticipantSession({
      sessionId: 's',
      self: bob,
      roster,
      nodeOfParty: new Map([
        [1, 'alice'],
        [2, 'bob'],
      ]),
      party: { rounds: 2, round: async () => ({}), finish: async () => 0, wipe: () => undefined },
      messenger: {} as PeerMessenger,
      roundTimeoutMs: 1000,
      probeIntervalMs: 1000,
    });
    expect(session.acceptEnvelope(envelope(carol))).toBe(false); // not a participant
    expect(session.acceptEnvelope(envelope(carol, { from: 'alice' }))).toBe(false); // forged
    expect(session.acceptEnvelope(envelope(alice, { to: 'carol' }))).toBe(false); // not for us
    expect(session.acceptEnvelope(envelope(alice, { round: 7 }))).toBe(false); // no such round
    const unsigned = { ...envelope(alice), signature: new Uint8Array(0) };
    expect(session.acceptEnvelope(unsigned)).toBe(false);
    expect(session.acceptEnvelope(envelope(alice))).toBe(true);
    expect(session.acceptEnvelope(envelope(alice))).toBe(false); // one per slot
    expect(session.acceptEnvelope(envelope(alice, { kind: EnvelopeKind.Broadcast, to: '' }))).toBe(
      true,
    );
    expect(session.acceptEnvelope(envelope(alice, { round: 1 }))).toBe(true);
    session.dispose();
  });
});
