/**
 * The share store's in-memory copy (sealed-file-cache.ts) as pure logic: the byte bound and
 * least-recently-used eviction, per-wallet invalidation, and the generation rule that keeps a
 * read which overlapped a write from putting the old state back.
 */
import { describe, expect, it } from 'vitest';
import { SealedFileCache } from './sealed-file-cache.ts';

const bytes = (length: number, fill = 1): Uint8Array => new Uint8Array(length).fill(fill);

describe('SealedFileCache', () => {
  it('keeps and returns bytes per path', () => {
    const cache = new SealedFileCache(100);
    cache.store('w', 'w/a', bytes(10), cache.generation('w'));
    expect(cache.get('w/a')).toEqual(bytes(10));
    expect(cache.get('w/b')).toBeUndefined();
    expect(cache.size).toBe(10);
  });

  it('evicts the least recently used entries beyond the byte bound, refuses oversized ones', () => {
    const cache = new SealedFileCache(30);
    for (const name of ['a', 'b', 'c']) cache.store('w', `w/${name}`, bytes(10), 0);
    cache.get('w/a'); // a is now the most recently used
    cache.store('w', 'w/d', bytes(10), 0);
    expect(cache.get('w/b')).toBeUndefined();
    expect(cache.get('w/a')).toBeDefined();
    expect(cache.get('w/c')).toBeDefined();
    expect(cache.get('w/d')).toBeDefined();
    expect(cache.size).toBe(30);
    cache.store('w', 'w/huge', bytes(31), 0);
    expect(cache.get('w/huge')).toBeUndefined();
    // Storing a path again replaces its bytes without double counting.
    cache.store('w', 'w/a', bytes(5, 2), 0);
    expect(cache.get('w/a')).toEqual(bytes(5, 2));
    expect(cache.size).toBe(25);
  });

  it('drops only the invalidated wallet, and refuses bytes read before its invalidation', () => {
    const cache = new SealedFileCache(100);
    const before = cache.generation('w');
    cache.store('w', 'w/a', bytes(10), before);
    cache.store('x', 'x/a', bytes(10), cache.generation('x'));
    cache.invalidate('w');
    expect(cache.get('w/a')).toBeUndefined();
    expect(cache.get('x/a')).toBeDefined();
    // A read that started before the write (generation `before`) finishes after it.
    cache.store('w', 'w/b', bytes(10), before);
    expect(cache.get('w/b')).toBeUndefined();
    cache.store('w', 'w/b', bytes(10), cache.generation('w'));
    expect(cache.get('w/b')).toBeDefined();
    cache.clear();
    expect(cache.size).toBe(0);
    expect(cache.get('x/a')).toBeUndefined();
  });

  it('keeps nothing with a bound of 0 and refuses a bad bound', () => {
    const cache = new SealedFileCache(0);
    cache.store('w', 'w/a', bytes(1), 0);
    expect(cache.get('w/a')).toBeUndefined();
    expect(() => new SealedFileCache(-1)).toThrow(RangeError);
  });
});
