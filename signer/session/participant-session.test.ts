/**
 * Early envelopes (issue 12 item 3): before its start a session buffers only envelopes signed
 * by one of its participants, one per sender, round and kind, so forged frames injected into a
 * live session id never take the place of real ones. Pair-state origins: a DKLs23 session
 * whose two ends of a pair hold OT state of different origins stops before round 0. A buffered
 * broadcast is verified once, not again at the start.
 */
import { rosterIdentity } from './test-helpers.ts';
import { describe, expect, it, vi } from 'vitest';
import { verifyEd25519 } from '../transport/ed25519-verify.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { signControl, type SignedControl } from '../transport/control-messages.ts';
import type { PeerMessenger } from '../transport/peer-messenger.ts';
import {
  EnvelopeKind,
  broadcastSignedBytes,
  derivePairKeys,
  generateEphemeralKeyPair,
  sealDirect,
  type Envelope,
} from '../transport/secure-channel.ts';
import { type SessionHello } from '../transport/control-messages.ts';
import { isPairBanVerdict } from '../service/peer-bans.ts';
import { PairStateMismatchError, SessionAbortedError } from './errors.ts';
import { ParticipantSession } from './participant-session.ts';
import type { PartyId } from '../crypto/round-protocol.ts';
import type { PartyDriver } from './round-runner.ts';

// Counts verifications (the real function runs).
vi.mock('../transport/ed25519-verify.ts', async (importOriginal) => {
  const actual = await importOriginal<{ verifyEd25519: typeof verifyEd25519 }>();
  return { ...actual, verifyEd25519: vi.fn(actual.verifyEd25519) };
});

const alice = rosterIdentity('alice');
const bob = rosterIdentity('bob');
const carol = rosterIdentity('carol'); // in the roster, not in this session
const roster = new Map([alice, bob, carol].map((node) => [node.nodeId, node.publicKey]));

function envelope(
  signer: ReturnType<typeof rosterIdentity>,
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

describe('ParticipantSession buffered broadcasts', () => {
  it('verifies a buffered broadcast once, not again when the session starts', async () => {
    const session = new ParticipantSession<Uint8Array | undefined>({
      sessionId: 's',
      self: bob,
      roster,
      nodeOfParty: new Map([
        [1, 'alice'],
        [2, 'bob'],
      ]),
      party: {
        rounds: 1,
        round: async () => ({ broadcast: Uint8Array.of(9) }),
        finish: async (input) => input.broadcast.get(1),
        wipe: () => undefined,
      },
      messenger: {
        sendEnvelope: async () => undefined,
        probe: async () => undefined,
      } as unknown as PeerMessenger,
      roundTimeoutMs: 5000,
      probeIntervalMs: 5000,
    });
    const early = envelope(alice, { kind: EnvelopeKind.Broadcast, to: '' });
    const signedBytes = Buffer.from(broadcastSignedBytes(early.header, early.body));
    const checksOfEarly = (): number =>
      vi
        .mocked(verifyEd25519)
        .mock.calls.filter(([, message]) => signedBytes.equals(Buffer.from(message))).length;
    const before = checksOfEarly();
    expect(session.acceptEnvelope(early)).toBe(true);
    const aliceHello = signControl(alice, {
      type: 'hello',
      sessionId: 's',
      nodeId: 'alice',
      ephemeralPublicKey: Buffer.from(generateEphemeralKeyPair().publicKey).toString('base64'),
    });
    const result = await session.start([aliceHello, signControl(bob, session.hello())]);
    expect(result).toEqual(Uint8Array.of(1, 2, 3));
    expect(checksOfEarly() - before).toBe(1);
    session.dispose();
  });
});

describe('ParticipantSession pair-state origins', () => {
  function session(
    self: ReturnType<typeof rosterIdentity>,
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

type Identity = ReturnType<typeof rosterIdentity>;
type Sent = { to: string; envelope: Envelope };

/**
 * Sessions of one id for `members` (party ids 1, 2, … in that order), wired back to back: every
 * envelope one sends is recorded in `sent` and offered to its recipient at once.
 */
function wiredSessions(
  sessionId: string,
  members: readonly Identity[],
  partyFor: (self: PartyId) => PartyDriver<number[]>,
) {
  const sent: Sent[] = [];
  const sessions = new Map<string, ParticipantSession<number[]>>();
  const nodeOfParty = new Map(members.map((member, index) => [index + 1, member.nodeId]));
  members.forEach((member, index) => {
    sessions.set(
      member.nodeId,
      new ParticipantSession<number[]>({
        sessionId,
        self: member,
        roster,
        nodeOfParty,
        party: partyFor(index + 1),
        messenger: {
          sendEnvelope: async (to: string, envelope: Envelope) => {
            sent.push({ to, envelope });
            sessions.get(to)?.acceptEnvelope(envelope);
          },
          probe: async () => undefined,
        } as unknown as PeerMessenger,
        roundTimeoutMs: 5000,
        probeIntervalMs: 5000,
      }),
    );
  });
  return { sent, sessions };
}

/**
 * Issue 15: a direct envelope is signed only while its recipient may not have started (it
 * needs the signature to buffer it); hellos vouched for by a verified start are not verified
 * again, every other one is.
 */
describe('ParticipantSession signatures it can leave out', () => {
  /** Alice and Bob in one session; a 2-round party sending each other a direct each round. */
  function pair(sessionId: string) {
    const { sent, sessions } = wiredSessions(sessionId, [alice, bob], (self) => ({
      rounds: 2,
      round: async (index) => ({ direct: new Map([[3 - self, Uint8Array.of(index + 10)]]) }),
      finish: async (input) => [...input.direct.values()].map((payload) => payload[0] ?? -1),
      wipe: () => undefined,
    }));
    return { sent, alice: sessions.get('alice')!, bob: sessions.get('bob')! };
  }

  function hellosOf(...sessions: ParticipantSession<number[]>[]) {
    return sessions.map((session, index) =>
      signControl(index === 0 ? alice : bob, session.hello()),
    );
  }

  it('signs a direct envelope until the recipient is known to have started, not after', async () => {
    const { sent, alice: a, bob: b } = pair('p1');
    const hellos = hellosOf(a, b);
    const results = await Promise.all([a.start(hellos), b.start(hellos)]);
    expect(results).toEqual([[11], [11]]);
    // The first envelope goes to a recipient that may not have started: signed. Every later
    // one goes to a peer that has sent this session an authenticated envelope: unsigned.
    const signatureLengths = sent.map(({ to, envelope }) => [
      to,
      envelope.header.round,
      envelope.signature.length,
    ]);
    expect(signatureLengths).toEqual([
      ['bob', 0, 64],
      ['alice', 0, 0], // alice's round 0 reached bob before bob sent his
      ['bob', 1, 0],
      ['alice', 1, 0],
    ]);
    a.dispose();
    b.dispose();
  });

  it('drops an unsigned direct envelope reaching a session that has not started', async () => {
    const { sent, alice: a, bob: b } = pair('p2');
    const hellos = hellosOf(a, b);
    await Promise.all([a.start(hellos), b.start(hellos)]);
    const unsigned = sent.find(({ envelope }) => envelope.signature.length === 0);
    expect(unsigned).toBeDefined();
    // The same envelope, offered to a fresh session of that id that has not started.
    const { bob: fresh } = pair('p2');
    expect(fresh.acceptEnvelope((unsigned as Sent).envelope)).toBe(false);
    // Signed, an envelope of a participant is buffered (the check above is the signature's).
    const signed = sent.find(({ envelope, to }) => envelope.signature.length > 0 && to === 'bob');
    expect(fresh.acceptEnvelope((signed as Sent).envelope)).toBe(true);
    for (const session of [a, b, fresh]) session.dispose();
  });

  it('keeps signing towards a peer whose only envelopes were forged', async () => {
    const { sent, alice: a, bob: b } = pair('p3');
    const hellos = hellosOf(a, b);
    // Before b starts, a forged broadcast "from alice" (carol's signature) reaches b; then a
    // forged direct with no valid AEAD. Neither counts as alice having started.
    const header = {
      kind: EnvelopeKind.Broadcast,
      sessionId: 'p3',
      round: 0,
      from: 'alice',
      to: '',
    } as const;
    const body = Uint8Array.of(1);
    const bStarted = b.start(hellos);
    expect(
      b.acceptEnvelope({ header, body, signature: carol.sign(broadcastSignedBytes(header, body)) }),
    ).toBe(false);
    const directHeader = { ...header, kind: EnvelopeKind.Direct, to: 'bob' } as const;
    expect(
      b.acceptEnvelope({
        header: directHeader,
        body: new Uint8Array(40),
        signature: new Uint8Array(0),
      }),
    ).toBe(false);
    // bob's round-0 direct to alice is still signed (alice had not started: it is buffered).
    await new Promise((resolve) => setTimeout(resolve, 20));
    const fromBob = sent.filter(({ to }) => to === 'alice');
    expect(fromBob.map(({ envelope }) => envelope.signature.length)).toEqual([64]);
    await Promise.all([a.start(hellos), bStarted]);
    a.dispose();
    b.dispose();
  });

  it("checks every hello's signature except its own and its start's sender's", async () => {
    const { alice: a, bob: b } = pair('p4');
    const [aliceHello, bobHello] = hellosOf(a, b) as [SignedControl, SignedControl];
    const badSignature = Buffer.alloc(64).toString('base64');
    // alice's own hello needs no signature, and not even a valid one from bob's start.
    const forgedOwn = { ...aliceHello, signature: badSignature };
    const unverifiedBob = { ...bobHello, signature: badSignature };
    // As the coordinator (no vouching): bob's hello must verify.
    await expect(a.start([forgedOwn, unverifiedBob])).rejects.toMatchObject({
      code: ErrorCode.MessageVerification,
    });
    // As a participant of bob's start, bob's hello is bob's start's own statement.
    const { alice: a2, bob: b2 } = pair('p5');
    const [, bob2Hello] = hellosOf(a2, b2) as [SignedControl, SignedControl];
    const a2Own = signControl(alice, a2.hello());
    b2.dispose();
    const vouched = a2.start([a2Own, { ...bob2Hello, signature: badSignature }], {
      vouchedBy: 'bob',
    });
    // The hello checks ran (synchronously) and passed: the session waits for round 0.
    a2.abort(new SessionAbortedError('bob', ErrorCode.Unknown, 'test over', 'bob'));
    await expect(vouched).rejects.toMatchObject({ code: ErrorCode.Unknown });
    // Vouching for bob does not extend to a third participant's hello, or to a foreign hello
    // for this signer (its key is compared with its own).
    const { alice: a3, bob: b3 } = pair('p6');
    const foreignOwn = signControl(alice, {
      ...a3.hello(),
      ephemeralPublicKey: b3.hello().ephemeralPublicKey,
    });
    await expect(
      a3.start([foreignOwn, signControl(bob, b3.hello())], { vouchedBy: 'bob' }),
    ).rejects.toMatchObject({ code: ErrorCode.MessageVerification });
    for (const session of [a, b, a2, a3, b3]) session.dispose();
  });
});

describe('ParticipantSession sealed broadcasts', () => {
  /** Sessions of `members` (all in one session) whose rounds broadcast one byte each. */
  function group(sessionId: string, members: Identity[], rounds = 2) {
    const { sent, sessions } = wiredSessions(sessionId, members, () => ({
      rounds,
      round: async (index) => ({ broadcast: Uint8Array.of(index + 20) }),
      finish: async (input) => [...input.broadcast.values()].map((payload) => payload[0] ?? -1),
      wipe: () => undefined,
    }));
    const hellos = (announce: (nodeId: string) => boolean = () => true) =>
      members.map((member) => {
        const { sealedBroadcasts, ...hello } = (
          sessions.get(member.nodeId) as ParticipantSession<number[]>
        ).hello();
        expect(sealedBroadcasts).toBe(true);
        return signControl(
          member,
          announce(member.nodeId) ? { ...hello, sealedBroadcasts: true } : hello,
        );
      });
    return { sent, sessions, hellos };
  }

  const shapes = (sent: Sent[]) =>
    sent.map(({ to, envelope }) => [
      to,
      envelope.header.round,
      envelope.header.to === '' ? 'signed' : 'sealed',
      envelope.signature.length,
    ]);

  it('seals broadcasts between two signers once the peer is known to have started', async () => {
    const { sent, sessions, hellos } = group('sb1', [alice, bob]);
    const signed = hellos();
    const [a, b] = [sessions.get('alice')!, sessions.get('bob')!];
    expect(await Promise.all([a.start(signed), b.start(signed)])).toEqual([[21], [21]]);
    expect(shapes(sent)).toEqual([
      ['bob', 0, 'signed', 64], // bob may not have started: signed, so he can buffer it
      ['alice', 0, 'sealed', 0], // alice's reached bob first: she has started
      ['bob', 1, 'sealed', 0],
      ['alice', 1, 'sealed', 0],
    ]);
    a.dispose();
    b.dispose();
  });

  it('signs every broadcast to a peer whose hello does not accept sealed ones, and in larger sessions', async () => {
    const two = group('sb2', [alice, bob]);
    const signed = two.hellos((nodeId) => nodeId !== 'bob'); // bob predates sealed broadcasts
    const [a, b] = [two.sessions.get('alice')!, two.sessions.get('bob')!];
    await Promise.all([a.start(signed), b.start(signed)]);
    expect(shapes(two.sent).filter(([to]) => to === 'bob')).toEqual([
      ['bob', 0, 'signed', 64],
      ['bob', 1, 'signed', 64],
    ]);
    a.dispose();
    b.dispose();

    const three = group('sb3', [alice, bob, carol]);
    const all = three.hellos();
    const sessions = [...three.sessions.values()];
    expect(await Promise.all(sessions.map((session) => session.start(all)))).toEqual([
      [21, 21],
      [21, 21],
      [21, 21],
    ]);
    expect(three.sent.every(({ envelope }) => envelope.header.to === '')).toBe(true);
    for (const session of sessions) session.dispose();
  });

  it('drops sealed broadcasts that are forged, relabelled, misaddressed, early, or in a larger session', async () => {
    const { sent, sessions, hellos } = group('sb4', [alice, bob], 3);
    const signed = hellos();
    const [a, b] = [sessions.get('alice')!, sessions.get('bob')!];
    await Promise.all([a.start(signed), b.start(signed)]);
    const sealed = sent.find(
      ({ to, envelope }) => to === 'bob' && envelope.header.to === 'bob',
    ) as Sent;
    expect(sealed).toBeDefined();
    const { header, body } = sealed.envelope;
    const offer = (session: ParticipantSession<number[]>, envelope: Envelope) =>
      session.acceptEnvelope(envelope);
    // A replay of the very envelope: a duplicate for its round.
    expect(offer(b, sealed.envelope)).toBe(false);
    const tampered = body.slice();
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
    const at = (round: number) => ({ ...header, round });
    expect(offer(b, { header: at(2), body: tampered, signature: new Uint8Array(0) })).toBe(false);
    // The same ciphertext under another round, or as a direct message: the AAD differs.
    expect(offer(b, { header: at(2), body, signature: new Uint8Array(0) })).toBe(false);
    expect(
      offer(b, {
        header: { ...at(header.round), kind: EnvelopeKind.Direct },
        body,
        signature: new Uint8Array(0),
      }),
    ).toBe(false);
    // Addressed to someone else.
    expect(
      offer(a, { header: { ...header, to: 'alice' }, body, signature: new Uint8Array(0) }),
    ).toBe(false);
    a.dispose();
    b.dispose();

    // Before its start, a session buffers only signed envelopes: a sealed broadcast is dropped.
    const fresh = group('sb4', [alice, bob], 3).sessions.get('bob')!;
    expect(fresh.acceptEnvelope(sealed.envelope)).toBe(false);
    fresh.dispose();

    // In a session of three, a broadcast addressed to one signer is not accepted at all.
    const three = group('sb5', [alice, bob, carol]);
    const all = three.hellos();
    const bobOfThree = three.sessions.get('bob')!;
    const started = bobOfThree.start(all);
    const keys = derivePairKeys({
      sessionId: 'sb5',
      selfNodeId: 'alice',
      selfKeyPair: three.sessions.get('alice')!.ephemeral,
      peerNodeId: 'bob',
      peerEphemeralPublicKey: bobOfThree.ephemeral.publicKey,
    });
    const forged = sealDirect(
      keys,
      { kind: EnvelopeKind.Broadcast, sessionId: 'sb5', round: 0, from: 'alice', to: 'bob' },
      Uint8Array.of(99),
    );
    expect(bobOfThree.acceptEnvelope(forged)).toBe(false);
    bobOfThree.abort(new SessionAbortedError('alice', ErrorCode.Unknown, 'test over'));
    await expect(started).rejects.toBeInstanceOf(SessionAbortedError);
    for (const session of three.sessions.values()) session.dispose();
  });
});
