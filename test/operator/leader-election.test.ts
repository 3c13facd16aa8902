/**
 * Leader hand-over between two operator processes (dist/operator/main.js) on the real control
 * plane, with short client-go timings (lease 3 s, renew deadline 2 s, retry 1 s): exactly one
 * leads (mpc_operator_is_leader 1, the other 0); SIGKILL of the leader → the standby takes
 * over once the lease expires by its own clock; SIGTERM of a leader → it releases the Lease
 * and the standby takes over within a retry period. Every wait is bounded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually, kc, type Cluster } from './helpers.ts';

const cluster: Cluster = { binDir: inject('k8sBinDir'), kubeconfigPath: inject('kubeconfigPath') };
const NS = `leader-${Math.random().toString(36).slice(2, 8)}`;

interface OperatorProcess {
  readonly child: ChildProcess;
  port: number | undefined;
  output: string;
}

const running: OperatorProcess[] = [];

function startOperatorProcess(): OperatorProcess {
  const child = spawn(process.execPath, ['dist/operator/main.js'], {
    env: {
      PATH: process.env['PATH'] ?? '',
      KUBECONFIG: cluster.kubeconfigPath,
      MPC_OPERATOR_HTTP_PORT: '0',
      MPC_OPERATOR_LOG_LEVEL: 'info',
      POD_NAMESPACE: NS,
      HOSTNAME: `operator-${running.length}`,
      MPC_OPERATOR_LEASE_DURATION_SECONDS: '3',
      MPC_OPERATOR_RENEW_DEADLINE_SECONDS: '2',
      MPC_OPERATOR_RETRY_PERIOD_SECONDS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const handle: OperatorProcess = { child, port: undefined, output: '' };
  const onData = (chunk: Buffer): void => {
    handle.output += chunk.toString();
    const match = /"httpPort":(\d+)/.exec(handle.output);
    if (match !== null) handle.port = Number(match[1]);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  running.push(handle);
  return handle;
}

async function isLeader(operator: OperatorProcess): Promise<number | undefined> {
  if (operator.port === undefined) return undefined;
  const text = await (await fetch(`http://127.0.0.1:${operator.port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('mpc_operator_is_leader '));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

async function stopProcess(
  operator: OperatorProcess,
  signal: NodeJS.Signals,
): Promise<number | null> {
  if (operator.child.exitCode !== null || operator.child.signalCode !== null) {
    return operator.child.exitCode;
  }
  const exited = new Promise<number | null>((resolve) =>
    operator.child.once('exit', (code) => resolve(code)),
  );
  operator.child.kill(signal);
  return exited;
}

describe.skipIf(!existsSync('dist/operator/main.js'))('operator leader election', () => {
  beforeAll(async () => {
    await kc(cluster, ['apply', '--server-side', '-f', 'crds/mpccluster.yaml']);
    await kc(cluster, ['create', 'namespace', NS]);
  });

  afterAll(async () => {
    await Promise.all(running.map((operator) => stopProcess(operator, 'SIGKILL')));
    await kc(cluster, ['delete', 'namespace', NS, '--wait=false']).catch(() => undefined);
  });

  it('one leader; SIGKILL → takeover after the lease expires; SIGTERM → takeover at once', async () => {
    const first = startOperatorProcess();
    await eventually('first operator leads', async () => (await isLeader(first)) === 1, 30_000);
    const second = startOperatorProcess();
    await eventually(
      'second operator serves metrics',
      async () => (await isLeader(second)) === 0,
      30_000,
    );
    // The standby stays a standby while the leader renews.
    await delay(3500);
    expect(await isLeader(second)).toBe(0);
    expect(await isLeader(first)).toBe(1);
    const lease = await kc(cluster, [
      '-n',
      NS,
      'get',
      'lease',
      'mpc-operator-leader',
      '-o',
      'json',
    ]);
    expect(JSON.parse(lease).spec.holderIdentity).toMatch(/^operator-0_/);

    // Crash: no release; the standby waits out the lease by its own clock.
    await stopProcess(first, 'SIGKILL');
    await eventually(
      'second operator takes over',
      async () => (await isLeader(second)) === 1,
      20_000,
    );

    // Graceful: the leader releases the Lease on SIGTERM and exits 0.
    const third = startOperatorProcess();
    await eventually(
      'third operator serves as standby',
      async () => (await isLeader(third)) === 0,
      30_000,
    );
    expect(await stopProcess(second, 'SIGTERM')).toBe(0);
    await eventually(
      'third operator takes over',
      async () => (await isLeader(third)) === 1,
      10_000,
    );
    const after = JSON.parse(
      await kc(cluster, ['-n', NS, 'get', 'lease', 'mpc-operator-leader', '-o', 'json']),
    );
    expect(after.spec.holderIdentity).toMatch(/^operator-2_/);
    expect(after.spec.leaseTransitions).toBe(2);
  });
});
