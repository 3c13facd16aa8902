/**
 * Idempotency of client operations across the cluster (design §3, §5.7), in a NATS KV bucket.
 *
 * Each operation (a keygen for a wallet id, a signature for a tx id, scoped by ClientID) has
 * one ledger entry. The coordinator claims it before starting a session; success stores the
 * published result so that a re-sent identical request gets the same result again, and a
 * redelivered request whose coordinator died is taken over. Failures release the claim so a
 * re-sent request runs again. A re-used id with a different request body is a conflict
 * (`ERROR_SESSION_DUPLICATE`). Entries expire with the bucket's max age.
 */
import { createHash } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';

export const LEDGER_BUCKET = 'mpc_operations';
const LEDGER_MAX_AGE_MS = 7 * 24 * 3600 * 1000;

interface RunningEntry {
  readonly state: 'running';
  readonly node: string;
  readonly requestDigest: string;
  /** Stream sequence of the request message being processed. */
  readonly seq: number;
}

interface DoneEntry {
  readonly state: 'done';
  readonly requestDigest: string;
  readonly subject: string;
  /** The published result body, base64 (public data). */
  readonly result: string;
}

type LedgerEntry = RunningEntry | DoneEntry;

export type ClaimOutcome =
  | { readonly kind: 'claimed' }
  | { readonly kind: 'done'; readonly subject: string; readonly result: Uint8Array }
  | { readonly kind: 'running'; readonly node: string }
  | { readonly kind: 'conflict' };

/** Ledger key for an operation: a hash, so any client-chosen id is a valid KV key. */
export function operationKey(kind: string, clientId: string, operationId: string): string {
  return `op.${createHash('sha256').update(`${kind}\n${clientId}\n${operationId}`).digest('hex')}`;
}

export class OperationLedger {
  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection): Promise<OperationLedger> {
    const kv = await new Kvm(nc).create(LEDGER_BUCKET, { history: 1, ttl: LEDGER_MAX_AGE_MS });
    return new OperationLedger(kv);
  }

  /**
   * Claims `key` for `node`, processing request message `seq`. A running claim is taken over
   * when it was made for the same request message (JetStream redelivers a message only when
   * its previous holder stopped working on it), or by this very node (it restarted), or by a
   * node that `isLive` says is gone.
   */
  async claim(
    key: string,
    node: string,
    requestDigest: string,
    seq: number,
    isLive: (node: string) => boolean,
  ): Promise<ClaimOutcome> {
    const running = JSON.stringify({
      state: 'running',
      node,
      requestDigest,
      seq,
    } satisfies RunningEntry);
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await this.kv.create(key, running);
        return { kind: 'claimed' };
      } catch {
        // exists (or was deleted: create refuses only live values on recent servers)
      }
      const entry = await this.kv.get(key);
      if (entry === null || entry.operation !== 'PUT') {
        try {
          await this.kv.update(key, running, entry?.revision ?? 0);
          return { kind: 'claimed' };
        } catch {
          continue;
        }
      }
      const current = entry.json<LedgerEntry>();
      if (current.requestDigest !== requestDigest) return { kind: 'conflict' };
      if (current.state === 'done') {
        return {
          kind: 'done',
          subject: current.subject,
          result: new Uint8Array(Buffer.from(current.result, 'base64')),
        };
      }
      const abandoned = current.seq === seq || current.node === node || !isLive(current.node);
      if (!abandoned) return { kind: 'running', node: current.node };
      try {
        await this.kv.update(key, running, entry.revision);
        return { kind: 'claimed' };
      } catch {
        continue;
      }
    }
    return { kind: 'running', node: 'unknown' };
  }

  /**
   * Reads an operation's state without changing it: `none` (never claimed, released or
   * expired), `running` (claimed by `node` for request message `seq`) or `done`.
   */
  async peek(
    key: string,
  ): Promise<
    | { readonly kind: 'none' }
    | { readonly kind: 'running'; readonly node: string; readonly seq: number }
    | { readonly kind: 'done' }
  > {
    const entry = await this.kv.get(key);
    if (entry === null || entry.operation !== 'PUT') return { kind: 'none' };
    const current = entry.json<LedgerEntry>();
    return current.state === 'done'
      ? { kind: 'done' }
      : { kind: 'running', node: current.node, seq: current.seq };
  }

  async complete(
    key: string,
    requestDigest: string,
    subject: string,
    result: Uint8Array,
  ): Promise<void> {
    const done: DoneEntry = {
      state: 'done',
      requestDigest,
      subject,
      result: Buffer.from(result).toString('base64'),
    };
    await this.kv.put(key, JSON.stringify(done));
  }

  async release(key: string): Promise<void> {
    await this.kv.delete(key);
  }

  /**
   * Polls until the entry is done (returns its result), released or expired (`released`: the
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
      const entry = await this.kv.get(key);
      if (entry === null || entry.operation !== 'PUT') return { kind: 'released' };
      const current = entry.json<LedgerEntry>();
      if (current.state === 'done') {
        return {
          kind: 'done',
          subject: current.subject,
          result: new Uint8Array(Buffer.from(current.result, 'base64')),
        };
      }
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
    return { kind: 'timeout' };
  }
}
