/**
 * Hosts every session this signer takes part in, as coordinator or participant (design §5,
 * §6). It answers invites, runs rounds, and tears sessions down.
 *
 * Abort semantics: the participant that detects a failure (unreachable peer, stalled round,
 * failed check) tells every other participant with a signed `abort` carrying the error code,
 * so all of them stop at once and the coordinator reports that code. A peer found unreachable
 * is marked suspect in the membership. Whatever the outcome, the session's keys, buffered
 * messages and the job's secrets are wiped and the session is forgotten.
 */
import type { Logger } from 'pino';
import type { PartyId } from '../crypto/round-protocol.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import {
  openControl,
  signControl,
  type ControlSigner,
  type InviteParticipant,
  type SessionInvite,
  type SessionKind,
  type SignedControl,
} from '../transport/control-messages.ts';
import {
  FrameReply,
  type PeerMessageHandler,
  type PeerMessenger,
} from '../transport/peer-messenger.ts';
import type { Envelope } from '../transport/secure-channel.ts';
import {
  BatchNotAdmittedError,
  InviteRefusedError,
  PeerBannedError,
  PeerUnavailableError,
  ProtocolViolationError,
  SessionAbortedError,
  SessionCancelledError,
  SessionTimeoutError,
} from './errors.ts';
import { missingConfirmations } from './commit-evidence.ts';
import { ParticipantSession } from './participant-session.ts';
import type { PairSlots, SlotLease } from './pair-slots.ts';
import {
  OperationReplayError,
  type Participation,
  type ParticipationLog,
} from './participation-log.ts';
import type { PartyDriver } from './round-runner.ts';

/**
 * The pairwise DKLs23 OT state a session uses (security review C1). Sessions that declare it
 * are capped per (state, peer) by `PairSlots`, and `assertUsable` runs before every round and
 * before every send: a ban recorded meanwhile stops the session before its next message.
 */
export interface PairStateUse {
  /** Identifies the OT state: wallet, key type and share version. */
  readonly key: string;
  /** Peers whose pairwise state with this signer the session uses. */
  readonly peers: readonly string[];
  /** Throws (an MpcError) when any of those pairs may not be used (banned, burned). */
  assertUsable(): void;
  /** Per peer, the origin of this signer's pair state with it (compared in the hellos). */
  readonly origins?: ReadonlyMap<string, string>;
}

/** How a failed check turns into a durable pair ban (security review C1, M1). */
export interface PairBanRecorder {
  /** True when a session failure is a "ban the pair" verdict (a failed DKLs23 check). */
  isVerdict(error: unknown): boolean;
  /**
   * Records the ban: in memory before it returns (every later `assertUsable` sees it), durable
   * when the promise resolves. The host sends nothing about a session with that peer before.
   */
  record(peer: string, error: MpcError): Promise<void>;
}

/** Something a session holds until it ends (a pair slot, a participation record). */
type Lease = SlotLease | Participation;

function releaseAll(leases: readonly Lease[]): void {
  for (const lease of leases) lease.release();
}

/** Invite admission limits (security review M3). */
export interface InviteLimits {
  /** Invites older than this (by the coordinator's clock, plus skew) are refused. */
  readonly maxAgeMs: number;
  /** Tolerated clock difference between signers, both directions. */
  readonly maxClockSkewMs: number;
  /** Sustained invites per second accepted from one coordinator, and the burst above it. */
  readonly perCoordinatorPerSecond: number;
  readonly perCoordinatorBurst: number;
}

/** The invite is older than the freshness bound, or dated in the future. */
export class StaleInviteError extends MpcError {
  constructor(ageMs: number) {
    super(ErrorCode.SessionStale, `invite is stale (age ${Math.round(ageMs)} ms)`);
  }
}

/** A coordinator sent invites faster than the per-coordinator rate. */
export class InviteRateLimitError extends MpcError {
  constructor(coordinator: string) {
    super(ErrorCode.ResourceExhausted, `too many invites from ${coordinator}`);
  }
}

/** What a service handler prepares for one session after validating the client request. */
export interface SessionJob<Result> {
  readonly party: PartyDriver<Result>;
  /**
   * On success, on every participant: persist what must be kept; return a public digest.
   * Two-phase jobs (those with `commit`) only stage their result here.
   */
  complete(result: Result): Promise<string>;
  /**
   * Two-phase jobs (resharing): makes the staged result current. Runs only once every
   * participant reported the same digest — on the coordinator after collecting the `done`s, on
   * a participant when the coordinator's `commit` carries every other participant's signed
   * `done` with this participant's digest. Without a commit the staged result never counts.
   */
  commit?(): Promise<void>;
  /** Wipes everything the job holds. Called exactly once, success or not. */
  dispose(): void;
  /**
   * Creates the protocol party once the session binding (every participant's fresh hello,
   * session-binding.ts) is known; `party` refuses rounds before. Absent: `party` is ready.
   */
  bind?(binding: Uint8Array): Promise<void>;
  /** DKLs23 jobs: the pairwise OT state the session uses (capped, gated by bans). */
  readonly pairState?: PairStateUse;
  /**
   * The client operations this session serves (`operationKey(kind, clientId, id)`; several
   * for a signing batch); every participant admits at most one session per operation at a
   * time, a bounded number in all.
   */
  readonly operations?: readonly string[];
}

/** Validates an invite's client request independently and builds the job, or throws MpcError. */
export type PrepareJob = (invite: SessionInvite) => Promise<SessionJob<unknown>>;

export interface SessionHostOptions {
  readonly self: ControlSigner;
  readonly roster: ReadonlyMap<string, Uint8Array>;
  readonly prepare: PrepareJob;
  /** Per-round deadline of signing sessions. */
  readonly roundTimeoutMs: number;
  /**
   * Per-round deadline of keygen (and reshare) sessions, whose rounds include seconds of
   * DKLs23 base-OT work per party (default: `roundTimeoutMs`).
   */
  readonly keygenRoundTimeoutMs?: number;
  readonly probeIntervalMs: number;
  readonly log: Logger;
  readonly onPeerSuspect: (peer: string) => void;
  /** A participant failed a protocol check (e.g. a DKLs23 consistency check). */
  readonly onProtocolViolation?: (peer: string, error: MpcError) => void;
  readonly onSessionEnd?: (kind: SessionKind, error: MpcError | undefined) => void;
  /** Caps concurrent sessions on one pair's OT state (absent: no cap; tests only). */
  readonly pairSlots?: PairSlots;
  /** Bounded wait of an invite (participant) and of a request (coordinator) for a pair slot. */
  readonly participantSlotWaitMs?: number;
  readonly coordinatorSlotWaitMs?: number;
  /** Turns failed DKLs23 checks into durable bans. */
  readonly pairBans?: PairBanRecorder;
  /** Durable per-operation participation record (absent: none; tests only). */
  readonly participation?: ParticipationLog;
  /** Freshness and rate limits for invites (absent: none; tests only). */
  readonly inviteLimits?: InviteLimits;
  /** Wall clock (ms since epoch) for invite freshness; default `Date.now`. */
  readonly now?: () => number;
  /** Test-only: whether a session of this kind and role stalls at this round. */
  readonly shouldPause?: (
    kind: SessionKind,
    role: 'coordinator' | 'participant',
    round: number,
  ) => boolean;
}

interface ActiveSession {
  readonly invite: SessionInvite;
  readonly session: ParticipantSession<unknown>;
  readonly job: SessionJob<unknown>;
  readonly dones: Map<string, string>;
  /** The signed `done`s behind `dones` (a commit's evidence). */
  readonly signedDones: Map<string, SignedControl>;
  doneWaiter?: () => void;
  /** Participants that confirmed a commit (two-phase sessions, coordinator side). */
  readonly committed: Set<string>;
  committedWaiter?: () => void;
  /** Set while a participant of a two-phase session waits for the coordinator's commit. */
  commitWaiter?: {
    resolve(dones: readonly SignedControl[]): void;
    reject(error: MpcError): void;
  };
  startTimer?: NodeJS.Timeout;
  lifetimeTimer?: NodeJS.Timeout;
  ended: boolean;
  /** Test-only fault injection stalled this session. */
  paused: boolean;
  started?: boolean;
  /** Pair slots and the participation record, released when the session ends. */
  leases: Lease[];
}

const SEEN_SESSION_LIMIT = 10_000;

type InviteReply = SignedControl | { error: { code: ErrorCode; message: string } };

export class SessionHost implements PeerMessageHandler {
  private readonly options: SessionHostOptions;
  private readonly sessions = new Map<string, ActiveSession>();
  private readonly seenSessionIds = new Set<string>();
  /**
   * Peers whose hello said they take part in signing batches (`SessionHello.signingBatches`);
   * a peer that refuses a batch is dropped until its next hello says so again.
   */
  private readonly batchingPeers = new Set<string>();
  /** Sessions that ended successfully here, most recent last (bounded like the above). */
  private readonly completedSessionIds = new Set<string>();
  /** Recent invite answers by session id, so a retried invite gets the same answer. */
  private readonly inviteReplies = new Map<string, { body: string; reply: Promise<InviteReply> }>();
  private messengerRef: PeerMessenger | undefined;
  /** Durable-ban writes by peer: nothing about a session with that peer leaves before. */
  private readonly banWrites = new Map<string, Promise<void>>();
  /** Token buckets of invite admission, by coordinator. */
  private readonly inviteBuckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: SessionHostOptions) {
    this.options = options;
  }

  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** Wires the messenger (it needs this host as its handler, hence not a constructor option). */
  attachMessenger(messenger: PeerMessenger): void {
    this.messengerRef = messenger;
  }

  private get messenger(): PeerMessenger {
    if (this.messengerRef === undefined) throw new Error('session host has no messenger');
    return this.messengerRef;
  }

  private roundTimeoutFor(kind: SessionKind): number {
    return isSigning(kind)
      ? this.options.roundTimeoutMs
      : (this.options.keygenRoundTimeoutMs ?? this.options.roundTimeoutMs);
  }

  /** Number of sessions currently held (for metrics and tests). */
  get activeSessions(): number {
    return this.sessions.size;
  }

  /** Number of held sessions stalled by test-only fault injection. */
  get pausedSessions(): number {
    let count = 0;
    for (const active of this.sessions.values()) if (active.paused) count += 1;
    return count;
  }

  /** Number of held sessions this signer coordinates. */
  get coordinatingSessions(): number {
    let count = 0;
    for (const active of this.sessions.values()) {
      if (active.invite.coordinator === this.options.self.nodeId) count += 1;
    }
    return count;
  }

  /** Free own-coordination slots towards `peer` on a pair state (unbounded without a cap). */
  freeOwnPairSlots(pairState: string, peer: string): number {
    return this.options.pairSlots?.free(pairState, peer, 'own') ?? Number.POSITIVE_INFINITY;
  }

  hasSession(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** Whether `peer` said it takes part in signing batches (its hellos). */
  acceptsSigningBatches(peer: string): boolean {
    return this.batchingPeers.has(peer);
  }

  answersProbe(sessionId: string): boolean {
    return this.sessions.has(sessionId) || this.completedSessionIds.has(sessionId);
  }

  /** Aborts every session (process shutdown). */
  abortAll(why: string): void {
    for (const [sessionId, active] of this.sessions) {
      active.session.abort(new SessionCancelledError(sessionId, why));
    }
  }

  private remember(sessionId: string): boolean {
    if (this.seenSessionIds.has(sessionId)) return false;
    addBounded(this.seenSessionIds, sessionId);
    return true;
  }

  private register(
    invite: SessionInvite,
    job: SessionJob<unknown>,
    role: 'coordinator' | 'participant',
    leases: Lease[],
  ): ActiveSession {
    const nodeOfParty = new Map<PartyId, string>(
      invite.participants.map((participant) => [participant.partyId, participant.nodeId]),
    );
    const session = new ParticipantSession({
      sessionId: invite.sessionId,
      self: this.options.self,
      roster: this.options.roster,
      nodeOfParty,
      party: job.party,
      messenger: this.messenger,
      roundTimeoutMs: this.roundTimeoutFor(invite.kind),
      probeIntervalMs: this.options.probeIntervalMs,
      ...(job.pairState === undefined ? {} : { gate: () => job.pairState?.assertUsable() }),
      ...(job.pairState?.origins === undefined ? {} : { pairOrigins: job.pairState.origins }),
      ...(job.bind === undefined
        ? {}
        : {
            bind: (binding: Uint8Array) =>
              (job.bind as (b: Uint8Array) => Promise<void>).call(job, binding),
          }),
      shouldPause: (round) => this.options.shouldPause?.(invite.kind, role, round) === true,
      onPause: () => {
        active.paused = true;
      },
    });
    const active: ActiveSession = {
      invite,
      session,
      job,
      dones: new Map(),
      signedDones: new Map(),
      committed: new Set(),
      ended: false,
      paused: false,
      leases,
    };
    this.sessions.set(invite.sessionId, active);
    // Hard bound on any session's life, whatever happens to its messages.
    const limitMs = (job.party.rounds + 3) * this.roundTimeoutFor(invite.kind);
    active.lifetimeTimer = setTimeout(() => {
      active.session.abort(
        new SessionTimeoutError(invite.sessionId, -1, ['(session lifetime)'], limitMs),
      );
    }, limitMs);
    active.lifetimeTimer.unref();
    return active;
  }

  /**
   * Answers an invite. A retried invite (same signed body; the first reply was lost or late,
   * possibly still being prepared) gets the very same answer; any other reuse of a session id
   * is refused.
   */
  onInvite(signed: unknown): Promise<InviteReply> {
    const invite = openControl(signed, this.options.roster);
    if (invite?.type !== 'invite') {
      return Promise.resolve({
        error: { code: ErrorCode.MessageVerification, message: 'invite rejected' },
      });
    }
    const selfNodeId = this.options.self.nodeId;
    if (!invite.participants.some((participant) => participant.nodeId === selfNodeId)) {
      return Promise.resolve({
        error: { code: ErrorCode.ParticipantNotFound, message: 'not a participant' },
      });
    }
    const body = (signed as SignedControl).body;
    const earlier = this.inviteReplies.get(invite.sessionId);
    if (earlier !== undefined && earlier.body === body) return earlier.reply;
    const refusal = this.freshnessAndRate(invite);
    if (refusal !== undefined) {
      this.options.log.warn(
        { sessionId: invite.sessionId, coordinator: invite.coordinator, code: refusal.code },
        'invite refused',
      );
      return Promise.resolve({ error: { code: refusal.code, message: refusal.message } });
    }
    if (!this.remember(invite.sessionId)) {
      return Promise.resolve({
        error: { code: ErrorCode.SessionDuplicate, message: 'session id reused' },
      });
    }
    const reply = this.acceptInvite(invite);
    this.inviteReplies.set(invite.sessionId, { body, reply });
    // Retries come within the send budget; forget the reply well after that.
    setTimeout(
      () => this.inviteReplies.delete(invite.sessionId),
      4 * this.roundTimeoutFor(invite.kind),
    ).unref();
    return reply;
  }

  /** Freshness (bounded skew) and the per-coordinator rate; undefined when admissible. */
  private freshnessAndRate(invite: SessionInvite): MpcError | undefined {
    const limits = this.options.inviteLimits;
    if (limits === undefined) return undefined;
    const now = this.now();
    const age = now - invite.createdAt;
    if (
      !Number.isFinite(invite.createdAt) ||
      age > limits.maxAgeMs + limits.maxClockSkewMs ||
      age < -limits.maxClockSkewMs
    ) {
      return new StaleInviteError(age);
    }
    const bucket = this.inviteBuckets.get(invite.coordinator) ?? {
      tokens: limits.perCoordinatorBurst,
      at: now,
    };
    bucket.tokens = Math.min(
      limits.perCoordinatorBurst,
      bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * limits.perCoordinatorPerSecond,
    );
    bucket.at = now;
    this.inviteBuckets.set(invite.coordinator, bucket);
    if (bucket.tokens < 1) return new InviteRateLimitError(invite.coordinator);
    bucket.tokens -= 1;
    return undefined;
  }

  /**
   * Takes what a session must hold before it may run: the operation's participation record
   * (durable) and, for DKLs23, a slot towards every peer on the pair state; then checks bans.
   * On failure releases what it took and throws.
   */
  private async admit(job: SessionJob<unknown>, bucket: 'own' | 'foreign'): Promise<Lease[]> {
    const leases: Lease[] = [];
    try {
      const pairState = job.pairState;
      if (pairState !== undefined) {
        pairState.assertUsable();
        if (this.options.pairSlots !== undefined) {
          const waitMs =
            bucket === 'own'
              ? (this.options.coordinatorSlotWaitMs ?? 4 * this.options.roundTimeoutMs)
              : (this.options.participantSlotWaitMs ?? this.options.roundTimeoutMs / 5);
          leases.push(
            await this.options.pairSlots.acquire(pairState.key, pairState.peers, bucket, waitMs),
          );
        }
      }
      // After the slot wait, so a request waiting for a slot does not hold its operation.
      const participation = this.options.participation;
      const operations = job.operations ?? [];
      if (participation !== undefined && operations.length === 1) {
        leases.push(await this.beginParticipation(participation, operations[0] as string, bucket));
      } else if (participation !== undefined && operations.length > 1) {
        leases.push(...(await this.beginBatchParticipation(participation, operations)));
      }
      pairState?.assertUsable(); // a ban may have come while waiting
      return leases;
    } catch (error) {
      releaseAll(leases);
      throw error;
    }
  }

  /**
   * A session serving several operations (a signing batch) takes all their records at once or
   * none, and never waits or supersedes: two batches that share operations would otherwise each
   * hold some records while waiting for the other's. The checks run synchronously, so the
   * outcome is decided at once; the records that were taken share one durable write (the log
   * groups appends) and are released again when any is refused.
   */
  private async beginBatchParticipation(
    participation: ParticipationLog,
    operations: readonly string[],
  ): Promise<Lease[]> {
    const begun = await Promise.allSettled(
      operations.map((operation) => participation.begin(operation)),
    );
    const taken = begun.flatMap((outcome) =>
      outcome.status === 'fulfilled' ? [outcome.value] : [],
    );
    const refused = begun.find((outcome) => outcome.status === 'rejected');
    if (refused === undefined) return taken;
    releaseAll(taken);
    throw new BatchNotAdmittedError(asMpcError(refused.reason));
  }

  /**
   * One session per operation at a time. As a participant, a newer session for an operation
   * whose earlier session is still held here (its coordinator died, or a redelivery took the
   * request over) supersedes it: the earlier session is stopped and gone before the newer one
   * is admitted, and the total per operation still bounds how often that can happen. As the
   * coordinator (the request came back to this signer while its earlier session still runs),
   * the newer session waits, bounded by a session's lifetime, for the earlier one to end: that
   * one may still produce the operation's result, which the ledger then replays.
   */
  private async beginParticipation(
    participation: ParticipationLog,
    operation: string,
    bucket: 'own' | 'foreign',
  ): Promise<Lease> {
    try {
      return await participation.begin(operation);
    } catch (error) {
      if (!(error instanceof OperationReplayError) || error.reason !== 'running') throw error;
    }
    const superseded = [...this.sessions.values()].filter(
      (active) => active.job.operations?.includes(operation) === true,
    );
    if (bucket === 'own') {
      const lifetime = Date.now() + 8 * this.roundTimeoutFor(superseded[0]?.invite.kind ?? 'sign');
      while (participation.isRunning(operation) && Date.now() < lifetime) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return participation.begin(operation);
    }
    for (const active of superseded) {
      const why = new SessionCancelledError(
        active.invite.sessionId,
        'superseded by a newer session',
      );
      active.session.abort(why);
      // A session whose rounds have not started has no runner to notice the abort (a
      // coordinator may be stuck inviting while NATS is away): end it here.
      if (active.started !== true) this.end(active, why);
    }
    const deadline = Date.now() + this.options.roundTimeoutMs;
    while (participation.isRunning(operation) && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    return participation.begin(operation);
  }

  private async acceptInvite(invite: SessionInvite): Promise<InviteReply> {
    let job: SessionJob<unknown>;
    let leases: Lease[];
    try {
      job = await this.options.prepare(invite);
    } catch (error) {
      const failure = asMpcError(error);
      this.options.log.warn(
        { sessionId: invite.sessionId, code: failure.code, reason: failure.message },
        'invite refused',
      );
      return { error: { code: failure.code, message: failure.message } };
    }
    try {
      leases = await this.admit(job, 'foreign');
    } catch (error) {
      job.dispose();
      const failure = asMpcError(error);
      this.options.log.warn(
        { sessionId: invite.sessionId, code: failure.code, reason: failure.message },
        'invite refused',
      );
      return { error: { code: failure.code, message: failure.message } };
    }
    let active: ActiveSession;
    try {
      active = this.register(invite, job, 'participant', leases);
    } catch (error) {
      releaseAll(leases);
      job.dispose();
      const failure = asMpcError(error);
      return { error: { code: failure.code, message: failure.message } };
    }
    if (startsOnInvite(invite)) {
      // Two-party signing: the invite carries the coordinator's hello, so this signer holds
      // every hello of the session and starts now. The hello it answers with says so, and the
      // coordinator sends no start (SessionInvite.hello). The coordinator's hello is checked by
      // the session's start like any other, its signature aside (the invite's covers it).
      const hello = signControl(this.options.self, {
        ...active.session.hello(),
        startedOnInvite: true,
      });
      active.started = true;
      void this.runParticipant(active, [invite.hello as SignedControl, hello]);
      return hello;
    }
    // An invite whose start never comes (coordinator died) must not linger.
    active.startTimer = setTimeout(() => {
      const timeout = new SessionTimeoutError(
        invite.sessionId,
        -1,
        [invite.coordinator],
        this.roundTimeoutFor(invite.kind),
      );
      active.session.abort(timeout);
      this.end(active, timeout);
    }, this.roundTimeoutFor(invite.kind));
    return signControl(this.options.self, active.session.hello());
  }

  onEnvelope(envelope: Envelope): FrameReply {
    const active = this.sessions.get(envelope.header.sessionId);
    if (active === undefined) return this.afterEnd(envelope.header.sessionId);
    active.session.acceptEnvelope(envelope);
    return FrameReply.Accepted;
  }

  onControl(signed: unknown): FrameReply {
    const control = openControl(signed, this.options.roster);
    if (control === undefined) return FrameReply.Rejected;
    const active = this.sessions.get(control.sessionId);
    if (active === undefined) return this.afterEnd(control.sessionId);
    const from = (signed as SignedControl).from;
    const isParticipant = active.invite.participants.some((p) => p.nodeId === from);
    if (!isParticipant) return FrameReply.Rejected;
    switch (control.type) {
      case 'start':
        if (from !== active.invite.coordinator) return FrameReply.Rejected;
        if (active.started) return FrameReply.Accepted; // a retried start
        active.started = true;
        clearTimeout(active.startTimer);
        void this.runParticipant(active, control.hellos);
        return FrameReply.Accepted;
      case 'abort': {
        const aborted = new SessionAbortedError(from, control.code, control.reason, control.peer);
        active.commitWaiter?.reject(aborted);
        active.session.abort(aborted);
        return FrameReply.Accepted;
      }
      case 'done':
        active.dones.set(from, control.resultDigest);
        active.signedDones.set(from, signed as SignedControl);
        active.doneWaiter?.();
        return FrameReply.Accepted;
      case 'commit':
        if (from !== active.invite.coordinator) return FrameReply.Rejected;
        active.commitWaiter?.resolve(control.dones);
        return FrameReply.Accepted;
      case 'committed':
        active.committed.add(from);
        active.committedWaiter?.();
        return FrameReply.Accepted;
      default:
        return FrameReply.Rejected;
    }
  }

  /**
   * The answer to a frame for a session this signer does not hold. One it ended successfully
   * is answered Accepted and the frame dropped: the sender is late, typically retrying a frame
   * whose first attempt arrived but whose ack was slow, and this signer needs nothing more from
   * it (it had every message it needed, and its own were all acknowledged). Failing the
   * sender's session for that would turn a slow ack into a failed request. Anything else is
   * UnknownSession, which ends the sender's session at once.
   */
  private afterEnd(sessionId: string): FrameReply {
    return this.completedSessionIds.has(sessionId)
      ? FrameReply.Accepted
      : FrameReply.UnknownSession;
  }

  private async runParticipant(
    active: ActiveSession,
    hellos: readonly SignedControl[],
  ): Promise<void> {
    try {
      // The start (verified in onControl), or in a two-party signing session the invite
      // (verified in onInvite), is the coordinator's signed statement, its own hello included.
      const result = await active.session.start(hellos, { vouchedBy: active.invite.coordinator });
      const digest = await active.job.complete(result);
      if (isSigning(active.invite.kind)) {
        // A signing coordinator never waits for `done`s (it verifies the signature itself and
        // has ended its session by now): sending one would cost a signature, a round trip and
        // a verification per signature for a frame nobody reads.
        this.end(active, undefined);
        return;
      }
      const done = signControl(this.options.self, {
        type: 'done',
        sessionId: active.invite.sessionId,
        nodeId: this.options.self.nodeId,
        resultDigest: digest,
      });
      if (active.job.commit === undefined) {
        this.end(active, undefined);
        await this.messenger
          .sendControl(active.invite.coordinator, active.invite.sessionId, done)
          .catch(() => undefined);
        return;
      }
      const evidence = this.awaitCommit(active);
      evidence.catch(() => undefined); // observed below; avoids an unhandled rejection
      await this.messenger.sendControl(active.invite.coordinator, active.invite.sessionId, done);
      this.checkCommitEvidence(active, await evidence, digest);
      await active.job.commit();
      const committed = signControl(this.options.self, {
        type: 'committed',
        sessionId: active.invite.sessionId,
        nodeId: this.options.self.nodeId,
      });
      this.end(active, undefined);
      await this.messenger
        .sendControl(active.invite.coordinator, active.invite.sessionId, committed)
        .catch(() => undefined);
    } catch (error) {
      await this.fail(active, asMpcError(error));
    }
  }

  /** Waits (one round deadline) for the coordinator's commit of a two-phase session. */
  private awaitCommit(active: ActiveSession): Promise<readonly SignedControl[]> {
    const { invite } = active;
    return new Promise((resolve, reject) => {
      const timeoutMs = this.roundTimeoutFor(invite.kind);
      const timer = setTimeout(() => {
        reject(new SessionTimeoutError(invite.sessionId, -1, [invite.coordinator], timeoutMs));
      }, timeoutMs);
      timer.unref();
      active.commitWaiter = {
        resolve: (dones) => {
          clearTimeout(timer);
          resolve(dones);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  /**
   * A commit counts only with a valid signed `done` from every participant other than the
   * coordinator and this signer, each reporting exactly this signer's digest.
   */
  private checkCommitEvidence(
    active: ActiveSession,
    dones: readonly SignedControl[],
    digest: string,
  ): void {
    const { invite } = active;
    const missing = missingConfirmations({
      sessionId: invite.sessionId,
      coordinator: invite.coordinator,
      participants: invite.participants,
      selfNodeId: this.options.self.nodeId,
      digest,
      dones,
      roster: this.options.roster,
    });
    if (missing.length > 0) {
      throw new ProtocolViolationError(
        `commit from ${invite.coordinator} lacks matching confirmations from ${missing.join(',')}`,
        invite.coordinator,
      );
    }
  }

  /**
   * Runs a session as its coordinator: invites the other participants, hands everyone the
   * hellos, runs this signer's own part and, when `awaitAllDone`, waits until every
   * participant reports the same result digest (keygen: every share is stored).
   */
  async coordinate<Result>(params: {
    sessionId: string;
    kind: SessionKind;
    participants: readonly InviteParticipant[];
    request: Uint8Array;
    /** Stream sequence of the client request (participants read it from JetStream). */
    requestSeq: number;
    clientId: string | null;
    job: SessionJob<Result>;
    /**
     * Wait for every participant's matching `done` (implied for two-phase jobs). Must be false
     * for `sign` sessions: their participants send no `done`.
     */
    awaitAllDone: boolean;
    /** Resharing invites: the coordinator's view of the current key. */
    reshare?: SessionInvite['reshare'];
    /** `sign-batch` invites: every request, the first one repeating the fields above. */
    requests?: SessionInvite['requests'];
  }): Promise<Result> {
    const { sessionId, job } = params;
    if (isSigning(params.kind) && (params.awaitAllDone || job.commit !== undefined)) {
      throw new Error('sign sessions have no done and no commit phase');
    }
    if ((params.kind === 'sign-batch') !== (params.requests !== undefined)) {
      throw new Error('requests come with sign-batch sessions, and only with them');
    }
    const invite: SessionInvite = {
      type: 'invite',
      sessionId,
      kind: params.kind,
      coordinator: this.options.self.nodeId,
      participants: params.participants,
      request: Buffer.from(params.request).toString('base64'),
      requestSeq: params.requestSeq,
      clientId: params.clientId,
      createdAt: this.now(),
      ...(params.reshare === undefined ? {} : { reshare: params.reshare }),
      ...(params.requests === undefined ? {} : { requests: params.requests }),
    };
    this.remember(sessionId);
    let active: ActiveSession;
    let leases: Lease[] = [];
    try {
      leases = await this.admit(job as SessionJob<unknown>, 'own');
      active = this.register(invite, job as SessionJob<unknown>, 'coordinator', leases);
    } catch (error) {
      releaseAll(leases);
      job.dispose();
      throw asMpcError(error);
    }
    try {
      const ownHello = signControl(this.options.self, active.session.hello());
      const helloInInvite = isTwoPartySigning(invite);
      const signedInvite = signControl(
        this.options.self,
        helloInInvite ? { ...invite, hello: ownHello } : invite,
      );
      const peers = active.session.peers;
      const replies = await Promise.all(
        peers.map(async (peer) => {
          const reply = await this.messenger.invite(peer, sessionId, signedInvite);
          try {
            const hello = parseInviteReply(peer, sessionId, reply);
            const flags = helloFlags(hello);
            // A hint only (read before the hello is verified): a peer that claims batches and
            // refuses them costs a refused invite, after which its requests run one by one.
            if (flags.signingBatches) this.batchingPeers.add(peer);
            return { peer, hello, startedOnInvite: flags.startedOnInvite };
          } catch (error) {
            if (params.kind === 'sign-batch') this.batchingPeers.delete(peer);
            throw error;
          }
        }),
      );
      const hellos = [ownHello, ...replies.map((reply) => reply.hello)];
      if (active.ended) throw new SessionCancelledError(sessionId, 'superseded by a newer session');
      // A participant that started on the invite needs no start. Its claim is read before its
      // signature is checked, but it only spares it a start: the session's start verifies that
      // hello before any round runs, and a participant that lies only stalls its own session.
      const needStart = replies
        .filter((reply) => !(helloInInvite && reply.startedOnInvite))
        .map((reply) => reply.peer);
      active.started = true;
      let delivered: Promise<unknown> = Promise.resolve();
      if (needStart.length > 0) {
        const start = signControl(this.options.self, { type: 'start', sessionId, hellos });
        // The rounds begin without waiting for the start's acks (one round trip less per
        // session): a participant dispatches the start before any later frame from here (one
        // NATS publisher, in order; and it would buffer a signed early envelope anyway), and a
        // start that is not delivered fails the session as it did before, through its runner.
        delivered = Promise.all(
          needStart.map((peer) => this.messenger.sendControl(peer, sessionId, start)),
        );
        delivered.catch((error: unknown) => active.session.abort(asMpcError(error)));
        // Let the queued start leave (the messenger flushes once per event-loop turn) before
        // this signer computes its round 0, so participants compute theirs at the same time.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const result = (await active.session.start(hellos)) as Result;
      await delivered;
      const digest = await job.complete(result);
      if (params.awaitAllDone || job.commit !== undefined) {
        await this.awaitDones(active, peers, digest);
      }
      if (job.commit !== undefined) await this.commitEverywhere(active, peers, job.commit);
      this.end(active, undefined);
      return result;
    } catch (error) {
      const failure = asMpcError(error);
      await this.fail(active, failure);
      throw failure;
    }
  }

  /**
   * Sends the commit with every participant's signed `done`, then commits here. A participant
   * the commit does not reach keeps its previous state current (logged); the others move on.
   */
  private async commitEverywhere(
    active: ActiveSession,
    peers: readonly string[],
    commitHere: () => Promise<void>,
  ): Promise<void> {
    const { sessionId } = active.invite;
    const commit = signControl(this.options.self, {
      type: 'commit',
      sessionId,
      dones: peers.map((peer) => active.signedDones.get(peer) as SignedControl),
    });
    const sent = await Promise.allSettled(
      peers.map((peer) => this.messenger.sendControl(peer, sessionId, commit)),
    );
    sent.forEach((outcome, index) => {
      if (outcome.status === 'rejected') {
        this.options.log.error(
          { sessionId, peer: peers[index] },
          'commit not delivered: this participant keeps its previous shares current',
        );
      }
    });
    await commitHere();
    // The client hears of the result only once every reachable participant made the new
    // state current, so its next request cannot find a participant still on the old one.
    const reached = peers.filter((_, index) => sent[index]?.status === 'fulfilled');
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        const late = reached.filter((peer) => !active.committed.has(peer));
        this.options.log.warn({ sessionId, late }, 'commit not confirmed in time');
        resolve();
      }, this.roundTimeoutFor(active.invite.kind));
      const check = (): void => {
        if (reached.every((peer) => active.committed.has(peer))) {
          clearTimeout(timer);
          resolve();
        }
      };
      active.committedWaiter = check;
      check();
    });
  }

  private awaitDones(
    active: ActiveSession,
    peers: readonly string[],
    digest: string,
  ): Promise<void> {
    const sessionId = active.invite.sessionId;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const missing = peers.filter((peer) => !active.dones.has(peer));
        const timeoutMs = this.roundTimeoutFor(active.invite.kind);
        reject(new SessionTimeoutError(sessionId, -1, missing, timeoutMs));
      }, this.roundTimeoutFor(active.invite.kind));
      const check = (): void => {
        for (const [peer, theirs] of active.dones) {
          if (theirs !== digest) {
            clearTimeout(timer);
            reject(
              new ProtocolViolationError(`participant ${peer} reported a different result`, peer),
            );
            return;
          }
        }
        if (peers.every((peer) => active.dones.has(peer))) {
          clearTimeout(timer);
          resolve();
        }
      };
      active.doneWaiter = check;
      check();
    });
  }

  /**
   * A failed DKLs23 check against `peer`: the ban is recorded in memory at once, every other
   * session with that peer is stopped locally (their next round or send finds the ban), and
   * nothing about any of them is sent to anyone until the ban is durable.
   */
  private banPeer(peer: string, error: MpcError): void {
    const bans = this.options.pairBans;
    if (bans === undefined || this.banWrites.has(peer)) return;
    const durable = bans.record(peer, error);
    this.banWrites.set(peer, durable);
    durable.catch(() => undefined); // awaited (and reported) by every fail() that waits on it
    for (const other of this.sessions.values()) {
      if (other.invite.participants.some((participant) => participant.nodeId === peer)) {
        other.session.abort(new PeerBannedError(peer, other.invite.sessionId));
      }
    }
  }

  /** Resolves once every pending ban write that concerns this session's participants is done. */
  private async banWritesOf(invite: SessionInvite): Promise<boolean> {
    const writes = invite.participants
      .map((participant) => this.banWrites.get(participant.nodeId))
      .filter((write): write is Promise<void> => write !== undefined);
    try {
      await Promise.all(writes);
      return true;
    } catch {
      return false;
    }
  }

  private async fail(active: ActiveSession, error: MpcError): Promise<void> {
    if (active.ended) return;
    const { invite } = active;
    const peer = peerOf(error);
    if (error instanceof PeerUnavailableError) this.options.onPeerSuspect(error.peer);
    if (error instanceof ProtocolViolationError && error.peer !== undefined) {
      if (this.options.pairBans?.isVerdict(error) === true) this.banPeer(error.peer, error);
      this.options.onProtocolViolation?.(error.peer, error);
    }
    this.options.log.warn(
      {
        sessionId: invite.sessionId,
        kind: invite.kind,
        peer,
        code: error.code,
        cause: error.message,
      },
      'session aborted',
    );
    active.session.abort(error);
    this.end(active, error);
    // The ban is durable before anything about this session leaves (a failed write means the
    // process cannot promise the ban survives: the recorder stops it; send nothing).
    if (!(await this.banWritesOf(invite))) return;
    if (!(error instanceof SessionAbortedError)) {
      const abort = signControl(this.options.self, {
        type: 'abort',
        sessionId: invite.sessionId,
        code: error.code,
        reason: error.message,
        ...(peer === undefined ? {} : { peer }),
      });
      for (const participant of invite.participants) {
        if (participant.nodeId !== this.options.self.nodeId) {
          this.messenger.publishControl(participant.nodeId, abort);
        }
      }
    }
  }

  private end(active: ActiveSession, error: MpcError | undefined): void {
    if (active.ended) return;
    active.ended = true;
    if (error === undefined) addBounded(this.completedSessionIds, active.invite.sessionId);
    clearTimeout(active.startTimer);
    clearTimeout(active.lifetimeTimer);
    this.sessions.delete(active.invite.sessionId);
    releaseAll(active.leases);
    active.session.dispose();
    active.job.dispose();
    this.options.onSessionEnd?.(active.invite.kind, error);
  }
}

/** Signing sessions (one request or a batch): no `done`, no commit, signing deadlines. */
function isSigning(kind: SessionKind): boolean {
  return kind === 'sign' || kind === 'sign-batch';
}

/** Sessions whose invite carries the coordinator's hello (`SessionInvite.hello`). */
function isTwoPartySigning(invite: SessionInvite): boolean {
  return isSigning(invite.kind) && invite.participants.length === 2;
}

/** A participant starts on the invite when it is two-party signing and carries a hello. */
function startsOnInvite(invite: SessionInvite): boolean {
  return isTwoPartySigning(invite) && typeof invite.hello === 'object' && invite.hello !== null;
}

/**
 * What a participant's (not yet verified) hello announces: that it started on the invite
 * (`startedOnInvite`), and that it takes part in signing batches (`signingBatches`).
 */
function helloFlags(reply: SignedControl): {
  readonly startedOnInvite: boolean;
  readonly signingBatches: boolean;
} {
  try {
    const body = JSON.parse(reply.body) as Record<string, unknown>;
    const isHello = body['type'] === 'hello';
    return {
      startedOnInvite: isHello && body['startedOnInvite'] === true,
      signingBatches: isHello && body['signingBatches'] === true,
    };
  } catch {
    return { startedOnInvite: false, signingBatches: false };
  }
}

/** Adds `id` to a set of recent session ids, dropping the oldest past `SEEN_SESSION_LIMIT`. */
function addBounded(ids: Set<string>, id: string): void {
  ids.add(id);
  if (ids.size > SEEN_SESSION_LIMIT) {
    const oldest = ids.values().next().value;
    if (oldest !== undefined) ids.delete(oldest);
  }
}

function parseInviteReply(peer: string, sessionId: string, reply: unknown): SignedControl {
  if (typeof reply === 'object' && reply !== null && 'error' in reply) {
    const { code, message } = (reply as { error: { code?: unknown; message?: unknown } }).error;
    const known = Object.values(ErrorCode) as string[];
    const errorCode =
      typeof code === 'string' && known.includes(code) ? (code as ErrorCode) : ErrorCode.Unknown;
    throw new InviteRefusedError(
      peer,
      errorCode,
      `participant ${peer} refused session ${sessionId}: ${typeof message === 'string' ? message : 'no reason'}`,
      peer,
    );
  }
  const signed = reply as SignedControl;
  if (typeof signed?.from !== 'string' || signed.from !== peer) {
    throw new ProtocolViolationError(`malformed hello from ${peer}`, peer);
  }
  return signed;
}

function peerOf(error: MpcError): string | undefined {
  if (error instanceof PeerUnavailableError) return error.peer;
  if (error instanceof SessionAbortedError) return error.peer;
  if (error instanceof ProtocolViolationError) return error.peer;
  if (error instanceof SessionTimeoutError) return error.missingPeers.join(',') || undefined;
  return undefined;
}

function asMpcError(error: unknown): MpcError {
  if (error instanceof MpcError) return error;
  return new MpcError(
    ErrorCode.Unknown,
    error instanceof Error ? error.message : 'unknown failure',
  );
}
