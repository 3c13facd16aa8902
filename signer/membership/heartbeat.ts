/**
 * Signed heartbeats (issue 11 item 6): liveness that only the peer itself can produce. Every
 * signer shares one ServiceAccount, whose Role may update every signer's Lease (and every
 * signer may write the NATS KV membership bucket), so a renewal proves nothing about who made
 * it. Each heartbeat therefore carries a counter and an Ed25519 signature by the signer's
 * identity key; readers count a heartbeat only when it verifies under the key they pinned for
 * that node and its counter is larger than any they accepted from that node before. Another
 * signer can rewrite or replay a peer's Lease, but cannot make a dead peer look alive: at most
 * it makes itself look alive.
 *
 * Signed bytes: the ASCII domain `mpc-platform.dev/heartbeat/v1`, then the cluster name, node
 * id, holder identity (Kubernetes: pod name + uid; NATS KV: the node id), the signer's public
 * key (64 hex) and the counter (decimal), each as a 4-byte big-endian length and UTF-8 bytes.
 * Wire form: `<counter>.<signature as 128 hex>` (Lease annotation `mpc-platform.dev/heartbeat`;
 * field `hb` of the NATS KV value).
 *
 * The counter is the writer's wall clock in milliseconds, forced to grow by at least one per
 * heartbeat (`HeartbeatCounter`), so it keeps growing across restarts without state; readers
 * never compare it with their own clock, only with the previous counter. A writer whose clock
 * steps back across a restart is not live to a reader until its clock passes the last counter
 * that reader accepted (a Lease writer resumes from the counter on its own Lease to avoid this).
 *
 * Because the signature is made by the presented key, a valid heartbeat also proves that the
 * writer holds the identity key its Lease presents (proof of possession for the first pin).
 */
import { verify } from 'node:crypto';
import { ed25519PublicKeyObject } from '../identity/repin.ts';

export const HEARTBEAT_ANNOTATION = 'mpc-platform.dev/heartbeat';
export const HEARTBEAT_DOMAIN = 'mpc-platform.dev/heartbeat/v1';

export interface HeartbeatFields {
  readonly cluster: string;
  readonly nodeId: string;
  readonly holderIdentity: string;
  /** 64 lowercase hex characters. */
  readonly publicKey: string;
  readonly counter: number;
}

export function heartbeatSigningBytes(fields: HeartbeatFields): Uint8Array {
  const parts: Buffer[] = [];
  for (const field of [
    HEARTBEAT_DOMAIN,
    fields.cluster,
    fields.nodeId,
    fields.holderIdentity,
    fields.publicKey,
    String(fields.counter),
  ]) {
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** The wire form of a heartbeat signed by `sign` (the node identity's). */
export function signHeartbeat(
  fields: HeartbeatFields,
  sign: (message: Uint8Array) => Uint8Array,
): string {
  const signature = sign(heartbeatSigningBytes(fields));
  return `${fields.counter}.${Buffer.from(signature).toString('hex')}`;
}

const WIRE = /^(\d{1,16})\.([0-9a-f]{128})$/;

/**
 * The counter of `value` when it is a heartbeat signed by `publicKey` (64 hex) for the given
 * cluster, node and holder; undefined otherwise (absent, malformed, forged, another node's).
 */
export function verifyHeartbeat(
  value: string | undefined,
  expected: Omit<HeartbeatFields, 'counter'>,
): number | undefined {
  if (value === undefined) return undefined;
  const match = WIRE.exec(value);
  if (match === null || !/^[0-9a-f]{64}$/.test(expected.publicKey)) return undefined;
  const counter = Number(match[1]);
  if (!Number.isSafeInteger(counter)) return undefined;
  try {
    const valid = verify(
      null,
      heartbeatSigningBytes({ ...expected, counter }),
      ed25519PublicKeyObject(Buffer.from(expected.publicKey, 'hex')),
      Buffer.from(match[2] as string, 'hex'),
    );
    return valid ? counter : undefined;
  } catch {
    return undefined;
  }
}

/** The writer's counter: wall-clock milliseconds, strictly increasing. */
export class HeartbeatCounter {
  private last = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  /** Never hand out a counter at or below `value` (e.g. the last one on our own Lease). */
  resumeAfter(value: number): void {
    if (value > this.last) this.last = value;
  }

  next(): number {
    this.last = Math.max(this.last + 1, Math.floor(this.clock()));
    return this.last;
  }
}

/**
 * Reader-side memory: the largest counter accepted per node. `accept` is true only for a
 * counter above it (a replayed or re-written old heartbeat is not a renewal).
 */
export class HeartbeatLedger {
  private readonly counters = new Map<string, number>();

  accept(nodeId: string, counter: number): boolean {
    const previous = this.counters.get(nodeId);
    if (previous !== undefined && counter <= previous) return false;
    this.counters.set(nodeId, counter);
    return true;
  }

  /** Records `counter` as seen without it counting as a renewal (a LIST baseline). */
  baseline(nodeId: string, counter: number): void {
    const previous = this.counters.get(nodeId);
    if (previous === undefined || counter > previous) this.counters.set(nodeId, counter);
  }

  has(nodeId: string): boolean {
    return this.counters.has(nodeId);
  }
}
