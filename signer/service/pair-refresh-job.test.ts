/**
 * The service side of burned pairs and the pairwise refresh (security review M1), on real
 * DKLs23 shares with in-memory stores: secp256k1 signing refuses a pair whose state predates
 * the peer's last ban (BannedPeerError naming the wallet and the fix); a refresh job checks the
 * invite against the request and the wallet's committee, runs one refresh per wallet at a
 * time, stages the new share stamped with the epoch taken BEFORE its base OTs ran (a ban during
 * the run keeps it burned), and only `commit` makes it current; afterwards the pair signs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeDkls23KeyShare, type Dkls23KeyShare } from '../crypto/dkls23/index.ts';
import { dealKeyShares, seededRandom } from '../crypto/dkls23/test-helpers.ts';
import { EMPTY_ROUND_INPUT, type PartyId, type RoundInput } from '../crypto/round-protocol.ts';
import type { KeyType, PairRefreshMessage, SignTxMessage } from '../protocol/messages.ts';
import type { SessionJob } from '../session/session-host.ts';
import type { EncodedReshareResult } from '../session/worker-messages.ts';
import { JobFactory, pairOrigin } from './jobs.ts';
import { BannedPeerError, PeerBans } from './peer-bans.ts';
import { localProtocolDrivers } from './protocol-drivers.ts';
import { decodeWalletRecord } from './wallet-record.ts';
import { WalletRepository, type ShareStorePort } from './wallet-repository.ts';

const NODES = ['a', 'b', 'c'];
const COMMITTEE = NODES.map((nodeId, index) => ({ nodeId, partyId: index + 1 }));

/** A versioned in-memory share store. */
function memoryStore(): ShareStorePort & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  const current = new Map<string, number>();
  const key = (ref: { walletId: string; keyType: KeyType; version: number }) =>
    `${ref.walletId}/${ref.keyType}/${ref.version}`;
  return {
    files,
    put: async (ref, record) => void files.set(key(ref), record.slice()),
    get: async (ref) => files.get(key(ref))?.slice(),
    currentVersion: async (walletId, keyType) => current.get(`${walletId}/${keyType}`),
    setCurrentVersion: async (walletId, keyType, version) =>
      void current.set(`${walletId}/${keyType}`, version),
    listVersions: async (walletId, keyType) =>
      [...files.keys()]
        .filter((name) => name.startsWith(`${walletId}/${keyType}/`))
        .map((name) => Number(name.split('/')[2])),
    deleteVersion: async (ref) => files.delete(key(ref)),
  };
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function setup() {
  const shares = dealKeyShares(1, [1, 2, 3], seededRandom('pair-refresh-job'));
  return Promise.all(
    NODES.map(async (nodeId, index) => {
      const store = memoryStore();
      const wallets = new WalletRepository(store);
      const share = shares.get(index + 1) as Dkls23KeyShare;
      await wallets.save({
        metadata: {
          walletId: 'w',
          keyType: 'secp256k1',
          version: 1,
          threshold: 1,
          committee: COMMITTEE,
          publicKey: Buffer.from(share.publicKey).toString('hex'),
        },
        share: encodeDkls23KeyShare(share),
      });
      const dir = mkdtempSync(join(tmpdir(), 'refresh-job-'));
      dirs.push(dir);
      const bans = await PeerBans.load(dir);
      const jobs = new JobFactory({
        selfNodeId: nodeId,
        clusterNodes: NODES,
        threshold: 1,
        wallets,
        chainCode: new Uint8Array(32).fill(1),
        drivers: localProtocolDrivers,
        bans,
      });
      return { nodeId, jobs, bans, wallets, store };
    }),
  );
}

const request = (nodeIds: [string, string], walletId = 'w'): PairRefreshMessage => ({
  sessionId: 's-1',
  walletId,
  nodeIds,
  signature: new Uint8Array(64),
  authorizerSignatures: [],
});

const signRequest: SignTxMessage = {
  keyType: 'secp256k1',
  walletId: 'w',
  networkInternalCode: 'n',
  txId: 't',
  tx: new Uint8Array(32).fill(9),
  signature: new Uint8Array(64),
  derivationPath: null,
  authorizerSignatures: [],
};

const pairAB = [
  { nodeId: 'a', partyId: 1 },
  { nodeId: 'b', partyId: 2 },
];

/** Runs two refresh jobs' parties against each other (what the session layer does). */
async function runPair(
  jobs: readonly [SessionJob<EncodedReshareResult>, SessionJob<EncodedReshareResult>],
  parties: readonly [PartyId, PartyId],
): Promise<[EncodedReshareResult, EncodedReshareResult]> {
  let inputs: RoundInput[] = [EMPTY_ROUND_INPUT, EMPTY_ROUND_INPUT];
  // The session layer binds both parties to the same session binding before round 0.
  const binding = new TextEncoder().encode('refresh-session-binding-32-bytes');
  for (const job of jobs) await job.bind?.(binding);
  const rounds = jobs[0].party.rounds;
  for (let round = 0; round < rounds; round++) {
    const outputs = await Promise.all(jobs.map((job, i) => job.party.round(round, inputs[i]!)));
    inputs = parties.map((_, i) => ({
      broadcast: new Map(),
      direct: new Map([
        [parties[1 - i]!, (outputs[1 - i]!.direct?.get(parties[i]!) as Uint8Array).slice()],
      ]),
    }));
  }
  const results = await Promise.all(jobs.map((job, i) => job.party.finish(inputs[i]!)));
  return [results[0]!, results[1]!];
}

describe('burned pairs and the pairwise refresh job', () => {
  it('refuses refresh invites that do not fit the request or the committee', async () => {
    const [a] = await setup();
    const { jobs } = a!;
    const invite = (participants: typeof pairAB) => ({ sessionId: 'x'.repeat(36), participants });
    await expect(jobs.refreshPair(request(['b', 'c']), invite(pairAB))).rejects.toThrow(
      /not one of the pair/,
    );
    await expect(jobs.refreshPair(request(['a', 'z']), invite(pairAB))).rejects.toThrow(
      /z is not in wallet w's committee/,
    );
    await expect(
      jobs.refreshPair(request(['a', 'b']), invite([pairAB[0]!, { nodeId: 'b', partyId: 3 }])),
    ).rejects.toThrow(/do not match/);
    await expect(
      jobs.refreshPair(request(['a', 'b']), invite([...pairAB, { nodeId: 'c', partyId: 3 }])),
    ).rejects.toThrow(/do not match/);
    await expect(
      jobs.refreshPair(request(['a', 'b'], 'missing'), invite(pairAB)),
    ).rejects.toMatchObject({ code: 'ERROR_KEY_NOT_FOUND' });
    // One refresh of a wallet at a time on a signer; disposing releases it.
    const first = await jobs.refreshPair(request(['a', 'b']), invite(pairAB));
    const pairAC = [pairAB[0]!, { nodeId: 'c', partyId: 3 }];
    await expect(jobs.refreshPair(request(['a', 'c']), invite(pairAC))).rejects.toMatchObject({
      code: 'ERROR_CONCURRENCY_LIMIT',
    });
    first.dispose();
    (await jobs.refreshPair(request(['a', 'b']), invite(pairAB))).dispose();
  });

  it('a ban refuses signing with the pair; a committed refresh (stamped before its OTs) restores it', async () => {
    const [a, b] = await setup();
    const nodeA = a!;
    const nodeB = b!;
    // Before any ban the pair signs (the job is built).
    (await nodeA.jobs.sign('signing-session-0000', signRequest, pairAB)).dispose();
    await nodeA.bans.ban('b', 'DKLS23_OTE_CHECK_FAILED');
    await expect(
      nodeA.jobs.sign('signing-session-0001', signRequest, pairAB),
    ).rejects.toBeInstanceOf(BannedPeerError);
    await expect(nodeA.jobs.sign('signing-session-0001', signRequest, pairAB)).rejects.toThrow(
      /pair with peer b of wallet w is burned/,
    );
    // Other pairs of the same wallet still sign.
    const pairAC = [pairAB[0]!, { nodeId: 'c', partyId: 3 }];
    (await nodeA.jobs.sign('signing-session-0002', signRequest, pairAC)).dispose();

    // Refresh a–b: both jobs stage, only commit switches.
    const invite = { sessionId: 'refresh-session-0001', participants: pairAB };
    const jobA = await nodeA.jobs.refreshPair(request(['a', 'b']), invite);
    const jobB = await nodeB.jobs.refreshPair(request(['a', 'b']), invite);
    const [resultA, resultB] = await runPair([jobA, jobB], [1, 2]);
    const [digestA, digestB] = [await jobA.complete(resultA), await jobB.complete(resultB)];
    expect(digestA).toBe(digestB);
    expect(await nodeA.wallets.currentVersion('w', 'secp256k1')).toBe(1);
    await expect(
      nodeA.jobs.sign('signing-session-0003', signRequest, pairAB),
    ).rejects.toBeInstanceOf(BannedPeerError);
    await jobA.commit?.();
    await jobB.commit?.();
    jobA.dispose();
    jobB.dispose();
    const record = await nodeA.wallets.load('w', 'secp256k1');
    expect(record?.metadata.version).toBe(2);
    expect(record?.metadata.pairEpochs).toEqual({ b: 1 });
    expect([...nodeA.store.files.keys()]).toEqual(['w/secp256k1/2']); // burned v1 deleted
    record?.share.fill(0);
    const signJob = await nodeA.jobs.sign('signing-session-0004', signRequest, pairAB);
    // The refreshed pair's origin is the refresh session's binding, the same on both ends;
    // the untouched pair a–c keeps its (pre-origin) state, announced as "".
    const origin = pairOrigin(new TextEncoder().encode('refresh-session-binding-32-bytes'));
    expect(record?.metadata.pairOrigins).toEqual({ b: origin });
    expect(signJob.pairState?.origins).toEqual(new Map([['b', origin]]));
    signJob.dispose();
    const signAC = await nodeA.jobs.sign('signing-session-0005', signRequest, pairAC);
    expect(signAC.pairState?.origins).toEqual(new Map([['c', '']]));
    signAC.dispose();
    // B had never banned A: its stamp is A's epoch there (0).
    const recordB = await nodeB.wallets.load('w', 'secp256k1');
    expect(recordB?.metadata.pairEpochs).toEqual({ a: 0 });
    expect(recordB?.metadata.pairOrigins).toEqual({ a: origin });
    recordB?.share.fill(0);
  }, 300_000);

  it('a ban while a refresh runs leaves the refreshed state burned (stamp taken before the OTs)', async () => {
    const [a, b] = await setup();
    const nodeA = a!;
    const nodeB = b!;
    await nodeA.bans.ban('b', 'X');
    const invite = { sessionId: 'refresh-session-0002', participants: pairAB };
    const jobA = await nodeA.jobs.refreshPair(request(['a', 'b']), invite);
    const jobB = await nodeB.jobs.refreshPair(request(['a', 'b']), invite);
    await nodeA.bans.ban('b', 'Y'); // epoch 2 while the refresh runs
    const [resultA, resultB] = await runPair([jobA, jobB], [1, 2]);
    await jobA.complete(resultA);
    await jobB.complete(resultB);
    await jobA.commit?.();
    jobA.dispose();
    jobB.dispose();
    const stored = nodeA.store.files.get('w/secp256k1/2') as Uint8Array;
    expect(decodeWalletRecord(stored).metadata.pairEpochs).toEqual({ b: 1 });
    await expect(
      nodeA.jobs.sign('signing-session-0005', signRequest, pairAB),
    ).rejects.toBeInstanceOf(BannedPeerError);
  }, 300_000);
});
