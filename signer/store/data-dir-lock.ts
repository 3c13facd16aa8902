/**
 * Exclusive lock on a data directory, so that two signer processes never write the same
 * shares. The lock is a file created with O_EXCL holding JSON { pid, host, start }, where
 * `start` is the owner's start time from /proc/<pid>/stat (Linux) so that a recycled pid —
 * the normal case after a container restart, where the signer is pid 1 again — is not
 * mistaken for a live owner.
 *
 * A lock is stale, and taken over, when it was written on this host and its pid is dead,
 * belongs to a process with a different start time, or is this process without this process
 * holding it. A lock written on another host (a shared volume) is never taken over.
 * Taking over is itself guarded by an O_EXCL `<lock>.takeover` file.
 */
import { readFileSync } from 'node:fs';
import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { errnoOf } from './atomic-file.ts';
import { StoreInitError } from './errors.ts';

interface LockOwner {
  readonly pid: number;
  readonly host: string;
  readonly start?: string;
}

/** Lock files held by this process (a second open in the same process is refused too). */
const heldByThisProcess = new Set<string>();

export interface DataDirLock {
  readonly file: string;
  release(): Promise<void>;
}

function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime) counted after the parenthesised command name, which may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

function isStale(owner: LockOwner | undefined, file: string): boolean {
  if (owner === undefined) return true; // unreadable content: a crash while writing it
  if (owner.host !== hostname()) return false;
  if (owner.pid === process.pid) return !heldByThisProcess.has(file);
  if (!processAlive(owner.pid)) return true;
  const start = processStartTime(owner.pid);
  return owner.start !== undefined && start !== undefined && start !== owner.start;
}

function parseOwner(text: string): LockOwner | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockOwner>;
    if (typeof value.pid === 'number' && Number.isInteger(value.pid) && value.pid > 0) {
      if (typeof value.host === 'string') {
        return {
          pid: value.pid,
          host: value.host,
          ...(typeof value.start === 'string' ? { start: value.start } : {}),
        };
      }
    }
  } catch {
    // fall through
  }
  return undefined;
}

async function createLockFile(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'wx', 0o600);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST') return false;
    throw new StoreInitError(`cannot create lock file ${file}`, { cause: error });
  }
  try {
    const start = processStartTime(process.pid);
    const owner: LockOwner = {
      pid: process.pid,
      host: hostname(),
      ...(start === undefined ? {} : { start }),
    };
    await handle.writeFile(`${JSON.stringify(owner)}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  return true;
}

/** Takes the lock `<dataDir>/<name>`; throws `StoreInitError` if another process holds it. */
export async function acquireDataDirLock(dataDir: string, name: string): Promise<DataDirLock> {
  const file = resolve(dataDir, name);
  if (heldByThisProcess.has(file)) {
    throw new StoreInitError(`${file} is already held by this process`);
  }
  if (!(await createLockFile(file))) {
    const text = await readFile(file, 'utf8').catch(() => '');
    const owner = parseOwner(text);
    if (!isStale(owner, file)) {
      throw new StoreInitError(
        `data directory is locked by process ${owner?.pid} on ${owner?.host} (${file}); ` +
          'another signer is using it, or remove the file if that process is gone',
      );
    }
    const guard = `${file}.takeover`;
    if (!(await createLockFile(guard))) {
      throw new StoreInitError(
        `another process is taking over the stale lock ${file}; if none is, remove ${guard}`,
      );
    }
    try {
      const again = await readFile(file, 'utf8').catch(() => undefined);
      if (again !== undefined && again !== text) {
        throw new StoreInitError(`lock file ${file} changed while being taken over`);
      }
      await unlink(file).catch((error: unknown) => {
        if (errnoOf(error) !== 'ENOENT') throw error;
      });
      if (!(await createLockFile(file))) {
        throw new StoreInitError(`lock file ${file} was taken by another process`);
      }
    } finally {
      await unlink(guard).catch(() => undefined);
    }
  }
  heldByThisProcess.add(file);
  let released = false;
  return {
    file,
    async release(): Promise<void> {
      if (released) return;
      released = true;
      heldByThisProcess.delete(file);
      await unlink(file).catch((error: unknown) => {
        if (errnoOf(error) !== 'ENOENT') throw error;
      });
    },
  };
}
