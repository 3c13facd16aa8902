import { describe, expect, it } from 'vitest';
import { findUnexpectedSender } from './round-input.ts';

const one = Uint8Array.of(1);

describe('findUnexpectedSender', () => {
  it('accepts exactly one message per expected sender on the expected channel', () => {
    const input = {
      broadcast: new Map([
        [2, one],
        [3, one],
      ]),
      direct: new Map(),
    };
    expect(findUnexpectedSender(input, 'broadcast', [2, 3])).toBeUndefined();
  });

  it('names a sender on the wrong channel, an outsider, and a missing sender', () => {
    expect(
      findUnexpectedSender(
        { broadcast: new Map([[2, one]]), direct: new Map([[3, one]]) },
        'broadcast',
        [2],
      ),
    ).toEqual({ sender: 3, problem: 'other-channel' });
    expect(
      findUnexpectedSender(
        {
          broadcast: new Map([
            [2, one],
            [9, one],
          ]),
          direct: new Map(),
        },
        'broadcast',
        [2],
      ),
    ).toEqual({ sender: 9, problem: 'not-in-run' });
    expect(
      findUnexpectedSender({ broadcast: new Map(), direct: new Map([[2, one]]) }, 'direct', [2, 3]),
    ).toEqual({ sender: 3, problem: 'missing' });
  });
});
