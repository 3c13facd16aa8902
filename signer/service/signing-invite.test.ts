/**
 * The participant's signing-invite preparation (signing-invite.ts): it overlaps the stream
 * read, the authentication of the coordinator's copy and the share load, yet acts only on the
 * stream's copy, reports the stream's verdict first, and wipes a share loaded for a refused
 * invite. The request source here is in memory (the JetStream one is exercised end to end by
 * test/integration/hostile-input.test.ts and the security tests).
 */
import { describe, expect, it } from 'vitest';
import { ErrorCode, MpcError } from '../protocol/errors.ts';
import type { SignTxMessage } from '../protocol/messages.ts';
import type { SessionInvite } from '../transport/control-messages.ts';
import { RequestNotInStreamError, type RequestSource } from '../transport/request-source.ts';
import { operationKey } from './operation-ledger.ts';
import { prepareSigningInvite, type SigningInviteDeps } from './signing-invite.ts';
import type { WalletMetadata } from './wallet-record.ts';

const encoder = new TextEncoder();
const genuine = encoder.encode('{"wallet_id":"w1","tx_id":"t1"}');

const invite: SessionInvite = {
  type: 'invite',
  sessionId: 's1',
  kind: 'sign',
  coordinator: 'node0',
  participants: [
    { nodeId: 'node0', partyId: 1 },
    { nodeId: 'node1', partyId: 2 },
  ],
  request: Buffer.from(genuine).toString('base64'),
  requestSeq: 7,
  clientId: null,
  createdAt: 0,
};

function harness(options: { stored?: Uint8Array; authenticates?: boolean }) {
  const shares: Uint8Array[] = [];
  const built: SignTxMessage[] = [];
  const requests: RequestSource = {
    fetch: async (_kind, seq) => {
      if (options.stored === undefined) throw new RequestNotInStreamError('sign', seq);
      return { body: options.stored, clientId: null };
    },
  };
  const deps: SigningInviteDeps = {
    requests,
    authenticator: {
      sign: (body) => {
        if (options.authenticates === false) {
          throw new MpcError(ErrorCode.MessageVerification, 'bad initiator signature');
        }
        const parsed = JSON.parse(new TextDecoder().decode(body)) as Record<string, string>;
        return {
          message: { walletId: parsed['wallet_id'], txId: parsed['tx_id'] } as SignTxMessage,
        };
      },
    },
    jobs: {
      loadForSigning: async () => {
        const share = new Uint8Array(32).fill(7);
        shares.push(share);
        return { metadata: {} as WalletMetadata, share };
      },
      sign: async (_sessionId, message, _participants, loaded) => {
        built.push(message);
        loaded?.share.fill(0);
        return {
          party: { rounds: 0, round: async () => ({}), finish: async () => ({}), wipe: () => {} },
          complete: async () => '',
          dispose: () => {},
        } as never;
      },
    },
  };
  return { deps, shares, built };
}

const wiped = (shares: Uint8Array[]): boolean =>
  shares.every((share) => share.every((byte) => byte === 0));

describe('prepareSigningInvite', () => {
  it('builds the job from the stream copy when it equals the authenticated copy', async () => {
    const { deps, built } = harness({ stored: genuine });
    const job = await prepareSigningInvite(deps, invite, genuine);
    expect(built).toHaveLength(1);
    expect(built[0]?.walletId).toBe('w1');
    expect(job.operations).toEqual([operationKey('sign', '', 'w1\nt1')]);
  });

  it('refuses a copy that differs from the stream and wipes the share it loaded', async () => {
    const { deps, shares, built } = harness({ stored: encoder.encode('{"wallet_id":"w2"}') });
    await expect(prepareSigningInvite(deps, invite, genuine)).rejects.toMatchObject({
      code: ErrorCode.MessageVerification,
      message: expect.stringContaining('differs from the request stream'),
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(shares).toHaveLength(1);
    expect(wiped(shares)).toBe(true);
    expect(built).toHaveLength(0);
  });

  it("reports the stream's verdict before an authentication failure", async () => {
    const { deps, shares } = harness({ authenticates: false });
    await expect(prepareSigningInvite(deps, invite, genuine)).rejects.toBeInstanceOf(
      RequestNotInStreamError,
    );
    expect(shares).toHaveLength(0);
  });

  it('refuses an unauthenticated request that the stream holds, loading nothing', async () => {
    const { deps, shares, built } = harness({ stored: genuine, authenticates: false });
    await expect(prepareSigningInvite(deps, invite, genuine)).rejects.toMatchObject({
      code: ErrorCode.MessageVerification,
      message: 'bad initiator signature',
    });
    expect(shares).toHaveLength(0);
    expect(built).toHaveLength(0);
  });
});
