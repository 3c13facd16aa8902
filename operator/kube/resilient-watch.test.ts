import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import {
  ResilientWatch,
  diffList,
  isGone,
  objectKey,
  type ListResult,
  type WatchEventType,
  type WatchSource,
} from './resilient-watch.ts';

interface Obj {
  metadata: { name: string; namespace?: string; resourceVersion: string };
}
const obj = (name: string, rv: string): Obj => ({
  metadata: { name, namespace: 'ns', resourceVersion: rv },
});

/** A scripted apiserver: lists return `state`, watches are driven by the test. */
class FakeSource implements WatchSource<Obj> {
  state: Obj[] = [];
  listRv = '1';
  lists = 0;
  listFailures = 0;
  watches: Array<{
    rv: string;
    emit: (t: WatchEventType, o: unknown) => void;
    done: (e: unknown) => void;
    aborted: boolean;
  }> = [];

  async list(): Promise<ListResult<Obj>> {
    this.lists++;
    if (this.listFailures-- > 0) throw new Error('list failed');
    return { items: [...this.state], resourceVersion: this.listRv };
  }

  async watch(
    rv: string,
    _timeout: number,
    onEvent: (t: WatchEventType, o: unknown) => void,
    onDone: (e: unknown) => void,
  ) {
    const entry = { rv, emit: onEvent, done: onDone, aborted: false };
    this.watches.push(entry);
    return { abort: () => void (entry.aborted = true) };
  }

  get last() {
    const last = this.watches.at(-1);
    if (last === undefined) throw new Error('no watch');
    return last;
  }
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await delay(5);
  expect(check()).toBe(true);
}

const running: Array<ResilientWatch<Obj>> = [];
afterEach(() => {
  for (const w of running.splice(0)) w.stop();
});

function start(source: FakeSource, changes: string[]) {
  const watch = new ResilientWatch<Obj>(
    source,
    (key, object) => changes.push(`${key}:${object?.metadata.resourceVersion ?? 'deleted'}`),
    {
      backoff: { initialMs: 2, maxMs: 10 },
      relistIntervalMs: 60_000,
    },
  );
  running.push(watch);
  watch.start();
  return watch;
}

describe('diffList / isGone / objectKey', () => {
  it('reports new, changed and vanished objects only', () => {
    const cache = new Map([
      ['ns/a', obj('a', '1')],
      ['ns/b', obj('b', '1')],
      ['ns/c', obj('c', '1')],
    ]);
    const diff = diffList(cache, [obj('a', '1'), obj('b', '2'), obj('d', '1')]);
    expect(diff.upserted.map(objectKey)).toEqual(['ns/b', 'ns/d']);
    expect(diff.deleted).toEqual(['ns/c']);
  });

  it('recognises 410 Gone in every shape', () => {
    expect(isGone({ code: 410 })).toBe(true);
    expect(isGone({ statusCode: 410 })).toBe(true);
    expect(isGone({ reason: 'Expired' })).toBe(true);
    expect(isGone(new Error('x'))).toBe(false);
    expect(isGone(null)).toBe(false);
  });
});

describe('ResilientWatch', () => {
  it('lists, then watches from the list resourceVersion and tracks events and bookmarks', async () => {
    const source = new FakeSource();
    source.state = [obj('a', '5')];
    source.listRv = '7';
    const changes: string[] = [];
    const watch = start(source, changes);
    await watch.synced;
    await until(() => source.watches.length === 1);
    expect(source.last.rv).toBe('7');
    source.last.emit('ADDED', obj('b', '8'));
    source.last.emit('MODIFIED', obj('a', '9'));
    source.last.emit('DELETED', obj('b', '10'));
    source.last.emit('BOOKMARK', { metadata: { resourceVersion: '12' } });
    expect(changes).toEqual(['ns/a:5', 'ns/b:8', 'ns/a:9', 'ns/b:deleted']);
    expect(watch.list().map(objectKey)).toEqual(['ns/a']);
    // A clean close resumes from the last seen resourceVersion, without a relist.
    source.last.done(null);
    await until(() => source.watches.length === 2);
    expect(source.last.rv).toBe('12');
    expect(source.lists).toBe(1);
  });

  it('restarts a failed watch with backoff from the last resourceVersion', async () => {
    const source = new FakeSource();
    const watch = start(source, []);
    await watch.synced;
    await until(() => source.watches.length === 1);
    source.last.emit('ADDED', obj('a', '3'));
    source.last.done(new Error('ECONNRESET'));
    await until(() => source.watches.length === 2);
    expect(source.last.rv).toBe('3');
    expect(source.lists).toBe(1);
  });

  it('relists on 410 Gone and reports objects deleted while disconnected', async () => {
    const source = new FakeSource();
    source.state = [obj('a', '1'), obj('b', '1')];
    const changes: string[] = [];
    const watch = start(source, changes);
    await watch.synced;
    await until(() => source.watches.length === 1);
    source.state = [obj('a', '4')];
    source.listRv = '20';
    source.last.emit('ERROR', { code: 410, reason: 'Expired' });
    await until(() => source.watches.length === 2);
    expect(source.lists).toBe(2);
    expect(source.last.rv).toBe('20');
    expect(changes).toEqual(['ns/a:1', 'ns/b:1', 'ns/b:deleted', 'ns/a:4']);
    expect(source.watches[0]?.aborted).toBe(true);
  });

  it('retries a failing list until it succeeds', async () => {
    const source = new FakeSource();
    source.listFailures = 2;
    source.state = [obj('a', '1')];
    const watch = start(source, []);
    await watch.synced;
    expect(source.lists).toBe(3);
    expect(watch.get('ns/a')).toBeDefined();
  });

  it('ignores events from an aborted watch and stops cleanly', async () => {
    const source = new FakeSource();
    const changes: string[] = [];
    const watch = start(source, changes);
    await watch.synced;
    await until(() => source.watches.length === 1);
    const first = source.last;
    first.done(new Error('boom'));
    await until(() => source.watches.length === 2);
    first.emit('ADDED', obj('stale', '1'));
    expect(changes).toEqual([]);
    watch.stop();
    source.last.done(new Error('after stop'));
    await delay(30);
    expect(source.watches.length).toBe(2);
  });
});
