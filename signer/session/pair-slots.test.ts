/** PairSlots: the k-per-pair cap split into own and foreign slots (security review C1). */
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import { PairSlots } from './pair-slots.ts';

describe('PairSlots', () => {
  it('splits k into own and foreign slots and never exceeds k per pair state and peer', () => {
    const slots = new PairSlots(4);
    const own = [slots.tryAcquire('w1', ['b'], 'own'), slots.tryAcquire('w1', ['b'], 'own')];
    expect(own.every((lease) => lease !== undefined)).toBe(true);
    expect(slots.tryAcquire('w1', ['b'], 'own')).toBeUndefined();
    expect(slots.tryAcquire('w1', ['b'], 'foreign')).toBeDefined();
    expect(slots.tryAcquire('w1', ['b'], 'foreign')).toBeDefined();
    expect(slots.tryAcquire('w1', ['b'], 'foreign')).toBeUndefined();
    expect(slots.inFlight('w1', 'b')).toBe(4);
    // Another peer or another key version has slots of its own.
    expect(slots.tryAcquire('w1', ['c'], 'own')).toBeDefined();
    expect(slots.tryAcquire('w2', ['b'], 'own')).toBeDefined();
    own[0]?.release();
    own[0]?.release(); // idempotent
    expect(slots.free('w1', 'b', 'own')).toBe(1);
  });

  it('takes slots towards every peer of a session at once, or none', () => {
    const slots = new PairSlots(2);
    expect(slots.tryAcquire('w', ['c'], 'foreign')).toBeDefined();
    expect(slots.tryAcquire('w', ['b', 'c'], 'foreign')).toBeUndefined();
    expect(slots.free('w', 'b', 'foreign')).toBe(1);
  });

  it('waits (bounded) for a slot and hands it over in arrival order', async () => {
    const slots = new PairSlots(2);
    const held = slots.tryAcquire('w', ['b'], 'own');
    const first = slots.acquire('w', ['b'], 'own', 1000);
    const second = slots.acquire('w', ['b'], 'own', 30);
    await expect(second).rejects.toMatchObject({ code: ErrorCode.ConcurrencyLimit });
    held?.release();
    const lease = await first;
    expect(slots.free('w', 'b', 'own')).toBe(0);
    lease.release();
    expect(slots.free('w', 'b', 'own')).toBe(1);
  });

  it('refuses caps outside 2..4', () => {
    expect(() => new PairSlots(1)).toThrow(RangeError);
    expect(() => new PairSlots(5)).toThrow(RangeError);
  });
});
