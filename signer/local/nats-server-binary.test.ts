import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  NATS_SERVER_OLDEST_VERSION,
  NATS_SERVER_VERSION,
  cacheRoot,
  natsServerBinary,
  pinnedNatsServerPath,
} from './nats-server-binary.ts';

const env = { HOME: '/home/u' };
const current = '/home/u/.cache/mpc-platform/nats-server-v2.15.3/nats-server';
const oldest = '/home/u/.cache/mpc-platform/nats-server-v2.10.27/nats-server';

describe('nats-server binary lookup', () => {
  it('caches under XDG_CACHE_HOME or ~/.cache', () => {
    expect(cacheRoot(env)).toBe('/home/u/.cache/mpc-platform');
    expect(cacheRoot({ ...env, XDG_CACHE_HOME: '/x' })).toBe('/x/mpc-platform');
    expect(cacheRoot({ ...env, XDG_CACHE_HOME: '' })).toBe('/home/u/.cache/mpc-platform');
    expect(pinnedNatsServerPath(NATS_SERVER_VERSION, env)).toBe(current);
  });

  it('prefers the override, then the current pin, then the 2.10 pin, then the system', () => {
    const all = new Set([current, oldest, '/usr/sbin/nats-server']);
    const has =
      (...paths: string[]) =>
      (path: string) =>
        paths.includes(path) && all.has(path);
    expect(natsServerBinary({ ...env, MPC_NATS_SERVER: '/opt/n' }, has(current))).toBe('/opt/n');
    expect(natsServerBinary(env, has(current, oldest, '/usr/sbin/nats-server'))).toBe(current);
    expect(natsServerBinary(env, has(oldest, '/usr/sbin/nats-server'))).toBe(oldest);
    expect(natsServerBinary(env, has('/usr/sbin/nats-server'))).toBe('/usr/sbin/nats-server');
    expect(natsServerBinary(env, has())).toBe('nats-server');
    expect(natsServerBinary({ ...env, MPC_NATS_SERVER: '' }, has(current))).toBe(current);
  });

  it('pins stable releases in the line form scripts/ensure-deps.sh parses', () => {
    const source = readFileSync(join(import.meta.dirname, 'nats-server-binary.ts'), 'utf8');
    for (const [name, value] of [
      ['NATS_SERVER_VERSION', NATS_SERVER_VERSION],
      ['NATS_SERVER_OLDEST_VERSION', NATS_SERVER_OLDEST_VERSION],
    ] as const) {
      expect(value).toMatch(/^v2\.\d+\.\d+$/);
      expect(source.split('\n')).toContain(`export const ${name} = '${value}';`);
    }
    expect(NATS_SERVER_OLDEST_VERSION.startsWith('v2.10.')).toBe(true);
  });
});
