/**
 * The peer messenger against a real nats-server: acknowledged delivery, immediate
 * "no responders" detection of a vanished peer, unknown-session replies and probes; and
 * coalescing (issue 15): frames of one turn share one request, each still dispatched,
 * authenticated and answered on its own, with a fallback for peers that refuse batches.
 */
import { rosterIdentity } from '../../signer/session/test-helpers.ts';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { natsConnectOptions } from '../harness/signer-cluster.ts';
import { ErrorCode } from '../../signer/protocol/errors.ts';
import { PeerUnavailableError, SessionAbortedError } from '../../signer/session/errors.ts';
import { ParticipantSession } from '../../signer/session/participant-session.ts';
import {
  openControl,
  signControl,
  type SignedControl,
} from '../../signer/transport/control-messages.ts';
import { decodeBatchReply, encodeFrameBatch } from '../../signer/transport/frame-batch.ts';
import {
  FrameReply,
  FrameType,
  PeerMessenger,
  sessionSubject,
  type PeerMessageHandler,
} from '../../signer/transport/peer-messenger.ts';
import {
  EnvelopeKind,
  broadcastSignedBytes,
  concatBytes,
  encodeEnvelope,
  type Envelope,
} from '../../signer/transport/secure-channel.ts';

function handler(sessions: Set<string>, received: Envelope[]): PeerMessageHandler {
  return {
    onInvite: async () => ({ error: { code: ErrorCode.Unknown, message: 'no' } }),
    onEnvelope: (envelope) => {
      if (!sessions.has(envelope.header.sessionId)) return FrameReply.UnknownSession;
      received.push(envelope);
      return FrameReply.Accepted;
    },
    onControl: () => FrameReply.Accepted,
    answersProbe: (sessionId) => sessions.has(sessionId),
  };
}

describe('PeerMessenger over NATS', () => {
  let ncA: NatsConnection;
  let ncB: NatsConnection;
  const prefix = `pm${Math.random().toString(36).slice(2, 7)}`;

  beforeAll(async () => {
    // Messengers are signers: they need the signer role (node-to-node subjects).
    const signer = natsConnectOptions(inject('natsCredentials').signer);
    ncA = await connect({ servers: inject('natsUrl'), ...signer });
    ncB = await connect({ servers: inject('natsUrl'), ...signer });
  });
  afterAll(async () => {
    await ncA.close();
    if (!ncB.isClosed()) await ncB.close();
  });

  it('delivers with an ack, reports unknown sessions, and detects a vanished peer at once', async () => {
    const unreachable: string[] = [];
    const a = new PeerMessenger({
      nc: ncA,
      selfNodeId: `${prefix}-a`,
      sendTimeoutMs: 500,
      sendAttempts: 2,
      handler: handler(new Set(), []),
      onPeerUnreachable: (peer) => unreachable.push(peer),
    });
    const bReceived: Envelope[] = [];
    const b = new PeerMessenger({
      nc: ncB,
      selfNodeId: `${prefix}-b`,
      sendTimeoutMs: 500,
      sendAttempts: 2,
      handler: handler(new Set(['s1']), bReceived),
    });
    await a.start();
    await b.start();
    const envelope: Envelope = {
      header: {
        kind: EnvelopeKind.Broadcast,
        sessionId: 's1',
        round: 0,
        from: `${prefix}-a`,
        to: '',
      },
      body: Uint8Array.of(1, 2, 3),
      signature: new Uint8Array(64),
    };
    await a.sendEnvelope(`${prefix}-b`, envelope);
    expect(bReceived).toHaveLength(1);
    expect([...(bReceived[0]?.body ?? [])]).toEqual([1, 2, 3]);

    await expect(
      a.sendEnvelope(`${prefix}-b`, {
        ...envelope,
        header: { ...envelope.header, sessionId: 'gone' },
      }),
    ).rejects.toBeInstanceOf(SessionAbortedError);
    await expect(a.probe(`${prefix}-b`, 's1')).resolves.toBeUndefined();
    await expect(a.probe(`${prefix}-b`, 'gone')).rejects.toBeInstanceOf(SessionAbortedError);

    await ncB.close(); // the peer process is gone: its subscriptions vanish with its connection
    const failure = a.sendEnvelope(`${prefix}-b`, envelope);
    await expect(failure).rejects.toBeInstanceOf(PeerUnavailableError);
    await expect(failure).rejects.toMatchObject({
      code: 'ERROR_PEER_UNAVAILABLE',
      peer: `${prefix}-b`,
    });
    await expect(a.probe(`${prefix}-b`, 's1')).rejects.toBeInstanceOf(PeerUnavailableError);
    expect(unreachable).toContain(`${prefix}-b`);
    a.stop();
  });
});

describe('PeerMessenger coalescing (issue 15)', () => {
  let ncA: NatsConnection;
  let ncB: NatsConnection;
  let ncSpy: NatsConnection;
  const prefix = `pc${Math.random().toString(36).slice(2, 7)}`;
  const aId = `${prefix}-a`;
  const bId = `${prefix}-b`;

  beforeAll(async () => {
    const signer = natsConnectOptions(inject('natsCredentials').signer);
    ncA = await connect({ servers: inject('natsUrl'), ...signer });
    ncB = await connect({ servers: inject('natsUrl'), ...signer });
    ncSpy = await connect({ servers: inject('natsUrl'), ...signer });
  });
  afterAll(async () => {
    await ncA.close();
    await ncB.close();
    await ncSpy.close();
  });

  /** Records the first byte of every message on `subject` (what went over the wire). */
  async function spy(subject: string): Promise<{ types: number[]; stop(): void }> {
    const types: number[] = [];
    const subscription = ncSpy.subscribe(subject, {
      callback: (error, msg) => {
        if (error === null) types.push(msg.data[0] ?? -1);
      },
    });
    await ncSpy.flush();
    return { types, stop: () => subscription.unsubscribe() };
  }

  function broadcast(sessionId: string, round: number): Envelope {
    return {
      header: { kind: EnvelopeKind.Broadcast, sessionId, round, from: aId, to: '' },
      body: Uint8Array.of(round),
      signature: new Uint8Array(64),
    };
  }

  it('sends the frames of one turn as one request, each settling on its own status', async () => {
    const received: Envelope[] = [];
    const controls: unknown[] = [];
    const b = new PeerMessenger({
      nc: ncB,
      selfNodeId: bId,
      sendTimeoutMs: 2000,
      sendAttempts: 2,
      handler: {
        ...handler(new Set(['s1', 's2']), received),
        onControl: (signed) => {
          controls.push(signed);
          return FrameReply.Accepted;
        },
      },
    });
    const a = new PeerMessenger({
      nc: ncA,
      selfNodeId: aId,
      sendTimeoutMs: 2000,
      sendAttempts: 2,
      handler: handler(new Set(), []),
    });
    await b.start();
    await a.start();
    const wire = await spy(sessionSubject(bId));
    try {
      const sends = [
        a.sendEnvelope(bId, broadcast('s1', 0)),
        a.sendEnvelope(bId, broadcast('gone', 0)), // the peer has no such session
        a.sendEnvelope(bId, broadcast('s2', 0)),
        a.sendControl(bId, 's1', { from: aId, body: '{}', signature: '' }),
        a.sendEnvelope(bId, broadcast('s1', 1)),
      ];
      const outcomes = await Promise.allSettled(sends);
      expect(outcomes.map((outcome) => outcome.status)).toEqual([
        'fulfilled',
        'rejected',
        'fulfilled',
        'fulfilled',
        'fulfilled',
      ]);
      const refused = outcomes[1] as PromiseRejectedResult;
      expect(refused.reason).toBeInstanceOf(SessionAbortedError);
      expect(refused.reason).toMatchObject({ peer: bId });
      expect(String((refused.reason as Error).message)).toContain('gone');
      expect(received.map((envelope) => envelope.header.sessionId)).toEqual(['s1', 's2', 's1']);
      expect(controls).toHaveLength(1);
      await ncSpy.flush();
      expect(wire.types).toEqual([FrameType.Batch]); // one NATS message for five frames

      // A frame that is alone in its turn goes out exactly as before (no batch wrapper).
      await a.sendEnvelope(bId, broadcast('s2', 1));
      await ncSpy.flush();
      expect(wire.types).toEqual([FrameType.Batch, FrameType.Envelope]);

      // With coalescing off every frame is its own request.
      const single = new PeerMessenger({
        nc: ncA,
        selfNodeId: `${aId}-single`,
        sendTimeoutMs: 2000,
        sendAttempts: 2,
        handler: handler(new Set(), []),
        coalesce: false,
      });
      await Promise.all([
        single.sendEnvelope(bId, broadcast('s1', 2)),
        single.sendEnvelope(bId, broadcast('s2', 2)),
      ]);
      await ncSpy.flush();
      expect(wire.types.slice(2)).toEqual([FrameType.Envelope, FrameType.Envelope]);
    } finally {
      wire.stop();
      a.stop();
      b.stop();
    }
  });

  it('dispatches inner frames one by one: a forged, misaddressed or malformed one fails alone', async () => {
    const alice = rosterIdentity(aId);
    const bob = rosterIdentity(bId);
    const carol = rosterIdentity(`${prefix}-c`); // in the roster, not in the session
    const roster = new Map([alice, bob, carol].map((node) => [node.nodeId, node.publicKey]));
    const sessions = new Map(
      ['t1', 't2'].map((sessionId) => [
        sessionId,
        new ParticipantSession({
          sessionId,
          self: bob,
          roster,
          nodeOfParty: new Map([
            [1, aId],
            [2, bId],
          ]),
          party: {
            rounds: 2,
            round: async () => ({}),
            finish: async () => 0,
            wipe: () => undefined,
          },
          messenger: {} as PeerMessenger,
          roundTimeoutMs: 1000,
          probeIntervalMs: 1000,
        }),
      ]),
    );
    // Sessions that have not started buffer only envelopes signed by a participant.
    const accepted: [string, boolean][] = [];
    const b = new PeerMessenger({
      nc: ncB,
      selfNodeId: bId,
      sendTimeoutMs: 2000,
      sendAttempts: 1,
      handler: {
        onInvite: async () => ({ error: { code: ErrorCode.Unknown, message: 'no' } }),
        onEnvelope: (envelope) => {
          const session = sessions.get(envelope.header.sessionId);
          if (session === undefined) return FrameReply.UnknownSession;
          accepted.push([envelope.header.sessionId, session.acceptEnvelope(envelope)]);
          return FrameReply.Accepted;
        },
        onControl: (signed) =>
          openControl(signed, roster) === undefined ? FrameReply.Rejected : FrameReply.Accepted,
        answersProbe: (sessionId) => sessions.has(sessionId),
      },
    });
    await b.start();
    const signedDirect = (
      signer: ReturnType<typeof rosterIdentity>,
      sessionId: string,
      round: number,
      overrides: { from?: string; to?: string } = {},
    ): Uint8Array => {
      const header = {
        kind: EnvelopeKind.Direct,
        sessionId,
        round,
        from: overrides.from ?? signer.nodeId,
        to: overrides.to ?? bId,
      } as const;
      const body = Uint8Array.of(7, 7, 7);
      const envelope = { header, body, signature: signer.sign(broadcastSignedBytes(header, body)) };
      return concatBytes([Uint8Array.of(FrameType.Envelope), encodeEnvelope(envelope)]);
    };
    const control = (signed: SignedControl): Uint8Array =>
      concatBytes([
        Uint8Array.of(FrameType.Control),
        new TextEncoder().encode(JSON.stringify(signed)),
      ]);
    const genuineAbort = signControl(alice, {
      type: 'abort',
      sessionId: 't2',
      code: ErrorCode.Unknown,
      reason: 'test',
    });
    const forgedAbort = { ...genuineAbort, signature: Buffer.alloc(64).toString('base64') };
    const frames = [
      signedDirect(alice, 't1', 0), // genuine
      signedDirect(carol, 't2', 0, { from: aId }), // forged: carol signs as alice
      signedDirect(alice, 't2', 1, { to: carol.nodeId }), // addressed to someone else
      Uint8Array.of(FrameType.Envelope, 1, 2, 3), // malformed envelope
      control(forgedAbort), // bad signature
      signedDirect(alice, 't2', 0), // genuine, after all of the above
      control(genuineAbort),
    ];
    try {
      const reply = await ncA.request(sessionSubject(bId), encodeFrameBatch(frames), {
        timeout: 5000,
      });
      expect(decodeBatchReply(reply.data, frames.length)).toEqual([
        FrameReply.Accepted,
        FrameReply.Accepted, // delivered to its session, which drops it (below)
        FrameReply.Accepted,
        FrameReply.Rejected,
        FrameReply.Rejected,
        FrameReply.Accepted,
        FrameReply.Accepted,
      ]);
      expect(accepted).toEqual([
        ['t1', true],
        ['t2', false],
        ['t2', false],
        ['t2', true],
      ]);
      // A batch with broken framing is refused whole: nothing in it is dispatched.
      const broken = encodeFrameBatch([signedDirect(alice, 't1', 1), signedDirect(alice, 't2', 1)]);
      const refused = await ncA.request(
        sessionSubject(bId),
        broken.subarray(0, broken.length - 1),
        {
          timeout: 5000,
        },
      );
      expect([...refused.data]).toEqual([FrameReply.Rejected]);
      expect(accepted).toHaveLength(4);
    } finally {
      b.stop();
      for (const session of sessions.values()) session.dispose();
    }
  });

  it('falls back to single frames when a peer refuses batches (a signer that predates them)', async () => {
    const legacyId = `${prefix}-legacy`;
    const seen: number[] = [];
    // Answers like a signer without batches: unknown frame type 0x04 is rejected.
    const legacy = ncB.subscribe(sessionSubject(legacyId), {
      callback: (error, msg) => {
        if (error !== null) return;
        seen.push(msg.data[0] ?? -1);
        msg.respond(
          Uint8Array.of(
            msg.data[0] === FrameType.Batch ? FrameReply.Rejected : FrameReply.Accepted,
          ),
        );
      },
    });
    await ncB.flush();
    const a = new PeerMessenger({
      nc: ncA,
      selfNodeId: aId,
      sendTimeoutMs: 2000,
      sendAttempts: 2,
      handler: handler(new Set(), []),
    });
    try {
      await Promise.all([1, 2, 3].map((round) => a.sendEnvelope(legacyId, broadcast('s', round))));
      expect(seen).toEqual([
        FrameType.Batch,
        FrameType.Envelope,
        FrameType.Envelope,
        FrameType.Envelope,
      ]);
      // Later turns go frame by frame to that peer at once.
      await Promise.all([4, 5].map((round) => a.sendEnvelope(legacyId, broadcast('s', round))));
      expect(seen.slice(4)).toEqual([FrameType.Envelope, FrameType.Envelope]);
    } finally {
      legacy.unsubscribe();
    }
  });
});
