import { createHash, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { ed25519 } from '@noble/curves/ed25519.js';
import { fingerprintOf } from '../identity/node-identity.ts';
import { decodeRepinToken, verifyRepin } from '../identity/repin.ts';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './cli-commands.ts';
import { initiatorSignerFromKeyText } from './initiator-keys.ts';

const directory = mkdtempSync(join(tmpdir(), 'mpc-cli-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const code = await runCli(args, {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
  });
  return { code, stdout, stderr };
}

describe('mpc initiator create', () => {
  for (const algorithm of ['ed25519', 'p256'] as const) {
    it(`writes a ${algorithm} key file (0600) and prints its public key`, async () => {
      const out = join(directory, `${algorithm}.key`);
      const result = await run('initiator', 'create', '--algorithm', algorithm, '--out', out);
      expect(result.code).toBe(0);
      const signer = initiatorSignerFromKeyText(readFileSync(out, 'utf8'), algorithm);
      expect(result.stdout.trim()).toBe(signer.publicKey);
      expect(statSync(out).mode & 0o777).toBe(0o600);
      const again = await run('initiator', 'create', '--algorithm', algorithm, '--out', out);
      expect(again.code).toBe(2);
      expect(again.stderr).toContain('--force');
    });
  }
});

describe('mpc verify', () => {
  it('verifies Ed25519 signatures given in hex or base64', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
    const signature = nodeSign(null, Buffer.from('hello'), privateKey);
    const ok = await run(
      'verify',
      '--key-type',
      'ed25519',
      '--public-key',
      raw.toString('hex'),
      '--message',
      'hello',
      '--signature',
      signature.toString('base64'),
    );
    expect(ok).toMatchObject({ code: 0, stdout: 'valid\n' });
    const hexMessage = await run(
      'verify',
      '--key-type',
      'ed25519',
      '--public-key',
      raw.toString('base64'),
      '--message-hex',
      Buffer.from('hello').toString('hex'),
      '--signature',
      signature.toString('hex'),
    );
    expect(hexMessage.code).toBe(0);
    const bad = await run(
      'verify',
      '--key-type',
      'ed25519',
      '--public-key',
      raw.toString('hex'),
      '--message',
      'hellO',
      '--signature',
      signature.toString('hex'),
    );
    expect(bad).toMatchObject({ code: 1, stdout: 'invalid\n' });
  });

  it('verifies secp256k1 r/s over a digest or SHA-256 of a message', async () => {
    const secretKey = secp256k1.utils.randomSecretKey();
    const publicKey = Buffer.from(secp256k1.getPublicKey(secretKey, false).subarray(1)).toString(
      'hex',
    );
    const digest = createHash('sha256').update('pay 1 BTC').digest();
    const compact = secp256k1.sign(digest, secretKey, { prehash: false });
    const r = Buffer.from(compact.subarray(0, 32)).toString('base64');
    const s = Buffer.from(compact.subarray(32)).toString('base64');
    expect(
      (
        await run(
          'verify',
          '--key-type',
          'secp256k1',
          '--public-key',
          publicKey,
          '--digest-hex',
          digest.toString('hex'),
          '--r',
          r,
          '--s',
          s,
        )
      ).code,
    ).toBe(0);
    expect(
      (
        await run(
          'verify',
          '--key-type',
          'secp256k1',
          '--public-key',
          publicKey,
          '--message',
          'pay 1 BTC',
          '--signature',
          Buffer.from(compact).toString('hex'),
        )
      ).code,
    ).toBe(0);
    expect(
      (
        await run(
          'verify',
          '--key-type',
          'secp256k1',
          '--public-key',
          publicKey,
          '--message',
          'pay 2 BTC',
          '--r',
          r,
          '--s',
          s,
        )
      ).code,
    ).toBe(1);
  });
});

describe('usage errors', () => {
  const cases: [string[], RegExp][] = [
    [[], /usage/],
    [['frobnicate'], /unknown command/],
    [['initiator', 'create', '--algorithm', 'rsa', '--out', 'x'], /--algorithm must be/],
    [['initiator', 'create', '--algorithm', 'ed25519'], /--out is required/],
    [
      [
        'verify',
        '--key-type',
        'ed25519',
        '--public-key',
        'aa',
        '--message',
        'x',
        '--message-hex',
        '00',
        '--signature',
        'aa',
      ],
      /exactly one of/,
    ],
    [
      [
        'verify',
        '--key-type',
        'ed25519',
        '--public-key',
        'aa',
        '--digest-hex',
        '00'.repeat(32),
        '--signature',
        'aa',
      ],
      /Ed25519 signs the message/,
    ],
    [
      [
        'verify',
        '--key-type',
        'secp256k1',
        '--public-key',
        'aa',
        '--digest-hex',
        '00',
        '--signature',
        'aa',
      ],
      /32 bytes/,
    ],
    [
      [
        'verify',
        '--key-type',
        'ed25519',
        '--public-key',
        'aa',
        '--message',
        'x',
        '--signature',
        'aa',
      ],
      /32 bytes/,
    ],
    [
      [
        'verify',
        '--key-type',
        'ed25519',
        '--public-key',
        '!!',
        '--message',
        'x',
        '--signature',
        'aa',
      ],
      /hex or standard base64/,
    ],
    [['verify', '--key-type', 'dsa'], /--key-type must be/],
    [['sign', '--bogus'], /Unknown option/],
    [
      [
        'sign',
        '--key-type',
        'ed25519',
        '--wallet-id',
        'w',
        '--message',
        'x',
        '--derivation-path',
        "44'",
      ],
      /non-hardened/,
    ],
    [['sign', '--key-type', 'ed25519', '--wallet-id', 'w', '--message', 'x'], /--nats is required/],
    [['wallet', 'create', '--nats', 'nats://127.0.0.1:1', '--timeout', '-5'], /--timeout/],
    [['reshare', '--key-type', 'ed25519', '--wallet-id', 'w', '--threshold', '1'], /--node-ids/],
    [
      [
        'reshare',
        '--key-type',
        'ed25519',
        '--wallet-id',
        'w',
        '--node-ids',
        'a,b',
        '--threshold',
        'x',
      ],
      /--threshold must be/,
    ],
    [['reshare', '--key-type', 'ed25519', '--node-ids', 'a,b', '--threshold', '1'], /--wallet-id/],
    [['refresh-pair', '--wallet-id', 'w', '--node', 'a'], /--peer is required/],
    [['refresh-pair', '--wallet-id', 'w', '--peer', 'b'], /--node is required/],
    [['refresh-pair', '--node', 'a', '--peer', 'b'], /--wallet-id is required/],
    [['refresh-pair', '--wallet-id', 'w', '--node', 'a', '--peer', 'b,a'], /other than --node/],
    [
      ['refresh-pair', '--wallet-id', 'w', '--node', 'a', '--peer', 'b,c', '--session-id', 's'],
      /--session-id needs a single --peer/,
    ],
  ];
  for (const [args, pattern] of cases) {
    it(args.join(' ') || '(no arguments)', async () => {
      const result = await run(...args);
      expect(result.code).toBe(2);
      expect(result.stderr + result.stdout).toMatch(pattern);
    });
  }

  it('reports a missing key file as a runtime failure', async () => {
    const result = await run(
      'wallet',
      'create',
      '--nats',
      'nats://127.0.0.1:1',
      '--key',
      join(directory, 'none.key'),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/cannot read key file/);
  });
});

describe('mpc admin sign-repin', () => {
  it('prints a token the signers verify under the administrator key', async () => {
    const keyFile = join(directory, 'admin.key');
    const adminKey = (
      await run('initiator', 'create', '--algorithm', 'ed25519', '--out', keyFile)
    ).stdout.trim();
    const oldKey = Buffer.from(ed25519.getPublicKey(new Uint8Array(32).fill(1))).toString('hex');
    const newKey = Buffer.from(ed25519.getPublicKey(new Uint8Array(32).fill(2))).toString('hex');
    const result = await run(
      'admin',
      'sign-repin',
      '--key',
      keyFile,
      '--cluster',
      'prod/vault',
      '--node',
      'vault-signer-2',
      '--old',
      fingerprintOf(Buffer.from(oldKey, 'hex')),
      '--new',
      newKey,
      '--valid-for',
      '600',
    );
    expect(result.code).toBe(0);
    const signed = decodeRepinToken(result.stdout.trim());
    const expectation = {
      administratorKey: new Uint8Array(Buffer.from(adminKey, 'hex')),
      cluster: 'prod/vault',
      nodeId: 'vault-signer-2',
      oldKey: new Uint8Array(Buffer.from(oldKey, 'hex')),
      newKey: new Uint8Array(Buffer.from(newKey, 'hex')),
      nowMs: Date.now(),
    };
    verifyRepin(signed, expectation);
    expect(() => verifyRepin(signed, { ...expectation, nowMs: Date.now() + 601_000 })).toThrow(
      /expired/,
    );
    expect(result.stderr).toContain('vault-signer-2');

    const bad = await run(
      'admin',
      'sign-repin',
      '--key',
      keyFile,
      '--cluster',
      'c',
      '--node',
      'n',
      '--old',
      'zz',
      '--new',
      newKey,
    );
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--old');
  });
});
