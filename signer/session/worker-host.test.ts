import { ed25519 } from '@noble/curves/ed25519.js';
import { describe, expect, it } from 'vitest';
import { FrostError, FrostErrorCode } from '../crypto/frost/index.ts';
import { Dkls23GammaCheckError } from '../crypto/dkls23/index.ts';
import type { PartyId, RoundInput, RoundOutput } from '../crypto/round-protocol.ts';
import { PARTY_WORKER_INTERNAL_CODE, PARTY_WORKER_STATE_CODE } from './worker-errors.ts';
import { PartyHost, serializePartyError } from './worker-host.ts';
import type { EncodedKeygenResult, FromWorkerMessage, PartySpec } from './worker-messages.ts';

const EMPTY: RoundInput = { broadcast: new Map(), direct: new Map() };
let nextCall = 0;

function reply(host: PartyHost, message: Parameters<PartyHost['handle']>[0]): FromWorkerMessage {
  const answer = host.handle(message);
  if (answer === undefined) throw new Error('expected a reply');
  // Every transferable buffer is exclusively owned: transferring it must not detach others.
  for (const buffer of answer.transfer) expect(buffer.byteLength).toBeGreaterThan(0);
  return answer.message;
}

function expectKind<Kind extends FromWorkerMessage['kind']>(
  message: FromWorkerMessage,
  kind: Kind,
): Extract<FromWorkerMessage, { kind: Kind }> {
  if (message.kind !== kind) throw new Error(`expected ${kind}, got ${JSON.stringify(message)}`);
  return message as Extract<FromWorkerMessage, { kind: Kind }>;
}

/** Runs parties hosted by one PartyHost in lockstep, like the pool would across threads. */
function runHosted(host: PartyHost, specs: ReadonlyMap<PartyId, PartySpec>): Map<PartyId, unknown> {
  const parties = [...specs.keys()];
  let rounds = 0;
  for (const [party, spec] of specs) {
    rounds = expectKind(
      reply(host, { kind: 'create', call: ++nextCall, party, spec }),
      'created',
    ).rounds;
  }
  let inputs = new Map<PartyId, RoundInput>(parties.map((party) => [party, EMPTY]));
  const seenDirect: Uint8Array[] = [];
  for (let index = 0; index < rounds; index++) {
    const outputs = new Map<PartyId, RoundOutput>();
    for (const party of parties) {
      const message = reply(host, {
        kind: 'round',
        call: ++nextCall,
        party,
        index,
        input: inputs.get(party)!,
      });
      outputs.set(party, expectKind(message, 'output').output);
    }
    for (const payload of seenDirect) expect(payload.every((byte) => byte === 0)).toBe(true);
    const next = new Map<
      PartyId,
      { broadcast: Map<PartyId, Uint8Array>; direct: Map<PartyId, Uint8Array> }
    >(parties.map((party) => [party, { broadcast: new Map(), direct: new Map() }]));
    for (const [from, output] of outputs) {
      for (const to of parties) {
        if (to === from) continue;
        if (output.broadcast !== undefined)
          next.get(to)!.broadcast.set(from, output.broadcast.slice());
        const direct = output.direct?.get(to);
        if (direct !== undefined) {
          const copy = direct.slice();
          seenDirect.push(copy);
          next.get(to)!.direct.set(from, copy);
        }
      }
    }
    inputs = next;
  }
  const results = new Map<PartyId, unknown>();
  for (const party of parties) {
    const message = reply(host, {
      kind: 'finish',
      call: ++nextCall,
      party,
      input: inputs.get(party)!,
    });
    results.set(party, expectKind(message, 'result').result);
  }
  for (const payload of seenDirect) expect(payload.every((byte) => byte === 0)).toBe(true);
  return results;
}

describe('PartyHost', () => {
  it('hosts a FROST keygen and signing; wipes inputs and share bytes; releases finished parties', () => {
    const host = new PartyHost();
    const participants = [1, 2, 3];
    const sessionId = crypto.getRandomValues(new Uint8Array(16));
    const keygen = runHosted(
      host,
      new Map(
        participants.map((self) => [
          self,
          { protocol: 'frost-keygen', options: { self, participants, threshold: 1, sessionId } },
        ]),
      ),
    ) as Map<PartyId, EncodedKeygenResult>;
    expect(host.size).toBe(0);
    const publicKey = keygen.get(1)!.publicKey;
    for (const result of keygen.values()) expect(result.publicKey).toEqual(publicKey);

    const message = new TextEncoder().encode('pay 1 SOL');
    const signSessionId = crypto.getRandomValues(new Uint8Array(16));
    const shares = new Map([1, 3].map((party) => [party, keygen.get(party)!.share.slice()]));
    const signatures = runHosted(
      host,
      new Map(
        [1, 3].map((party) => [
          party,
          {
            protocol: 'frost-sign',
            share: shares.get(party)!,
            options: { signers: [1, 3], sessionId: signSessionId, message },
          },
        ]),
      ),
    ) as Map<PartyId, { signature: Uint8Array; publicKey: Uint8Array }>;
    for (const share of shares.values()) expect(share.every((byte) => byte === 0)).toBe(true);
    for (const result of signatures.values()) {
      expect(ed25519.verify(result.signature, message, publicKey)).toBe(true);
    }
    expect(host.size).toBe(0);
  });

  it('fails, releases the party and names the counterparty when a check fails', () => {
    const host = new PartyHost();
    const sessionId = crypto.getRandomValues(new Uint8Array(16));
    const participants = [1, 2];
    for (const self of participants) {
      const spec: PartySpec = {
        protocol: 'frost-keygen',
        options: { self, participants, threshold: 1, sessionId },
      };
      expectKind(reply(host, { kind: 'create', call: ++nextCall, party: self, spec }), 'created');
    }
    const out2 = expectKind(
      reply(host, { kind: 'round', call: ++nextCall, party: 2, index: 0, input: EMPTY }),
      'output',
    );
    expectKind(
      reply(host, { kind: 'round', call: ++nextCall, party: 1, index: 0, input: EMPTY }),
      'output',
    );
    const tampered = out2.output.broadcast!.slice();
    tampered[tampered.length - 1]! ^= 1;
    const failed = expectKind(
      reply(host, {
        kind: 'round',
        call: ++nextCall,
        party: 1,
        index: 1,
        input: { broadcast: new Map([[2, tampered]]), direct: new Map() },
      }),
      'failed',
    );
    expect(failed.error.counterparty).toBe(2);
    expect(failed.error.code).toMatch(/^FROST_/);
    expect(host.size).toBe(1);
    const again = expectKind(
      reply(host, { kind: 'round', call: ++nextCall, party: 1, index: 1, input: EMPTY }),
      'failed',
    );
    expect(again.error.code).toBe(PARTY_WORKER_STATE_CODE);
    expect(host.handle({ kind: 'wipe', party: 2 })).toBeUndefined();
    expect(host.handle({ kind: 'wipe', party: 2 })).toBeUndefined();
    expect(host.size).toBe(0);
  });

  it('rejects a create with invalid options or an undecodable share, wiping the share', () => {
    const host = new PartyHost();
    const badOptions = expectKind(
      reply(host, {
        kind: 'create',
        call: ++nextCall,
        party: 1,
        spec: {
          protocol: 'frost-keygen',
          options: { self: 9, participants: [1, 2], threshold: 1, sessionId: new Uint8Array(8) },
        },
      }),
      'failed',
    );
    expect(badOptions.error.code).toBe(FrostErrorCode.InvalidArgument);
    const share = new Uint8Array(200).fill(7);
    const badShare = expectKind(
      reply(host, {
        kind: 'create',
        call: ++nextCall,
        party: 2,
        spec: {
          protocol: 'dkls23-sign',
          share,
          options: { signers: [1, 2], sessionId: new Uint8Array(8), digest: new Uint8Array(32) },
        },
      }),
      'failed',
    );
    expect(badShare.error.code).toMatch(/^DKLS23_/);
    expect(share.every((byte) => byte === 0)).toBe(true);
    expect(host.size).toBe(0);
  });
});

describe('serializePartyError', () => {
  it('keeps vetted protocol errors with counterparty, field and banPair', () => {
    expect(
      serializePartyError(
        new Dkls23GammaCheckError('gamma check failed for party 3', { counterparty: 3 }),
      ),
    ).toEqual({
      name: 'Dkls23GammaCheckError',
      message: 'gamma check failed for party 3',
      code: 'DKLS23_GAMMA_CHECK_FAILED',
      counterparty: 3,
      banPair: true,
    });
    expect(
      serializePartyError(
        new FrostError(FrostErrorCode.InvalidDkgShare, 'bad share', {
          counterparty: 2,
          field: 'share',
        }),
      ),
    ).toEqual({
      name: 'FrostError',
      message: 'bad share',
      code: 'FROST_INVALID_DKG_SHARE',
      counterparty: 2,
      field: 'share',
    });
  });

  it('never forwards the message of other errors (it may quote secret values)', () => {
    const serialized = serializePartyError(new RangeError('scalar 0x1234deadbeef out of range'));
    expect(serialized.code).toBe(PARTY_WORKER_INTERNAL_CODE);
    expect(serialized.message).not.toContain('1234');
    expect(serialized.message).toContain('RangeError');
    expect(serializePartyError('oops').message).not.toContain('oops');
  });
});
