import { describe, expect, it } from 'vitest';
import { decodeWalletRecord, encodeWalletRecord } from './wallet-record.ts';

describe('wallet record', () => {
  it('round-trips metadata and share bytes and rejects unknown versions', () => {
    const metadata = {
      walletId: 'w-1',
      keyType: 'ed25519' as const,
      version: 1,
      threshold: 1,
      committee: [
        { nodeId: 'a', partyId: 1 },
        { nodeId: 'b', partyId: 2 },
      ],
      publicKey: 'ab'.repeat(32),
    };
    const share = Uint8Array.from({ length: 40 }, (_, index) => index);
    const bytes = encodeWalletRecord({ metadata, share });
    const decoded = decodeWalletRecord(bytes);
    expect(decoded.metadata).toEqual(metadata);
    expect(decoded.share).toEqual(share);
    bytes[0] = 9;
    expect(() => decodeWalletRecord(bytes)).toThrow(RangeError);
    expect(() => decodeWalletRecord(Uint8Array.of(1, 0, 0, 1, 0))).toThrow(RangeError);
  });
});
