import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return { lines, destination };
}

describe('signer logger', () => {
  it('redacts secret-named fields at the top level and one level down', () => {
    const { lines, destination } = capture();
    const log = createLogger({ level: 'info', nodeId: 'n1', destination });
    const secretHex = 'deadbeef'.repeat(8);
    log.info(
      {
        share: secretHex,
        kek: secretHex,
        session: { nonce: secretHex, privateKey: secretHex, chainCode: secretHex },
        walletId: 'w-1',
      },
      'session state',
    );
    const text = lines.join('');
    expect(text).not.toContain(secretHex);
    expect(text).toContain('[REDACTED]');
    expect(text).toContain('w-1');
    expect(JSON.parse(lines[0] ?? '{}')).toMatchObject({ nodeId: 'n1', msg: 'session state' });
  });
});
