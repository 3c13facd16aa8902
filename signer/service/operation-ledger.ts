/**
 * Exactly one result per operation (design §3, §5.7), decided by a NATS KV bucket rather than
 * by JetStream's duplicate window.
 *
 * Each operation (a keygen for a wallet id, a signature for a tx id, a resharing for a session
 * id, all scoped by ClientID) has one ledger entry. Its life:
 * - `claim`: the coordinator takes the entry (`running`, with its node, process instance and
 *   the stream sequence of the request message) before it starts a session. Only one claim
 *   succeeds: every write is a compare-and-set on the entry's revision.
 * - `record` (write-ahead): before a result is published, its exact bytes, subject and
 *   `Nats-Msg-Id` are stored as an *answer* for that request message (its stream sequence).
 *   A success makes the entry `done`; an error makes it `open` (a client re-send with the same
 *   id may run again). A result that could not be recorded is never published.
 * - `markPublished`: after JetStream confirmed the publication, before the request is acked.
 * - A redelivery of a request message that has an answer gets that answer (`answered`):
 *   republished byte for byte under the same `Nats-Msg-Id` unless it is marked published, and
 *   nothing is ever signed again. A different request message for a `done` operation (a
 *   client re-send) gets the stored success (`done`), recorded as its own answer.
 * - `release` (the request is passed on to another signer without a result) reopens the
 *   entry; it never removes an answer.
 * A re-used id with a different request body is a conflict (`ERROR_SESSION_DUPLICATE`).
 * Entries expire with the bucket's max age (`LEDGER_MAX_AGE_MS`, 7 days, the request streams'
 * max age): after that an operation id is new again.
 *
 * A KV write that returns an error may still have been stored (the reply was lost). Every
 * write is therefore followed, on error, by a read that decides what happened; the CAS makes a
 * retried write harmless. Entries of the previous format (no `answers`) are read as well.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { StorageType } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';

export const LEDGER_BUCKET = 'mpc_operations';
/** How long an operation id is remembered (the request streams' max age). */
export const LEDGER_MAX_AGE_MS = 7 * 24 * 3600 * 1000;
/** Answers kept per entry besides the success (error answers and re-send replays). */
const MAX_OTHER_ANSWERS = 16;

/** A result written ahead of its publication, for one request message. */
export interface LedgerAnswer {
  /** Stream sequence of the request message this answers. */
  readonly seq: number;
  readonly subject: string;
  readonly messageId: string;
  /** The result body exactly as published (public data). */
  readonly body: Uint8Array;
  readonly success: boolean;
  /** JetStream confirmed the publication. */
  readonly published: boolean;
  /**
   * The coordinator process (and its node) that recorded the answer and publishes it (absent
   * for answers written for an advisory and for entries of the previous format).
   */
  readonly instance?: string;
  readonly node?: string;
}

interface StoredAnswer {
  readonly seq: number;
  readonly subject: string;
  readonly messageId: string;
  /** base64 */
  readonly body: string;
  readonly success: boolean;
  readonly published: boolean;
  readonly instance?: string;
  readonly node?: string;
}

/** One operation's ledger entry (opaque outside this module). */
export interface LedgerEntry {
  readonly state: 'running' | 'open' | 'done';
  readonly requestDigest: string;
  /** running: the claiming node, its process instance and the request message's sequence. */
  readonly node?: string;
  readonly instance?: string;
  readonly seq?: number;
  readonly answers: readonly StoredAnswer[];
}

/** Proof of a claim (or of the right to append a re-send answer): the entry at a revision. */
export interface LedgerClaim {
  readonly key: string;
  readonly seq: number;
  readonly revision: number;
  readonly entry: LedgerEntry;
}

export type ClaimOutcome =
  | { readonly kind: 'claimed'; readonly claim: LedgerClaim }
  /** This very request message was answered before: replay `answer`, sign nothing. */
  | { readonly kind: 'answered'; readonly answer: LedgerAnswer }
  /** Another request message completed the operation: answer with its success (a re-send). */
  | {
      readonly kind: 'done';
      readonly claim: LedgerClaim;
      readonly subject: string;
      readonly result: Uint8Array;
    }
  | { readonly kind: 'running'; readonly node: string }
  | { readonly kind: 'conflict' };

export type RecordOutcome =
  /**
   * Stored: publish it now. `entry` is the ledger entry as of `revision` (hand both to
   * `markPublished`, which then needs no read when nothing changed meanwhile).
   */
  | { readonly kind: 'recorded'; readonly revision: number; readonly entry: LedgerEntry }
  /** Someone else answered this request message first: replay theirs instead. */
  | { readonly kind: 'superseded'; readonly answer: LedgerAnswer }
  /** Another coordinator holds the operation now: publish nothing, do not ack. */
  | { readonly kind: 'lost' }
  /** The ledger could not be reached within the budget: publish nothing. */
  | { readonly kind: 'unknown' };

/** Ledger key for an operation: a hash, so any client-chosen id is a valid KV key. */
export function operationKey(kind: string, clientId: string, operationId: string): string {
  return `op.${createHash('sha256').update(`${kind}\n${clientId}\n${operationId}`).digest('hex')}`;
}

/**
 * The operation a signing request names: its wallet and tx id for its ClientID. The ledger
 * (coordinator) and the participation log (every participant) key it alike.
 */
export function signingOperationKey(
  clientId: string,
  message: { readonly walletId: string; readonly txId: string },
): string {
  return operationKey('sign', clientId, `${message.walletId}\n${message.txId}`);
}

export interface OperationLedgerOptions {
  /** Bound on retrying a write whose outcome is unknown (NATS restarting). */
  readonly writeBudgetMs?: number;
}

export class OperationLedger {
  private readonly writeBudgetMs: number;

  private constructor(
    private readonly kv: KV,
    options: OperationLedgerOptions,
  ) {
    this.writeBudgetMs = options.writeBudgetMs ?? 15_000;
  }

  /**
   * Opens (creates) the bucket: file storage, one revision per key, 7-day max age. File
   * storage survives a nats-server restart; an acknowledged write is in the server's file
   * (page cache) at once, so a killed server loses nothing; the server's `sync_interval`
   * decides what a machine crash may lose (README "Failure semantics").
   */
  static async open(
    nc: NatsConnection,
    options: OperationLedgerOptions = {},
  ): Promise<OperationLedger> {
    const kv = await new Kvm(nc).create(LEDGER_BUCKET, {
      history: 1,
      ttl: LEDGER_MAX_AGE_MS,
      storage: StorageType.File,
    });
    return new OperationLedger(kv, options);
  }

  /**
   * Claims `key` for `node` (process `instance`), processing request message `seq`. A running
   * claim is taken over when it was made for the same request message (JetStream redelivers a
   * message only when its previous holder stopped working on it), or by an earlier process of
   * this node (it restarted), or by a node that `isLive` says is gone.
   */
  async claim(
    key: string,
    node: string,
    instance: string,
    requestDigest: string,
    seq: number,
    isLive: (node: string) => boolean,
  ): Promise<ClaimOutcome> {
    const running = (answers: readonly StoredAnswer[]): LedgerEntry => ({
      state: 'running',
      requestDigest,
      node,
      instance,
      seq,
      answers,
    });
    for (let attempt = 0; attempt < 5; attempt++) {
      const fresh = running([]);
      try {
        const revision = await this.kv.create(key, JSON.stringify(fresh));
        return { kind: 'claimed', claim: { key, seq, revision, entry: fresh } };
      } catch {
        // exists (or the reply was lost: the read below tells)
      }
      const read = await this.kv.get(key);
      if (read === null || read.operation !== 'PUT') {
        const revision = await this.cas(key, fresh, read?.revision ?? 0);
        if (revision !== undefined) {
          return { kind: 'claimed', claim: { key, seq, revision, entry: fresh } };
        }
        continue;
      }
      const current = parseEntry(read);
      if (current.state === 'running' && current.instance === instance && current.seq === seq) {
        // Our own create, whose reply was lost.
        return { kind: 'claimed', claim: { key, seq, revision: read.revision, entry: current } };
      }
      // An entry written by `recordUnclaimed` has no digest yet: the first claim adopts its own.
      if (current.requestDigest !== '' && current.requestDigest !== requestDigest) {
        return { kind: 'conflict' };
      }
      const mine = current.answers.find((answer) => answer.seq === seq);
      if (mine !== undefined) return { kind: 'answered', answer: toAnswer(mine) };
      if (current.state === 'done') {
        const success = current.answers.find((answer) => answer.success);
        if (success !== undefined) {
          return {
            kind: 'done',
            claim: { key, seq, revision: read.revision, entry: current },
            subject: success.subject,
            result: fromBase64(success.body),
          };
        }
      }
      if (current.state === 'running') {
        const abandoned =
          current.seq === seq ||
          (current.node === node && current.instance !== instance) ||
          !isLive(current.node ?? '');
        if (!abandoned) return { kind: 'running', node: current.node ?? 'unknown' };
      }
      const next = running(current.answers);
      const revision = await this.cas(key, next, read.revision);
      if (revision !== undefined) {
        return { kind: 'claimed', claim: { key, seq, revision, entry: next } };
      }
    }
    return { kind: 'running', node: 'unknown' };
  }

  /**
   * Reads an operation's state without changing it (the max-deliveries advisory check):
   * `answered` when request message `seq` already has an answer, `done` when another message
   * completed the operation, `running` (claimed by `node` for message `seq`), or `none`
   * (never claimed, or open after a failure).
   */
  async peek(
    key: string,
    seq: number,
  ): Promise<
    | { readonly kind: 'none' }
    | { readonly kind: 'answered' }
    | { readonly kind: 'running'; readonly node: string; readonly seq: number }
    | { readonly kind: 'done' }
  > {
    const read = await this.kv.get(key);
    if (read === null || read.operation !== 'PUT') return { kind: 'none' };
    const current = parseEntry(read);
    if (current.answers.some((answer) => answer.seq === seq)) return { kind: 'answered' };
    if (current.state === 'done') return { kind: 'done' };
    if (current.state === 'running' && current.node !== undefined && current.seq !== undefined) {
      return { kind: 'running', node: current.node, seq: current.seq };
    }
    return { kind: 'none' };
  }

  /**
   * Write-ahead: stores `answer` for the claim's request message before it is published. A
   * success makes the entry `done` (or keeps it done, for a re-send's replay), an error makes
   * it `open`. Retries a write whose outcome is unknown within the write budget.
   */
  async record(
    claim: LedgerClaim,
    answer: Omit<LedgerAnswer, 'seq' | 'published'>,
  ): Promise<RecordOutcome> {
    const stored = toStored(claim.seq, answer, claim.entry);
    const after = (entry: LedgerEntry): LedgerEntry => ({
      state: answer.success || entry.state === 'done' ? 'done' : 'open',
      requestDigest: entry.requestDigest,
      answers: appendAnswer(entry.answers, stored),
    });
    const deadline = Date.now() + this.writeBudgetMs;
    let base = claim.entry;
    let revision = claim.revision;
    for (let attempt = 0; ; attempt++) {
      try {
        const entry = after(base);
        const written = await this.kv.update(claim.key, encode(entry), revision);
        return { kind: 'recorded', revision: written, entry };
      } catch {
        // refused (the entry changed) or no reply: read what is there
      }
      let read: KvEntry | null;
      try {
        read = await this.kv.get(claim.key);
      } catch {
        if (Date.now() > deadline) return { kind: 'unknown' };
        await retryPause(attempt);
        continue;
      }
      if (read === null || read.operation !== 'PUT') return { kind: 'lost' };
      const current = parseEntry(read);
      const found = current.answers.find((entry) => entry.seq === claim.seq);
      if (found !== undefined) {
        // Ours (stored although the write reported an error) or another coordinator's.
        if (found.messageId === stored.messageId && found.body === stored.body) {
          return { kind: 'recorded', revision: read.revision, entry: current };
        }
        return { kind: 'superseded', answer: toAnswer(found) };
      }
      const stillOurs =
        current.state === claim.entry.state &&
        current.seq === claim.entry.seq &&
        current.instance === claim.entry.instance &&
        current.answers.length === claim.entry.answers.length;
      if (!stillOurs || Date.now() > deadline) return { kind: stillOurs ? 'unknown' : 'lost' };
      base = current;
      revision = read.revision;
      await retryPause(attempt);
    }
  }

  /**
   * Write-ahead for an answer nobody claimed the operation for (the max-deliveries advisory:
   * JetStream gave up on request message `seq`). Stores `answer` for that message unless it
   * already has one (`answered`), the operation completed (`done`), or a live node holds it
   * (`running`). A claim by a node `isLive` says is gone is ended: should that coordinator
   * still be working, its own `record` finds this answer and replays it instead of
   * publishing a second result. The entry stays `open` (an error), so a client re-send may
   * run again; an entry created here has no request digest, and the next claim adopts its own.
   */
  async recordUnclaimed(
    key: string,
    seq: number,
    answer: Omit<LedgerAnswer, 'seq' | 'published' | 'success'>,
    isLive: (node: string) => boolean,
  ): Promise<
    | { readonly kind: 'recorded' }
    | { readonly kind: 'answered' }
    | { readonly kind: 'done' }
    | { readonly kind: 'running'; readonly node: string }
  > {
    const stored = toStored(seq, { ...answer, success: false });
    for (let attempt = 0; attempt < 5; attempt++) {
      const read = await this.kv.get(key);
      if (read === null || read.operation !== 'PUT') {
        const entry: LedgerEntry = { state: 'open', requestDigest: '', answers: [stored] };
        try {
          if (read === null) await this.kv.create(key, encode(entry));
          else await this.kv.update(key, encode(entry), read.revision);
          return { kind: 'recorded' };
        } catch {
          continue; // written meanwhile (or the reply was lost): the next read tells
        }
      }
      const current = parseEntry(read);
      const existing = current.answers.find((entry) => entry.seq === seq);
      if (existing !== undefined) {
        return existing.messageId === stored.messageId && existing.body === stored.body
          ? { kind: 'recorded' }
          : { kind: 'answered' };
      }
      if (current.state === 'done') return { kind: 'done' };
      if (current.state === 'running' && isLive(current.node ?? '')) {
        return { kind: 'running', node: current.node ?? 'unknown' };
      }
      const next: LedgerEntry = {
        state: 'open',
        requestDigest: current.requestDigest,
        answers: appendAnswer(current.answers, stored),
      };
      if ((await this.cas(key, next, read.revision)) !== undefined) return { kind: 'recorded' };
    }
    return { kind: 'running', node: 'unknown' };
  }

  /**
   * Marks the answer for request message `seq` as published (JetStream confirmed it), so a
   * later redelivery acks without publishing again. Retries through a NATS outage within the
   * write budget: a result JetStream stored may be consumed and deleted at once, and a
   * restarted nats-server forgets the `Nats-Msg-Id` of deleted messages, so after a restart
   * only this mark stops a redelivery from publishing the result a second time. Throws when
   * the budget runs out.
   */
  async markPublished(
    key: string,
    seq: number,
    known?: { readonly entry: LedgerEntry; readonly revision: number },
  ): Promise<void> {
    const deadline = Date.now() + this.writeBudgetMs;
    // `known` (what `record` wrote) saves the read when nothing changed since: the write is
    // conditional on that very revision, so a stale `known` only costs the refused write.
    let base: { entry: LedgerEntry; revision: number } | undefined = known;
    for (let attempt = 0; ; attempt++) {
      try {
        if (base === undefined) {
          const read = await this.kv.get(key);
          if (read === null || read.operation !== 'PUT') return;
          base = { entry: parseEntry(read), revision: read.revision };
        }
        const current = base.entry;
        if (!current.answers.some((answer) => answer.seq === seq && !answer.published)) return;
        const next: LedgerEntry = {
          ...current,
          answers: current.answers.map((answer) =>
            answer.seq === seq ? { ...answer, published: true } : answer,
          ),
        };
        if ((await this.cas(key, next, base.revision)) !== undefined) return;
      } catch {
        // NATS unreachable (restarting): try again within the budget
      }
      base = undefined;
      if (attempt === 0 && known !== undefined) continue; // stale: read at once, no pause
      if (Date.now() > deadline) throw new Error('publication not marked within the write budget');
      await retryPause(attempt);
    }
  }

  /**
   * Polls until the answer for request message `seq` is marked published (`published`), is
   * no longer there (`gone`: the entry expired), or the bound passes (`timeout`).
   */
  async waitForPublished(
    key: string,
    seq: number,
    timeoutMs: number,
    options: { readonly pollMs?: number; readonly keepWaiting?: () => Promise<boolean> } = {},
  ): Promise<'published' | 'gone' | 'timeout'> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      try {
        const read = await this.kv.get(key);
        if (read === null || read.operation !== 'PUT') return 'gone';
        const answer = parseEntry(read).answers.find((entry) => entry.seq === seq);
        if (answer === undefined) return 'gone';
        if (answer.published) return 'published';
        if (options.keepWaiting !== undefined && !(await options.keepWaiting())) return 'timeout';
      } catch {
        // NATS unreachable: keep polling within the bound
      }
      await new Promise((resolve) => setTimeout(resolve, options.pollMs ?? 100));
    }
    return 'timeout';
  }

  /**
   * Records `instance` as the running process of `node` (at start-up, before it takes
   * requests), so other signers can tell that an answer recorded by an earlier process of that
   * node will never be marked published by it.
   */
  async registerInstance(node: string, instance: string): Promise<void> {
    await this.kv.put(instanceKey(node), instance);
  }

  /** The process `node` registered last, or undefined. */
  async currentInstance(node: string): Promise<string | undefined> {
    const read = await this.kv.get(instanceKey(node));
    return read === null || read.operation !== 'PUT' ? undefined : read.string();
  }

  /** How long a write is retried through a NATS outage before it is given up. */
  get writeBudget(): number {
    return this.writeBudgetMs;
  }

  /** Gives a claim up without an answer (the request is passed on): reopens the entry. */
  async release(claim: LedgerClaim): Promise<void> {
    if (claim.entry.state !== 'running') return;
    const next: LedgerEntry = {
      state: claim.entry.answers.some((answer) => answer.success) ? 'done' : 'open',
      requestDigest: claim.entry.requestDigest,
      answers: claim.entry.answers,
    };
    await this.cas(claim.key, next, claim.revision);
  }

  /**
   * Polls until the entry is done (returns its success), reopened or expired (`released`: the
   * other attempt failed, the caller may claim again), or the bound passes (`timeout`).
   */
  async waitForDone(
    key: string,
    timeoutMs: number,
    pollMs = 50,
  ): Promise<
    | { kind: 'done'; subject: string; result: Uint8Array }
    | { kind: 'released' }
    | { kind: 'timeout' }
  > {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const read = await this.kv.get(key);
      if (read === null || read.operation !== 'PUT') return { kind: 'released' };
      const current = parseEntry(read);
      const success = current.answers.find((answer) => answer.success);
      if (current.state === 'done' && success !== undefined) {
        return { kind: 'done', subject: success.subject, result: fromBase64(success.body) };
      }
      if (current.state !== 'running') return { kind: 'released' };
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    return { kind: 'timeout' };
  }

  /** Compare-and-set; the new revision, or undefined when the entry changed meanwhile. */
  private async cas(
    key: string,
    entry: LedgerEntry,
    revision: number,
  ): Promise<number | undefined> {
    try {
      return await this.kv.update(key, encode(entry), revision);
    } catch {
      return undefined;
    }
  }
}

/** Ledger key of a node's registered process (a hash: any node id is a valid KV key). */
function instanceKey(node: string): string {
  return `instance.${createHash('sha256').update(node).digest('hex')}`;
}

function encode(entry: LedgerEntry): string {
  return JSON.stringify(entry);
}

/** Reads an entry, including the previous format (`running` / `done` without answers). */
function parseEntry(read: KvEntry): LedgerEntry {
  const raw = read.json<Record<string, unknown>>();
  const requestDigest = typeof raw['requestDigest'] === 'string' ? raw['requestDigest'] : '';
  const answers = Array.isArray(raw['answers']) ? (raw['answers'] as StoredAnswer[]) : [];
  const state = raw['state'];
  if (state === 'done' && !Array.isArray(raw['answers'])) {
    // Previous format: the success of an unknown request message.
    return {
      state: 'done',
      requestDigest,
      answers: [
        {
          seq: -1,
          subject: String(raw['subject'] ?? ''),
          messageId: '',
          body: String(raw['result'] ?? ''),
          success: true,
          published: true,
        },
      ],
    };
  }
  return {
    state: state === 'done' || state === 'open' ? state : 'running',
    requestDigest,
    ...(typeof raw['node'] === 'string' ? { node: raw['node'] } : {}),
    ...(typeof raw['instance'] === 'string' ? { instance: raw['instance'] } : {}),
    ...(typeof raw['seq'] === 'number' ? { seq: raw['seq'] } : {}),
    answers,
  };
}

/** Keeps the operation's success and the most recent other answers. */
function appendAnswer(answers: readonly StoredAnswer[], added: StoredAnswer): StoredAnswer[] {
  const all = [...answers.filter((answer) => answer.seq !== added.seq), added];
  const success = all.find((answer) => answer.success);
  const others = all.filter((answer) => answer !== success).slice(-MAX_OTHER_ANSWERS);
  return success === undefined ? others : [success, ...others];
}

/** An answer as the entry stores it, not yet published. */
function toStored(
  seq: number,
  answer: Omit<LedgerAnswer, 'seq' | 'published' | 'instance' | 'node'>,
  recordedBy?: { readonly node?: string; readonly instance?: string },
): StoredAnswer {
  return {
    seq,
    subject: answer.subject,
    messageId: answer.messageId,
    body: Buffer.from(answer.body).toString('base64'),
    success: answer.success,
    published: false,
    ...(recordedBy?.instance === undefined ? {} : { instance: recordedBy.instance }),
    ...(recordedBy?.node === undefined ? {} : { node: recordedBy.node }),
  };
}

function toAnswer(stored: StoredAnswer): LedgerAnswer {
  return {
    seq: stored.seq,
    subject: stored.subject,
    messageId: stored.messageId,
    body: fromBase64(stored.body),
    success: stored.success,
    published: stored.published,
    ...(typeof stored.instance === 'string' ? { instance: stored.instance } : {}),
    ...(typeof stored.node === 'string' ? { node: stored.node } : {}),
  };
}

function fromBase64(value: string): Uint8Array {
  return new Uint8Array(Buffer.from(value, 'base64'));
}

/** The pause before retry `attempt` (0-based) of a write through a NATS outage: 50 ms doubling, at most 1 s. */
export function retryPause(attempt: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** attempt)));
}
