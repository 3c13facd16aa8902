/**
 * Exclusive lock on a data directory, so that two signer processes never write the same
 * shares. Node has no flock(2), so the lock is a file naming its owner, and whoever finds it
 * decides whether that owner still lives:
 *
 *   <lock> = JSON { pid, host, bootId, start, nonce }
 *
 * `start` is field 22 of /proc/<pid>/stat (the start time in clock ticks since boot),
 * `bootId` is /proc/sys/kernel/random/boot_id, `nonce` 16 random bytes of the owning lock
 * instance. Locks are written whole (temp file, fsync, hard link), never seen half-written.
 *
 * The owner is judged dead — the lock is stale — by the first rule that applies:
 * 1. the file does not parse (damaged): stale;
 * 2. `host` is not ours: never stale. Liveness on another host cannot be checked (a volume
 *    shared across hosts); the error says so and an administrator removes the file;
 * 3. `bootId` is not ours: stale (the machine rebooted since);
 * 4. `pid` is our own pid: stale unless this instance holds that lock (its nonce is ours):
 *    a restarted container's signer is pid 1 again and meets its previous incarnation's lock;
 * 5. no process has that pid (kill(pid, 0) fails with ESRCH): stale;
 * 6. that process is a zombie (/proc state Z or X: exited, not yet reaped by its parent): stale;
 * 7. its start time differs from `start`: stale (the pid was reused by another process);
 * 8. otherwise the owner is live: `acquireDataDirLock` refuses with `StoreInitError`.
 * Without /proc (not Linux) rules 6 and 7 cannot apply; locks written by the earlier format
 * ({ pid, host, start }) are judged by the rules whose fields they have.
 *
 * Taking over a stale lock (reported through `onTakeover`, for the log): the finder renames
 * the lock file to a unique name — one rename moves one file, so of several finders only one
 * moves it — and checks that what it moved is byte-for-byte the lock it judged stale (each
 * lock has a fresh nonce). If not, it moved a competitor's new lock and links it back. Then
 * it creates its own lock exclusively and re-reads it to confirm ownership; competitors see a
 * live owner and are refused. Residual race: the link-back fails only if a third process
 * created a lock in the instant between the wrong move and the link-back, with all three
 * starting on one directory at once; that third process then holds the lock and the one whose
 * lock was moved is told nothing.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { errnoOf, fsyncDirectory, linkExclusive } from './atomic-file.ts';
import { StoreInitError } from './errors.ts';
import { TEMP_PREFIX } from './layout.ts';

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly bootId?: string;
  readonly start?: string;
  readonly nonce?: string;
}

/** What `onTakeover` learns about a stale lock. */
export interface StaleLock {
  readonly file: string;
  /** Pid and host of the dead owner, when the file was readable. */
  readonly stalePid?: number;
  readonly staleHost?: string;
  /** Which rule judged it stale (see the module comment). */
  readonly reason: string;
}

export interface AcquireOptions {
  /** Called once for every stale lock taken over. */
  readonly onTakeover?: (stale: StaleLock) => void;
}

/** Lock files held by this process, with the nonce of the holding instance. */
const heldByThisProcess = new Map<string, string>();

/** Finders that keep losing to competitors give up after this many rounds. */
const MAX_ATTEMPTS = 8;

export interface DataDirLock {
  readonly file: string;
  release(): Promise<void>;
}

/** The state (field 3) and start time (field 22) of a process, from /proc; undefined without. */
function procStat(pid: number): { state: string; start: string } | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields counted after the parenthesised command name, which may hold spaces and ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = fields[0];
  const start = fields[19];
  return state === undefined || start === undefined ? undefined : { state, start };
}

function bootId(): string | undefined {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

type Verdict = { readonly stale: false } | { readonly stale: true; readonly reason: string };

function judge(owner: LockOwner | undefined, file: string): Verdict {
  if (owner === undefined) return { stale: true, reason: 'unreadable lock file' };
  if (owner.host !== hostname()) return { stale: false };
  const ours = bootId();
  if (owner.bootId !== undefined && ours !== undefined && owner.bootId !== ours) {
    return { stale: true, reason: 'written before the machine rebooted' };
  }
  if (owner.pid === process.pid) {
    const held = heldByThisProcess.get(file);
    if (held !== undefined && held === owner.nonce) return { stale: false };
    return { stale: true, reason: 'its pid is ours: an earlier incarnation (container restart)' };
  }
  if (!processExists(owner.pid)) return { stale: true, reason: 'its process is gone' };
  const stat = procStat(owner.pid);
  if (stat === undefined) return { stale: false };
  if (stat.state === 'Z' || stat.state === 'X') {
    return { stale: true, reason: 'its process has exited (zombie, not yet reaped)' };
  }
  if (owner.start !== undefined && stat.start !== owner.start) {
    return { stale: true, reason: 'its pid now belongs to another process' };
  }
  return { stale: false };
}

function parseOwner(text: string): LockOwner | undefined {
  let value: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    value = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const { pid, host } = value;
  if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 0) return undefined;
  if (typeof host !== 'string') return undefined;
  const optional = (key: 'bootId' | 'start' | 'nonce'): Partial<Record<typeof key, string>> =>
    typeof value[key] === 'string' ? { [key]: value[key] } : {};
  return { pid, host, ...optional('bootId'), ...optional('start'), ...optional('nonce') };
}

/** The lock record of this process, with a fresh nonce. */
function ownRecord(): { text: string; nonce: string } {
  const nonce = randomBytes(16).toString('hex');
  const stat = procStat(process.pid);
  const boot = bootId();
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    ...(boot === undefined ? {} : { bootId: boot }),
    ...(stat === undefined ? {} : { start: stat.start }),
    nonce,
  };
  return { text: `${JSON.stringify(owner)}\n`, nonce };
}

/** Creates `file` holding `text` only if it does not exist: temp file, fsync, hard link. */
async function createExclusive(file: string, text: string): Promise<boolean> {
  const directory = dirname(file);
  const temp = join(directory, `${TEMP_PREFIX}lock-${randomBytes(8).toString('hex')}`);
  try {
    const handle = await open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    const placed = await linkExclusive(temp, file);
    await unlink(temp).catch(() => undefined);
    await fsyncDirectory(directory);
    return placed;
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw new StoreInitError(`cannot create lock file ${file}`, { cause: error });
  }
}

async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw new StoreInitError(`cannot read lock file ${file}`, { cause: error });
  }
}

/**
 * Moves the stale lock `text` away from `file`. True when this call removed exactly that lock;
 * false when someone else did first (the caller retries); a different lock found in its place
 * (a competitor's, created after `text` was read) is put back. Exported for tests.
 */
export async function moveStale(file: string, text: string): Promise<boolean> {
  const aside = `${file}.stale-${randomBytes(8).toString('hex')}`;
  try {
    await rename(file, aside);
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw new StoreInitError(`cannot move the stale lock ${file}`, { cause: error });
  }
  const moved = await readIfExists(aside);
  if (moved !== text) {
    // A competitor's fresh lock, created after we read the stale one: put it back.
    await link(aside, file).catch(() => undefined);
  }
  await unlink(aside).catch(() => undefined);
  await fsyncDirectory(dirname(file)).catch(() => undefined);
  return moved === text;
}

/**
 * Takes the lock `<dataDir>/<name>`, taking over a stale one (module comment); throws
 * `StoreInitError` if a live process holds it.
 */
export async function acquireDataDirLock(
  dataDir: string,
  name: string,
  options: AcquireOptions = {},
): Promise<DataDirLock> {
  const file = resolve(dataDir, name);
  if (heldByThisProcess.has(file)) {
    throw new StoreInitError(`${file} is already held by this process`);
  }
  const own = ownRecord();
  // Reserved before the first await, so a concurrent acquire in this process is refused above.
  heldByThisProcess.set(file, own.nonce);
  try {
    return await acquire(file, own, options);
  } catch (error) {
    heldByThisProcess.delete(file);
    throw error;
  }
}

async function acquire(
  file: string,
  own: { text: string; nonce: string },
  options: AcquireOptions,
): Promise<DataDirLock> {
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    if (await createExclusive(file, own.text)) {
      if ((await readIfExists(file)) !== own.text) {
        throw new StoreInitError(`lost the lock ${file} to another process while taking it`);
      }
      return held(file, own);
    }
    const text = await readIfExists(file);
    if (text === undefined) continue; // released meanwhile
    const owner = parseOwner(text);
    const verdict = judge(owner, file);
    if (!verdict.stale) {
      if (owner !== undefined && owner.host !== hostname()) {
        throw new StoreInitError(
          `data directory is locked by process ${owner.pid} on another host, ${owner.host} ` +
            `(${file}); a lock from another host is never taken over: remove the file once ` +
            'that host no longer uses this volume',
        );
      }
      throw new StoreInitError(
        `data directory is locked by process ${owner?.pid} (${file}); another signer is using it`,
      );
    }
    if (await moveStale(file, text)) {
      options.onTakeover?.({
        file,
        reason: verdict.reason,
        ...(owner === undefined ? {} : { stalePid: owner.pid, staleHost: owner.host }),
      });
    }
  }
  throw new StoreInitError(`could not take the lock ${file}: other processes keep competing`);
}

function held(file: string, own: { text: string; nonce: string }): DataDirLock {
  let released = false;
  return {
    file,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      heldByThisProcess.delete(file);
      // Only our own lock: never remove one that replaced it.
      if ((await readIfExists(file).catch(() => undefined)) !== own.text) return;
      await unlink(file).catch((error: unknown) => {
        if (errnoOf(error) !== 'ENOENT') throw error;
      });
    },
  };
}
