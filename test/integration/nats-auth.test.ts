/**
 * NATS authorization (issue 12 item 4), against the suite's nats-server, which runs with the
 * per-role users of signer/local/nats-permissions.ts:
 * - a client (named user or anonymous) cannot publish on node-to-node subjects, results, KV
 *   or `$JS.EVENT.>`, nor subscribe to node-to-node traffic; a signer cannot publish client
 *   requests or advisories; a wrong password is refused;
 * - a client with only the client role sets up its streams and consumers like the Go client
 *   and gets a signature from signers that run with only the signer role;
 * - second line of defence: with a user that may publish advisories (admin), a forged
 *   max-deliveries advisory for an in-flight request and for an answered one produces no
 *   extra result (signers double-check consumer state and the ledger);
 * - a genuine max-deliveries advisory still becomes one ERROR_MAX_DELIVERY_ATTEMPTS result.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, PermissionViolationError, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  KeygenRequestTopic,
  SigningPublisherStream,
  SigningRequestConsumerName,
  SigningRequestTopic,
} from '../../signer/protocol/subjects.ts';
import {
  ensureRequestStreams,
  ensureResultConsumers,
  ensureResultStream,
} from '../../signer/transport/streams.ts';
import { signBody } from '../harness/raw-client.ts';
import {
  natsConnectOptions,
  startTestCluster,
  type TestCluster,
} from '../harness/signer-cluster.ts';
import { WalletDriver, verifiesEd25519, waitUntil } from '../harness/wallet-driver.ts';

interface Observed {
  readonly nc: NatsConnection;
  readonly violations: PermissionViolationError[];
}

async function connectObserved(options: { user?: string; pass?: string } = {}): Promise<Observed> {
  const nc = await connect({ servers: inject('natsUrl'), ...options });
  const violations: PermissionViolationError[] = [];
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'error' && status.error instanceof PermissionViolationError) {
        violations.push(status.error);
      }
    }
  })();
  return { nc, violations };
}

const FORGED_ADVISORY_SUBJECT = `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${SigningPublisherStream}.${SigningRequestConsumerName}`;

function advisory(seq: number): Uint8Array {
  return new TextEncoder().encode(
    JSON.stringify({
      type: 'io.nats.jetstream.advisory.v1.max_deliver',
      stream: SigningPublisherStream,
      consumer: SigningRequestConsumerName,
      stream_seq: seq,
      deliveries: 4,
    }),
  );
}

describe('NATS authorization', () => {
  let admin: NatsConnection;
  const opened: NatsConnection[] = [];

  beforeAll(async () => {
    admin = await connect({
      servers: inject('natsUrl'),
      ...natsConnectOptions(inject('natsCredentials').admin),
    });
  });

  afterAll(async () => {
    for (const nc of opened) await nc.close().catch(() => undefined);
    await admin?.close();
  });

  async function as(role: 'client' | 'signer' | 'anonymous'): Promise<Observed> {
    const observed =
      role === 'anonymous'
        ? await connectObserved()
        : await connectObserved(natsConnectOptions(inject('natsCredentials')[role]));
    opened.push(observed.nc);
    return observed;
  }

  /** Publishes on `subject` and expects the server to refuse it: nothing reaches a listener. */
  async function expectPublishDenied(observed: Observed, subject: string): Promise<void> {
    const listener = admin.subscribe(subject);
    await admin.flush();
    const before = observed.violations.length;
    observed.nc.publish(subject, new TextEncoder().encode('forged'));
    await observed.nc.flush();
    await waitUntil(
      () =>
        observed.violations
          .slice(before)
          .some((v) => v.operation === 'publish' && v.subject === subject),
      `a publish permission violation for ${subject}`,
    );
    await admin.flush();
    expect(listener.getReceived()).toBe(0);
    listener.unsubscribe();
  }

  async function expectPublishAllowed(observed: Observed, subject: string): Promise<void> {
    const listener = admin.subscribe(subject, { max: 1 });
    await admin.flush();
    observed.nc.publish(subject, new TextEncoder().encode('ok'));
    await observed.nc.flush();
    await waitUntil(() => listener.getReceived() === 1, `the publish on ${subject}`);
  }

  const SIGNER_SUBJECTS = [
    'mpcnode.signer-0.invite',
    'mpcnode.signer-0.session',
    'mpc.mpc_signing_result.complete',
    'mpc.mpc_keygen_result.wallet-1',
    '$KV.mpc_operations.op.x',
    '$KV.mpc_membership.hb.signer-0',
    FORGED_ADVISORY_SUBJECT,
    '$JS.EVENT.ADVISORY.API',
    // Pulling from the shared request durables would steal requests from the signers.
    '$JS.API.CONSUMER.MSG.NEXT.mpc-signing.mpc_signing_consumer',
    '$JS.API.CONSUMER.MSG.NEXT.mpc-keygen.mpc_keygen_consumer',
    '$JS.API.STREAM.DELETE.mpc',
    '$JS.API.STREAM.PURGE.mpc-signing',
  ];

  it('a client (named user) cannot publish on signer or server subjects', async () => {
    const client = await as('client');
    for (const subject of SIGNER_SUBJECTS) await expectPublishDenied(client, subject);
    // …but may publish requests.
    await expectPublishAllowed(client, 'mpc.signing_request.t1');
    await expectPublishAllowed(client, 'mpc:reshare');
  });

  it('an anonymous connection is a client and gets no more', async () => {
    const anonymous = await as('anonymous');
    for (const subject of SIGNER_SUBJECTS) await expectPublishDenied(anonymous, subject);
  });

  it('a client cannot listen to node-to-node traffic', async () => {
    const client = await as('client');
    client.nc.subscribe('mpcnode.>');
    await client.nc.flush();
    await waitUntil(
      () => client.violations.some((v) => v.operation === 'subscription'),
      'a subscription permission violation',
    );
  });

  it('a signer cannot publish client requests or advisories', async () => {
    const signer = await as('signer');
    for (const subject of [
      'mpc.signing_request.t1',
      SigningRequestTopic,
      'mpc.keygen_request.w1',
      KeygenRequestTopic,
      'mpc:reshare',
      FORGED_ADVISORY_SUBJECT,
    ]) {
      await expectPublishDenied(signer, subject);
    }
    await expectPublishAllowed(signer, 'mpcnode.signer-0.session');
  });

  it('a wrong password is refused', async () => {
    await expect(
      connect({
        servers: inject('natsUrl'),
        user: inject('natsCredentials').signer.user,
        pass: 'not-the-password',
        reconnect: false,
      }),
    ).rejects.toThrow();
  });

  describe('with signers that hold only the signer role', () => {
    let test: TestCluster;
    let client: Observed;
    let driver: WalletDriver;
    const pauseDir = mkdtempSync(join(tmpdir(), 'mpc-auth-pause-'));
    const pauseFile = join(pauseDir, 'pause');

    beforeAll(async () => {
      // signer-0 coordinates; the others only participate and stall in round 1 of a signing
      // session while `pauseFile` exists (test-only fault injection), with a long round
      // deadline so that a paused request stays in flight.
      test = await startTestCluster(inject('natsUrl'), {
        env: { MPC_ENABLE_FAULT_INJECTION: '1' },
        configFor: (nodeId) => ({
          sessions: { round_timeout_ms: 60_000, direct_send_timeout_ms: 2000 },
          membership: { heartbeat_interval_ms: 250, peer_timeout_ms: 1000 },
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
      client = await as('client');
      driver = await WalletDriver.create(client.nc, test.initiator);
    });

    afterAll(async () => {
      driver?.stop();
      await test?.stop();
      rmSync(pauseDir, { recursive: true, force: true });
    });

    it('a client with only the client role sets up streams like the Go client and signs', async () => {
      const jsm = await jetstreamManager(client.nc);
      const report = { warnings: [] as string[] };
      await ensureRequestStreams(jsm, report);
      await ensureResultStream(jsm, report);
      await ensureResultConsumers(jsm, 'svc-auth', report);
      expect(report.warnings).toEqual([]);
      for (const name of await jsm.consumers.list('mpc').next()) {
        if (name.name.endsWith('svc-auth')) await jsm.consumers.delete('mpc', name.name);
      }

      const { walletId, publicKey } = await driver.createWallet();
      const { txId, message } = await driver.requestSignature(walletId);
      const result = await driver.waitForResult(txId);
      expect(result['result_type']).toBe('success');
      expect(verifiesEd25519(publicKey, message, String(result['signature']))).toBe(true);
      expect(client.violations).toEqual([]);
      // No signer ran into a permission it lacks.
      for (const nodeId of test.cluster.nodeIds) {
        expect(readFileSync(test.cluster.logFile(nodeId), 'utf8')).not.toMatch(
          /Permissions Violation/i,
        );
      }
    });

    it('a forged advisory for an in-flight request, then for the answered one, adds no result', async () => {
      const adminDriver = await WalletDriver.create(admin, test.initiator);
      try {
        const { walletId } = await driver.createWallet();
        writeFileSync(pauseFile, '');
        const txId = randomUUID();
        const ack = await jetstream(client.nc).publish(
          `mpc.signing_request.${txId}`,
          signBody(test.initiator, {
            keyType: 'ed25519',
            walletId,
            networkInternalCode: 'n',
            txId,
            tx: new TextEncoder().encode(`message ${txId}`),
          }),
        );
        const participants = test.cluster.nodeIds.slice(1);
        let paused: string | undefined;
        await waitUntil(async () => {
          for (const node of participants) {
            const ready = await test.cluster.http(node, '/readyz');
            const details =
              ready === undefined ? {} : (JSON.parse(ready.body) as Record<string, unknown>);
            if (details['pausedSessions'] === 1) paused = node;
          }
          return paused !== undefined;
        }, 'a participant to stall');

        // The forge reaches the signers (admin may publish advisories): they must ignore it.
        admin.publish(FORGED_ADVISORY_SUBJECT, advisory(ack.seq));
        await admin.flush();
        // Either the signer logs that it ignored the forge, or (the defect) a result appears.
        await waitForLog(test, ['the request is in flight'], () => adminDriver.resultsFor(txId));
        expect(adminDriver.resultsFor(txId)).toHaveLength(0);

        // End the session: the coordinator answers once (the participant is gone).
        await test.cluster.kill(paused as string);
        const result = await driver.waitForResult(txId);
        expect(result['error_code']).toBe('ERROR_PEER_UNAVAILABLE');

        admin.publish(FORGED_ADVISORY_SUBJECT, advisory(ack.seq));
        await admin.flush();
        // The coordinator publishes, marks the ledger, then acks: the forge may land before the
        // ack moves the floor, and then the ledger's answer is the reason it is ignored.
        await waitForLog(
          test,
          ['already acknowledged', 'the request has a result', 'the operation has a result'],
          () => adminDriver.resultsFor(txId).slice(1),
        );
        // A sentinel request answered after the forge was handled bounds any late publish.
        rmSync(pauseFile, { force: true });
        const sentinel = await driver.requestSignature(walletId);
        await driver.waitForResult(sentinel.txId);
        expect(driver.resultsFor(txId)).toHaveLength(1);
        expect(adminDriver.resultsFor(txId)).toHaveLength(1);
        expect(
          adminDriver.signingResults.received.filter(
            (r) => r['error_code'] === 'ERROR_MAX_DELIVERY_ATTEMPTS',
          ),
        ).toEqual([]);
      } finally {
        rmSync(pauseFile, { force: true });
        adminDriver.stop();
      }
    });
  });
});

/**
 * Waits (bounded) until some signer logged an ignored advisory with one of `reasons`, or until
 * `unexpected()` returns results (then the caller's assertion reports them).
 */
async function waitForLog(
  test: TestCluster,
  reasons: readonly string[],
  unexpected: () => unknown[],
): Promise<void> {
  await waitUntil(
    () =>
      unexpected().length > 0 ||
      test.cluster.nodeIds.some((nodeId) => {
        try {
          return readFileSync(test.cluster.logFile(nodeId), 'utf8')
            .split('\n')
            .some(
              (line) =>
                line.includes('max-delivery advisory ignored') &&
                reasons.some((reason) => line.includes(reason)),
            );
        } catch {
          return false;
        }
      }),
    `a signer to log one of ${JSON.stringify(reasons)}`,
  );
}
