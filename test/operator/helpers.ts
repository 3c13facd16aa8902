/** Helpers for the operator suite: kubectl/helm against the test control plane, polling. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { kubectl } from '../controlplane/control-plane.ts';

export interface Cluster {
  readonly binDir: string;
  readonly kubeconfigPath: string;
}

export function kc(cluster: Cluster, args: string[], input?: string): Promise<string> {
  return kubectl(cluster.binDir, cluster.kubeconfigPath, args, input);
}

/** kubectl get ... -o json, or undefined when NotFound. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- kubectl JSON, asserted by the tests
export async function getJson<T = Record<string, any>>(
  cluster: Cluster,
  args: string[],
): Promise<T | undefined> {
  try {
    return JSON.parse(await kc(cluster, ['get', ...args, '-o', 'json'])) as T;
  } catch (error) {
    if (String(error).includes('NotFound') || String(error).includes('not found')) return undefined;
    throw error;
  }
}

/** Runs the built helm binary. */
export function helm(cluster: Cluster, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(cluster.binDir, 'helm'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`helm ${args.join(' ')}: ${stderr}`)),
    );
  });
}

/** Polls `check` until it returns a value other than undefined/false; bounded. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T>,
  timeoutMs = 60_000,
): Promise<Exclude<T, undefined | false | null>> {
  const started = Date.now();
  let last: unknown;
  while (Date.now() - started < timeoutMs) {
    try {
      const value = await check();
      if (value !== undefined && value !== false && value !== null) {
        return value as Exclude<T, undefined | false | null>;
      }
    } catch (error) {
      last = error;
    }
    await delay(250);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last === undefined ? '' : `: ${String(last)}`}`,
  );
}
