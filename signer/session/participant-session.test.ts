/**
 * Early envelopes (issue 12 item 3): before its start a session buffers only envelopes signed
 * by one of its participants, one per sender, round and kind, so forged frames injected into a
 * live session id never take the place of real ones. Pair-state origins: a DKLs23 session
 * whose two ends of a pair hold OT state of different origins stops before round 0.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { PeerMessenger } from '../transport/peer-messenger.ts';
import { EnvelopeKind, broadcastSignedBytes, type Envelope } from '../transport/secure-channel.ts';
import { signControl, type SessionHello } from '../transport/control-messages.ts';
import { isPairBanVerdict } from '../service/peer-bans.ts';
import { PairStateMismatchError } from './errors.ts';
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

describe('ParticipantSession pair-state origins', () => {
  function session(
    self: ReturnType<typeof identity>,
    pairOrigins: ReadonlyMap<string, string> | undefined,
    bound: string[],
  ) {
    return new ParticipantSession({
      sessionId: 's',
      self,
      roster,
      nodeOfParty: new Map([
        [1, 'alice'],
        [2, 'bob'],
      ]),
      party: { rounds: 0, round: async () => ({}), finish: async () => 42, wipe: () => undefined },
      messenger: {} as PeerMessenger,
      roundTimeoutMs: 1000,
      probeIntervalMs: 1000,
      bind: async () => {
        bound.push(self.nodeId);
      },
      pairOrigins,
    });
  }

  /** Alice's start with her own hello and a hello signed by Bob with `bobHello` fields. */
  async function aliceStart(
    aliceOrigins: ReadonlyMap<string, string> | undefined,
    bobHello: Record<string, unknown>,
  ): Promise<{ outcome: unknown; bound: string[] }> {
    const bound: string[] = [];
    const own = session(alice, aliceOrigins, bound);
    const bobs = session(bob, undefined, []);
    const hello = { ...bobs.hello(), ...bobHello } as SessionHello;
    const outcome = await own
      .start([signControl(alice, own.hello()), signControl(bob, hello)])
      .catch((error: unknown) => error);
    own.dispose();
    bobs.dispose();
    return { outcome, bound };
  }

  it('announces its origins in the hello', () => {
    const own = session(alice, new Map([['bob', 'o1']]), []);
    expect(own.hello().pairOrigins).toEqual({ bob: 'o1' });
    own.dispose();
  });

  it('runs when both ends of the pair hold state of the same origin (or both predate origins)', async () => {
    const same = await aliceStart(new Map([['bob', 'o1']]), { pairOrigins: { alice: 'o1' } });
    expect(same.outcome).toBe(42);
    const legacy = await aliceStart(new Map([['bob', '']]), {});
    expect(legacy.outcome).toBe(42);
  });

  it('refuses a mismatch before the protocol party exists, and not as a ban verdict', async () => {
    for (const bobHello of [
      { pairOrigins: { alice: 'o2' } },
      { pairOrigins: { alice: 7 } },
      { pairOrigins: { carol: 'o1' } },
      {},
    ]) {
      const { outcome, bound } = await aliceStart(new Map([['bob', 'o1']]), bobHello);
      expect(outcome).toBeInstanceOf(PairStateMismatchError);
      expect((outcome as PairStateMismatchError).peer).toBe('bob');
      expect(isPairBanVerdict(outcome)).toBe(false);
      expect(bound).toEqual([]);
    }
  });
});
