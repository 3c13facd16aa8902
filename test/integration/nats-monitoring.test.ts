/**
 * startNatsServer's opt-in monitoring endpoint (what the benchmarks read their
 * messages-per-signature figures from): off by default; when on, /varz counts the messages
 * clients publish, and the port survives restart().
 */
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { natsConnectOptions } from '../harness/signer-cluster.ts';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';

async function inMsgs(server: NatsServerHandle): Promise<number> {
  const response = await fetch(`${server.monitorUrl}/varz`, { signal: AbortSignal.timeout(5000) });
  return ((await response.json()) as { in_msgs: number }).in_msgs;
}

describe('nats-server monitoring', () => {
  const started: NatsServerHandle[] = [];
  afterEach(async () => {
    for (const server of started.splice(0)) await server.stop();
  });

  it('is off unless asked for', async () => {
    const server = await startNatsServer();
    started.push(server);
    expect(server.monitorUrl).toBeUndefined();
  });

  it('counts published messages in /varz and keeps its port across restart', async () => {
    const server = await startNatsServer({ monitoring: true });
    started.push(server);
    expect(server.monitorUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const before = await inMsgs(server);
    // Admin: the suite servers run with authorization, and the test publishes on a free subject.
    const nc = await connect({
      servers: server.url,
      ...natsConnectOptions(server.credentials!.admin),
    });
    try {
      for (let index = 0; index < 5; index++) nc.publish('monitoring.test', 'x');
      await nc.flush();
    } finally {
      await nc.close();
    }
    expect((await inMsgs(server)) - before).toBe(5);
    const url = server.monitorUrl;
    await server.kill();
    await server.restart();
    expect(server.monitorUrl).toBe(url);
    expect(await inMsgs(server)).toBe(0);
  });
});
