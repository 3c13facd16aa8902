/**
 * Zeroization (design §6.5, issue 3): after a signing session ends, successfully or not,
 * the buffers it held — the stored record's bytes, the decoded secret share, the job's copy
 * of the message, — are all zeros (received direct payloads: see round-runner.test.ts). The test captures those
 * buffers as the session creates them and inspects them afterwards.
 */
import { describe, expect, it, vi } from 'vitest';
import type * as FrostModule from '../crypto/frost/index.ts';
import type { PartyId } from '../crypto/round-protocol.ts';
import {
  createFrostKeygenProtocol,
  encodeFrostKeyShare,
  type FrostKeyShare,
} from '../crypto/frost/index.ts';
import { runToCompletion } from '../crypto/frost/test-driver.ts';
import { ErrorCode } from '../protocol/errors.ts';
import type { SignTxMessage } from '../protocol/messages.ts';
import { SessionAbortedError } from '../session/errors.ts';
import { RoundRunner, type RoundNetwork } from '../session/round-runner.ts';
import { JobFactory, type SignatureOutcome } from './jobs.ts';
import { localProtocolDrivers } from './protocol-drivers.ts';
import { WalletRepository, type ShareStorePort } from './wallet-repository.ts';
import { encodeWalletRecord } from './wallet-record.ts';

const captured = vi.hoisted(() => ({ shares: [] as { secretShare: Uint8Array }[] }));
vi.mock('../crypto/frost/index.ts', async (importOriginal) => {
  const original = await importOriginal<typeof FrostModule>();
  return {
    ...original,
    decodeFrostKeyShare: (bytes: Uint8Array) => {
      const share = original.decodeFrostKeyShare(bytes);
      captured.shares.push(share);
      return share;
    },
  };
});

const isZero = (bytes: Uint8Array): boolean => bytes.every((byte) => byte === 0);

/** An in-memory share store that remembers every buffer it handed out. */
function memoryStore(records: Map<string, Uint8Array>, handedOut: Uint8Array[]): ShareStorePort {
  return {
    put: async (ref, record) => void records.set(`${ref.walletId}/${ref.keyType}`, record.slice()),
    get: async (ref) => {
      const copy = records.get(`${ref.walletId}/${ref.keyType}`)?.slice();
      if (copy !== undefined) handedOut.push(copy);
      return copy;
    },
    currentVersion: async (walletId, keyType) =>
      records.has(`${walletId}/${keyType}`) ? 1 : undefined,
    listVersions: async (walletId, keyType) => (records.has(`${walletId}/${keyType}`) ? [1] : []),
    deleteVersion: async () => false,
    setCurrentVersion: async () => undefined,
  };
}

async function setup() {
  const nodes = ['a', 'b', 'c'];
  const parties = nodes.map((_, index) =>
    createFrostKeygenProtocol({
      self: index + 1,
      participants: [1, 2, 3],
      threshold: 1,
      sessionId: new Uint8Array([7]),
    }),
  );
  const shares = runToCompletion(parties) as Map<PartyId, FrostKeyShare>;
  const handedOut: Uint8Array[] = [];
  const factories = nodes.map((nodeId, index) => {
    const records = new Map<string, Uint8Array>();
    const share = shares.get(index + 1) as FrostKeyShare;
    records.set(
      'w/ed25519',
      encodeWalletRecord({
        metadata: {
          walletId: 'w',
          keyType: 'ed25519',
          version: 1,
          threshold: 1,
          committee: nodes.map((node, i) => ({ nodeId: node, partyId: i + 1 })),
          publicKey: Buffer.from(share.publicKey).toString('hex'),
        },
        share: encodeFrostKeyShare(share),
      }),
    );
    return new JobFactory({
      selfNodeId: nodeId,
      clusterNodes: nodes,
      threshold: 1,
      wallets: new WalletRepository(memoryStore(records, handedOut)),
      chainCode: new Uint8Array(32).fill(1),
      drivers: localProtocolDrivers,
    });
  });
  return { factories, handedOut };
}

const message: SignTxMessage = {
  keyType: 'ed25519',
  walletId: 'w',
  networkInternalCode: 'n',
  txId: 't',
  tx: new TextEncoder().encode('wipe me'),
  signature: new Uint8Array(64),
  derivationPath: [44, 501, 0, 0],
  authorizerSignatures: [],
};

async function runSigning(options: { abortAfterFirstRound: boolean }) {
  captured.shares.length = 0;
  const { factories, handedOut } = await setup();
  const participants = [
    { nodeId: 'a', partyId: 1 },
    { nodeId: 'b', partyId: 2 },
  ];
  const nodeOfParty = new Map(participants.map((p) => [p.partyId, p.nodeId]));
  const runners = new Map<string, RoundRunner<SignatureOutcome>>();
  const jobs = await Promise.all(
    participants.map((_, index) =>
      (factories[index] as JobFactory).sign('session-1', message, participants),
    ),
  );
  // The session layer binds every job to the session binding before round 0.
  const binding = new TextEncoder().encode('session-1');
  for (const job of jobs) await job.bind?.(binding);
  let rounds = 0;
  participants.forEach((participant, index) => {
    const job = jobs[index]!;
    const deliver = (
      kind: 'broadcast' | 'direct',
      round: number,
      to: string,
      payload: Uint8Array,
    ): void => {
      const copy = payload.slice();
      runners.get(to)?.deliver(kind, round, participant.nodeId, copy);
    };
    const network: RoundNetwork = {
      broadcast: async (round, payload, peers) => {
        rounds = Math.max(rounds, round + 1);
        if (options.abortAfterFirstRound && round >= 1) return;
        for (const peer of peers) deliver('broadcast', round, peer, payload);
      },
      direct: async (round, payload, peer) => deliver('direct', round, peer, payload),
      probe: async () => undefined,
    };
    runners.set(
      participant.nodeId,
      new RoundRunner({
        sessionId: 'session-1',
        party: job.party,
        nodeOfParty,
        self: participant.partyId,
        network,
        roundTimeoutMs: 5000,
        probeIntervalMs: 1000,
      }),
    );
  });
  const outcomes = Promise.allSettled([...runners.values()].map((runner) => runner.run()));
  if (options.abortAfterFirstRound) {
    await vi.waitFor(() => expect(rounds).toBeGreaterThanOrEqual(2));
    for (const runner of runners.values()) {
      runner.abort(new SessionAbortedError('b', ErrorCode.PeerUnavailable, 'peer c gone', 'c'));
    }
  }
  const settled = await outcomes;
  for (const job of jobs) job.dispose();
  return { settled, handedOut };
}

describe('zeroization of session secrets', () => {
  it('wipes share copies and record bytes after success', async () => {
    const { settled, handedOut } = await runSigning({ abortAfterFirstRound: false });
    expect(settled.every((outcome) => outcome.status === 'fulfilled')).toBe(true);
    expect(captured.shares.length).toBe(2);
    for (const share of captured.shares) expect(isZero(share.secretShare)).toBe(true);
    expect(handedOut.length).toBeGreaterThanOrEqual(2);
    for (const buffer of handedOut) expect(isZero(buffer)).toBe(true);
    expect(isZero(message.tx)).toBe(false); // the caller's request is not ours to wipe
  });

  it('wipes the same buffers when the session is aborted mid-way', async () => {
    const { settled, handedOut } = await runSigning({ abortAfterFirstRound: true });
    expect(settled.every((outcome) => outcome.status === 'rejected')).toBe(true);
    for (const share of captured.shares) expect(isZero(share.secretShare)).toBe(true);
    for (const buffer of handedOut) expect(isZero(buffer)).toBe(true);
  });
});
