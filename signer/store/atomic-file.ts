/**
 * Crash-safe file primitives (POSIX): a file is written to a temp file in the same
 * directory, fsynced, renamed (or hard-linked, to refuse overwriting) into place, and the
 * directory is fsynced, so after a crash the name holds either the old or the new complete
 * contents. New directories are fsynced into their parent.
 */
import { randomBytes } from 'node:crypto';
import { link, mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { TEMP_PREFIX } from './layout.ts';

/** Largest file the store reads: far above any share, well below memory trouble. */
export const MAX_STORE_FILE_BYTES = 64 * 1024 * 1024;

export function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export async function fsyncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates `target` and any missing parents below `root` (mode 0700), each made durable. */
export async function ensureDirectory(root: string, target: string): Promise<void> {
  const parts = relative(root, target)
    .split(sep)
    .filter((part) => part !== '');
  let current = root;
  for (const part of parts) {
    const parent = current;
    current = join(current, part);
    try {
      await mkdir(current, { mode: 0o700 });
      await fsyncDirectory(parent);
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
    }
  }
}

/**
 * Atomically writes `data` (mode 0600) to `path`. With `overwrite: false` an existing file is
 * left untouched and the result is `false`; otherwise the result is `true`.
 */
export async function writeFileAtomic(
  path: string,
  data: Uint8Array,
  options: { overwrite: boolean },
): Promise<boolean> {
  const directory = dirname(path);
  const temp = join(directory, `${TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
  const handle = await open(temp, 'wx', 0o600);
  let placed = false;
  try {
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (options.overwrite) {
      await rename(temp, path);
      placed = true;
    } else {
      placed = await linkExclusive(temp, path);
    }
    if (placed) await fsyncDirectory(directory);
    return placed;
  } finally {
    if (!placed || !options.overwrite) await unlink(temp).catch(() => undefined);
  }
}

/**
 * Destroys a small secret file (a wrapped data key): overwrites its bytes in place with random
 * bytes, fsyncs, then unlinks it. False when it did not exist. The caller fsyncs the directory
 * to make the unlink durable. Overwriting is best effort below the file system (copy-on-write
 * file systems and flash translation layers may keep old blocks); the unlink is what removes
 * the key from every later snapshot of the file system.
 */
export async function destroyFile(path: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, 'r+');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size > 0 && size <= MAX_STORE_FILE_BYTES) {
      await handle.write(randomBytes(size), 0, size, 0);
      await handle.sync();
    }
  } finally {
    await handle.close();
  }
  try {
    await unlink(path);
  } catch (error) {
    if (errnoOf(error) !== 'ENOENT') throw error;
  }
  return true;
}

/**
 * Places the complete file `temp` at `path` only if `path` does not exist (hard link: atomic
 * on POSIX). `temp` may remain; the caller removes it and fsyncs the directory.
 */
export async function linkExclusive(temp: string, path: string): Promise<boolean> {
  try {
    await link(temp, path);
    return true;
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'EEXIST') return false;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP') throw error;
  }
  // File systems without hard links: check then rename. Safe because the store's writers
  // are serialised per key in process and the lock file excludes other processes.
  if (await exists(path)) return false;
  await rename(temp, path);
  return true;
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return false;
    throw error;
  }
}

/** The file's bytes, or undefined when it does not exist. Refuses oversized files. */
export async function readFileIfExists(path: string): Promise<Buffer | undefined> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const { size } = await handle.stat();
    if (size > MAX_STORE_FILE_BYTES) {
      throw new RangeError(`file is ${size} bytes, more than ${MAX_STORE_FILE_BYTES}`);
    }
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
