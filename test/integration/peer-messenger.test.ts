/**
 * The peer messenger against a real nats-server: acknowledged delivery, immediate
 * "no responders" detection of a vanished peer, unknown-session replies and probes.
 */
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { natsConnectOptions } from '../harness/signer-cluster.ts';
import { ErrorCode } from '../../signer/protocol/errors.ts';
import { PeerUnavailableError, SessionAbortedError } from '../../signer/session/errors.ts';
import {
  FrameReply,
  PeerMessenger,
  type PeerMessageHandler,
} from '../../signer/transport/peer-messenger.ts';
import { EnvelopeKind, type Envelope } from '../../signer/transport/secure-channel.ts';

function handler(sessions: Set<string>, received: Envelope[]): PeerMessageHandler {
  return {
    onInvite: async () => ({ error: { code: ErrorCode.Unknown, message: 'no' } }),
    onEnvelope: (envelope) => {
      if (!sessions.has(envelope.header.sessionId)) return FrameReply.UnknownSession;
      received.push(envelope);
      return FrameReply.Accepted;
    },
    onControl: () => FrameReply.Accepted,
    hasSession: (sessionId) => sessions.has(sessionId),
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
