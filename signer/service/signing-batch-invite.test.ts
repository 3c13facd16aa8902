/**
 * The participant's preparation of a `sign-batch` invite (signing-invite.ts
 * `prepareSigningBatchInvite`): every batched request is read from the stream by its own
 * sequence, compared with the coordinator's copy, authenticated and its share loaded; the job
 * is built only when all of them pass, with the items in invite order. One failing entry (or a
 * malformed batch, or two entries naming one operation) refuses the whole invite, builds
 * nothing and leaves every share that was loaded wiped. Request source, authenticator and job
 * factory are in-memory fakes, as in signing-invite.test.ts.
 */
import { describe, expect, it, vi } from 'vitest';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import type { SignTxMessage } from '../protocol/messages.ts';
import type { InviteParticipant, SessionInvite } from '../transport/control-messages.ts';
import {
  RequestNotInStreamError,
  type RequestSource,
  type StoredRequest,
} from '../transport/request-source.ts';
import { KeyNotFoundError, type JobFactory } from './jobs.ts';
import { operationKey } from './operation-ledger.ts';
import { prepareSigningBatchInvite, type SigningInviteDeps } from './signing-invite.ts';
import type { WalletMetadata, WalletRecord } from './wallet-record.ts';

const encoder = new TextEncoder();

interface Entry {
  readonly body: Uint8Array;
  readonly seq: number;
  readonly clientId: string | null;
}

const body = (walletId: string, txId: string, extra: Record<string, string> = {}): Uint8Array =>
  encoder.encode(JSON.stringify({ wallet_id: walletId, tx_id: txId, ...extra }));

/** Three requests, sequences deliberately not in invite order. */
const ENTRIES: readonly Entry[] = [
  { body: body('w1', 't1'), seq: 7, clientId: null },
  { body: body('w2', 't2'), seq: 12, clientId: 'client-a' },
  { body: body('w3', 't3'), seq: 9, clientId: null },
];

const PARTICIPANTS: readonly InviteParticipant[] = [
  { nodeId: 'node0', partyId: 1 },
  { nodeId: 'node1', partyId: 2 },
];

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

const batchOf = (entries: readonly Entry[]) =>
  entries.map((entry) => ({
    request: base64(entry.body),
    requestSeq: entry.seq,
    clientId: entry.clientId,
  }));

/** A `sign-batch` invite whose single-request fields repeat the first entry. */
function inviteOf(entries: readonly Entry[] = ENTRIES): SessionInvite {
  const first = entries[0] ?? ENTRIES[0]!;
  return {
    type: 'invite',
    sessionId: 's-batch',
    kind: 'sign-batch',
    coordinator: 'node0',
    participants: PARTICIPANTS,
    request: base64(first.body),
    requestSeq: first.seq,
    clientId: first.clientId,
    createdAt: 0,
    requests: batchOf(entries),
  };
}

interface HarnessOptions {
  /** What the stream holds, by sequence (default: every entry of ENTRIES as sent). */
  readonly stored?: ReadonlyMap<number, StoredRequest>;
  /** Wallet ids whose load fails with KeyNotFoundError. */
  readonly missingKeys?: readonly string[];
  /** Load latency by wallet id (ms), so loads complete out of invite order. */
  readonly loadDelayMs?: Readonly<Record<string, number>>;
}

function streamOf(entries: readonly Entry[]): Map<number, StoredRequest> {
  return new Map(
    entries.map((entry) => [entry.seq, { body: entry.body, clientId: entry.clientId }]),
  );
}

function harness(options: HarnessOptions = {}) {
  const stored = options.stored ?? streamOf(ENTRIES);
  const shares: Uint8Array[] = [];
  const fetched: { kind: string; seq: number }[] = [];
  const built: {
    sessionId: string;
    items: { message: SignTxMessage; record: WalletRecord }[];
    participants: readonly InviteParticipant[];
  }[] = [];
  const requests: RequestSource = {
    fetch: async (kind, seq) => {
      fetched.push({ kind, seq });
      const found = stored.get(seq);
      if (found === undefined) throw new RequestNotInStreamError(kind, seq);
      return found;
    },
  };
  const deps: SigningInviteDeps & {
    readonly jobs: SigningInviteDeps['jobs'] & Pick<JobFactory, 'signBatch'>;
  } = {
    requests,
    authenticator: {
      sign: (bytes) => {
        const parsed = JSON.parse(new TextDecoder().decode(bytes)) as Record<string, string>;
        if (parsed['forged'] !== undefined) {
          throw new MpcError(ErrorCode.InvalidInitiatorSignature, 'bad initiator signature');
        }
        return {
          message: {
            keyType: 'ed25519',
            walletId: parsed['wallet_id'],
            txId: parsed['tx_id'],
          } as SignTxMessage,
        };
      },
    },
    jobs: {
      loadForSigning: async (message) => {
        const delay = options.loadDelayMs?.[message.walletId] ?? 0;
        if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
        if (options.missingKeys?.includes(message.walletId) === true) {
          throw new KeyNotFoundError(message.walletId, 'ed25519');
        }
        const share = new Uint8Array(32).fill(7);
        shares.push(share);
        return { metadata: { walletId: message.walletId } as WalletMetadata, share };
      },
      sign: async () => {
        throw new Error('a batch invite must not build a single signing job');
      },
      signBatch: async (sessionId, items, participants) => {
        built.push({ sessionId, items: [...items], participants });
        // Like JobFactory.signBatch: every record's share is wiped once the job is built.
        for (const { record } of items) record.share.fill(0);
        return {
          party: { rounds: 0, round: async () => ({}), finish: async () => [], wipe: () => {} },
          complete: async () => '',
          dispose: () => {},
        } as never;
      },
    },
  };
  return { deps, shares, built, fetched };
}

const wiped = (shares: readonly Uint8Array[]): boolean =>
  shares.every((share) => share.every((byte) => byte === 0));

const signingOp = (clientId: string | null, walletId: string, txId: string): string =>
  operationKey('sign', clientId ?? '', `${walletId}\n${txId}`);

async function refusal(promise: Promise<unknown>): Promise<MpcError> {
  const error = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(MpcError);
  return error as MpcError;
}

describe('prepareSigningBatchInvite', () => {
  it('builds one batch job with the items in invite order and their operations in order', async () => {
    // The first entry's share loads last: order must come from the invite, not completion.
    const { deps, built, fetched, shares } = harness({ loadDelayMs: { w1: 20, w2: 5 } });
    const job = await prepareSigningBatchInvite(deps, inviteOf());
    expect(built).toHaveLength(1);
    const [call] = built;
    expect(call?.sessionId).toBe('s-batch');
    expect(call?.participants).toEqual(PARTICIPANTS);
    expect(call?.items.map((item) => [item.message.walletId, item.message.txId])).toEqual([
      ['w1', 't1'],
      ['w2', 't2'],
      ['w3', 't3'],
    ]);
    // Each item carries the share loaded for its own wallet.
    expect(call?.items.map((item) => item.record.metadata.walletId)).toEqual(['w1', 'w2', 'w3']);
    expect(job.operations).toEqual([
      signingOp(null, 'w1', 't1'),
      signingOp('client-a', 'w2', 't2'),
      signingOp(null, 'w3', 't3'),
    ]);
    // Every request was read from the signing stream at its own sequence.
    expect(fetched.map((entry) => entry.seq).sort((a, b) => a - b)).toEqual([7, 9, 12]);
    for (const { kind } of fetched) expect(['sign', 'sign-batch']).toContain(kind);
    expect(shares).toHaveLength(3);
  });

  it('accepts one wallet and tx id twice when two different clients sent them', async () => {
    const entries: Entry[] = [
      { body: body('w1', 't1'), seq: 3, clientId: 'client-a' },
      { body: body('w1', 't1'), seq: 4, clientId: 'client-b' },
    ];
    const { deps, built } = harness({ stored: streamOf(entries) });
    const job = await prepareSigningBatchInvite(deps, inviteOf(entries));
    expect(built).toHaveLength(1);
    expect(job.operations).toEqual([
      signingOp('client-a', 'w1', 't1'),
      signingOp('client-b', 'w1', 't1'),
    ]);
  });

  interface Refusal {
    readonly name: string;
    readonly invite: SessionInvite;
    readonly options?: HarnessOptions;
    readonly code: ErrorCode;
    /** Shares the refused invite loads (all must end up wiped). */
    readonly loads: number;
  }

  const many: Entry[] = Array.from({ length: 65 }, (_, index) => ({
    body: body(`w${index}`, `t${index}`),
    seq: index + 1,
    clientId: null,
  }));
  const withoutRequests: SessionInvite = Object.fromEntries(
    Object.entries(inviteOf()).filter(([key]) => key !== 'requests'),
  ) as unknown as SessionInvite;
  const duplicateOp: Entry[] = [
    ENTRIES[0]!,
    ENTRIES[2]!,
    { body: body('w1', 't1', { memo: 'resent' }), seq: 30, clientId: null },
  ];
  const forged: Entry = { body: body('w9', 't9', { forged: 'yes' }), seq: 21, clientId: null };
  const withForged = [ENTRIES[0]!, forged, ENTRIES[2]!];

  const refusals: Refusal[] = [
    {
      name: 'an invite without requests',
      invite: withoutRequests,
      code: ErrorCode.MessageFormat,
      loads: 0,
    },
    {
      name: 'a batch of one request',
      invite: inviteOf(ENTRIES.slice(0, 1)),
      code: ErrorCode.MessageFormat,
      loads: 0,
    },
    {
      name: 'a batch of 65 requests',
      invite: inviteOf(many),
      options: { stored: streamOf(many) },
      code: ErrorCode.MessageFormat,
      loads: 0,
    },
    {
      name: 'two entries with one request sequence',
      invite: inviteOf([ENTRIES[0]!, ENTRIES[1]!, { ...ENTRIES[2]!, seq: ENTRIES[0]!.seq }]),
      code: ErrorCode.MessageFormat,
      loads: 0,
    },
    {
      name: 'a first entry whose body is not the invite request',
      invite: { ...inviteOf(), request: base64(ENTRIES[1]!.body) },
      code: ErrorCode.MessageFormat,
      loads: 0,
    },
    {
      name: 'a first entry whose sequence is not the invite requestSeq',
      invite: { ...inviteOf(), requestSeq: 99 },
      code: ErrorCode.MessageFormat,
      loads: 0,
    },
    {
      name: 'a first entry whose ClientID is not the invite clientId',
      invite: { ...inviteOf(), clientId: 'client-z' },
      code: ErrorCode.MessageFormat,
      loads: 0,
    },
    {
      name: 'an entry that is not base64',
      invite: {
        ...inviteOf(),
        requests: batchOf(ENTRIES).map((entry, index) =>
          index === 1 ? { ...entry, request: 'not base64!' } : entry,
        ),
      },
      code: ErrorCode.MessageFormat,
      loads: 2,
    },
    {
      name: 'an entry whose stream copy differs',
      invite: inviteOf(),
      options: {
        stored: new Map([
          ...streamOf(ENTRIES),
          [ENTRIES[2]!.seq, { body: body('w3', 't3-other'), clientId: null }],
        ]),
      },
      code: ErrorCode.MessageVerification,
      loads: 3,
    },
    {
      name: 'an entry whose stream ClientID differs',
      invite: inviteOf(),
      options: {
        stored: new Map([
          ...streamOf(ENTRIES),
          [ENTRIES[1]!.seq, { body: ENTRIES[1]!.body, clientId: 'client-b' }],
        ]),
      },
      code: ErrorCode.MessageVerification,
      loads: 3,
    },
    {
      name: 'an entry the stream does not hold',
      invite: inviteOf(),
      options: {
        stored: new Map([...streamOf(ENTRIES)].filter(([seq]) => seq !== ENTRIES[1]!.seq)),
      },
      code: ErrorCode.SessionStale,
      loads: 3,
    },
    {
      name: 'an entry whose authentication fails',
      invite: inviteOf(withForged),
      options: { stored: streamOf(withForged) },
      code: ErrorCode.InvalidInitiatorSignature,
      loads: 2,
    },
    {
      name: 'an entry whose wallet key is missing',
      invite: inviteOf(),
      options: { missingKeys: ['w2'], loadDelayMs: { w1: 10 } },
      code: ErrorCode.KeyNotFound,
      loads: 2,
    },
    {
      name: 'two entries naming the same operation',
      invite: inviteOf(duplicateOp),
      options: { stored: streamOf(duplicateOp) },
      code: ErrorCode.SessionDuplicate,
      loads: 3,
    },
    ...(
      [
        ['a null entry', null],
        [
          'an entry with sequence 0',
          { request: base64(ENTRIES[1]!.body), requestSeq: 0, clientId: null },
        ],
        [
          'an entry with a fractional sequence',
          { request: base64(ENTRIES[1]!.body), requestSeq: 1.5, clientId: null },
        ],
        ['an entry with a numeric request', { request: 5, requestSeq: 12, clientId: null }],
        [
          'an entry with a numeric clientId',
          { request: base64(ENTRIES[1]!.body), requestSeq: 12, clientId: 4 },
        ],
      ] as const
    ).map(([name, entry]): Refusal => ({
      name,
      invite: {
        ...inviteOf(),
        requests: [batchOf(ENTRIES)[0]!, entry as never, batchOf(ENTRIES)[2]!],
      },
      code: ErrorCode.MessageFormat,
      loads: 0,
    })),
  ];

  for (const { name, invite, options, code, loads } of refusals) {
    it(`refuses ${name}, builds nothing and wipes every loaded share`, async () => {
      const { deps, shares, built } = harness(options);
      const error = await refusal(prepareSigningBatchInvite(deps, invite));
      expect(error.code).toBe(code);
      expect(built).toHaveLength(0);
      // A load still in flight when the invite is refused is wiped as it lands.
      await vi.waitFor(() => {
        expect(shares).toHaveLength(loads);
        expect(wiped(shares)).toBe(true);
      });
      await new Promise((resolve) => setTimeout(resolve, 30));
      expect(shares).toHaveLength(loads);
      expect(wiped(shares)).toBe(true);
    });
  }
});
