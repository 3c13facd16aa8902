/**
 * SessionHost checks on incoming control traffic, without a network: forged or foreign
 * invites, retried invites (same answer, even while the first is still being prepared),
 * reused session ids, starts from anyone but the coordinator, and the start timeout; as the
 * coordinator, rounds that do not wait for the start's ack (issue 15) yet fail when it is lost.
 */
import { rosterIdentity } from './test-helpers.ts';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import { signControl, type SessionInvite } from '../transport/control-messages.ts';
import { FrameReply, type PeerMessenger } from '../transport/peer-messenger.ts';
import { generateEphemeralKeyPair } from '../transport/secure-channel.ts';
import { PeerUnavailableError } from './errors.ts';
import { SessionHost, type SessionJob } from './session-host.ts';

const alice = rosterIdentity('alice');
const bob = rosterIdentity('bob');
const mallory = rosterIdentity('mallory');
const roster = new Map([
  ['alice', alice.publicKey],
  ['bob', bob.publicKey],
]);

function job(): SessionJob<unknown> {
  return {
    party: {
      rounds: 1,
      round: async () => ({ broadcast: Uint8Array.of(1) }),
      finish: async () => 'done',
      wipe: () => undefined,
    },
    complete: async () => 'digest',
    dispose: () => undefined,
  };
}

function host(options: { prepareDelayMs?: number; roundTimeoutMs?: number } = {}) {
  let prepared = 0;
  const sessionHost = new SessionHost({
    self: bob,
    roster,
    roundTimeoutMs: options.roundTimeoutMs ?? 5000,
    probeIntervalMs: 1000,
    log: pino({ enabled: false }),
    onPeerSuspect: () => undefined,
    prepare: async () => {
      prepared += 1;
      if (options.prepareDelayMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, options.prepareDelayMs));
      }
      return job();
    },
  });
  sessionHost.attachMessenger({ publishControl: () => undefined } as unknown as PeerMessenger);
  return { sessionHost, prepared: () => prepared };
}

function invite(sessionId: string, overrides: Partial<SessionInvite> = {}): SessionInvite {
  return {
    type: 'invite',
    sessionId,
    kind: 'sign',
    coordinator: 'alice',
    participants: [
      { nodeId: 'alice', partyId: 1 },
      { nodeId: 'bob', partyId: 2 },
    ],
    request: Buffer.from('{}').toString('base64'),
    requestSeq: 1,
    clientId: null,
    createdAt: 0,
    ...overrides,
  };
}

describe('SessionHost', () => {
  it('answers a retried invite with the same hello, even while the first is being prepared', async () => {
    const { sessionHost, prepared } = host({ prepareDelayMs: 50 });
    const signed = signControl(alice, invite('s1'));
    const [first, second] = await Promise.all([
      sessionHost.onInvite(signed),
      sessionHost.onInvite(signed),
    ]);
    expect(first).toEqual(second);
    expect(first).toMatchObject({ from: 'bob' });
    expect(prepared()).toBe(1);
    expect(sessionHost.activeSessions).toBe(1);
    sessionHost.abortAll('test over');
  });

  it('refuses a different invite that reuses a session id', async () => {
    const { sessionHost } = host();
    await sessionHost.onInvite(signControl(alice, invite('s2')));
    const reused = await sessionHost.onInvite(signControl(alice, invite('s2', { kind: 'keygen' })));
    expect(reused).toMatchObject({ error: { code: ErrorCode.SessionDuplicate } });
    sessionHost.abortAll('test over');
  });

  it('refuses invites from unknown signers, forged ones, and ones it is not part of', async () => {
    const { sessionHost, prepared } = host();
    const forged = { ...signControl(alice, invite('s3')), from: 'mallory' };
    expect(await sessionHost.onInvite(forged)).toMatchObject({
      error: { code: ErrorCode.MessageVerification },
    });
    const foreign = signControl(mallory, invite('s4', { coordinator: 'mallory' }));
    expect(await sessionHost.onInvite(foreign)).toMatchObject({
      error: { code: ErrorCode.MessageVerification },
    });
    const notMine = signControl(
      alice,
      invite('s5', { participants: [{ nodeId: 'alice', partyId: 1 }] }),
    );
    expect(await sessionHost.onInvite(notMine)).toMatchObject({
      error: { code: ErrorCode.ParticipantNotFound },
    });
    expect(prepared()).toBe(0);
  });

  it('accepts start only from the coordinator, and only once', async () => {
    const { sessionHost } = host();
    await sessionHost.onInvite(signControl(alice, invite('s6')));
    const fromSelf = signControl(bob, { type: 'start', sessionId: 's6', hellos: [] });
    expect(sessionHost.onControl(fromSelf)).toBe(FrameReply.Rejected);
    const start = signControl(alice, { type: 'start', sessionId: 's6', hellos: [] });
    expect(sessionHost.onControl(start)).toBe(FrameReply.Accepted);
    expect(sessionHost.onControl(start)).toBe(FrameReply.Accepted); // a retry is harmless
    expect(
      sessionHost.onControl(signControl(alice, { type: 'start', sessionId: 'nope', hellos: [] })),
    ).toBe(FrameReply.UnknownSession);
  });

  it('drops an invited session whose start never comes', async () => {
    const { sessionHost } = host({ roundTimeoutMs: 50 });
    await sessionHost.onInvite(signControl(alice, invite('s7')));
    expect(sessionHost.hasSession('s7')).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(sessionHost.hasSession('s7')).toBe(false);
  });

  it('runs rounds without waiting for the start ack, and an undelivered start still fails the session', async () => {
    const { sessionHost } = host();
    const peerHello = signControl(alice, {
      type: 'hello',
      sessionId: 's8',
      nodeId: 'alice',
      ephemeralPublicKey: Buffer.from(generateEphemeralKeyPair().publicKey).toString('base64'),
    });
    const events: string[] = [];
    let failStart: (error: Error) => void = () => undefined;
    const aborts: unknown[] = [];
    sessionHost.attachMessenger({
      invite: async () => peerHello,
      sendControl: () =>
        new Promise<void>((_, reject) => {
          events.push('start sent');
          failStart = reject;
        }),
      sendEnvelope: async () => {
        events.push('round 0 sent');
        // The start is still unacknowledged; now it turns out undeliverable.
        failStart(new PeerUnavailableError('alice', 's8', 'no ack'));
      },
      probe: async () => undefined,
      publishControl: (_peer: string, control: unknown) => aborts.push(control),
    } as unknown as PeerMessenger);
    const coordinated = sessionHost.coordinate({
      sessionId: 's8',
      kind: 'sign',
      participants: [
        { nodeId: 'alice', partyId: 1 },
        { nodeId: 'bob', partyId: 2 },
      ],
      request: new Uint8Array(0),
      requestSeq: 1,
      clientId: null,
      job: job(),
      awaitAllDone: false,
    });
    await expect(coordinated).rejects.toBeInstanceOf(PeerUnavailableError);
    expect(events).toEqual(['start sent', 'round 0 sent']);
    expect(sessionHost.hasSession('s8')).toBe(false);
    expect(aborts).toHaveLength(1); // the participant is told, as for any other failure
  });
});
