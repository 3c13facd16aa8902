/**
 * Signing batches (jobs.ts `signBatch`, parallel-driver.ts `parallelDriverList`) on real FROST
 * key shares: two signers build their batch jobs, bind them to the same session binding and
 * run the rounds against each other. Every signature is checked with node:crypto (OpenSSL),
 * independently of the code that produced it, over its own request's message and under the
 * key it reports, in item order. Adversarial: signers that disagree on the item order do not
 * get signatures; requests a batch may not carry (secp256k1, too few, too many, a signing set
 * outside the wallet's committee) are refused with every record's share wiped.
 */
import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createFrostKeygenProtocol,
  encodeFrostKeyShare,
  type FrostKeyShare,
} from '../crypto/frost/index.ts';
import { runToCompletion } from '../crypto/frost/test-driver.ts';
import { deriveEd25519Child } from '../crypto/hd/index.ts';
import {
  EMPTY_ROUND_INPUT,
  type PartyId,
  type RoundInput,
  type RoundProtocol,
} from '../crypto/round-protocol.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import type { KeyType, SignTxMessage } from '../protocol/messages.ts';
import { ProtocolViolationError } from '../session/errors.ts';
import { parallelDriverList } from '../session/parallel-driver.ts';
import { sessionBinding } from '../session/session-binding.ts';
import {
  RoundRunner,
  localPartyDriver,
  type PartyDriver,
  type RoundNetwork,
} from '../session/round-runner.ts';
import type { SessionJob } from '../session/session-host.ts';
import { MAX_SIGNING_BATCH, type InviteParticipant } from '../transport/control-messages.ts';
import { JobFactory, batchItemBinding, type SignatureOutcome } from './jobs.ts';
import { localProtocolDrivers } from './protocol-drivers.ts';
import type { WalletRecord } from './wallet-record.ts';
import { WalletRepository, type ShareStorePort } from './wallet-repository.ts';

const NODES = ['a', 'b', 'c'];
const COMMITTEE = NODES.map((nodeId, index) => ({ nodeId, partyId: index + 1 }));
const PARTICIPANTS: InviteParticipant[] = [
  { nodeId: 'a', partyId: 1 },
  { nodeId: 'b', partyId: 2 },
];
const CHAIN_CODE = new Uint8Array(32).fill(1);
const encoder = new TextEncoder();
/** Each participant's fresh hello key; the binding is what the session layer computes. */
const HELLO_KEYS = new Map([
  ['a', new Uint8Array(32).fill(3)],
  ['b', new Uint8Array(32).fill(4)],
]);
const BINDING = sessionBinding('s-batch', HELLO_KEYS);

const isZero = (bytes: Uint8Array): boolean => bytes.every((byte) => byte === 0);
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

/** RFC 8032 verification by OpenSSL (SPKI DER: fixed prefix then the 32-byte key). */
function opensslVerify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), publicKey]);
  const key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  return verify(null, message, key, signature);
}

/** FROST shares (t = 1 of 3) of a fresh Ed25519 key, by party id. */
function frostShares(seed: number): Map<PartyId, FrostKeyShare> {
  const parties = [1, 2, 3].map((self) =>
    createFrostKeygenProtocol({
      self,
      participants: [1, 2, 3],
      threshold: 1,
      sessionId: Uint8Array.of(seed),
    }),
  );
  return runToCompletion(parties) as Map<PartyId, FrostKeyShare>;
}

/** A share store nobody reads: `signBatch` takes the records it is given. */
const unusedStore: ShareStorePort = {
  put: async () => undefined,
  get: async () => undefined,
  currentVersion: async () => undefined,
  listVersions: async () => [],
  deleteVersion: async () => false,
  setCurrentVersion: async () => undefined,
};

function factory(selfNodeId: string): JobFactory {
  return new JobFactory({
    selfNodeId,
    clusterNodes: NODES,
    threshold: 1,
    wallets: new WalletRepository(unusedStore),
    chainCode: CHAIN_CODE,
    drivers: localProtocolDrivers,
  });
}

function signMessage(
  walletId: string,
  txId: string,
  tx: string,
  derivationPath: readonly number[] | null = null,
  keyType: KeyType = 'ed25519',
): SignTxMessage {
  return {
    keyType,
    walletId,
    networkInternalCode: 'n',
    txId,
    tx: encoder.encode(tx),
    signature: new Uint8Array(64),
    derivationPath,
    authorizerSignatures: [],
  };
}

interface Wallet {
  readonly walletId: string;
  readonly shares: Map<PartyId, FrostKeyShare>;
  readonly publicKey: Uint8Array;
}

function wallet(walletId: string, seed: number): Wallet {
  const shares = frostShares(seed);
  const publicKey = (shares.get(1) as FrostKeyShare).publicKey;
  return { walletId, shares, publicKey };
}

/** Party `partyId`'s record of `w` (a fresh encoding: each item owns its bytes). */
function recordOf(
  w: Wallet,
  partyId: PartyId,
  committee: readonly { nodeId: string; partyId: number }[] = COMMITTEE,
): WalletRecord {
  return {
    metadata: {
      walletId: w.walletId,
      keyType: 'ed25519',
      version: 1,
      threshold: 1,
      committee,
      publicKey: hex(w.publicKey),
    },
    share: encodeFrostKeyShare(w.shares.get(partyId) as FrostKeyShare),
  };
}

/** Runs every job's party against the others over an in-memory network (settled outcomes). */
async function runJobs<Result>(
  jobs: readonly { participant: InviteParticipant; party: PartyDriver<Result> }[],
): Promise<PromiseSettledResult<Result>[]> {
  const nodeOfParty = new Map(
    jobs.map(({ participant }) => [participant.partyId, participant.nodeId]),
  );
  const runners = new Map<string, RoundRunner<Result>>();
  for (const { participant, party } of jobs) {
    const from = participant.nodeId;
    const network: RoundNetwork = {
      broadcast: async (round, payload, peers) => {
        for (const peer of peers)
          runners.get(peer)?.deliver('broadcast', round, from, payload.slice());
      },
      direct: async (round, payload, peer) =>
        void runners.get(peer)?.deliver('direct', round, from, payload.slice()),
      probe: async () => undefined,
    };
    runners.set(
      from,
      new RoundRunner({
        sessionId: 'batch-session',
        party,
        nodeOfParty,
        self: participant.partyId,
        network,
        roundTimeoutMs: 5000,
        probeIntervalMs: 1000,
      }),
    );
  }
  return Promise.allSettled([...runners.values()].map((runner) => runner.run()));
}

async function runBatch(
  jobs: readonly SessionJob<SignatureOutcome[]>[],
  bindings: readonly Uint8Array[],
): Promise<PromiseSettledResult<SignatureOutcome[]>[]> {
  for (const [index, job] of jobs.entries()) await job.bind?.(bindings[index] as Uint8Array);
  try {
    return await runJobs(
      jobs.map((job, index) => ({
        participant: PARTICIPANTS[index] as InviteParticipant,
        party: job.party,
      })),
    );
  } finally {
    for (const job of jobs) job.dispose();
  }
}

const w1 = wallet('w1', 1);
const w2 = wallet('w2', 2);
const PATH = [44, 501, 0, 7];
const MESSAGES = [
  signMessage('w1', 't1', 'first transfer'),
  signMessage('w2', 't2', 'second transfer'),
  signMessage('w1', 't3', 'third transfer, derived key', PATH),
];
/** The key each request must be signed under, by item. */
const EXPECTED_KEYS = [
  w1.publicKey,
  w2.publicKey,
  deriveEd25519Child(w1.publicKey, CHAIN_CODE, PATH).publicKey,
];
const walletOf = (message: SignTxMessage): Wallet => (message.walletId === 'w1' ? w1 : w2);

function itemsFor(partyId: PartyId, messages: readonly SignTxMessage[] = MESSAGES) {
  return messages.map((message) => ({ message, record: recordOf(walletOf(message), partyId) }));
}

describe('JobFactory.signBatch on real FROST shares', () => {
  it('signs every request under its own key, over its own message, in item order', async () => {
    const itemsA = itemsFor(1);
    const itemsB = itemsFor(2);
    const jobs = [
      await factory('a').signBatch('s-batch', itemsA, PARTICIPANTS),
      await factory('b').signBatch('s-batch', itemsB, PARTICIPANTS),
    ];
    // Shares are wiped as soon as the job is built (each party holds its own copy).
    for (const { record } of [...itemsA, ...itemsB]) expect(isZero(record.share)).toBe(true);
    const settled = await runBatch(jobs, [BINDING, BINDING]);
    const results = settled.map((outcome) => {
      expect(outcome.status).toBe('fulfilled');
      return (outcome as PromiseFulfilledResult<SignatureOutcome[]>).value;
    });
    expect(results).toHaveLength(2);
    for (const outcomes of results) {
      expect(outcomes).toHaveLength(MESSAGES.length);
      outcomes.forEach((outcome, index) => {
        const message = MESSAGES[index] as SignTxMessage;
        expect(outcome.keyType).toBe('ed25519');
        if (outcome.keyType !== 'ed25519') return;
        // The key it reports is the one this request names (derived for the path item).
        expect(hex(outcome.publicKey)).toBe(hex(EXPECTED_KEYS[index] as Uint8Array));
        expect(opensslVerify(outcome.publicKey, message.tx, outcome.signature)).toBe(true);
        // ... and over this request's message only: not another item's.
        MESSAGES.forEach((other, otherIndex) => {
          if (otherIndex === index) return;
          expect(opensslVerify(outcome.publicKey, other.tx, outcome.signature)).toBe(false);
        });
      });
    }
    // Both signers agree on every signature, so the `done` digests agree.
    const [first, second] = results as [SignatureOutcome[], SignatureOutcome[]];
    expect(await jobs[0]?.complete(first)).toBe(await jobs[1]?.complete(second));
    expect(EXPECTED_KEYS.map(hex)).not.toContain(hex(new Uint8Array(32)));
    expect(hex(EXPECTED_KEYS[2] as Uint8Array)).not.toBe(hex(w1.publicKey));
  });

  it('fails without signatures when the two signers order the items differently', async () => {
    const jobs = [
      await factory('a').signBatch('s-batch', itemsFor(1), PARTICIPANTS),
      await factory('b').signBatch('s-batch', itemsFor(2, [...MESSAGES].reverse()), PARTICIPANTS),
    ];
    const settled = await runBatch(jobs, [BINDING, BINDING]);
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected');
      const reason = (outcome as PromiseRejectedResult).reason as unknown;
      expect(reason).toBeInstanceOf(MpcError);
      expect((reason as MpcError).code).toBe(ErrorCode.MessageVerification);
    }
  });

  it('fails without signatures when the signers bind to different session bindings', async () => {
    const jobs = [
      await factory('a').signBatch('s-batch', itemsFor(1), PARTICIPANTS),
      await factory('b').signBatch('s-batch', itemsFor(2), PARTICIPANTS),
    ];
    const other = sessionBinding(
      's-batch',
      new Map([...HELLO_KEYS, ['b', new Uint8Array(32).fill(9)]]),
    );
    const settled = await runBatch(jobs, [BINDING, other]);
    for (const outcome of settled) {
      expect(outcome.status).toBe('rejected');
      expect(((outcome as PromiseRejectedResult).reason as MpcError).code).toBe(
        ErrorCode.MessageVerification,
      );
    }
  });

  it('gives every item its own protocol session id, extending the binding by its index', () => {
    const ids = [0, 1, 2].map((index) => batchItemBinding(BINDING, index));
    expect(new Set(ids.map(hex)).size).toBe(3);
    for (const [index, id] of ids.entries()) {
      expect(hex(id.subarray(0, BINDING.length))).toBe(hex(BINDING));
      expect(Buffer.from(id).readUInt32BE(id.length - 4)).toBe(index);
    }
    const other = sessionBinding('s-batch', new Map([...HELLO_KEYS, ['a', new Uint8Array(32)]]));
    expect(hex(batchItemBinding(other, 0))).not.toBe(hex(ids[0] as Uint8Array));
  });

  const refusals: {
    name: string;
    items: () => { message: SignTxMessage; record: WalletRecord }[];
    code: ErrorCode;
  }[] = [
    {
      name: 'a secp256k1 request in the middle',
      items: () => [
        { message: MESSAGES[0] as SignTxMessage, record: recordOf(w1, 1) },
        {
          message: signMessage('w3', 't9', 'ecdsa digest', null, 'secp256k1'),
          record: {
            metadata: {
              walletId: 'w3',
              keyType: 'secp256k1',
              version: 1,
              threshold: 1,
              committee: COMMITTEE,
              publicKey: '02'.padEnd(66, '1'),
            },
            share: new Uint8Array(48).fill(9),
          },
        },
        { message: MESSAGES[1] as SignTxMessage, record: recordOf(w2, 1) },
      ],
      code: ErrorCode.InvalidSessionType,
    },
    {
      name: 'a single request',
      items: () => itemsFor(1, MESSAGES.slice(0, 1)),
      code: ErrorCode.InvalidSessionType,
    },
    {
      name: `more than ${MAX_SIGNING_BATCH} requests`,
      items: () =>
        Array.from({ length: MAX_SIGNING_BATCH + 1 }, (_, index) => ({
          message: signMessage('w1', `t${index}`, `transfer ${index}`),
          record: recordOf(w1, 1),
        })),
      code: ErrorCode.InvalidSessionType,
    },
    {
      name: 'a record whose committee does not hold the signing set',
      items: () => [
        { message: MESSAGES[0] as SignTxMessage, record: recordOf(w1, 1) },
        {
          message: MESSAGES[1] as SignTxMessage,
          // b holds party 3 in this wallet: {a:1, b:2} is not a signing set of it.
          record: recordOf(w2, 1, [
            { nodeId: 'a', partyId: 1 },
            { nodeId: 'c', partyId: 2 },
            { nodeId: 'b', partyId: 3 },
          ]),
        },
        { message: MESSAGES[2] as SignTxMessage, record: recordOf(w1, 1) },
      ],
      code: ErrorCode.IncompatiblePeerIds,
    },
  ];

  for (const { name, items: makeItems, code } of refusals) {
    it(`refuses ${name} and wipes every record's share`, async () => {
      const items = makeItems();
      for (const { record } of items) expect(isZero(record.share)).toBe(false);
      const error = await factory('a')
        .signBatch('s-batch', items, PARTICIPANTS)
        .then(
          () => undefined,
          (reason: unknown) => reason,
        );
      expect(error).toBeInstanceOf(MpcError);
      expect((error as MpcError).code).toBe(code);
      for (const { record } of items) expect(isZero(record.share)).toBe(true);
    });
  }

  it(`accepts exactly ${MAX_SIGNING_BATCH} requests and 2 requests (the bounds)`, async () => {
    for (const length of [2, MAX_SIGNING_BATCH]) {
      const items = Array.from({ length }, (_, index) => ({
        message: signMessage('w1', `t${index}`, `transfer ${index}`),
        record: recordOf(w1, 1),
      }));
      const job = await factory('a').signBatch('s-batch', items, PARTICIPANTS);
      expect(job.party.rounds).toBe(2);
      job.dispose();
      for (const { record } of items) expect(isZero(record.share)).toBe(true);
    }
  });
});

/** Toy protocol: even rounds broadcast `weight·self`, odd rounds send `weight` to each peer. */
class Toy implements RoundProtocol<number> {
  private total = 0;
  constructor(
    readonly self: PartyId,
    readonly participants: PartyId[],
    readonly rounds: number,
    private readonly weight: number,
  ) {}
  private absorb(input: RoundInput): void {
    for (const payload of input.broadcast.values()) this.total += payload[0] ?? 0;
    for (const payload of input.direct.values()) this.total += payload[0] ?? 0;
  }
  round(index: number, input: RoundInput) {
    this.absorb(input);
    if (index % 2 === 1) {
      return {
        direct: new Map(
          this.participants
            .filter((p) => p !== this.self)
            .map((p) => [p, Uint8Array.of(this.weight)]),
        ),
      };
    }
    return { broadcast: Uint8Array.of(this.weight * this.self) };
  }
  finish(input: RoundInput): number {
    this.absorb(input);
    return this.total;
  }
  wipe(): void {}
}

/** Parts of 1, 2 and 3 rounds with weights 1, 10 and 20. */
const TOY_PARTS = [
  { rounds: 1, weight: 1 },
  { rounds: 2, weight: 10 },
  { rounds: 3, weight: 20 },
];

function toyComposite(self: PartyId, parties: PartyId[]): PartyDriver<number[]> {
  return parallelDriverList(
    TOY_PARTS.map(({ rounds, weight }) => localPartyDriver(new Toy(self, parties, rounds, weight))),
  );
}

/** What a Toy part of `self` totals (independent arithmetic, not a run of the protocol). */
function toyTotal(self: PartyId, parties: PartyId[], rounds: number, weight: number): number {
  const others = parties.filter((p) => p !== self);
  let total = 0;
  for (let round = 0; round < rounds; round++) {
    total +=
      round % 2 === 0 ? others.reduce((sum, p) => sum + weight * p, 0) : weight * others.length;
  }
  return total;
}

/** A frame as parallel-driver.ts documents it: u32 length (0xFFFFFFFF: absent) then bytes. */
function frameOf(parts: readonly (Uint8Array | undefined)[]): Uint8Array {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(part === undefined ? 0xffffffff : part.length);
    chunks.push(length);
    if (part !== undefined) chunks.push(Buffer.from(part));
  }
  return new Uint8Array(Buffer.concat(chunks));
}

describe('parallelDriverList', () => {
  it('runs three parts of different lengths side by side, results in part order', async () => {
    const parties = [1, 2, 3];
    const composites = parties.map((self) => toyComposite(self, parties));
    expect(composites[0]?.rounds).toBe(3);
    const settled = await runJobs(
      composites.map((party, index) => ({
        participant: { nodeId: `n${index + 1}`, partyId: index + 1 },
        party,
      })),
    );
    settled.forEach((outcome, index) => {
      const self = index + 1;
      expect(outcome.status).toBe('fulfilled');
      const totals = (outcome as PromiseFulfilledResult<number[]>).value;
      expect(totals).toEqual(
        TOY_PARTS.map(({ rounds, weight }) => toyTotal(self, parties, rounds, weight)),
      );
    });
    // Party 1: part 0 = 2 + 3; part 1 = 10·(2 + 3) + 2·10; part 2 = 2·20·(2 + 3) + 2·20.
    expect((settled[0] as PromiseFulfilledResult<number[]>).value).toEqual([5, 70, 240]);
  });

  it('accepts a well-formed frame of three parts with absent entries', async () => {
    const driver = toyComposite(1, [1, 2]);
    await driver.round(0, EMPTY_ROUND_INPUT);
    const output = await driver.round(1, {
      broadcast: new Map([[2, frameOf([Uint8Array.of(2), Uint8Array.of(20), Uint8Array.of(40)])]]),
      direct: new Map(),
    });
    // Round 1: parts 1 and 2 send directs; part 0 has finished and sends nothing.
    expect(output.broadcast).toBeUndefined();
    expect([...(output.direct?.get(2) ?? [])]).toEqual([
      ...frameOf([undefined, Uint8Array.of(10), Uint8Array.of(20)]),
    ]);
  });

  for (const count of [2, 4]) {
    it(`refuses a peer's frame of ${count} parts as a protocol violation`, async () => {
      const driver = toyComposite(1, [1, 2]);
      await driver.round(0, EMPTY_ROUND_INPUT);
      const parts = Array.from({ length: count }, (_, index) => Uint8Array.of(index + 1));
      const error = await driver
        .round(1, { broadcast: new Map([[2, frameOf(parts)]]), direct: new Map() })
        .then(
          () => undefined,
          (reason: unknown) => reason,
        );
      expect(error).toBeInstanceOf(ProtocolViolationError);
      expect((error as MpcError).code).toBe(ErrorCode.MessageVerification);
    });
  }
});
