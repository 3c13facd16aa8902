import { describe, expect, it } from 'vitest';
import { ValidationMemo } from './validation-memo.ts';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);

describe('ValidationMemo', () => {
  it('knows exactly the field lists it was told about', () => {
    const memo = new ValidationMemo(8);
    memo.remember([bytes('ab'), bytes('c')]);
    expect(memo.has([bytes('ab'), bytes('c')])).toBe(true);
    // Field boundaries count: the same bytes split differently are another entry.
    expect(memo.has([bytes('a'), bytes('bc')])).toBe(false);
    expect(memo.has([bytes('abc')])).toBe(false);
    expect(memo.has([bytes('ab'), bytes('d')])).toBe(false);
  });

  it('forgets the oldest entries beyond its limit', () => {
    const memo = new ValidationMemo(2);
    memo.remember([bytes('1')]);
    memo.remember([bytes('2')]);
    memo.remember([bytes('3')]);
    expect(memo.has([bytes('1')])).toBe(false);
    expect(memo.has([bytes('2')])).toBe(true);
    expect(memo.has([bytes('3')])).toBe(true);
  });

  it('keys its tags per instance (no tag carries over from another memo)', () => {
    const first = new ValidationMemo(2);
    first.remember([bytes('x')]);
    expect(new ValidationMemo(2).has([bytes('x')])).toBe(false);
  });
});
