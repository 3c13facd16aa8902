/**
 * Hostile input (issue 12 item 2): a request that can never succeed is answered at once
 * where its client can see it, or terminated; it is never redelivered and never holds a
 * slot. A burst of malformed requests from one client does not keep another client's valid
 * request from being answered (the delay bound is measured by `hostile.flood_delay`, not
 * asserted here).
 *
 * Every malformed keygen request uses its own ClientID, so "exactly one result" is one result
 * on `mpc.mpc_keygen_result.<cid>._invalid` (the subject for an unreadable wallet id, README
 * failure semantics). Requests with an invalid ClientID header are terminated: each is
 * handled exactly once (the signers' `mpc_sessions_total{error_code="ERROR_MSG_VALIDATION"}`
 * grows by one per request, once nothing is in flight), and none produces a result.
 */
import { randomUUID } from 'node:crypto';
import { connect, headers, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  KeygenBrokerStream,
  KeygenRequestConsumerName,
  refreshPairRequestSubject,
  SigningPublisherStream,
  SigningRequestConsumerName,
  UnreadableIdToken,
} from '../../signer/protocol/subjects.ts';
import { keygenBody, RawClient, type ResultWatcher } from '../harness/raw-client.ts';
import {
  natsConnectOptions,
  startTestCluster,
  type TestCluster,
} from '../harness/signer-cluster.ts';
import { waitUntil } from '../harness/wallet-driver.ts';

const encoder = new TextEncoder();

/** Keygen bodies whose wallet id cannot be read, by case name. */
function unreadableKeygenBodies(): Record<string, Uint8Array> {
  const json = (value: unknown): Uint8Array => encoder.encode(JSON.stringify(value));
  return {
    truncated: encoder.encode('{"wallet_id": "w-trunc'),
    oversized: json({ wallet_id: 'w-big', padding: 'x'.repeat(70 * 1024) }),
    dot: json({ wallet_id: 'a.b', signature: 'AA==' }),
    star: json({ wallet_id: 'a*b', signature: 'AA==' }),
    gt: json({ wallet_id: 'a>b', signature: 'AA==' }),
    space: json({ wallet_id: 'a b', signature: 'AA==' }),
    long: json({ wallet_id: 'w'.repeat(300), signature: 'AA==' }),
    number: json({ wallet_id: 42, signature: 'AA==' }),
    empty: json({ signature: 'AA==' }),
    'not-an-object': encoder.encode('[1,2,3]'),
  };
}

describe('hostile input', () => {
  let test: TestCluster;
  let admin: NatsConnection;
  let nc: NatsConnection;
  let keygenResults: ResultWatcher;
  let signingResults: ResultWatcher;
  let reshareResults: ResultWatcher;

  beforeAll(async () => {
    // Generous transport bounds: this suite checks routing, not failure detection, and the
    // test machine is shared (a missed 250 ms ack would turn a keygen into an error).
    test = await startTestCluster(inject('natsUrl'), {
      configFor: () => ({ sessions: { direct_send_timeout_ms: 2000, keygen_timeout_ms: 120_000 } }),
    });
    admin = await connect({
      servers: inject('natsUrl'),
      ...natsConnectOptions(inject('natsCredentials').admin),
    });
    nc = await connect({ servers: inject('natsUrl') });
    const watcher = new RawClient(admin);
    keygenResults = watcher.watchResults('mpc.mpc_keygen_result.>');
    signingResults = watcher.watchResults('mpc.mpc_signing_result.>');
    reshareResults = watcher.watchResults('mpc.mpc_reshare_result.>');
  });

  afterAll(async () => {
    keygenResults?.stop();
    signingResults?.stop();
    reshareResults?.stop();
    await nc?.close();
    await admin?.close();
    await test?.stop();
  });

  function subjectOf(result: Record<string, unknown>): string {
    return (result as { __subject?: string }).__subject ?? '';
  }

  it('answers each unreadable keygen, signing, resharing and refresh request once, on a subject its client sees', async () => {
    const js = jetstream(nc);
    const run = randomUUID().slice(0, 8);
    const cases = Object.entries(unreadableKeygenBodies());
    for (const [name, body] of cases) {
      const h = headers();
      h.set('ClientID', `kg-${name}-${run}`);
      await js.publish(`mpc.keygen_request.${name}`, body, { headers: h });
    }
    // Signing: results do not depend on the tx id (one subject per scope).
    const signH = headers();
    signH.set('ClientID', `sg-${run}`);
    await js.publish('mpc.signing_request.x', encoder.encode('{"tx_id": "a.b", '), {
      headers: signH,
    });
    await js.publish(
      'mpc.signing_request.x',
      encoder.encode(JSON.stringify({ tx_id: 'a b', wallet_id: 'w', key_type: 'ed25519' })),
      { headers: signH },
    );
    // Resharing (core mpc:reshare, through the intake): an unreadable session id.
    const reshareH = headers();
    reshareH.set('ClientID', `rs-${run}`);
    nc.publish('mpc:reshare', encoder.encode(JSON.stringify({ session_id: 'a.b' })), {
      headers: reshareH,
    });

    // Pairwise refresh (our stream, the coordinating signer's own subject): the same rule.
    const refreshH = headers();
    refreshH.set('ClientID', `rp-${run}`);
    await js.publish(
      refreshPairRequestSubject(test.cluster.nodeIds[0] as string),
      encoder.encode(JSON.stringify({ session_id: 'a b', wallet_id: 'w' })),
      { headers: refreshH },
    );

    for (const [name] of cases) {
      const subject = `mpc.mpc_keygen_result.kg-${name}-${run}.${UnreadableIdToken}`;
      const result = await keygenResults.waitFor((r) => subjectOf(r) === subject);
      expect(result['result_type']).toBe('error');
      expect(['ERROR_MSG_VALIDATION', 'ERROR_UNMARSHAL_FAILURE']).toContain(result['error_code']);
    }
    // The raw id is echoed where it was a readable string, so the client can correlate.
    const dot = keygenResults.received.find(
      (r) => subjectOf(r) === `mpc.mpc_keygen_result.kg-dot-${run}.${UnreadableIdToken}`,
    );
    expect(dot?.['wallet_id']).toBe('a.b');

    await waitUntil(
      () =>
        signingResults.received.filter(
          (r) => subjectOf(r) === `mpc.mpc_signing_result.sg-${run}.complete`,
        ).length === 2,
      'both signing errors',
    );
    const reshare = await reshareResults.waitFor(
      (r) => subjectOf(r) === `mpc.mpc_reshare_result.rs-${run}.${UnreadableIdToken}`,
    );
    expect(reshare['result_type']).toBe('error');
    const refresh = await reshareResults.waitFor(
      (r) => subjectOf(r) === `mpc.mpc_reshare_result.rp-${run}.${UnreadableIdToken}`,
    );
    expect(refresh['result_type']).toBe('error');
    expect(refresh['wallet_id']).toBe('w');

    // Exactly once: a valid request sent after them is answered, and still no second result.
    const sentinel = `sentinel-${run}`;
    await new RawClient(nc, `ok-${run}`).publishKeygen(
      keygenBody(test.initiator, sentinel),
      sentinel,
    );
    await keygenResults.waitFor((r) => r['wallet_id'] === sentinel, 240_000);
    for (const [name] of cases) {
      const subject = `mpc.mpc_keygen_result.kg-${name}-${run}.${UnreadableIdToken}`;
      expect(keygenResults.received.filter((r) => subjectOf(r) === subject)).toHaveLength(1);
    }
    expect(
      signingResults.received.filter(
        (r) => subjectOf(r) === `mpc.mpc_signing_result.sg-${run}.complete`,
      ),
    ).toHaveLength(2);
    expect(
      reshareResults.received.filter((r) => subjectOf(r).startsWith(`mpc.mpc_reshare_result.rs-`)),
    ).toHaveLength(1);
    expect(
      reshareResults.received.filter((r) => subjectOf(r).startsWith(`mpc.mpc_reshare_result.rp-`)),
    ).toHaveLength(1);
  }, 300_000);

  it('terminates requests with an invalid ClientID at the first delivery, and serves another client', async () => {
    const js = jetstream(nc);
    const run = randomUUID().slice(0, 8);
    const rejected = async (): Promise<number> => {
      let total = 0;
      for (const nodeId of test.cluster.nodeIds) {
        total += await test.cluster.metric(nodeId, 'mpc_sessions_total', {
          error_code: 'ERROR_MSG_VALIDATION',
        });
      }
      return total;
    };
    const before = await rejected();
    const badIds = ['a b', 'tab\there', 'x.y', 'star*', 'gt>', 'c'.repeat(200)];
    const seqs: { stream: string; seq: number }[] = [];
    for (const clientId of badIds) {
      const h = headers();
      h.set('ClientID', clientId);
      const walletId = `bad-client-${run}-${seqs.length}`;
      const keygen = await js.publish(
        `mpc.keygen_request.${walletId}`,
        keygenBody(test.initiator, walletId),
        { headers: h },
      );
      seqs.push({ stream: KeygenBrokerStream, seq: keygen.seq });
      const signing = await js.publish(
        'mpc.signing_request.x',
        encoder.encode(JSON.stringify({ tx_id: `t-${run}`, wallet_id: walletId })),
        { headers: h },
      );
      seqs.push({ stream: SigningPublisherStream, seq: signing.seq });
    }
    // Another client's valid keygen still gets its result.
    const walletId = `good-${run}`;
    await new RawClient(nc, `good-${run}`).publishKeygen(
      keygenBody(test.initiator, walletId),
      walletId,
    );
    const good = await keygenResults.waitFor((r) => r['wallet_id'] === walletId, 240_000);
    expect([good['result_type'], good['error_code'], good['error_reason']]).toEqual([
      'success',
      '',
      '',
    ]);

    // Nothing reached any result subject for them, and nothing is left pending.
    expect(
      keygenResults.received.filter((r) => String(r['wallet_id']).startsWith(`bad-client-${run}`)),
    ).toEqual([]);
    expect(signingResults.received.filter((r) => r['tx_id'] === `t-${run}`)).toEqual([]);
    const jsm = await jetstreamManager(admin);
    for (const [stream, durable] of [
      [KeygenBrokerStream, KeygenRequestConsumerName],
      [SigningPublisherStream, SigningRequestConsumerName],
    ] as const) {
      await waitUntil(
        async () => (await jsm.consumers.info(stream, durable)).num_ack_pending === 0,
        `${durable} to hold nothing in flight`,
      );
    }
    // Each was handled once: terminated at its first delivery, never redelivered.
    await waitUntil(
      async () => (await rejected()) - before >= seqs.length,
      'every invalid-ClientID request to be handled',
    );
    expect((await rejected()) - before).toBe(seqs.length);
  }, 300_000);
});
