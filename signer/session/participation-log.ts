/**
 * Each participant's own durable record of the client operations it took part in (security
 * review M3): a coordinator that lies (or anyone replaying a client request into the stream)
 * cannot make this signer run a session for one operation more than once at a time, nor more
 * than `maxSessionsPerOperation` times in all (the honest case: coordinator retries and
 * redeliveries).
 *
 * An operation is an opaque key (the ledger's `operationKey(kind, clientId, id)`: sign →
 * wallet and tx id, keygen → wallet id, reshare → session id). The record lives in
 * `<data_dir>/participation.log`, one line per admitted session, `<ms since epoch> <key> <n>\n`
 * (n sessions; 1 when appended, the total when compacted), appended and fsynced (group commit:
 * concurrent admissions share one fsync) before the invite is answered, so a crash cannot make
 * this signer forget a session it agreed to. Entries older than `retentionMs` are forgotten;
 * the log is compacted at start and whenever its appended lines outgrow the live records;
 * memory is bounded by `maxOperations` (oldest forgotten first). SECURITY.md states the bounds.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic } from '../store/atomic-file.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';

export const PARTICIPATION_LOG_FILE = 'participation.log';

/** The operation already has a session here, or used up its sessions. */
export class OperationReplayError extends MpcError {
  readonly reason: 'running' | 'exhausted';

  constructor(reason: 'running' | 'exhausted') {
    super(
      ErrorCode.SessionDuplicate,
      reason === 'running'
        ? 'this signer already takes part in a session for this operation'
        : 'this operation used up the sessions a participant allows it',
    );
    this.reason = reason;
  }
}

export interface ParticipationLogOptions {
  readonly dataDir: string;
  readonly maxSessionsPerOperation: number;
  readonly retentionMs: number;
  readonly maxOperations: number;
  readonly now?: () => number;
}

interface OperationRecord {
  total: number;
  active: number;
  last: number;
}

/** One admitted session; `release()` (idempotent) frees the operation for its next session. */
export interface Participation {
  release(): void;
}

const KEY_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

export class ParticipationLog {
  private readonly records = new Map<string, OperationRecord>();
  private pending: { line: string; done: () => void; failed: (error: unknown) => void }[] = [];
  private flushing: Promise<void> | undefined;
  private handle: FileHandle | undefined;
  private appendedSinceCompaction = 0;

  private constructor(
    private readonly options: ParticipationLogOptions,
    private readonly file: string,
  ) {}

  static async open(options: ParticipationLogOptions): Promise<ParticipationLog> {
    const now = options.now ?? Date.now;
    const file = join(options.dataDir, PARTICIPATION_LOG_FILE);
    const bytes = await readFileIfExists(file);
    const cutoff = now() - options.retentionMs;
    const kept: [string, number, number][] = [];
    let lines = 0;
    if (bytes !== undefined) {
      for (const line of bytes.toString('utf8').split('\n')) {
        if (line === '') continue;
        lines += 1;
        const [stamp, key, sessions, extra] = line.split(' ');
        const at = Number(stamp);
        const count = Number(sessions);
        // A torn last line after a crash is the only expected malformed line; it was never
        // acknowledged (the fsync did not complete), so dropping it is safe.
        if (extra !== undefined || key === undefined || !KEY_PATTERN.test(key)) continue;
        if (!Number.isSafeInteger(at) || at < cutoff) continue;
        if (!Number.isSafeInteger(count) || count < 1) continue;
        kept.push([key, at, count]);
      }
    }
    const log = new ParticipationLog(options, file);
    for (const [key, at, count] of kept) log.count(key, at, count);
    if (lines !== kept.length || lines > log.records.size) await log.compact();
    log.handle = await open(file, 'a', 0o600);
    return log;
  }

  /** Rewrites the log as one line per live operation (crash-safe: temp file and rename). */
  private async compact(): Promise<void> {
    const cutoff = (this.options.now ?? Date.now)() - this.options.retentionMs;
    let body = '';
    for (const [key, record] of this.records) {
      if (record.last < cutoff && record.active === 0) {
        this.records.delete(key);
        continue;
      }
      body += `${record.last} ${key} ${record.total}\n`;
    }
    await this.handle?.close();
    this.handle = undefined;
    await writeFileAtomic(this.file, new TextEncoder().encode(body), { overwrite: true });
    this.appendedSinceCompaction = 0;
  }

  private count(key: string, at: number, sessions = 1): OperationRecord {
    let record = this.records.get(key);
    if (record === undefined) {
      record = { total: 0, active: 0, last: at };
      this.records.set(key, record);
      if (this.records.size > this.options.maxOperations) this.evictOldest();
    } else {
      // Map order is insertion order: move the key to the young end.
      this.records.delete(key);
      this.records.set(key, record);
    }
    record.total += sessions;
    record.last = at;
    return record;
  }

  private evictOldest(): void {
    for (const [key, record] of this.records) {
      if (record.active > 0) continue;
      this.records.delete(key);
      return;
    }
  }

  /** True while a session admitted for `operation` has not been released. */
  isRunning(operation: string): boolean {
    return (this.records.get(operation)?.active ?? 0) > 0;
  }

  /** Sessions recorded for `operation` (for tests and diagnostics). */
  sessionsOf(operation: string): number {
    return this.records.get(operation)?.total ?? 0;
  }

  /**
   * Admits one session for `operation`: refuses (`OperationReplayError`) while another is
   * running here or once the total is used up; resolves when the admission is durable.
   */
  async begin(operation: string): Promise<Participation> {
    if (!KEY_PATTERN.test(operation)) {
      throw new MpcError(ErrorCode.MsgValidation, 'invalid operation key');
    }
    const existing = this.records.get(operation);
    if (existing !== undefined && existing.active > 0) throw new OperationReplayError('running');
    if (existing !== undefined && existing.total >= this.options.maxSessionsPerOperation) {
      throw new OperationReplayError('exhausted');
    }
    const at = (this.options.now ?? Date.now)();
    const record = this.count(operation, at);
    record.active += 1;
    let ended = false;
    const participation: Participation = {
      release: () => {
        if (ended) return;
        ended = true;
        record.active -= 1;
      },
    };
    try {
      await this.append(`${at} ${operation} 1\n`);
    } catch (error) {
      participation.release();
      throw new MpcError(ErrorCode.StorageWrite, 'participation record not persisted', {
        cause: error,
      });
    }
    return participation;
  }

  private append(line: string): Promise<void> {
    return new Promise<void>((done, failed) => {
      this.pending.push({ line, done, failed });
      if (this.flushing === undefined) this.flushing = this.flush();
    });
  }

  private async flush(): Promise<void> {
    while (this.pending.length > 0) {
      const batch = this.pending;
      this.pending = [];
      try {
        if (this.appendedSinceCompaction > Math.max(10_000, 2 * this.records.size)) {
          await this.compact(); // the batch's records are in memory already: compacted in
        } else {
          this.handle ??= await open(this.file, 'a', 0o600);
          await this.handle.write(batch.map((entry) => entry.line).join(''));
          await this.handle.datasync();
          this.appendedSinceCompaction += batch.length;
        }
        for (const entry of batch) entry.done();
      } catch (error) {
        for (const entry of batch) entry.failed(error);
      }
    }
    this.flushing = undefined;
  }

  async close(): Promise<void> {
    await this.flushing;
    await this.handle?.close();
    this.handle = undefined;
  }
}
