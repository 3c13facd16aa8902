/**
 * The failure path (design §6, issue 3) with real signer processes on a real NATS server:
 * a participant killed mid-session, a stalled participant, quorum loss and recovery, a
 * coordinator killed mid-session, and churn under concurrent load. Waits are bounded; no
 * timing is asserted.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { startTestCluster, type TestCluster } from '../harness/signer-cluster.ts';
import { WalletDriver, verifiesEd25519, waitUntil } from '../harness/wallet-driver.ts';

const FAST_FAILURE = {
  sessions: {
    ack_wait_ms: 3000,
    round_timeout_ms: 2000,
    direct_send_timeout_ms: 500,
    direct_send_attempts: 2,
  },
  membership: { heartbeat_interval_ms: 250, peer_timeout_ms: 1000 },
};

/**
 * 3 signers; signer 0 coordinates every request, the others only participate and stall
 * (test-only fault injection) after round 0 of a signing session while `pauseFile` exists.
 */
function startStallingCluster(
  pauseFile: string,
  sessions: Record<string, unknown> = {},
): Promise<TestCluster> {
  return startTestCluster(inject('natsUrl'), {
    env: { MPC_ENABLE_FAULT_INJECTION: '1' },
    configFor: (nodeId) => ({
      ...FAST_FAILURE,
      sessions: { ...FAST_FAILURE.sessions, ...sessions },
      fault_injection: nodeId.endsWith('-0')
        ? { refuse_coordination: false }
        : {
            refuse_coordination: true,
            pause_at_round: 1,
            pause_role: 'participant',
            pause_file: pauseFile,
          },
    }),
  });
}

/** Waits (bounded) until one of `nodes` holds a stalled session, and returns it. */
async function stalledSigner(test: TestCluster, nodes: readonly string[]): Promise<string> {
  let stalled: string | undefined;
  await waitUntil(async () => {
    for (const node of nodes) {
      if ((await readiness(test, node))?.['pausedSessions'] === 1) stalled = node;
    }
    return stalled !== undefined;
  }, 'a participant to stall in the session');
  return stalled as string;
}

async function readiness(
  test: TestCluster,
  nodeId: string,
): Promise<Record<string, number> | undefined> {
  const response = await test.cluster.http(nodeId, '/readyz');
  return response === undefined ? undefined : (JSON.parse(response.body) as Record<string, number>);
}

async function activeSessions(test: TestCluster, nodeId: string): Promise<number> {
  return (await readiness(test, nodeId))?.['activeSessions'] ?? -1;
}

describe('failure path', () => {
  let nc: NatsConnection;
  let test: TestCluster | undefined;
  let driver: WalletDriver | undefined;
  const pauseDir = mkdtempSync(join(tmpdir(), 'mpc-pause-'));

  beforeAll(async () => {
    nc = await connect({ servers: inject('natsUrl') });
  });
  afterEach(async () => {
    driver?.stop();
    driver = undefined;
    await test?.stop();
    test = undefined;
  });
  afterAll(async () => {
    await nc.close();
    rmSync(pauseDir, { recursive: true, force: true });
  });

  it('a participant killed between rounds: one ERROR_PEER_UNAVAILABLE, no state left', async () => {
    const pauseFile = join(pauseDir, 'kill-participant');
    test = await startStallingCluster(pauseFile);
    const [coordinator, ...others] = test.cluster.nodeIds as [string, ...string[]];
    driver = await WalletDriver.create(nc, test.initiator);
    const { walletId } = await driver.createWallet();

    writeFileSync(pauseFile, '');
    const { txId } = await driver.requestSignature(walletId);
    const victim = await stalledSigner(test, others);
    await test.cluster.kill(victim);

    const result = await driver.waitForResult(txId);
    expect(result).toMatchObject({
      result_type: 'error',
      error_code: 'ERROR_PEER_UNAVAILABLE',
      signature: null,
    });
    expect(String(result['error_reason'])).toContain(victim);
    await waitUntil(
      async () => (await activeSessions(test!, coordinator)) === 0,
      'coordinator to drop the session',
    );
    for (const node of others.filter((n) => n !== victim))
      expect(await activeSessions(test, node)).toBe(0);
    expect(
      await test.cluster.metric(coordinator, 'mpc_sessions_total', {
        error_code: 'ERROR_PEER_UNAVAILABLE',
      }),
    ).toBe(1);
    expect(driver.resultsFor(txId)).toHaveLength(1);
  });

  it('quorum guard: with 2 of 3 down requests fail at once; after a restart they succeed', async () => {
    test = await startTestCluster(inject('natsUrl'), { configFor: () => FAST_FAILURE });
    const [survivor, second, third] = test.cluster.nodeIds as [string, string, string];
    driver = await WalletDriver.create(nc, test.initiator);
    const { walletId, publicKey } = await driver.createWallet();

    await test.cluster.kill(second);
    await test.cluster.kill(third);
    await waitUntil(
      async () => (await readiness(test!, survivor))?.['readySigners'] === 1,
      'survivor to see itself alone',
    );
    const rejected = await driver.requestSignature(walletId);
    const refusal = await driver.waitForResult(rejected.txId);
    expect(refusal).toMatchObject({ result_type: 'error', error_code: 'ERROR_PEER_UNAVAILABLE' });
    expect(String(refusal['error_reason'])).toContain('ready=1, required=2');
    expect(await test.cluster.metric(survivor, 'mpc_quorum_available')).toBe(0);

    await test.cluster.start(second);
    await waitUntil(
      async () => (await readiness(test!, survivor))?.['readySigners'] === 2,
      'quorum to return',
    );
    const accepted = await driver.requestSignature(walletId);
    const success = await driver.waitForResult(accepted.txId);
    expect(success['result_type']).toBe('success');
    expect(verifiesEd25519(publicKey, accepted.message, success['signature'] as string)).toBe(true);
  });

  it('a stalled (SIGSTOP) participant ends in ERROR_SESSION_TIMEOUT', async () => {
    const pauseFile = join(pauseDir, 'stall');
    test = await startStallingCluster(pauseFile);
    const others = test.cluster.nodeIds.slice(1);
    driver = await WalletDriver.create(nc, test.initiator);
    const { walletId } = await driver.createWallet();
    writeFileSync(pauseFile, '');
    const { txId } = await driver.requestSignature(walletId);
    const victim = await stalledSigner(test, others);
    await test.cluster.signal(victim, 'SIGSTOP');
    try {
      const result = await driver.waitForResult(txId);
      expect(result).toMatchObject({ result_type: 'error', error_code: 'ERROR_SESSION_TIMEOUT' });
      expect(driver.resultsFor(txId)).toHaveLength(1);
    } finally {
      await test.cluster.signal(victim, 'SIGCONT');
    }
  });

  it('the coordinator killed mid-session: the request still gets exactly one result', async () => {
    const pauseFile = join(pauseDir, 'kill-coordinator');
    test = await startTestCluster(inject('natsUrl'), {
      env: { MPC_ENABLE_FAULT_INJECTION: '1' },
      configFor: () => ({
        ...FAST_FAILURE,
        fault_injection: { pause_at_round: 1, pause_role: 'coordinator', pause_file: pauseFile },
      }),
    });
    driver = await WalletDriver.create(nc, test.initiator);
    const { walletId, publicKey } = await driver.createWallet();
    writeFileSync(pauseFile, '');
    const { txId, message } = await driver.requestSignature(walletId);
    let coordinator = '';
    await waitUntil(async () => {
      for (const node of test!.cluster.nodeIds) {
        if ((await readiness(test!, node))?.['coordinatingSessions'] === 1) coordinator = node;
      }
      return coordinator !== '';
    }, 'a coordinator to hold the session');
    rmSync(pauseFile);
    await test.cluster.kill(coordinator);

    const result = await driver.waitForResult(txId);
    expect(result['result_type']).toBe('success');
    expect(verifiesEd25519(publicKey, message, result['signature'] as string)).toBe(true);
    // Give a duplicate a chance to show up (bounded), then check there is none.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(driver.resultsFor(txId)).toHaveLength(1);
  });

  it('optional retry: a participant killed mid-session, the request succeeds with a fresh set', async () => {
    const pauseFile = join(pauseDir, 'retry');
    test = await startStallingCluster(pauseFile, { retry_with_fresh_signers: true });
    const others = test.cluster.nodeIds.slice(1);
    driver = await WalletDriver.create(nc, test.initiator);
    const { walletId, publicKey } = await driver.createWallet(90_000);
    writeFileSync(pauseFile, '');
    const { txId, message } = await driver.requestSignature(walletId);
    const victim = await stalledSigner(test, others);
    rmSync(pauseFile);
    await test.cluster.kill(victim);
    const result = await driver.waitForResult(txId);
    expect(result['result_type']).toBe('success');
    expect(verifiesEd25519(publicKey, message, result['signature'] as string)).toBe(true);
    expect(driver.resultsFor(txId)).toHaveLength(1);
  });

  it('100 concurrent requests while a signer is killed and restarted: one result each', async () => {
    test = await startTestCluster(inject('natsUrl'), { configFor: () => FAST_FAILURE });
    driver = await WalletDriver.create(nc, test.initiator);
    const { walletId, publicKey } = await driver.createWallet();
    const victim = test.cluster.nodeIds[2] as string;
    const requests: { txId: string; message: Uint8Array }[] = [];
    for (let index = 0; index < 100; index++) {
      requests.push(await driver.requestSignature(walletId));
      if (index === 30) await test.cluster.kill(victim);
      if (index === 70) await test.cluster.start(victim);
    }
    for (const request of requests) await driver.waitForResult(request.txId, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    let successes = 0;
    for (const request of requests) {
      const results = driver.resultsFor(request.txId);
      expect(results).toHaveLength(1);
      const [result] = results as [Record<string, unknown>];
      if (result['result_type'] === 'success') {
        successes += 1;
        expect(verifiesEd25519(publicKey, request.message, result['signature'] as string)).toBe(
          true,
        );
      } else {
        expect(
          ['ERROR_PEER_UNAVAILABLE', 'ERROR_SESSION_TIMEOUT'],
          JSON.stringify(result),
        ).toContain(result['error_code']);
      }
    }
    expect(successes).toBeGreaterThan(0);
  });
});
