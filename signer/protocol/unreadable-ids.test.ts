/**
 * Routing of requests that can never succeed (issue 12 item 2, README failure semantics):
 * which ids get the `_invalid` result token, which ClientID headers are refused, and which
 * raw ids are echoed back.
 */
import { describe, expect, it } from 'vitest';
import { headers } from '@nats-io/transport-node';
import { salvageRawId, salvageRequestIds } from './messages.ts';
import {
  UnreadableIdToken,
  isSubjectToken,
  keygenResultSubject,
  readClientIdHeader,
  resultIdToken,
} from './subjects.ts';

const encoder = new TextEncoder();

describe('resultIdToken', () => {
  it('keeps every id the parsers accept', () => {
    for (const id of ['wallet-1', 'w_2', 'a:b', 'Ünïcode', 'x'.repeat(256), '_invalid']) {
      expect(resultIdToken(id)).toBe(id);
    }
  });

  it('maps ids that cannot be a subject token to _invalid', () => {
    for (const id of [
      '',
      'a.b',
      'a*b',
      '*',
      'a>b',
      '>',
      'a b',
      'a\tb',
      'a\u0000b',
      'x'.repeat(257),
    ]) {
      expect(isSubjectToken(id)).toBe(false);
      expect(resultIdToken(id)).toBe(UnreadableIdToken);
    }
    // The subject then has exactly the tokens of the client's `….*` filter.
    expect(keygenResultSubject('svc-a', resultIdToken('a.b'))).toBe(
      'mpc.mpc_keygen_result.svc-a._invalid',
    );
  });

  it('agrees with the request parsers: a salvaged id is either valid or empty', () => {
    for (const walletId of ['a.b', 'a b', 'w'.repeat(300), 'ok-1']) {
      const salvaged = salvageRequestIds(encoder.encode(JSON.stringify({ wallet_id: walletId })));
      expect(resultIdToken(salvaged.walletId)).toBe(walletId === 'ok-1' ? 'ok-1' : '_invalid');
    }
  });
});

describe('readClientIdHeader', () => {
  it('accepts no header and valid ClientIDs', () => {
    expect(readClientIdHeader(undefined)).toEqual({ clientId: '' });
    const h = headers();
    h.set('ClientID', 'svc-a');
    expect(readClientIdHeader(h)).toEqual({ clientId: 'svc-a' });
  });

  it('refuses ClientIDs that cannot scope a subject', () => {
    for (const clientId of ['a b', 'a\tb', 'a.b', 'a*', 'a>', 'c'.repeat(129)]) {
      expect(readClientIdHeader({ get: () => clientId })).toBeUndefined();
    }
  });
});

describe('salvageRawId', () => {
  it('echoes a readable string id, bounded', () => {
    const body = (value: unknown): Uint8Array =>
      encoder.encode(JSON.stringify({ wallet_id: value }));
    expect(salvageRawId(body('a.b'), 'wallet_id')).toBe('a.b');
    expect(salvageRawId(body('w'.repeat(300)), 'wallet_id')).toBe('w'.repeat(300));
    expect(salvageRawId(body('w'.repeat(1025)), 'wallet_id')).toBe('');
    expect(salvageRawId(body(42), 'wallet_id')).toBe('');
    expect(salvageRawId(encoder.encode('{"wallet_id": "tr'), 'wallet_id')).toBe('');
    expect(
      salvageRawId(
        encoder.encode(JSON.stringify({ wallet_id: 'x', pad: 'p'.repeat(70 * 1024) })),
        'wallet_id',
      ),
    ).toBe('');
  });
});
