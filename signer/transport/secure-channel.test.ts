import { diffieHellman, generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  ChannelAuthenticationError,
  EnvelopeKind,
  broadcastSignedBytes,
  decodeEnvelope,
  derivePairKeys,
  encodeEnvelope,
  generateEphemeralKeyPair,
  openDirect,
  sealDirect,
  wipePairKeys,
  type EnvelopeHeader,
} from './secure-channel.ts';
import { openControl, signControl } from './control-messages.ts';
import { verifyEd25519 } from './ed25519-verify.ts';

function pair(sessionId = 'session-1') {
  return pairFrom(generateEphemeralKeyPair(), generateEphemeralKeyPair(), sessionId);
}

function pairFrom(
  alice: ReturnType<typeof generateEphemeralKeyPair>,
  bob: ReturnType<typeof generateEphemeralKeyPair>,
  sessionId = 'session-1',
) {
  const aliceKeys = derivePairKeys({
    sessionId,
    selfNodeId: 'alice',
    selfKeyPair: alice,
    peerNodeId: 'bob',
    peerEphemeralPublicKey: bob.publicKey,
  });
  const bobKeys = derivePairKeys({
    sessionId,
    selfNodeId: 'bob',
    selfKeyPair: bob,
    peerNodeId: 'alice',
    peerEphemeralPublicKey: alice.publicKey,
  });
  return { aliceKeys, bobKeys };
}

const header: EnvelopeHeader = {
  kind: EnvelopeKind.Direct,
  sessionId: 'session-1',
  round: 2,
  from: 'alice',
  to: 'bob',
};

describe('secure channel', () => {
  it('derives matching direction keys on both sides, distinct per direction', () => {
    const { aliceKeys, bobKeys } = pair();
    expect(aliceKeys.sendKey).toEqual(bobKeys.receiveKey);
    expect(bobKeys.sendKey).toEqual(aliceKeys.receiveKey);
    expect(aliceKeys.sendKey).not.toEqual(aliceKeys.receiveKey);
  });

  it('wipes the X25519 shared secret once HKDF has used it (finding I1)', () => {
    const alice = generateEphemeralKeyPair();
    const bob = generateEphemeralKeyPair();
    const outputs: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    const keys = derivePairKeys({
      sessionId: 'session-1',
      selfNodeId: 'alice',
      selfKeyPair: alice,
      peerNodeId: 'bob',
      peerEphemeralPublicKey: bob.publicKey,
      keyAgreement: (privateKey, publicKey) => {
        const shared = diffieHellman({ privateKey, publicKey });
        outputs.push(shared);
        copies.push(Uint8Array.from(shared)); // a copy: Buffer#slice would be a view
        return shared;
      },
    });
    expect(outputs).toHaveLength(1);
    expect((copies[0] as Uint8Array).some((byte) => byte !== 0)).toBe(true);
    expect((outputs[0] as Uint8Array).every((byte) => byte === 0)).toBe(true);
    // The default agreement derives the same keys (the seam changes nothing else).
    const { aliceKeys } = pairFrom(alice, bob);
    expect(keys.sendKey).toEqual(aliceKeys.sendKey);
    expect(keys.receiveKey).toEqual(aliceKeys.receiveKey);
    // What the module comment promises for the direction keys.
    wipePairKeys(keys);
    expect([...keys.sendKey, ...keys.receiveKey].every((byte) => byte === 0)).toBe(true);
  });

  it('derives different keys for another session with the same ephemeral keys', () => {
    const alice = generateEphemeralKeyPair();
    const bob = generateEphemeralKeyPair();
    const keysFor = (sessionId: string) =>
      derivePairKeys({
        sessionId,
        selfNodeId: 'alice',
        selfKeyPair: alice,
        peerNodeId: 'bob',
        peerEphemeralPublicKey: bob.publicKey,
      });
    expect(keysFor('s1').sendKey).not.toEqual(keysFor('s2').sendKey);
  });

  it('round-trips a direct message through the wire encoding', () => {
    const { aliceKeys, bobKeys } = pair();
    const sealed = sealDirect(aliceKeys, header, new TextEncoder().encode('share for bob'));
    const decoded = decodeEnvelope(encodeEnvelope(sealed));
    expect(new TextDecoder().decode(openDirect(bobKeys, decoded))).toBe('share for bob');
  });

  it('rejects a ciphertext moved to another round, sender, recipient or session', () => {
    const { aliceKeys, bobKeys } = pair();
    const sealed = sealDirect(aliceKeys, header, Uint8Array.of(1, 2, 3));
    for (const changed of [
      { ...header, round: 3 },
      { ...header, from: 'carol' },
      { ...header, to: 'dave' },
      { ...header, sessionId: 'session-2' },
      { ...header, kind: EnvelopeKind.Broadcast },
    ]) {
      expect(() => openDirect(bobKeys, { ...sealed, header: changed })).toThrow(
        ChannelAuthenticationError,
      );
    }
  });

  it('rejects tampered ciphertext and messages under the wrong key', () => {
    const { aliceKeys, bobKeys } = pair();
    const sealed = sealDirect(aliceKeys, header, Uint8Array.of(1, 2, 3));
    const tampered = sealed.body.slice();
    tampered[10] = (tampered[10] ?? 0) ^ 1;
    expect(() => openDirect(bobKeys, { ...sealed, body: tampered })).toThrow(
      ChannelAuthenticationError,
    );
    const other = pair();
    expect(() => openDirect(other.bobKeys, sealed)).toThrow(ChannelAuthenticationError);
  });

  it('uses a fresh nonce per message (counter), so equal plaintexts differ', () => {
    const { aliceKeys } = pair();
    const first = sealDirect(aliceKeys, header, Uint8Array.of(9));
    const second = sealDirect(aliceKeys, header, Uint8Array.of(9));
    expect(first.body).not.toEqual(second.body);
  });

  it('rejects malformed envelopes', () => {
    const bytes = encodeEnvelope(sealDirect(pair().aliceKeys, header, Uint8Array.of(1)));
    expect(() => decodeEnvelope(bytes.subarray(0, bytes.length - 1))).toThrow(RangeError);
    expect(() => decodeEnvelope(new Uint8Array([...bytes, 0]))).toThrow(RangeError);
    const badVersion = bytes.slice();
    badVersion[0] = 9;
    expect(() => decodeEnvelope(badVersion)).toThrow(RangeError);
  });

  it('broadcast signatures bind the header', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const raw = new Uint8Array(
      Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'),
    );
    const broadcastHeader = { ...header, kind: EnvelopeKind.Broadcast, to: '' };
    const body = Uint8Array.of(5, 6);
    const signature = new Uint8Array(
      sign(null, broadcastSignedBytes(broadcastHeader, body), privateKey),
    );
    expect(verifyEd25519(raw, broadcastSignedBytes(broadcastHeader, body), signature)).toBe(true);
    expect(
      verifyEd25519(raw, broadcastSignedBytes({ ...broadcastHeader, round: 3 }, body), signature),
    ).toBe(false);
  });
});

describe('signed control messages', () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = new Uint8Array(Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url'));
  const signer = {
    nodeId: 'alice',
    sign: (bytes: Uint8Array) => new Uint8Array(sign(null, bytes, privateKey)),
  };
  const roster = new Map([['alice', raw]]);
  const hello = {
    type: 'hello' as const,
    sessionId: 's',
    nodeId: 'alice',
    ephemeralPublicKey: 'AA==',
  };

  it('opens a control message signed by a roster member', () => {
    expect(openControl(signControl(signer, hello), roster)).toEqual(hello);
  });

  it('drops unknown senders, forged bodies, impersonation and junk', () => {
    const signed = signControl(signer, hello);
    expect(openControl({ ...signed, from: 'mallory' }, roster)).toBeUndefined();
    expect(
      openControl({ ...signed, body: signed.body.replace('"s"', '"t"') }, roster),
    ).toBeUndefined();
    const impersonating = signControl(signer, { ...hello, nodeId: 'bob' });
    expect(openControl(impersonating, roster)).toBeUndefined();
    expect(openControl('junk', roster)).toBeUndefined();
    expect(openControl(null, roster)).toBeUndefined();
  });
});
