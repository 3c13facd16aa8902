/**
 * ensureMpcStreams against a real nats-server (a private one per test, so stream state is not
 * shared with other suites): exact Go shapes, idempotence under concurrent signers, a Go
 * client's later CreateOrUpdate, and streams/consumers pre-created by the mpcium TS client.
 */
import {
  AckPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';
import { natsConnectOptions } from '../harness/signer-cluster.ts';
import {
  ensureMpcStreams,
  ensureResultConsumers,
  type RequestConsumerOptions,
} from '../../signer/transport/streams.ts';

const options: RequestConsumerOptions = {
  ackWaitMs: 45_000,
  maxDeliver: 4,
  maxAckPendingKeygen: 2,
  maxAckPendingSigning: 20,
};
const NANOS_PER_MS = 1_000_000;

let server: NatsServerHandle;
let nc: NatsConnection;
let jsm: JetStreamManager;

beforeEach(async () => {
  server = await startNatsServer();
  // These suites check stream shapes and routing, acting as signer and client at once:
  // they use the admin user (nats-auth.test.ts checks the per-role permissions).
  nc = await connect({ servers: server.url, ...natsConnectOptions(server.credentials!.admin) });
  jsm = await jetstreamManager(nc);
});

afterEach(async () => {
  await nc.close();
  await server.stop();
});

/** Sends a raw JetStream API request as the Go client would and returns the parsed reply. */
async function apiRequest(subject: string, body: unknown): Promise<{ error?: { code: number } }> {
  const reply = await nc.request(subject, JSON.stringify(body), { timeout: 5000 });
  return reply.json();
}

describe('ensureMpcStreams on an empty server', () => {
  it('creates every stream and durable in the Go shape', async () => {
    const report = await ensureMpcStreams(jsm, options);
    expect(report.warnings).toEqual([]);

    for (const [name, subject] of [
      ['mpc-keygen', 'mpc.keygen_request.*'],
      ['mpc-signing', 'mpc.signing_request.*'],
    ] as const) {
      const { config } = await jsm.streams.info(name);
      expect(config.subjects).toEqual([subject]);
      expect(config.retention).toBe(RetentionPolicy.Limits);
      expect(config.storage).toBe(StorageType.File);
      expect(config.max_age).toBe(7 * 24 * 3600 * 1000 * NANOS_PER_MS);
      expect(config.max_bytes).toBe(100_000_000);
      expect(config.description).toBe(`Stream for ${name}`);
    }
    const mpc = (await jsm.streams.info('mpc')).config;
    expect(mpc.subjects).toEqual([
      'mpc.mpc_keygen_result.>',
      'mpc.mpc_signing_result.>',
      'mpc.mpc_reshare_result.>',
    ]);
    expect(mpc.retention).toBe(RetentionPolicy.Workqueue);
    expect(mpc.max_bytes).toBe(100_000_000);
    expect(mpc.max_age).toBe(0);

    const legacy = {
      mpc_keygen_result: 'mpc.mpc_keygen_result.*',
      mpc_signing_result: 'mpc.mpc_signing_result.complete',
      mpc_reshare_result: 'mpc.mpc_reshare_result.*',
    };
    for (const [durable, filter] of Object.entries(legacy)) {
      const { config } = await jsm.consumers.info('mpc', durable);
      expect(config.filter_subject).toBe(filter);
      expect(config.ack_policy).toBe(AckPolicy.Explicit);
      expect(config.ack_wait).toBe(30_000 * NANOS_PER_MS);
      expect(config.max_deliver).toBe(3);
      expect(config.max_ack_pending).toBe(1000);
    }
    const keygenConsumer = (await jsm.consumers.info('mpc-keygen', 'mpc_keygen_consumer')).config;
    expect(keygenConsumer.filter_subject).toBe('mpc.keygen_request.*');
    expect(keygenConsumer.max_ack_pending).toBe(2);
    expect(keygenConsumer.max_deliver).toBe(4);
    expect(keygenConsumer.ack_wait).toBe(45_000 * NANOS_PER_MS);
    const signingConsumer = (await jsm.consumers.info('mpc-signing', 'mpc_signing_consumer'))
      .config;
    expect(signingConsumer.max_ack_pending).toBe(20);
  });

  it('is idempotent, also when several signers start at once, and applies new limits', async () => {
    await Promise.all([1, 2, 3].map(() => ensureMpcStreams(jsm, options)));
    const again = await ensureMpcStreams(jsm, { ...options, maxAckPendingSigning: 7 });
    expect(again.warnings).toEqual([]);
    expect(
      (await jsm.consumers.info('mpc-signing', 'mpc_signing_consumer')).config.max_ack_pending,
    ).toBe(7);
    const names: string[] = [];
    for await (const name of jsm.streams.names()) names.push(name);
    expect(names.sort()).toEqual([
      'mpc',
      'mpc-keygen',
      'mpc-refresh-pair',
      'mpc-reshare',
      'mpc-signing',
    ]);
  });

  it("accepts a Go client's later CreateOrUpdateStream and result consumer update", async () => {
    await ensureMpcStreams(jsm, options);
    for (const [name, subject] of [
      ['mpc-keygen', 'mpc.keygen_request.*'],
      ['mpc-signing', 'mpc.signing_request.*'],
    ] as const) {
      // Zero values as nats.go sends them for the fields mpcium leaves unset.
      const response = await apiRequest(`$JS.API.STREAM.UPDATE.${name}`, {
        name,
        description: `Stream for ${name}`,
        subjects: [subject],
        retention: 'limits',
        max_consumers: 0,
        max_msgs: 0,
        max_bytes: 100_000_000,
        discard: 'old',
        max_age: 7 * 24 * 3600 * 1000 * NANOS_PER_MS,
        max_msgs_per_subject: 0,
        max_msg_size: 0,
        storage: 'file',
        num_replicas: 0,
      });
      expect(response.error).toBeUndefined();
    }
    const mpcResponse = await apiRequest('$JS.API.STREAM.UPDATE.mpc', {
      name: 'mpc',
      description: 'Stream for mpc',
      subjects: ['mpc.mpc_keygen_result.>', 'mpc.mpc_signing_result.>', 'mpc.mpc_reshare_result.>'],
      retention: 'workqueue',
      max_consumers: 0,
      max_msgs: 0,
      max_bytes: 100_000_000,
      discard: 'old',
      max_age: 0,
      storage: 'file',
      num_replicas: 0,
    });
    expect(mpcResponse.error).toBeUndefined();
    const consumerResponse = await apiRequest(
      '$JS.API.CONSUMER.DURABLE.CREATE.mpc.mpc_signing_result',
      {
        stream_name: 'mpc',
        config: {
          durable_name: 'mpc_signing_result',
          ack_policy: 'explicit',
          ack_wait: 30_000 * NANOS_PER_MS,
          max_deliver: 3,
          max_ack_pending: 1000,
          deliver_policy: 'all',
          replay_policy: 'instant',
          filter_subject: 'mpc.mpc_signing_result.complete',
        },
      },
    );
    expect(consumerResponse.error).toBeUndefined();
    expect((await ensureMpcStreams(jsm, options)).warnings).toEqual([]);
  });
  it('captures Go-client publishes to the literal wildcard subjects', async () => {
    await ensureMpcStreams(jsm, options);
    const js = jetstream(nc);
    // pkg/client publishes to "mpc.signing_request.*" itself (contract §1.2, gap 7).
    const ack = await js.publish('mpc.signing_request.*', '{"tx_id":"go-1"}');
    expect(ack.stream).toBe('mpc-signing');
    const consumer = await js.consumers.get('mpc-signing', 'mpc_signing_consumer');
    const message = await consumer.next({ expires: 5000 });
    expect(message?.subject).toBe('mpc.signing_request.*');
    expect(message?.json()).toEqual({ tx_id: 'go-1' });
    message?.ack();
  });
});

describe('streams pre-created by the mpcium TS client', () => {
  it('keeps working with WorkQueue request streams and an Interest result stream', async () => {
    // ts:src/client.ts ensureStreamsExist / onWalletCreationResult shapes.
    for (const [name, subject] of [
      ['mpc-keygen', 'mpc.keygen_request.*'],
      ['mpc-signing', 'mpc.signing_request.*'],
    ] as const) {
      await jsm.streams.add({
        name,
        subjects: [subject],
        retention: RetentionPolicy.Workqueue,
        max_bytes: 100 * 1024 * 1024,
      });
    }
    await jsm.streams.add({
      name: 'mpc',
      subjects: ['mpc.mpc_keygen_result.*'],
      retention: RetentionPolicy.Interest,
      max_bytes: 100 * 1024 * 1024,
    });
    await jsm.consumers.add('mpc', {
      durable_name: 'mpc_keygen_result',
      ack_policy: AckPolicy.Explicit,
      max_deliver: 3,
      filter_subject: 'mpc.mpc_keygen_result.*',
    });

    const report = await ensureMpcStreams(jsm, options);
    expect(report.warnings.filter((w) => w.includes('retention'))).toHaveLength(3);
    expect(report.warnings.join('\n')).toContain('stream mpc-keygen exists with retention');
    expect((await jsm.streams.info('mpc-keygen')).config.retention).toBe(RetentionPolicy.Workqueue);
    // The result stream now carries all three result subjects.
    expect((await jsm.streams.info('mpc')).config.subjects?.sort()).toEqual([
      'mpc.mpc_keygen_result.>',
      'mpc.mpc_reshare_result.>',
      'mpc.mpc_signing_result.>',
    ]);
    expect((await jsm.consumers.info('mpc', 'mpc_signing_result')).config.filter_subject).toBe(
      'mpc.mpc_signing_result.complete',
    );

    // A TS-client-style request still reaches the shared durable and can be acked.
    const js = jetstream(nc);
    await js.publish('mpc.keygen_request.undefined', '{"wallet_id":"w1","signature":"AA=="}');
    const consumer = await js.consumers.get('mpc-keygen', 'mpc_keygen_consumer');
    const message = await consumer.next({ expires: 5000 });
    expect(message?.json()).toEqual({ wallet_id: 'w1', signature: 'AA==' });
    await message?.ackAck();
    expect((await jsm.streams.info('mpc-keygen')).state.messages).toBe(0);

    // A second run reports the same shapes and changes nothing else.
    const second = await ensureMpcStreams(jsm, options);
    expect(second.warnings.filter((w) => w.includes('retention'))).toHaveLength(3);
  });

  it('brings a TS-created legacy signing consumer to the Go filter', async () => {
    await jsm.streams.add({
      name: 'mpc',
      subjects: ['mpc.mpc_keygen_result.>', 'mpc.mpc_signing_result.>', 'mpc.mpc_reshare_result.>'],
      retention: RetentionPolicy.Workqueue,
    });
    await jsm.consumers.add('mpc', {
      durable_name: 'mpc_signing_result',
      ack_policy: AckPolicy.Explicit,
      max_deliver: 3,
      filter_subject: 'mpc.mpc_signing_result.*',
    });
    const report = await ensureMpcStreams(jsm, options);
    const info = await jsm.consumers.info('mpc', 'mpc_signing_result');
    // Either the server accepted the filter change or we were told why not.
    if (info.config.filter_subject !== 'mpc.mpc_signing_result.complete') {
      expect(report.warnings.join('\n')).toContain('consumer mpc/mpc_signing_result');
    } else {
      expect(info.config.max_ack_pending).toBe(1000);
    }
  });

  it('creates scoped result consumers beside the legacy ones on a WorkQueue stream', async () => {
    await ensureMpcStreams(jsm, options);
    const report = await ensureResultConsumers(jsm, 'svc-a');
    expect(report.warnings).toEqual([]);
    expect(
      (await jsm.consumers.info('mpc', 'mpc_signing_result_svc_a')).config.filter_subject,
    ).toBe('mpc.mpc_signing_result.svc-a.complete');
  });
});
