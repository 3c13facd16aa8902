/* eslint-disable no-control-regex -- the tests filter control characters on purpose */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeStdBase64,
  encodeStdBase64,
  goBytes,
  goMarshalText,
  goObject,
  goQuoteString,
  toGoDecodedString,
} from './go-json.ts';
import { loadMpciumVectors } from '../../test/vectors/mpcium/load.ts';

interface Vectors {
  goStringEscapes: { cases: { in: string; out: string }[] };
}

const vectors = loadMpciumVectors<Vectors>('initiator-raw.json');

describe('goQuoteString', () => {
  it('matches the Go escaping vectors', () => {
    for (const entry of vectors.goStringEscapes.cases) {
      expect(goQuoteString(entry.in)).toBe(entry.out);
    }
  });

  it('escapes lone surrogates as \\ufffd and keeps pairs', () => {
    expect(goQuoteString('a\ud800b')).toBe('"a\\ufffdb"');
    expect(goQuoteString('\udc00')).toBe('"\\ufffd"');
    expect(goQuoteString('\ud83d\ude00')).toBe('"\ud83d\ude00"');
  });

  it('agrees with JSON.stringify on strings without Go-specific escapes', () => {
    const safe = fc
      .string({ unit: 'grapheme' })
      .filter((s) => !/[<>&\u2028\u2029\u0000-\u001f]/.test(s));
    fc.assert(fc.property(safe, (s) => goQuoteString(s) === JSON.stringify(s)));
  });

  it('always produces JSON that decodes to the Go-decoded string', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const decoded = JSON.parse(goQuoteString(s)) as string;
        expect(decoded).toBe(toGoDecodedString(s));
      }),
    );
  });
});

describe('goMarshalText', () => {
  it('marshals ordered structs, nil slices, bytes, ints and bools', () => {
    expect(
      goMarshalText(
        goObject(
          ['a', 'x'],
          ['n', null],
          ['b', goBytes(Uint8Array.of(0xde, 0xad, 0xbe, 0xef))],
          ['e', goBytes(new Uint8Array(0))],
          ['i', -3],
          ['t', true],
          ['l', ['p', 'q']],
          ['u', [44, 60]],
          ['z', []],
        ),
      ),
    ).toBe(
      '{"a":"x","n":null,"b":"3q2+7w==","e":"","i":-3,"t":true,"l":["p","q"],"u":[44,60],"z":[]}',
    );
    expect(() => goMarshalText(1.5)).toThrow(RangeError);
  });
});

describe('standard base64 (Go StdEncoding)', () => {
  it('round-trips arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        expect(decodeStdBase64(encodeStdBase64(bytes))).toEqual(bytes);
      }),
    );
  });

  it('rejects what Go rejects and tolerates what Go tolerates', () => {
    expect(decodeStdBase64('3q2+7w')).toBeUndefined(); // no padding
    expect(decodeStdBase64('3q2-7w==')).toBeUndefined(); // URL alphabet
    expect(decodeStdBase64('3q2+7w=a')).toBeUndefined();
    expect(decodeStdBase64('A===')).toBeUndefined();
    expect(decodeStdBase64('3q==7w==')).toBeUndefined(); // padding inside
    expect(decodeStdBase64('3q2+ 7w==')).toBeUndefined();
    expect(decodeStdBase64('3q2+\r\n7w==')).toEqual(Uint8Array.of(0xde, 0xad, 0xbe, 0xef));
    expect(decodeStdBase64('3q2+7x==')).toEqual(Uint8Array.of(0xde, 0xad, 0xbe, 0xef)); // trailing bits
    expect(decodeStdBase64('')).toEqual(new Uint8Array(0));
  });
});
