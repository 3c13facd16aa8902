/**
 * Signed heartbeats on the local membership backend (issue 11 item 6) against a real
 * nats-server: every signer may write the membership bucket, so a PUT under a peer's key
 * counts only when it carries a heartbeat signed by the key pinned for that peer with a larger
 * counter than before. Every wait is bounded.
 */
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { pino } from 'pino';
import { natsConnectOptions } from '../harness/signer-cluster.ts';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { signHeartbeat } from '../../signer/membership/heartbeat.ts';
import { MEMBERSHIP_BUCKET, NatsKvMembership } from '../../signer/membership/nats-kv-membership.ts';

const HEARTBEAT_MS = 100;
const TIMEOUT_MS = 600;
const prefix = `kvhb-${randomBytes(4).toString('hex')}`;
const nodes = [0, 1, 2].map((i) => `${prefix}-${i}`);
const [node0, node1, node2] = nodes as [string, string, string];
const keys = new Map(nodes.map((node) => [node, generateKeyPairSync('ed25519')]));
const raw = (node: string) =>
  new Uint8Array(keys.get(node)!.publicKey.export({ format: 'der', type: 'spki' }).subarray(-32));
const signWith = (node: string) => (message: Uint8Array) =>
  new Uint8Array(sign(null, message, keys.get(node)!.privateKey));

async function eventually(what: string, check: () => boolean, timeoutMs = 5000) {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    if (check()) return;
    await delay(20);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('NATS KV membership with signed heartbeats', () => {
  const connections: NatsConnection[] = [];
  const members: NatsKvMembership[] = [];
  const member = async (self: string) => {
    const nc = await connect({
      servers: inject('natsUrl'),
      ...natsConnectOptions(inject('natsCredentials').signer),
    });
    connections.push(nc);
    const membership = new NatsKvMembership({
      nc,
      selfNodeId: self,
      nodes,
      heartbeatIntervalMs: HEARTBEAT_MS,
      peerTimeoutMs: TIMEOUT_MS,
      log: pino({ level: 'silent' }),
      heartbeat: {
        cluster: 'local',
        publicKey: raw(self),
        sign: signWith(self),
        pinnedKey: (node) => (keys.has(node) ? raw(node) : undefined),
      },
    });
    members.push(membership);
    await membership.start();
    return membership;
  };

  afterAll(async () => {
    for (const membership of members) await membership.stop();
    for (const nc of connections) await nc.close();
  });

  it('another writer of the bucket cannot keep a stopped peer alive', async () => {
    const a = await member(node0);
    const b = await member(node1);
    await eventually('a sees b', () => a.isReady(node1));

    // node2 is compromised and may write the bucket: it records node1's genuine value...
    const nc = await connect({
      servers: inject('natsUrl'),
      ...natsConnectOptions(inject('natsCredentials').signer),
    });
    connections.push(nc);
    const kv = await new Kvm(nc).open(MEMBERSHIP_BUCKET);
    const genuine = (await kv.get(`hb.${node1}`))?.string();
    expect(genuine).toMatch(/"hb":"\d+\.[0-9a-f]{128}"/);
    await b.stop();
    await eventually('b departed', () => !a.isReady(node1));

    // ...and keeps "renewing" it: replayed, unsigned, and signed with its own key.
    let counter = Date.now() + 1_000_000;
    const forged = () =>
      JSON.stringify({
        node: node1,
        seq: (counter += 1),
        hb: signHeartbeat(
          {
            cluster: 'local',
            nodeId: node1,
            holderIdentity: node1,
            publicKey: Buffer.from(raw(node1)).toString('hex'),
            counter,
          },
          signWith(node2),
        ),
      });
    const writes = [
      () => genuine as string,
      () => JSON.stringify({ node: node1, seq: (counter += 1) }),
      forged,
    ];
    const until = performance.now() + TIMEOUT_MS * 3;
    let written = 0;
    while (performance.now() < until) {
      await kv.put(`hb.${node1}`, writes[written % writes.length]!());
      written += 1;
      await delay(HEARTBEAT_MS / 2);
      expect(a.isReady(node1)).toBe(false);
    }
    expect(written).toBeGreaterThan(10);

    // Control: the same write, signed with node1's own key, counts.
    counter += 1;
    await kv.put(
      `hb.${node1}`,
      JSON.stringify({
        node: node1,
        seq: counter,
        hb: signHeartbeat(
          {
            cluster: 'local',
            nodeId: node1,
            holderIdentity: node1,
            publicKey: Buffer.from(raw(node1)).toString('hex'),
            counter,
          },
          signWith(node1),
        ),
      }),
    );
    await eventually('a counts a genuinely signed heartbeat', () => a.isReady(node1));
  });
});
