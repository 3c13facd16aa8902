import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { describe, expect, inject, it } from 'vitest';
import { natsConnectOptions } from '../harness/signer-cluster.ts';

describe('nats harness', () => {
  it('serves core NATS and JetStream on the injected URL', async () => {
    // The suite's server runs with authorization: the admin user may use any subject.
    const nc = await connect({
      servers: inject('natsUrl'),
      ...natsConnectOptions(inject('natsCredentials').admin),
    });
    try {
      const jsm = await jetstreamManager(nc);
      const info = await jsm.getAccountInfo();
      expect(info.limits).toBeDefined();
      const sub = nc.subscribe('harness.echo', { max: 1 });
      const received = (async () => {
        for await (const msg of sub) return msg.string();
        return undefined;
      })();
      nc.publish('harness.echo', 'hello');
      expect(await received).toBe('hello');
    } finally {
      await nc.close();
    }
  });
});
