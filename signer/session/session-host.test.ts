/**
 * SessionHost checks on incoming control traffic, without a network: forged or foreign
 * invites, retried invites (same answer, even while the first is still being prepared),
 * reused session ids, starts from anyone but the coordinator, and the start timeout; as the
 * coordinator, rounds that do not wait for the start's ack (issue 15) yet fail when it is lost;
 * two-party signing sessions that start on the invite (no start message), with signers that
 * predate it, and invites whose nested hello lies.
 */
import { oneRoundJob, rosterIdentity } from './test-helpers.ts';
import { pino } from 'pino';
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import {
  openControl,
  signControl,
  type SessionInvite,
  type SignedControl,
} from '../transport/control-messages.ts';
import { FrameReply, type PeerMessenger } from '../transport/peer-messenger.ts';
import { generateEphemeralKeyPair, type Envelope } from '../transport/secure-channel.ts';
import { InviteRefusedError, PeerUnavailableError } from './errors.ts';
import { SessionHost, type SessionJob } from './session-host.ts';

const alice = rosterIdentity('alice');
const bob = rosterIdentity('bob');
const mallory = rosterIdentity('mallory');
const roster = new Map([
  ['alice', alice.publicKey],
  ['bob', bob.publicKey],
]);

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
      return oneRoundJob();
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

/** What Alice passes to `coordinate` for a signing session with Bob. */
function twoPartySigning(sessionId: string, sessionJob: SessionJob<unknown>) {
  return {
    sessionId,
    kind: 'sign' as const,
    participants: [
      { nodeId: 'alice', partyId: 1 },
      { nodeId: 'bob', partyId: 2 },
    ],
    request: new Uint8Array(0),
    requestSeq: 1,
    clientId: null,
    job: sessionJob,
    awaitAllDone: false,
  };
}

/** `count` batched requests (as a sign-batch invite lists them). */
function batchOf(count: number) {
  return Array.from({ length: count }, (_, index) => ({
    request: Buffer.from(`{"n":${index}}`).toString('base64'),
    requestSeq: index + 1,
    clientId: null,
  }));
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
    const coordinated = sessionHost.coordinate(twoPartySigning('s8', oneRoundJob()));
    await expect(coordinated).rejects.toBeInstanceOf(PeerUnavailableError);
    expect(events).toEqual(['start sent', 'round 0 sent']);
    expect(sessionHost.hasSession('s8')).toBe(false);
    expect(aborts).toHaveLength(1); // the participant is told, as for any other failure
  });

  describe('two-party signing', () => {
    type Identity = ReturnType<typeof rosterIdentity>;

    /** A one-round job whose result is the other party's broadcast (hex). */
    function echoJob(payload: string, completed: string[]): SessionJob<unknown> {
      return {
        party: {
          rounds: 1,
          round: async () => ({ broadcast: new TextEncoder().encode(payload) }),
          finish: async (input) =>
            [...input.broadcast.values()].map((bytes) => new TextDecoder().decode(bytes)).join(),
          wipe: () => undefined,
        },
        complete: async (result) => {
          completed.push(String(result));
          return 'digest';
        },
        dispose: () => undefined,
      };
    }

    const clone = (envelope: Envelope): Envelope => ({
      header: { ...envelope.header },
      body: envelope.body.slice(),
      signature: envelope.signature.slice(),
    });

    /**
     * Alice coordinates, Bob participates, wired in memory. `rewriteInvite` (test-only) may
     * replace the invite Bob receives (re-signed by Alice: the test holds her key).
     */
    function pair(
      options: {
        rewriteInvite?: (invite: SessionInvite) => SessionInvite;
        /** Bob's prepare (default: an echo job); sees every invite Bob accepts. */
        bobPrepare?: (invite: SessionInvite) => Promise<SessionJob<unknown>>;
      } = {},
    ) {
      const controls: { to: string; type: string }[] = [];
      const bobCompleted: string[] = [];
      const make = (
        self: Identity,
        prepare: (invite: SessionInvite) => Promise<SessionJob<unknown>>,
      ) =>
        new SessionHost({
          self,
          roster,
          roundTimeoutMs: 5000,
          probeIntervalMs: 1000,
          log: pino({ enabled: false }),
          onPeerSuspect: () => undefined,
          prepare,
        });
      const aliceHost = make(alice, async () => oneRoundJob());
      const bobHost = make(
        bob,
        options.bobPrepare ?? (async () => echoJob('from bob', bobCompleted)),
      );
      const hosts = new Map([
        ['alice', aliceHost],
        ['bob', bobHost],
      ]);
      const typeOf = (control: SignedControl): string =>
        (JSON.parse(control.body) as { type: string }).type;
      for (const sessionHost of hosts.values()) {
        sessionHost.attachMessenger({
          invite: async (peer: string, _sessionId: string, signed: SignedControl) => {
            let delivered = signed;
            if (options.rewriteInvite !== undefined) {
              const original = openControl(signed, roster) as SessionInvite;
              delivered = signControl(alice, options.rewriteInvite(original));
            }
            return hosts.get(peer)?.onInvite(delivered);
          },
          sendControl: async (peer: string, _sessionId: string, control: SignedControl) => {
            controls.push({ to: peer, type: typeOf(control) });
            hosts.get(peer)?.onControl(control);
          },
          publishControl: (peer: string, control: SignedControl) => {
            controls.push({ to: peer, type: typeOf(control) });
            hosts.get(peer)?.onControl(control);
          },
          sendEnvelope: async (peer: string, envelope: Envelope) => {
            hosts.get(peer)?.onEnvelope(clone(envelope));
          },
          probe: async () => undefined,
        } as unknown as PeerMessenger);
      }
      const coordinate = (sessionId: string) =>
        aliceHost.coordinate(twoPartySigning(sessionId, echoJob('from alice', [])));
      const coordinateBatch = (sessionId: string) =>
        aliceHost.coordinate({
          ...twoPartySigning(sessionId, echoJob('from alice', [])),
          kind: 'sign-batch',
          requests: batchOf(2),
        });
      return { aliceHost, bobHost, controls, bobCompleted, coordinate, coordinateBatch };
    }

    it('starts the participant on the invite: no start message, both parties see each other', async () => {
      const { bobHost, controls, bobCompleted, coordinate } = pair();
      await expect(coordinate('t1')).resolves.toBe('from bob');
      await vi.waitFor(() => expect(bobCompleted).toEqual(['from alice']));
      expect(controls).toEqual([]); // no start, no abort
      expect(bobHost.hasSession('t1')).toBe(false);
    });

    it('answers late frames and probes for a session it completed, not for others', async () => {
      // A sender retrying a frame whose first attempt arrived (its ack was slow) must not have
      // its session failed because the receiver has finished meanwhile.
      const { aliceHost, bobHost, bobCompleted, coordinate } = pair();
      await expect(coordinate('late')).resolves.toBe('from bob');
      await vi.waitFor(() => expect(bobCompleted).toEqual(['from alice']));
      const envelope = (sessionId: string) =>
        ({ header: { sessionId }, body: new Uint8Array(0), signature: new Uint8Array(0) }) as never;
      for (const sessionHost of [aliceHost, bobHost]) {
        expect(sessionHost.hasSession('late')).toBe(false);
        expect(sessionHost.onEnvelope(envelope('late'))).toBe(FrameReply.Accepted);
        expect(sessionHost.answersProbe('late')).toBe(true);
        expect(sessionHost.onEnvelope(envelope('never'))).toBe(FrameReply.UnknownSession);
        expect(sessionHost.answersProbe('never')).toBe(false);
      }
      const abort = signControl(alice, {
        type: 'abort',
        sessionId: 'late',
        code: ErrorCode.PeerUnavailable,
        reason: 'late',
      });
      expect(bobHost.onControl(abort)).toBe(FrameReply.Accepted);
      // A session that failed is not "completed": its peers learn so at once.
      const refusing = pair({
        bobPrepare: async () => {
          throw new MpcError(ErrorCode.KeyNotFound, 'no such wallet here');
        },
      });
      await expect(refusing.coordinateBatch('failed')).rejects.toThrow();
      expect(refusing.aliceHost.onEnvelope(envelope('failed'))).toBe(FrameReply.UnknownSession);
      expect(refusing.aliceHost.answersProbe('failed')).toBe(false);
    });

    it('runs a signing batch like a signing session: started on the invite, no done', async () => {
      const seen: SessionInvite[] = [];
      const bobCompleted: string[] = [];
      const { bobHost, controls, coordinateBatch } = pair({
        bobPrepare: async (invite) => {
          seen.push(invite);
          return echoJob('from bob', bobCompleted);
        },
      });
      await expect(coordinateBatch('b1')).resolves.toBe('from bob');
      await vi.waitFor(() => expect(bobCompleted).toEqual(['from alice']));
      expect(controls).toEqual([]); // no start, no done, no abort
      expect(seen[0]).toMatchObject({ kind: 'sign-batch', requests: batchOf(2) });
      expect(bobHost.hasSession('b1')).toBe(false);
    });

    it('learns from hellos which peers take part in batches, and forgets one that refuses', async () => {
      let refuse = false;
      const { aliceHost, coordinate, coordinateBatch } = pair({
        bobPrepare: async () => {
          if (refuse) throw new MpcError(ErrorCode.InvalidSessionType, 'unsupported kind');
          return echoJob('from bob', []);
        },
      });
      expect(aliceHost.acceptsSigningBatches('bob')).toBe(false);
      await coordinate('learn');
      expect(aliceHost.acceptsSigningBatches('bob')).toBe(true);
      refuse = true;
      await expect(coordinateBatch('refused')).rejects.toBeInstanceOf(InviteRefusedError);
      expect(aliceHost.acceptsSigningBatches('bob')).toBe(false);
    });

    it('reports a refused batch invite as InviteRefusedError with the participant code', async () => {
      const { coordinateBatch, controls } = pair({
        bobPrepare: async () => {
          throw new MpcError(ErrorCode.KeyNotFound, 'no such wallet here');
        },
      });
      const failure = await coordinateBatch('b2').catch((error: unknown) => error);
      expect(failure).toBeInstanceOf(InviteRefusedError);
      expect(failure).toMatchObject({ code: ErrorCode.KeyNotFound, peer: 'bob' });
      expect(controls).toEqual([]); // nothing ran, so there was nothing to abort at Bob
    });

    it('refuses to coordinate a batch without requests, or requests without a batch', async () => {
      const { aliceHost } = pair();
      await expect(
        aliceHost.coordinate({ ...twoPartySigning('b3', oneRoundJob()), kind: 'sign-batch' }),
      ).rejects.toThrow(/requests/);
      await expect(
        aliceHost.coordinate({ ...twoPartySigning('b4', oneRoundJob()), requests: batchOf(2) }),
      ).rejects.toThrow(/requests/);
    });

    it('still sends a start to a participant that predates it, which waits for it', async () => {
      // Bob gets the invite without Alice's hello (as from a coordinator that predates it), so
      // he answers as before, without startedOnInvite: Alice must send him a start.
      const { controls, bobCompleted, coordinate } = pair({
        rewriteInvite: (invite) => {
          const { hello, ...rest } = invite;
          expect(hello).toBeDefined();
          return rest;
        },
      });
      await expect(coordinate('t2')).resolves.toBe('from bob');
      await vi.waitFor(() => expect(bobCompleted).toEqual(['from alice']));
      expect(controls).toEqual([{ to: 'bob', type: 'start' }]);
    });

    const helloOf = (
      from: Identity,
      sessionId: string,
      overrides: Record<string, unknown> = {},
    ): SignedControl =>
      signControl(from, {
        type: 'hello',
        sessionId,
        nodeId: from.nodeId,
        ephemeralPublicKey: Buffer.from(generateEphemeralKeyPair().publicKey).toString('base64'),
        ...overrides,
      } as never);

    it.each([
      ['a hello of another session', (id: string) => helloOf(alice, `${id}-other`)],
      ['a hello in the name of the participant', () => helloOf(bob, 'ignored')],
      [
        'a start instead of a hello',
        (id: string) => signControl(alice, { type: 'start', sessionId: id, hellos: [] }),
      ],
      [
        'a hello with a bad key',
        (id: string) => helloOf(alice, id, { ephemeralPublicKey: 'AAAA' }),
      ],
    ])(
      'fails the session, sending nothing but an abort, when the invite carries %s',
      async (_, lie) => {
        const sessionId = `lie-${randomUUID()}`;
        const sent: string[] = [];
        const aborts: unknown[] = [];
        const { sessionHost } = host();
        sessionHost.attachMessenger({
          sendEnvelope: async () => {
            sent.push('envelope');
          },
          sendControl: async () => {
            sent.push('control');
          },
          probe: async () => undefined,
          publishControl: (_peer: string, control: SignedControl) => aborts.push(control),
        } as unknown as PeerMessenger);
        const reply = await sessionHost.onInvite(
          signControl(alice, {
            ...invite(sessionId, { createdAt: Date.now() }),
            hello: lie(sessionId),
          }),
        );
        expect(reply).toMatchObject({ from: 'bob' });
        await vi.waitFor(() => expect(aborts).toHaveLength(1));
        expect(openControl(aborts[0], roster)).toMatchObject({
          type: 'abort',
          code: ErrorCode.MessageVerification,
        });
        expect(sent).toEqual([]);
        expect(sessionHost.hasSession(sessionId)).toBe(false);
      },
    );

    it('waits for the start when the invite is not two-party signing, hello or not', async () => {
      const { sessionHost } = host();
      const sent: string[] = [];
      sessionHost.attachMessenger({
        sendEnvelope: async () => {
          sent.push('envelope');
        },
        probe: async () => undefined,
        publishControl: () => undefined,
      } as unknown as PeerMessenger);
      const three = [
        { nodeId: 'alice', partyId: 1 },
        { nodeId: 'bob', partyId: 2 },
        { nodeId: 'carol', partyId: 3 },
      ];
      for (const [sessionId, overrides] of [
        ['w1', { participants: three }],
        ['w2', { kind: 'keygen' as const }],
      ] as const) {
        const reply = (await sessionHost.onInvite(
          signControl(alice, { ...invite(sessionId, overrides), hello: helloOf(alice, sessionId) }),
        )) as SignedControl;
        expect(JSON.parse(reply.body)).not.toHaveProperty('startedOnInvite');
        expect(sessionHost.hasSession(sessionId)).toBe(true);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(sent).toEqual([]);
      sessionHost.abortAll('test over');
    });
  });
});
