/**
 * The data-directory lock against real processes: child processes run the real lock module
 * (transpiled from the sources into a temp dir, since Node 20 cannot import .ts) and die in
 * the ways a signer dies — SIGKILL, exit while its parent never reaps it (a zombie), a
 * container restart that gives the new signer the old one's pid — or stay alive.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import ts from 'typescript';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import {
  acquireDataDirLock,
  moveStale,
  type DataDirLock,
  type StaleLock,
} from './data-dir-lock.ts';
import { StoreInitError } from './errors.ts';

const repoRoot = join(import.meta.dirname, '..', '..');
const MODULES = [
  'signer/store/data-dir-lock.ts',
  'signer/store/atomic-file.ts',
  'signer/store/errors.ts',
  'signer/store/layout.ts',
  'signer/protocol/errors.ts',
];
/** Takes the lock, prints `locked <pid>` (or `refused <message>`), then holds it or exits. */
const HOLDER = `
import { acquireDataDirLock } from './signer/store/data-dir-lock.js';
const [dataDir, mode] = process.argv.slice(2);
try {
  await acquireDataDirLock(dataDir, 'store.lock');
  console.log('locked ' + process.pid);
} catch (error) {
  console.log('refused ' + String(error.message).replace(/\\n/g, ' '));
  process.exit(3);
}
if (mode === 'exit') process.exit(0); // gone without releasing: the lock file stays
setInterval(() => {}, 1000);
`;

let moduleDir: string;
let parent: string;
let dataDir: string;
const children: ChildProcess[] = [];
const locks: DataDirLock[] = [];
const lockFile = (): string => join(dataDir, 'store.lock');

beforeAll(async () => {
  moduleDir = await mkdtemp(join(tmpdir(), 'lock-module-'));
  for (const path of MODULES) {
    const source = await readFile(join(repoRoot, path), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      fileName: path,
      compilerOptions: {
        module: ts.ModuleKind.ESNext,
        target: ts.ScriptTarget.ES2022,
        rewriteRelativeImportExtensions: true,
        verbatimModuleSyntax: true,
      },
    });
    const out = join(moduleDir, path.replace(/\.ts$/, '.js'));
    await mkdir(dirname(out), { recursive: true });
    await writeFile(out, outputText);
  }
  await writeFile(join(moduleDir, 'package.json'), '{ "type": "module" }\n');
  await writeFile(join(moduleDir, 'holder.js'), HOLDER);
});
afterAll(async () => {
  await rm(moduleDir, { recursive: true, force: true });
});
beforeEach(async () => {
  parent = await mkdtemp(join(tmpdir(), 'data-dir-lock-'));
  dataDir = join(parent, 'data');
  await mkdir(dataDir);
});
afterEach(async () => {
  for (const lock of locks.splice(0)) await lock.release();
  await Promise.all(children.splice(0).map(stop));
  await rm(parent, { recursive: true, force: true });
});

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
}

/** A child process with its stdout as a line queue. */
function start(command: string, args: string[]): { child: ChildProcess; line(): Promise<string> } {
  const child = spawn(command, args, { cwd: moduleDir, stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on('line', (text) => {
    const waiter = waiters.shift();
    if (waiter === undefined) lines.push(text);
    else waiter(text);
  });
  return {
    child,
    line: () => {
      const next = lines.shift();
      if (next !== undefined) return Promise.resolve(next);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no output from the child')), 30_000);
        waiters.push((text) => {
          clearTimeout(timer);
          resolve(text);
        });
      });
    },
  };
}

/** A node child holding the lock on `dataDir`; resolves once it holds it. */
async function holder(mode: 'hold' | 'exit'): Promise<{ child: ChildProcess; pid: number }> {
  const started = start(process.execPath, ['holder.js', dataDir, mode]);
  const line = await started.line();
  expect(line).toMatch(/^locked \d+$/);
  return { child: started.child, pid: Number(line.split(' ')[1]) };
}

function procState(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

function ownStart(): string {
  const stat = readFileSync(`/proc/${process.pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
}

async function acquire(): Promise<{ lock: DataDirLock; takeovers: StaleLock[] }> {
  const takeovers: StaleLock[] = [];
  const lock = await acquireDataDirLock(dataDir, 'store.lock', {
    onTakeover: (stale) => takeovers.push(stale),
  });
  locks.push(lock);
  return { lock, takeovers };
}

async function refusal(): Promise<StoreInitError> {
  const error = await acquireDataDirLock(dataDir, 'store.lock').catch((e: unknown) => e);
  expect(error).toBeInstanceOf(StoreInitError);
  expect((error as StoreInitError).code).toBe(ErrorCode.StorageInit);
  return error as StoreInitError;
}

const owner = async (): Promise<Record<string, unknown>> =>
  JSON.parse(await readFile(lockFile(), 'utf8')) as Record<string, unknown>;

describe.skipIf(process.platform !== 'linux')('data-dir lock', () => {
  it('refuses a lock held by a live child process, naming its pid', async () => {
    const { pid } = await holder('hold');
    const before = await readFile(lockFile(), 'utf8');
    const error = await refusal();
    expect(error.message).toContain(`locked by process ${pid} `);
    expect(await readFile(lockFile(), 'utf8')).toBe(before);
  });

  it('takes over the lock of a SIGKILLed child process, and says so', async () => {
    const { child, pid } = await holder('hold');
    await stop(child);
    const { takeovers } = await acquire();
    expect(takeovers).toEqual([
      { file: lockFile(), stalePid: pid, staleHost: hostname(), reason: 'its process is gone' },
    ]);
    expect(await owner()).toMatchObject({ pid: process.pid, host: hostname() });
    expect(await refusal()).toBeInstanceOf(StoreInitError); // and now it is ours
  });

  it('takes over the lock of a zombie (exited, never reaped by its parent)', async () => {
    // sh starts the holder in the background and becomes `sleep`, which never reaps it.
    const shell = start('sh', [
      '-c',
      '"$0" holder.js "$1" exit & echo "child $!"; exec sleep 60',
      process.execPath,
      dataDir,
    ]);
    const lines = [await shell.line(), await shell.line()].sort();
    const pid = Number(lines[0]!.split(' ')[1]);
    expect(lines[1]).toBe(`locked ${pid}`);
    for (let i = 0; i < 300 && procState(pid) !== 'Z'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(procState(pid)).toBe('Z');
    expect(() => process.kill(pid, 0)).not.toThrow(); // a zombie still "exists"
    const { takeovers } = await acquire();
    expect(takeovers.map((t) => [t.stalePid, t.reason])).toEqual([
      [pid, 'its process has exited (zombie, not yet reaped)'],
    ]);
    expect(await owner()).toMatchObject({ pid: process.pid });
  });

  it('takes over a lock with our own pid and another nonce (pid 1 after a container restart)', async () => {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    // Everything an earlier incarnation with our pid would have written, but its own nonce.
    const earlier = {
      pid: process.pid,
      host: hostname(),
      bootId: boot,
      start: ownStart(),
      nonce: '00'.repeat(16),
    };
    await writeFile(lockFile(), JSON.stringify(earlier));
    const { takeovers } = await acquire();
    expect(takeovers.map((t) => t.reason)).toEqual([
      'its pid is ours: an earlier incarnation (container restart)',
    ]);
    expect((await owner())['nonce']).not.toBe(earlier.nonce);
  });

  it('takes over a lock whose pid now belongs to another process or to an earlier boot', async () => {
    const { pid } = await holder('hold');
    const record = await owner();
    await writeFile(lockFile(), JSON.stringify({ ...record, start: '1' }));
    expect((await acquire()).takeovers.map((t) => t.reason)).toEqual([
      'its pid now belongs to another process',
    ]);
    await locks.pop()!.release();
    await writeFile(lockFile(), JSON.stringify({ ...record, pid, bootId: 'another-boot' }));
    expect((await acquire()).takeovers.map((t) => t.reason)).toEqual([
      'written before the machine rebooted',
    ]);
  });

  it('never takes over a lock from another host, and says how to clear it', async () => {
    await writeFile(lockFile(), JSON.stringify({ pid: 999_999_999, host: `${hostname()}-other` }));
    const error = await refusal();
    expect(error.message).toContain('another host');
    expect(error.message).toContain('remove the file');
  });

  it('lets exactly one of several processes take over one stale lock', async () => {
    const { child } = await holder('hold');
    await stop(child);
    const contenders = Array.from({ length: 4 }, () =>
      start(process.execPath, ['holder.js', dataDir, 'hold']),
    );
    const results = await Promise.all(contenders.map((c) => c.line()));
    const winners = results.filter((line) => line.startsWith('locked '));
    expect(winners).toHaveLength(1);
    expect(results.filter((line) => line.startsWith('refused '))).toHaveLength(3);
    expect(await owner()).toMatchObject({ pid: Number(winners[0]!.split(' ')[1]) });
    expect((await readdir(dataDir)).sort()).toEqual(['store.lock']);
  });

  it('puts back a live lock that replaced the stale one it judged, and reports no takeover', async () => {
    const stale = JSON.stringify({ pid: 999_999_999, host: hostname(), nonce: 'stale' });
    const { pid } = await holder('hold'); // its fresh lock replaced `stale` since we read it
    const live = await readFile(lockFile(), 'utf8');
    expect(await moveStale(lockFile(), stale)).toBe(false);
    expect(await readFile(lockFile(), 'utf8')).toBe(live);
    expect((await refusal()).message).toContain(`locked by process ${pid} `);
    expect((await readdir(dataDir)).sort()).toEqual(['store.lock']);
    await writeFile(lockFile(), stale);
    expect(await moveStale(lockFile(), stale)).toBe(true);
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('refuses a concurrent acquire in the same process, and releases only its own lock', async () => {
    const results = await Promise.allSettled([acquire(), acquire()]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const { lock } = (results.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<{
      lock: DataDirLock;
    }>)!.value;
    // Someone replaced our lock (an administrator, say): release must not delete theirs.
    await writeFile(lockFile(), JSON.stringify({ pid: 1, host: 'elsewhere' }));
    await lock.release();
    expect(await owner()).toEqual({ pid: 1, host: 'elsewhere' });
  });
});
