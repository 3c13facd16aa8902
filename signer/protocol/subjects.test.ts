import { describe, expect, it } from 'vitest';
import {
  KeygenRequestConsumerName,
  SigningRequestConsumerName,
  keygenResultMessageId,
  keygenResultSubject,
  keygenResultSubscriptionSubject,
  reshareResultMessageId,
  reshareResultSubject,
  reshareResultSubscriptionSubject,
  resultConsumerDurableName,
  resultConsumerName,
  resultStreamSubjects,
  sanitizeConsumerName,
  scopedOperationId,
  signingResultMessageId,
  signingResultSubject,
  signingResultSubscriptionSubject,
  validateClientId,
  isValidClientId,
  KeygenResultConsumerBase,
} from './subjects.ts';
import { ValidationError } from './errors.ts';
import { loadMpciumVectors } from '../../test/vectors/mpcium/load.ts';

interface TopicVectors {
  walletId: string;
  sessionId: string;
  cases: {
    clientId: string;
    keygenResultSubject: string;
    keygenSubscriptionSubject: string;
    signingResultSubject: string;
    signingSubscriptionSubject: string;
    reshareResultSubject: string;
    reshareSubscriptionSubject: string;
    keygenConsumerName: string;
    scopedOperationId: string;
  }[];
  resultStreamSubjects: string[];
  durables: { base: string; clientId: string; durable: string }[];
  sanitizeConsumerName: { in: string; out: string }[];
}

const vectors = loadMpciumVectors<TopicVectors>('result-topics.json');

describe('result routing subjects (mpcium result_topics_test.go vectors)', () => {
  for (const entry of vectors.cases) {
    it(`clientId ${JSON.stringify(entry.clientId)}`, () => {
      expect(keygenResultSubject(entry.clientId, vectors.walletId)).toBe(entry.keygenResultSubject);
      expect(keygenResultSubscriptionSubject(entry.clientId)).toBe(entry.keygenSubscriptionSubject);
      expect(signingResultSubject(entry.clientId)).toBe(entry.signingResultSubject);
      expect(signingResultSubscriptionSubject(entry.clientId)).toBe(
        entry.signingSubscriptionSubject,
      );
      expect(reshareResultSubject(entry.clientId, vectors.sessionId)).toBe(
        entry.reshareResultSubject,
      );
      expect(reshareResultSubscriptionSubject(entry.clientId)).toBe(
        entry.reshareSubscriptionSubject,
      );
      expect(resultConsumerName(KeygenResultConsumerBase, entry.clientId)).toBe(
        entry.keygenConsumerName,
      );
      expect(scopedOperationId(entry.clientId, vectors.walletId)).toBe(entry.scopedOperationId);
    });
  }

  it('lists the three result stream subjects in order', () => {
    expect(resultStreamSubjects()).toEqual(vectors.resultStreamSubjects);
  });

  it('derives durable names like mpcium', () => {
    for (const entry of vectors.durables) {
      expect(resultConsumerDurableName(entry.base, entry.clientId)).toBe(entry.durable);
    }
    expect(KeygenRequestConsumerName).toBe('mpc_keygen_consumer');
    expect(SigningRequestConsumerName).toBe('mpc_signing_consumer');
  });

  it('sanitizes consumer names like jetstream_broker.go', () => {
    for (const entry of vectors.sanitizeConsumerName) {
      expect(sanitizeConsumerName(entry.in)).toBe(entry.out);
    }
    expect(sanitizeConsumerName('')).toBe('');
    // Go reads the first UTF-8 byte as a Latin-1 rune: 0xC3 ('Ã') is a letter, 0xD7 ('×') not.
    expect(sanitizeConsumerName('é')).toBe('é');
    expect(sanitizeConsumerName('\u05d0')).toBe('_\u05d0');
  });
});

describe('Nats-Msg-Id templates (§1.6)', () => {
  it('formats keygen, signing and reshare ids', () => {
    expect(keygenResultMessageId('', 'wallet-1')).toBe('mpc.mpc_keygen_result.wallet-1');
    expect(keygenResultMessageId('svc-a', 'wallet-1', 'u1')).toBe(
      'mpc.mpc_keygen_result.svc-a:wallet-1:u1',
    );
    expect(signingResultMessageId('', 'tx-1', 'u2')).toBe('mpc.mpc_signing_result.tx-1:u2');
    expect(signingResultMessageId('svc-a', 'tx-1')).toBe('mpc.mpc_signing_result.svc-a:tx-1');
    expect(reshareResultMessageId('svc-a', 'session-1')).toBe(
      'mpc.mpc_reshare_result.svc-a:session-1',
    );
    expect(reshareResultMessageId('', 'session-1')).toBe('mpc.mpc_reshare_result.session-1');
  });
});

describe('validateClientId (Go validateClientID)', () => {
  it('accepts empty and ordinary ids', () => {
    for (const id of ['', 'svc-a', 'svc_b', 'A1', 'client:1'])
      expect(isValidClientId(id)).toBe(true);
  });

  it('rejects what the Go client rejects, naming the field', () => {
    for (const id of [
      '   ',
      'a b',
      'a\tb',
      'a\rb',
      'a\nb',
      'a.b',
      'a*',
      '>',
      'a\u0000b',
      'x'.repeat(129),
    ]) {
      expect(() => validateClientId(id)).toThrow(ValidationError);
    }
    try {
      validateClientId('a.b');
    } catch (error) {
      expect((error as ValidationError).field).toBe('ClientID');
      expect((error as ValidationError).code).toBe('ERROR_MSG_VALIDATION');
    }
  });
});
