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
  PeerUnavailableError,
  ProtocolViolationError,
  SessionAbortedError,
  SessionCancelledError,
  SessionTimeoutError,
} from './errors.ts';
import { missingConfirmations } from './commit-evidence.ts';
import { ParticipantSession } from './participant-session.ts';
import type { PartyDriver } from './round-runner.ts';

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
}

const SEEN_SESSION_LIMIT = 10_000;

type InviteReply = SignedControl | { error: { code: ErrorCode; message: string } };

export class SessionHost implements PeerMessageHandler {
  private readonly options: SessionHostOptions;
  private readonly sessions = new Map<string, ActiveSession>();
  private readonly seenSessionIds = new Set<string>();
  /** Recent invite answers by session id, so a retried invite gets the same answer. */
  private readonly inviteReplies = new Map<string, { body: string; reply: Promise<InviteReply> }>();
  private messengerRef: PeerMessenger | undefined;

  constructor(options: SessionHostOptions) {
    this.options = options;
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
    return kind === 'sign'
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

  hasSession(sessionId: string): boolean {
    return this.sessions.has(sessionId);
  }

  /** Aborts every session (process shutdown). */
  abortAll(why: string): void {
    for (const [sessionId, active] of this.sessions) {
      active.session.abort(new SessionCancelledError(sessionId, why));
    }
  }

  private remember(sessionId: string): boolean {
    if (this.seenSessionIds.has(sessionId)) return false;
    this.seenSessionIds.add(sessionId);
    if (this.seenSessionIds.size > SEEN_SESSION_LIMIT) {
      const oldest = this.seenSessionIds.values().next().value;
      if (oldest !== undefined) this.seenSessionIds.delete(oldest);
    }
    return true;
  }

  private register(
    invite: SessionInvite,
    job: SessionJob<unknown>,
    role: 'coordinator' | 'participant',
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
      shouldPause: (round) => {
        const pause = this.options.shouldPause?.(invite.kind, role, round) === true;
        if (pause) active.paused = true;
        return pause;
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
    if (!this.remember(invite.sessionId)) {
      const earlier = this.inviteReplies.get(invite.sessionId);
      if (earlier !== undefined && earlier.body === body) return earlier.reply;
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

  private async acceptInvite(invite: SessionInvite): Promise<InviteReply> {
    let job: SessionJob<unknown>;
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
    let active: ActiveSession;
    try {
      active = this.register(invite, job, 'participant');
    } catch (error) {
      job.dispose();
      const failure = asMpcError(error);
      return { error: { code: failure.code, message: failure.message } };
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
    if (active === undefined) return FrameReply.UnknownSession;
    active.session.acceptEnvelope(envelope);
    return FrameReply.Accepted;
  }

  onControl(signed: unknown): FrameReply {
    const control = openControl(signed, this.options.roster);
    if (control === undefined) return FrameReply.Rejected;
    const active = this.sessions.get(control.sessionId);
    if (active === undefined) return FrameReply.UnknownSession;
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

  private async runParticipant(
    active: ActiveSession,
    hellos: readonly SignedControl[],
  ): Promise<void> {
    try {
      const result = await active.session.start(hellos);
      const digest = await active.job.complete(result);
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
      this.fail(active, asMpcError(error));
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
    clientId: string | null;
    job: SessionJob<Result>;
    /** Wait for every participant's matching `done` (implied for two-phase jobs). */
    awaitAllDone: boolean;
    /** Resharing invites: the coordinator's view of the current key. */
    reshare?: SessionInvite['reshare'];
  }): Promise<Result> {
    const { sessionId, job } = params;
    const invite: SessionInvite = {
      type: 'invite',
      sessionId,
      kind: params.kind,
      coordinator: this.options.self.nodeId,
      participants: params.participants,
      request: Buffer.from(params.request).toString('base64'),
      clientId: params.clientId,
      createdAt: Date.now(),
      ...(params.reshare === undefined ? {} : { reshare: params.reshare }),
    };
    this.remember(sessionId);
    let active: ActiveSession;
    try {
      active = this.register(invite, job as SessionJob<unknown>, 'coordinator');
    } catch (error) {
      job.dispose();
      throw asMpcError(error);
    }
    try {
      const signedInvite = signControl(this.options.self, invite);
      const peers = active.session.peers;
      const replies = await Promise.all(
        peers.map(async (peer) => {
          const reply = await this.messenger.invite(peer, sessionId, signedInvite);
          return parseInviteReply(peer, sessionId, reply);
        }),
      );
      const hellos = [signControl(this.options.self, active.session.hello()), ...replies];
      const start = signControl(this.options.self, { type: 'start', sessionId, hellos });
      await Promise.all(peers.map((peer) => this.messenger.sendControl(peer, sessionId, start)));
      const result = (await active.session.start(hellos)) as Result;
      const digest = await job.complete(result);
      if (params.awaitAllDone || job.commit !== undefined) {
        await this.awaitDones(active, peers, digest);
      }
      if (job.commit !== undefined) await this.commitEverywhere(active, peers, job.commit);
      this.end(active, undefined);
      return result;
    } catch (error) {
      const failure = asMpcError(error);
      this.fail(active, failure);
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

  private fail(active: ActiveSession, error: MpcError): void {
    if (active.ended) return;
    const { invite } = active;
    const peer = peerOf(error);
    if (error instanceof PeerUnavailableError) this.options.onPeerSuspect(error.peer);
    if (error instanceof ProtocolViolationError && error.peer !== undefined) {
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
    active.session.abort(error);
    this.end(active, error);
  }

  private end(active: ActiveSession, error: MpcError | undefined): void {
    if (active.ended) return;
    active.ended = true;
    clearTimeout(active.startTimer);
    clearTimeout(active.lifetimeTimer);
    this.sessions.delete(active.invite.sessionId);
    active.session.dispose();
    active.job.dispose();
    this.options.onSessionEnd?.(active.invite.kind, error);
  }
}

function parseInviteReply(peer: string, sessionId: string, reply: unknown): SignedControl {
  if (typeof reply === 'object' && reply !== null && 'error' in reply) {
    const { code, message } = (reply as { error: { code?: unknown; message?: unknown } }).error;
    const known = Object.values(ErrorCode) as string[];
    const errorCode =
      typeof code === 'string' && known.includes(code) ? (code as ErrorCode) : ErrorCode.Unknown;
    throw new SessionAbortedError(
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
