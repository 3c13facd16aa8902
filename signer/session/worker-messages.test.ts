import { describe, expect, it } from 'vitest';
import { InvalidPartySpecError } from './worker-errors.ts';
import {
  checkPartySpec,
  copyRoundOutput,
  resultBuffers,
  transferableBuffers,
} from './worker-messages.ts';

function fieldOf(action: () => void): string | undefined {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidPartySpecError);
    return (error as InvalidPartySpecError).field;
  }
  return undefined;
}

describe('checkPartySpec', () => {
  it('names the bad field', () => {
    expect(fieldOf(() => checkPartySpec(null))).toBe('spec');
    expect(fieldOf(() => checkPartySpec({ protocol: 'gg18-keygen', options: {} }))).toBe(
      'protocol',
    );
    expect(fieldOf(() => checkPartySpec({ protocol: 'frost-keygen' }))).toBe('options');
    expect(
      fieldOf(() => checkPartySpec({ protocol: 'dkls23-sign', options: {}, share: [1, 2] })),
    ).toBe('share');
    expect(
      fieldOf(() =>
        checkPartySpec({ protocol: 'frost-sign', options: {}, share: new Uint8Array(1) }),
      ),
    ).toBeUndefined();
    expect(
      fieldOf(() => checkPartySpec({ protocol: 'dkls23-keygen', options: {} })),
    ).toBeUndefined();
  });
});

describe('transferableBuffers', () => {
  it('moves only whole, non-empty, unshared buffers, once each', () => {
    const whole = new Uint8Array(8);
    const backing = new Uint8Array(16);
    const view = backing.subarray(4, 8);
    const shared = new Uint8Array(new SharedArrayBuffer(8));
    const buffers = transferableBuffers([
      whole,
      whole,
      view,
      shared,
      new Uint8Array(0),
      'x',
      undefined,
    ]);
    expect(buffers).toEqual([whole.buffer]);
  });
});

describe('copyRoundOutput', () => {
  it('copies every payload into fresh whole buffers', () => {
    const backing = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const output = {
      broadcast: backing.subarray(0, 2),
      direct: new Map([[2, backing.subarray(2, 6)]]),
    };
    const copy = copyRoundOutput(output);
    expect(copy.broadcast).toEqual(Uint8Array.of(1, 2));
    expect(copy.direct?.get(2)).toEqual(Uint8Array.of(3, 4, 5, 6));
    backing.fill(0);
    expect(copy.broadcast).toEqual(Uint8Array.of(1, 2));
    expect(transferableBuffers([copy.broadcast, ...copy.direct!.values()])).toHaveLength(2);
    expect(copyRoundOutput({})).toEqual({});
  });
});

describe('resultBuffers', () => {
  it('lists the top-level byte fields of a result', () => {
    const share = new Uint8Array(3);
    const publicKey = new Uint8Array(2);
    expect(resultBuffers({ share, publicKey, recovery: 1 })).toEqual([share, publicKey]);
    expect(resultBuffers(undefined)).toEqual([]);
  });
});
