/**
 * The operation ledger (exactly one result per operation) against a real nats-server: the
 * write-ahead answer replayed to a redelivery of the same request message, a client re-send
 * answered with the stored success, errors replayed to their own message only, take-overs
 * arbitrated by compare-and-set, a write whose reply was lost, and entries of the previous
 * format.
 */
import { randomUUID } from 'node:crypto';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Kvm } from '@nats-io/kv';
import { natsConnectOptions } from '../harness/signer-cluster.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import {
  LEDGER_BUCKET,
  OperationLedger,
  operationKey,
  type ClaimOutcome,
  type LedgerClaim,
} from '../../signer/service/operation-ledger.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const live = (): boolean => true;

function claimed(outcome: ClaimOutcome): LedgerClaim {
  if (outcome.kind !== 'claimed') throw new Error(`expected a claim, got ${outcome.kind}`);
  return outcome.claim;
}

describe('operation ledger', () => {
  let nc: NatsConnection;
  let ledger: OperationLedger;

  beforeAll(async () => {
    // The ledger is the signers' bucket: connect with the signer role.
    nc = await connect({
      servers: inject('natsUrl'),
      ...natsConnectOptions(inject('natsCredentials').signer),
    });
    ledger = await OperationLedger.open(nc, { writeBudgetMs: 2000 });
  });

  afterAll(async () => {
    await nc?.close();
  });

  const newKey = (): string => operationKey('sign', 'client', randomUUID());

  it('stores the bucket on file', async () => {
    const status = await (await new Kvm(nc).open(LEDGER_BUCKET)).status();
    expect(status.storage).toBe('file');
  });

  it('replays the recorded answer to a redelivery of the same message, never a new claim', async () => {
    const key = newKey();
    const claim = claimed(await ledger.claim(key, 'a', 'a1', 'digest', 7, live));
    const recorded = await ledger.record(claim, {
      subject: 'mpc.mpc_signing_result.complete',
      messageId: 'mpc.mpc_signing_result.tx:7',
      body: bytes('first signature'),
      success: true,
    });
    expect(recorded.kind).toBe('recorded');

    // Another signer, even one whose liveness check says the first is gone.
    const redelivered = await ledger.claim(key, 'b', 'b1', 'digest', 7, () => false);
    expect(redelivered.kind).toBe('answered');
    if (redelivered.kind !== 'answered') return;
    expect(redelivered.answer.messageId).toBe('mpc.mpc_signing_result.tx:7');
    expect(Buffer.from(redelivered.answer.body).toString()).toBe('first signature');
    expect(redelivered.answer.published).toBe(false);

    await ledger.markPublished(key, 7);
    const again = await ledger.claim(key, 'c', 'c1', 'digest', 7, live);
    expect(again.kind === 'answered' && again.answer.published).toBe(true);
  });

  it('names the recording node and process in an answer, and tells a waiter when it is marked published', async () => {
    const key = newKey();
    const claim = claimed(await ledger.claim(key, 'node-a', 'a1', 'digest', 9, live));
    await ledger.record(claim, {
      subject: 's',
      messageId: 'id:9',
      body: bytes('x'),
      success: true,
    });
    const redelivered = await ledger.claim(key, 'node-b', 'b1', 'digest', 9, live);
    expect(redelivered.kind === 'answered' && redelivered.answer.instance).toBe('a1');
    expect(redelivered.kind === 'answered' && redelivered.answer.node).toBe('node-a');

    // Not marked: the wait ends at its bound, or before it when told to stop waiting.
    expect(await ledger.waitForPublished(key, 9, 300, { pollMs: 50 })).toBe('timeout');
    expect(await ledger.waitForPublished(key, 9, 60_000, { keepWaiting: async () => false })).toBe(
      'timeout',
    );
    const waiting = ledger.waitForPublished(key, 9, 10_000, { pollMs: 50 });
    await ledger.markPublished(key, 9);
    expect(await waiting).toBe('published');
    // No answer for that message (or no entry at all): nothing to wait for.
    expect(await ledger.waitForPublished(key, 10, 10_000)).toBe('gone');
    expect(await ledger.waitForPublished(newKey(), 9, 10_000)).toBe('gone');
  });

  it('marks a publication from the entry record wrote, and never writes over a newer entry with it', async () => {
    const key = newKey();
    const answer = (seq: number) => ({
      subject: 's',
      messageId: `id:${seq}`,
      body: bytes(`error ${seq}`),
      success: false,
    });
    // Fresh: the entry record wrote is still current.
    const first = claimed(await ledger.claim(key, 'node-a', 'a1', 'digest', 7, live));
    const recorded = await ledger.record(first, answer(7));
    if (recorded.kind !== 'recorded') throw new Error(`expected recorded, got ${recorded.kind}`);
    await ledger.markPublished(key, 7, recorded);
    const seven = await ledger.claim(key, 'node-c', 'c1', 'digest', 7, live);
    expect(seven.kind === 'answered' && seven.answer.published).toBe(true);

    // Stale: another answer landed after the record (a max-deliveries advisory for message 8).
    const other = claimed(await ledger.claim(newKey(), 'node-a', 'a1', 'digest', 9, live));
    const key2 = other.key;
    const recorded9 = await ledger.record(other, answer(9));
    if (recorded9.kind !== 'recorded') throw new Error(`expected recorded, got ${recorded9.kind}`);
    expect((await ledger.recordUnclaimed(key2, 8, answer(8), live)).kind).toBe('recorded');
    await ledger.markPublished(key2, 9, recorded9);
    const nine = await ledger.claim(key2, 'node-c', 'c1', 'digest', 9, live);
    expect(nine.kind === 'answered' && nine.answer.published).toBe(true);
    const eight = await ledger.claim(key2, 'node-c', 'c1', 'digest', 8, live);
    expect(eight.kind === 'answered' && eight.answer.messageId).toBe('id:8');
    expect(eight.kind === 'answered' && eight.answer.published).toBe(false);
  });

  it('keeps the process each node registered last', async () => {
    const node = `node-${randomUUID()}`;
    expect(await ledger.currentInstance(node)).toBeUndefined();
    await ledger.registerInstance(node, 'first');
    await ledger.registerInstance(node, 'second');
    expect(await ledger.currentInstance(node)).toBe('second');
  });

  it('answers a re-send (another message) with the stored success, recorded as its own answer', async () => {
    const key = newKey();
    const claim = claimed(await ledger.claim(key, 'a', 'a1', 'digest', 1, live));
    await ledger.record(claim, {
      subject: 's',
      messageId: 'id:1',
      body: bytes('the signature'),
      success: true,
    });
    const resend = await ledger.claim(key, 'b', 'b1', 'digest', 2, live);
    expect(resend.kind).toBe('done');
    if (resend.kind !== 'done') return;
    expect(Buffer.from(resend.result).toString()).toBe('the signature');
    const replayed = await ledger.record(resend.claim, {
      subject: resend.subject,
      messageId: 'id:2',
      body: resend.result,
      success: true,
    });
    expect(replayed.kind).toBe('recorded');
    const redelivered = await ledger.claim(key, 'c', 'c1', 'digest', 2, live);
    expect(redelivered.kind === 'answered' && redelivered.answer.messageId).toBe('id:2');
    const original = await ledger.claim(key, 'c', 'c1', 'digest', 1, live);
    expect(original.kind === 'answered' && original.answer.messageId).toBe('id:1');
  });

  it('replays an error only to its own message; a re-send runs again and the error stays', async () => {
    const key = newKey();
    const first = claimed(await ledger.claim(key, 'a', 'a1', 'digest', 10, live));
    await ledger.record(first, {
      subject: 's',
      messageId: 'id:10',
      body: bytes('ERROR_PEER_UNAVAILABLE'),
      success: false,
    });
    const redelivered = await ledger.claim(key, 'b', 'b1', 'digest', 10, live);
    expect(redelivered.kind === 'answered' && redelivered.answer.success).toBe(false);

    const resend = claimed(await ledger.claim(key, 'b', 'b1', 'digest', 11, live));
    // While the re-send runs, a late redelivery of the first message still gets its error.
    const late = await ledger.claim(key, 'c', 'c1', 'digest', 10, live);
    expect(late.kind === 'answered' && late.answer.messageId).toBe('id:10');
    await ledger.record(resend, {
      subject: 's',
      messageId: 'id:11',
      body: bytes('ok'),
      success: true,
    });
    const after = await ledger.claim(key, 'c', 'c1', 'digest', 10, live);
    expect(after.kind === 'answered' && after.answer.messageId).toBe('id:10');
  });

  it('lets a live running claim of another message stand; takes over a redelivery, a dead node, a restarted process', async () => {
    const key = newKey();
    claimed(await ledger.claim(key, 'a', 'a1', 'digest', 1, live));
    expect((await ledger.claim(key, 'b', 'b1', 'digest', 2, live)).kind).toBe('running');
    expect((await ledger.claim(key, 'b', 'b1', 'digest', 1, live)).kind).toBe('claimed');
    expect((await ledger.claim(key, 'c', 'c1', 'digest', 2, (node) => node !== 'b')).kind).toBe(
      'claimed',
    );
    expect((await ledger.claim(key, 'c', 'c2', 'digest', 3, live)).kind).toBe('claimed');
    expect((await ledger.claim(key, 'x', 'x1', 'other digest', 4, live)).kind).toBe('conflict');
  });

  it('arbitrates two coordinators of one message: the second answer replays the first', async () => {
    const key = newKey();
    const stalled = claimed(await ledger.claim(key, 'a', 'a1', 'digest', 5, live));
    const takeover = claimed(await ledger.claim(key, 'b', 'b1', 'digest', 5, live));
    // The stalled coordinator wakes up while the other still runs: its result is not taken.
    const early = await ledger.record(stalled, {
      subject: 's',
      messageId: 'id:5',
      body: bytes('signature A'),
      success: true,
    });
    expect(early.kind).toBe('lost');
    expect(
      (
        await ledger.record(takeover, {
          subject: 's',
          messageId: 'id:5',
          body: bytes('signature B'),
          success: true,
        })
      ).kind,
    ).toBe('recorded');
    // Woken after the take-over finished: it replays B, never publishes A.
    const late = await ledger.record(stalled, {
      subject: 's',
      messageId: 'id:5',
      body: bytes('signature A'),
      success: true,
    });
    expect(late.kind).toBe('superseded');
    if (late.kind === 'superseded')
      expect(Buffer.from(late.answer.body).toString()).toBe('signature B');
    // A failure of the stalled one releases nothing: the success stays.
    await ledger.release(stalled);
    const redelivered = await ledger.claim(key, 'c', 'c1', 'digest', 5, live);
    expect(redelivered.kind === 'answered' && Buffer.from(redelivered.answer.body).toString()).toBe(
      'signature B',
    );
  });

  it('treats a write that reported an error but was stored as recorded', async () => {
    const key = newKey();
    const claim = claimed(await ledger.claim(key, 'a', 'a1', 'digest', 3, live));
    const answer = { subject: 's', messageId: 'id:3', body: bytes('sig'), success: true };
    expect((await ledger.record(claim, answer)).kind).toBe('recorded');
    // The retry after a lost reply: the revision moved on, the stored answer is ours.
    expect((await ledger.record(claim, answer)).kind).toBe('recorded');
  });

  it('reads entries of the previous format', async () => {
    const kv = await new Kvm(nc).open(LEDGER_BUCKET);
    const done = newKey();
    await kv.put(
      done,
      JSON.stringify({
        state: 'done',
        requestDigest: 'digest',
        subject: 's',
        result: Buffer.from('old').toString('base64'),
      }),
    );
    const outcome = await ledger.claim(done, 'a', 'a1', 'digest', 9, live);
    expect(outcome.kind === 'done' && Buffer.from(outcome.result).toString()).toBe('old');
    const running = newKey();
    await kv.put(
      running,
      JSON.stringify({ state: 'running', node: 'a', requestDigest: 'digest', seq: 4 }),
    );
    expect((await ledger.claim(running, 'b', 'b1', 'digest', 5, live)).kind).toBe('running');
    expect((await ledger.claim(running, 'b', 'b1', 'digest', 4, live)).kind).toBe('claimed');
  });

  it('records an advisory answer only where nobody answers; a coordinator taken for dead then replays it', async () => {
    const advisory = { subject: 's', messageId: 'id:5', body: bytes('max deliveries') };
    const dead = (): boolean => false;
    // A live claim stands: the request is in flight.
    const inFlight = newKey();
    claimed(await ledger.claim(inFlight, 'a', 'a1', 'digest', 5, live));
    expect((await ledger.recordUnclaimed(inFlight, 5, advisory, live)).kind).toBe('running');
    // A completed operation and an answered message are never answered again.
    const done = newKey();
    const doneClaim = claimed(await ledger.claim(done, 'a', 'a1', 'digest', 4, live));
    await ledger.record(doneClaim, {
      subject: 's',
      messageId: 'id:4',
      body: bytes('sig'),
      success: true,
    });
    expect((await ledger.recordUnclaimed(done, 5, advisory, dead)).kind).toBe('done');
    expect((await ledger.recordUnclaimed(done, 4, advisory, dead)).kind).toBe('answered');

    // The claim of a node taken for dead is ended; its late result finds the advisory's.
    const key = newKey();
    const late = claimed(await ledger.claim(key, 'a', 'a1', 'digest', 5, live));
    expect((await ledger.recordUnclaimed(key, 5, advisory, dead)).kind).toBe('recorded');
    // Repeating it (a lost reply, or a second handler) changes nothing.
    expect((await ledger.recordUnclaimed(key, 5, advisory, dead)).kind).toBe('recorded');
    const outcome = await ledger.record(late, {
      subject: 's',
      messageId: 'id:5',
      body: bytes('late signature'),
      success: true,
    });
    expect(outcome.kind).toBe('superseded');
    expect(outcome.kind === 'superseded' && Buffer.from(outcome.answer.body).toString()).toBe(
      'max deliveries',
    );
    // A client re-send (another message) may run again.
    expect((await ledger.claim(key, 'b', 'b1', 'digest', 9, live)).kind).toBe('claimed');

    // Never claimed: the entry is created without a digest; the re-send's claim adopts its own.
    const fresh = newKey();
    expect((await ledger.recordUnclaimed(fresh, 5, advisory, live)).kind).toBe('recorded');
    expect((await ledger.claim(fresh, 'a', 'a1', 'digest', 5, live)).kind).toBe('answered');
    const resend = claimed(await ledger.claim(fresh, 'a', 'a1', 'digest', 6, live));
    expect(resend.entry.requestDigest).toBe('digest');
  });
});
