/**
 * The session host's defences against a lying coordinator (security review C1, M3, L4), with
 * the host's real admission code and no network: invite freshness, the per-coordinator rate,
 * one session per operation at a time, the per-pair cap, and a ban that stops sessions already
 * admitted before they send again, with nothing sent before the ban is durable.
 */
import { oneRoundJob, rosterIdentity } from './test-helpers.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import { signControl, type SessionInvite } from '../transport/control-messages.ts';
import { FrameReply, type PeerMessenger } from '../transport/peer-messenger.ts';
import { generateEphemeralKeyPair } from '../transport/secure-channel.ts';
import { BatchNotAdmittedError } from './errors.ts';
import { PairSlots } from './pair-slots.ts';
import { ParticipationLog } from './participation-log.ts';
import { SessionHost, type InviteLimits, type SessionJob } from './session-host.ts';

const mallory = rosterIdentity('mallory');
const honest = rosterIdentity('honest');
const roster = new Map([
  ['mallory', mallory.publicKey],
  ['honest', honest.publicKey],
]);
const NOW = 1_800_000_000_000;

/** A DKLs23-like job whose round 0 fails a ban-verdict check in the session `failing` names. */
class CheckFailure extends Error {
  readonly banPair = true;
  readonly counterparty = 1;
}

interface Fixture {
  readonly host: SessionHost;
  readonly banned: Set<string>;
  readonly rounds: Map<string, number>;
  readonly sent: string[];
  banDurable(): void;
}

async function fixture(
  options: {
    limits?: Partial<InviteLimits>;
    failing?: string;
    slots?: number;
    roundTimeoutMs?: number;
    /** false: a job without pairwise OT state (like FROST), so no pair cap applies. */
    pairState?: boolean;
  } = {},
): Promise<Fixture> {
  const banned = new Set<string>();
  const rounds = new Map<string, number>();
  const sent: string[] = [];
  let banDurable = (): void => undefined;
  const participation = await ParticipationLog.open({
    dataDir: mkdtempSync(join(tmpdir(), 'host-limits-')),
    maxSessionsPerOperation: 3,
    retentionMs: 3_600_000,
    maxOperations: 1000,
  });
  const job = (invite: SessionInvite): SessionJob<unknown> => ({
    party: {
      rounds: 2,
      round: async (index) => {
        rounds.set(invite.sessionId, index + 1);
        if (invite.sessionId === options.failing) {
          throw new CheckFailure('OT-extension consistency check failed');
        }
        return { direct: new Map([[1, Uint8Array.of(index)]]) };
      },
      finish: async () => 'done',
      wipe: () => undefined,
    },
    complete: async () => 'digest',
    dispose: () => undefined,
    operations: (invite.requests ?? [invite]).map(
      (entry) => `op.${JSON.parse(Buffer.from(entry.request, 'base64').toString()).tx as string}`,
    ),
    ...(options.pairState === false
      ? {}
      : {
          pairState: {
            key: 'wallet\nsecp256k1\n1',
            peers: ['mallory'],
            assertUsable: () => {
              if (banned.has('mallory'))
                throw new MpcError(ErrorCode.IncompatiblePeerIds, 'banned');
            },
          },
        }),
  });
  const host = new SessionHost({
    self: honest,
    roster,
    roundTimeoutMs: options.roundTimeoutMs ?? 60_000,
    participantSlotWaitMs: 20,
    probeIntervalMs: 60_000,
    log: pino({ enabled: false }),
    onPeerSuspect: () => undefined,
    now: () => NOW,
    pairSlots: new PairSlots(options.slots ?? 4),
    participation,
    inviteLimits: {
      maxAgeMs: 30_000,
      maxClockSkewMs: 5_000,
      perCoordinatorPerSecond: 1000,
      perCoordinatorBurst: 1000,
      ...options.limits,
    },
    pairBans: {
      isVerdict: (error) =>
        (error as { cause?: { banPair?: boolean } } | null)?.cause?.banPair === true,
      record: (peer) => {
        banned.add(peer);
        return new Promise<void>((resolve) => {
          banDurable = resolve;
        });
      },
    },
    prepare: async (invite) => job(invite),
  });
  host.attachMessenger({
    publishControl: (_peer: string, control: { body: string }) => {
      sent.push(JSON.parse(control.body).type as string);
    },
    sendEnvelope: async (_peer: string, envelope: { header: { sessionId: string } }) => {
      sent.push(`envelope:${envelope.header.sessionId}`);
    },
    sendControl: async () => undefined,
    probe: async () => undefined,
  } as unknown as PeerMessenger);
  return { host, banned, rounds, sent, banDurable: () => banDurable() };
}

function invite(sessionId: string, tx: string, overrides: Partial<SessionInvite> = {}) {
  const body: SessionInvite = {
    type: 'invite',
    sessionId,
    kind: 'sign',
    coordinator: 'mallory',
    participants: [
      { nodeId: 'mallory', partyId: 1 },
      { nodeId: 'honest', partyId: 2 },
    ],
    request: Buffer.from(JSON.stringify({ tx })).toString('base64'),
    requestSeq: 1,
    clientId: null,
    createdAt: NOW,
    ...overrides,
  };
  return signControl(mallory, body);
}

function start(host: SessionHost, sessionId: string): FrameReply {
  const ephemeral = generateEphemeralKeyPair();
  const hello = signControl(mallory, {
    type: 'hello',
    sessionId,
    nodeId: 'mallory',
    ephemeralPublicKey: Buffer.from(ephemeral.publicKey).toString('base64'),
  });
  return host.onControl(signControl(mallory, { type: 'start', sessionId, hellos: [hello] }));
}

function refusal(reply: unknown): string | undefined {
  return (reply as { error?: { code: string } }).error?.code;
}

describe('SessionHost admission limits', () => {
  it('refuses stale and future-dated invites (M3)', async () => {
    const { host } = await fixture();
    expect(refusal(await host.onInvite(invite('old', 'a', { createdAt: 0 })))).toBe(
      ErrorCode.SessionStale,
    );
    expect(refusal(await host.onInvite(invite('late', 'b', { createdAt: NOW - 36_000 })))).toBe(
      ErrorCode.SessionStale,
    );
    expect(refusal(await host.onInvite(invite('future', 'c', { createdAt: NOW + 6_000 })))).toBe(
      ErrorCode.SessionStale,
    );
    expect(refusal(await host.onInvite(invite('fresh', 'd', { createdAt: NOW - 34_000 })))).toBe(
      undefined,
    );
    host.abortAll('test over');
  });

  it('rate-limits invites per coordinator (M3)', async () => {
    const { host } = await fixture({
      limits: { perCoordinatorPerSecond: 1, perCoordinatorBurst: 3 },
    });
    const replies = await Promise.all(
      Array.from({ length: 6 }, (_, index) => host.onInvite(invite(`r${index}`, `tx${index}`))),
    );
    const limited = replies.filter((reply) => refusal(reply) === ErrorCode.ResourceExhausted);
    expect(limited).toHaveLength(3);
    host.abortAll('test over');
  });

  it('admits one session per operation at a time and a bounded number in all (M3)', async () => {
    // Sessions whose start never comes end after one round deadline (50 ms here).
    const { host } = await fixture({ roundTimeoutMs: 50, pairState: false });
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, index) => host.onInvite(invite(`same${index}`, 'one-tx'))),
    );
    // A newer invite supersedes the held session (stopped first), so at most one is held, and
    // at most maxSessionsPerOperation (3) were ever admitted; the rest are refused.
    expect(host.activeSessions).toBeLessThanOrEqual(1);
    const admitted = replies.filter((reply) => refusal(reply) === undefined).length;
    expect(admitted).toBeGreaterThanOrEqual(1);
    expect(admitted).toBeLessThanOrEqual(3);
    expect(replies.filter((reply) => refusal(reply) === ErrorCode.SessionDuplicate)).toHaveLength(
      50 - admitted,
    );
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(refusal(await host.onInvite(invite('again', 'one-tx')))).toBe(
      admitted < 3 ? undefined : ErrorCode.SessionDuplicate,
    );
  });

  it('a newer session for an operation supersedes the one still held (a redelivery)', async () => {
    const { host } = await fixture();
    expect(refusal(await host.onInvite(invite('first', 'tx-r')))).toBe(undefined);
    expect(host.hasSession('first')).toBe(true);
    expect(refusal(await host.onInvite(invite('second', 'tx-r')))).toBe(undefined);
    expect(host.hasSession('first')).toBe(false);
    expect(host.activeSessions).toBe(1);
    host.abortAll('test over');
  });

  it('admits a signing batch with all its operations or none, never waiting for one', async () => {
    const { host } = await fixture({ pairState: false });
    const batch = (sessionId: string, txs: string[]) =>
      invite(sessionId, txs[0] as string, {
        kind: 'sign-batch',
        requests: txs.map((tx, index) => ({
          request: Buffer.from(JSON.stringify({ tx })).toString('base64'),
          requestSeq: index + 1,
          clientId: null,
        })),
      });
    expect(refusal(await host.onInvite(batch('b1', ['a', 'b'])))).toBe(undefined);
    // A second batch sharing "b" is refused at once; it holds nothing afterwards ("c" is free).
    expect(refusal(await host.onInvite(batch('b2', ['b', 'c'])))).toBe(ErrorCode.SessionDuplicate);
    expect(host.hasSession('b1')).toBe(true);
    expect(refusal(await host.onInvite(invite('c-alone', 'c')))).toBe(undefined);
    // A single session still supersedes the batch that holds its operation (a redelivery).
    expect(refusal(await host.onInvite(invite('a-alone', 'a')))).toBe(undefined);
    expect(host.hasSession('b1')).toBe(false);
    // As the coordinator, a batch whose operation runs here fails at once, holding nothing
    // (two batches must never each hold some records while waiting for the other's).
    const coordinated = host.coordinate({
      sessionId: 'b3',
      kind: 'sign-batch',
      participants: [
        { nodeId: 'honest', partyId: 2 },
        { nodeId: 'mallory', partyId: 1 },
      ],
      request: new Uint8Array(0),
      requestSeq: 1,
      clientId: null,
      requests: [],
      job: oneRoundJob(['op.d', 'op.c']),
      awaitAllDone: false,
    });
    await expect(coordinated).rejects.toBeInstanceOf(BatchNotAdmittedError);
    expect(refusal(await host.onInvite(invite('d-alone', 'd')))).toBe(undefined);
    host.abortAll('test over');
  });

  it('caps concurrent sessions on one pair state from one coordinator (C1)', async () => {
    const { host } = await fixture({ slots: 4 });
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, index) => host.onInvite(invite(`p${index}`, `tx${index}`))),
    );
    expect(replies.filter((reply) => refusal(reply) === undefined)).toHaveLength(2);
    expect(replies.filter((reply) => refusal(reply) === ErrorCode.ConcurrencyLimit)).toHaveLength(
      18,
    );
    expect(host.activeSessions).toBe(2);
    host.abortAll('test over');
  });

  it('a ban stops admitted sessions before their next round; nothing leaves before it is durable (C1)', async () => {
    const fx = await fixture({ failing: 's0' });
    expect(refusal(await fx.host.onInvite(invite('s0', 'tx0')))).toBe(undefined);
    expect(refusal(await fx.host.onInvite(invite('s1', 'tx1')))).toBe(undefined);
    expect(start(fx.host, 's1')).toBe(FrameReply.Accepted);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fx.sent).toEqual(['envelope:s1']); // s1 sent round 0 and waits for mallory's
    expect(start(fx.host, 's0')).toBe(FrameReply.Accepted); // s0's check fails: ban
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fx.banned.has('mallory')).toBe(true);
    expect(fx.host.activeSessions).toBe(0); // s1 stopped too, before computing round 1
    expect(fx.rounds.get('s1')).toBe(1);
    expect(fx.sent).toEqual(['envelope:s1']); // no abort before the ban is durable
    fx.banDurable();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(fx.sent.filter((entry) => entry === 'abort')).toHaveLength(2);
    expect(refusal(await fx.host.onInvite(invite('s2', 'tx2')))).toBe(
      ErrorCode.IncompatiblePeerIds,
    );
  });
});
