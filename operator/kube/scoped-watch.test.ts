import { describe, expect, it } from 'vitest';
import { ResilientWatch, type ListResult, type WatchSource } from './resilient-watch.ts';
import { ScopedWatch, parseWatchNamespaces } from './scoped-watch.ts';

interface Obj {
  metadata: { name: string; namespace: string; resourceVersion: string };
}

/** A list that returns fixed items and a watch that stays open (pure logic, no server). */
class StaticSource implements WatchSource<Obj> {
  constructor(private readonly items: Obj[]) {}
  async list(): Promise<ListResult<Obj>> {
    return { items: this.items, resourceVersion: '1' };
  }
  async watch() {
    return { abort: () => {} };
  }
}

const obj = (namespace: string, name: string): Obj => ({
  metadata: { name, namespace, resourceVersion: '1' },
});

describe('ScopedWatch (namespace-scoped install)', () => {
  it('creates one watch per namespace, routes get by namespace, merges list', async () => {
    const created: Array<string | undefined> = [];
    const data: Record<string, Obj[]> = {
      a: [obj('a', 'x')],
      b: [obj('b', 'y'), obj('b', 'z')],
    };
    const watch = new ScopedWatch<Obj>(['a', 'b'], (namespace) => {
      created.push(namespace);
      return new ResilientWatch(new StaticSource(data[namespace ?? ''] ?? []), () => {});
    });
    expect(created).toEqual(['a', 'b']);
    watch.start();
    await watch.synced;
    expect(watch.get('a/x')?.metadata.name).toBe('x');
    expect(watch.get('b/z')?.metadata.name).toBe('z');
    // A key in another namespace is never looked up in a watched one.
    expect(watch.get('c/x')).toBeUndefined();
    expect(watch.get('x')).toBeUndefined();
    expect(watch.list().map((o) => `${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'a/x',
      'b/y',
      'b/z',
    ]);
    watch.stop();
  });

  it('is one cluster-wide watch without a namespace list', async () => {
    const created: Array<string | undefined> = [];
    const watch = new ScopedWatch<Obj>(undefined, (namespace) => {
      created.push(namespace);
      return new ResilientWatch(new StaticSource([obj('q', 'r')]), () => {});
    });
    expect(created).toEqual([undefined]);
    watch.start();
    await watch.synced;
    expect(watch.get('q/r')).toBeDefined();
    watch.stop();
  });

  it('refuses an empty or duplicated list', () => {
    const create = () => new ResilientWatch(new StaticSource([]), () => {});
    expect(() => new ScopedWatch<Obj>([], create)).toThrow(/empty/);
    expect(() => new ScopedWatch<Obj>(['a', 'a'], create)).toThrow(/duplicates/);
  });
});

describe('parseWatchNamespaces (MPC_OPERATOR_WATCH_NAMESPACES)', () => {
  it('empty means cluster-wide; commas or spaces separate', () => {
    expect(parseWatchNamespaces(undefined)).toBeUndefined();
    expect(parseWatchNamespaces('  ')).toBeUndefined();
    expect(parseWatchNamespaces('a,b')).toEqual(['a', 'b']);
    expect(parseWatchNamespaces(' a , b c')).toEqual(['a', 'b', 'c']);
  });

  it('refuses names Kubernetes would refuse and duplicates', () => {
    expect(() => parseWatchNamespaces('A')).toThrow(/invalid namespace/);
    expect(() => parseWatchNamespaces('a/b')).toThrow(/invalid namespace/);
    expect(() => parseWatchNamespaces('-a')).toThrow(/invalid namespace/);
    expect(() => parseWatchNamespaces('x'.repeat(64))).toThrow(/invalid namespace/);
    expect(() => parseWatchNamespaces('a,a')).toThrow(/duplicate/);
  });
});
