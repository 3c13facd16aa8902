/** The session binding id (security review L4). */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sessionBinding } from './session-binding.ts';

describe('sessionBinding', () => {
  const a = randomBytes(32);
  const b = randomBytes(32);

  it('is the same for every participant whatever the order it saw the hellos in', () => {
    const one = sessionBinding(
      's',
      new Map([
        ['a', a],
        ['b', b],
      ]),
    );
    const two = sessionBinding(
      's',
      new Map([
        ['b', b],
        ['a', a],
      ]),
    );
    expect(Buffer.from(one).equals(Buffer.from(two))).toBe(true);
    expect(one).toHaveLength(32);
  });

  it('changes with any participant fresh key, the session id or the membership', () => {
    const base = Buffer.from(
      sessionBinding(
        's',
        new Map([
          ['a', a],
          ['b', b],
        ]),
      ),
    );
    const variants = [
      sessionBinding(
        's',
        new Map([
          ['a', a],
          ['b', randomBytes(32)],
        ]),
      ),
      sessionBinding(
        't',
        new Map([
          ['a', a],
          ['b', b],
        ]),
      ),
      sessionBinding(
        's',
        new Map([
          ['a', a],
          ['c', b],
        ]),
      ),
      sessionBinding(
        's',
        new Map([
          ['ab', a],
          ['', b],
        ]),
      ),
    ];
    for (const variant of variants) expect(base.equals(Buffer.from(variant))).toBe(false);
  });
});
