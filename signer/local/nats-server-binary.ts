/**
 * Which `nats-server` executable `npm run local`, the tests and the benchmarks start.
 *
 * The project pins two nats-server releases; `scripts/ensure-deps.sh` builds each from the Go
 * module proxy (`go install github.com/nats-io/nats-server/v2@<version>`, CGO off) into
 * `<cache>/nats-server-<version>/nats-server`, where `<cache>` is
 * `${XDG_CACHE_HOME:-$HOME/.cache}/mpc-platform` (outside the repository). ensure-deps reads
 * the two versions from the `export const … = 'v…';` lines below, so they are pinned here only.
 *
 * - `NATS_SERVER_VERSION`: the newest stable 2.x release; the default for everything.
 * - `NATS_SERVER_OLDEST_VERSION`: the oldest line we support, 2.10 (its last patch release).
 *   mpcium's Go client creates its result consumers with `filter_subjects` (multi-filter
 *   consumers), which nats-server understands from 2.10 on; the wire tests run against it too.
 *
 * Lookup order of `natsServerBinary`:
 *   1. `$MPC_NATS_SERVER` (a path), when set: the caller's explicit choice, never second-guessed;
 *   2. the pinned current build, then the pinned 2.10 build, when present in the cache;
 *   3. a system nats-server (Debian's package installs /usr/sbin/nats-server; 2.9.10 on
 *      bookworm, too old for mpcium's Go client: ensure-deps warns, and so does each signer);
 *   4. plain `nats-server`, resolved through PATH by spawn.
 * Pure apart from `existsSync`; the environment is injected.
 */
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const NATS_SERVER_VERSION = 'v2.15.3';
export const NATS_SERVER_OLDEST_VERSION = 'v2.10.27';

/** Environment variable naming a nats-server executable that overrides every other choice. */
export const NATS_SERVER_ENV = 'MPC_NATS_SERVER';

type Env = Readonly<Record<string, string | undefined>>;

/** `${XDG_CACHE_HOME:-$HOME/.cache}/mpc-platform`, the cache ensure-deps builds into. */
export function cacheRoot(env: Env = process.env): string {
  const xdg = env['XDG_CACHE_HOME'];
  const base = xdg !== undefined && xdg !== '' ? xdg : join(env['HOME'] ?? homedir(), '.cache');
  return join(base, 'mpc-platform');
}

/** Where ensure-deps puts the build of `version` (it may not exist). */
export function pinnedNatsServerPath(version: string, env: Env = process.env): string {
  return join(cacheRoot(env), `nats-server-${version}`, 'nats-server');
}

const SYSTEM_CANDIDATES = [
  '/usr/sbin/nats-server',
  '/usr/bin/nats-server',
  '/usr/local/bin/nats-server',
];

/** The executable to start (see the module comment for the order). */
export function natsServerBinary(
  env: Env = process.env,
  exists: (path: string) => boolean = existsSync,
): string {
  const override = env[NATS_SERVER_ENV];
  if (override !== undefined && override !== '') return override;
  for (const version of [NATS_SERVER_VERSION, NATS_SERVER_OLDEST_VERSION]) {
    const pinned = pinnedNatsServerPath(version, env);
    if (exists(pinned)) return pinned;
  }
  return SYSTEM_CANDIDATES.find((candidate) => exists(candidate)) ?? 'nats-server';
}
