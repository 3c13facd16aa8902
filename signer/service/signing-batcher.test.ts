/** SigningBatcher: per-group batching of signing requests into sessions (issue 15, item 2). */
import { describe, expect, it } from 'vitest';
import { SigningBatcher, settleBatch } from './signing-batcher.ts';
import type { BatchSessionSteps, SigningBatcherOptions } from './signing-batcher.ts';

type Outcomes = readonly PromiseSettledResult<string>[];

/** One call of `run`, settled by hand. */
interface Session {
  readonly group: string;
  readonly items: readonly string[];
  resolve(outcomes: Outcomes): void;
  reject(error: unknown): void;
}

type Limits = Partial<
  Pick<SigningBatcherOptions<string, string>, 'maxBatch' | 'maxBatchBytes' | 'maxInFlightPerGroup'>
>;

/** A batcher whose deferred starts and sessions are all driven by the test. */
function harness(limits: Limits = {}) {
  const deferred: (() => void)[] = [];
  const sessions: Session[] = [];
  const batcher = new SigningBatcher<string, string>({
    maxBatch: 10,
    maxBatchBytes: 1000,
    maxInFlightPerGroup: 1,
    ...limits,
    defer: (start) => deferred.push(start),
    run: (group, items) =>
      new Promise<Outcomes>((resolve, reject) => {
        sessions.push({ group, items: [...items], resolve, reject });
      }),
  });
  /** Runs the deferred starts scheduled so far; returns how many there were. */
  const startDeferred = (): number => {
    const starts = deferred.splice(0);
    for (const start of starts) start();
    return starts.length;
  };
  const session = (index: number): Session => {
    const found = sessions[index];
    if (found === undefined) throw new Error(`no session ${index}`);
    return found;
  };
  return { batcher, deferred, sessions, startDeferred, session };
}

/** Lets every pending promise callback run (one event-loop turn, no timer). */
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const signed = (items: readonly string[]): Outcomes =>
  items.map((item) => ({ status: 'fulfilled', value: `sig:${item}` }));

/** Records every settlement of `promise` (so a double settlement or none would show). */
function track(promise: Promise<string>): PromiseSettledResult<string>[] {
  const seen: PromiseSettledResult<string>[] = [];
  void promise.then(
    (value) => seen.push({ status: 'fulfilled', value }),
    (reason: unknown) => seen.push({ status: 'rejected', reason }),
  );
  return seen;
}

describe('SigningBatcher', () => {
  it('starts a lone request in a session of its own after the deferred turn', async () => {
    const { batcher, sessions, startDeferred, session } = harness();
    const result = batcher.submit('g', 'a', 10);
    expect(sessions).toHaveLength(0);
    expect(startDeferred()).toBe(1);
    expect(sessions.map((s) => [s.group, s.items])).toEqual([['g', ['a']]]);
    session(0).resolve(signed(['a']));
    await expect(result).resolves.toBe('sig:a');
  });

  it('gathers requests of one turn into one session, in submission order, up to maxBatch', async () => {
    const { batcher, sessions, startDeferred, session } = harness({ maxBatch: 3 });
    const results = ['a', 'b', 'c', 'd'].map((item) => batcher.submit('g', item, 1));
    expect(startDeferred()).toBe(1);
    expect(sessions.map((s) => s.items)).toEqual([['a', 'b', 'c']]);
    expect(batcher.waiting('g')).toBe(1);
    session(0).resolve(signed(['a', 'b', 'c']));
    await turn();
    expect(startDeferred()).toBe(1);
    expect(sessions.map((s) => s.items)).toEqual([['a', 'b', 'c'], ['d']]);
    session(1).resolve(signed(['d']));
    await expect(Promise.all(results)).resolves.toEqual(['sig:a', 'sig:b', 'sig:c', 'sig:d']);
  });

  it('queues behind a running session and sends the queue as one batch when it ends', async () => {
    const { batcher, deferred, sessions, startDeferred, session } = harness();
    const first = batcher.submit('g', 'a', 1);
    startDeferred();
    const queued = ['b', 'c', 'd'].map((item) => batcher.submit('g', item, 1));
    expect(deferred).toHaveLength(0);
    expect(batcher.waiting('g')).toBe(3);
    session(0).resolve(signed(['a']));
    await turn();
    expect(sessions).toHaveLength(1);
    expect(startDeferred()).toBe(1);
    expect(batcher.waiting('g')).toBe(0);
    expect(sessions.map((s) => s.items)).toEqual([['a'], ['b', 'c', 'd']]);
    session(1).resolve(signed(['b', 'c', 'd']));
    await expect(first).resolves.toBe('sig:a');
    await expect(Promise.all(queued)).resolves.toEqual(['sig:b', 'sig:c', 'sig:d']);
  });

  it('splits five queued requests into 2, 2, 1 with maxBatch 2, one session at a time', async () => {
    const { batcher, sessions, startDeferred, session } = harness({ maxBatch: 2 });
    const results = ['a', 'b', 'c', 'd', 'e'].map((item) => batcher.submit('g', item, 1));
    const sizes: number[] = [];
    for (let index = 0; index < 3; index += 1) {
      expect(startDeferred()).toBe(1);
      expect(sessions).toHaveLength(index + 1);
      sizes.push(session(index).items.length);
      session(index).resolve(signed(session(index).items));
      await turn();
    }
    expect(sizes).toEqual([2, 2, 1]);
    expect(sessions.map((s) => s.items)).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
    await expect(Promise.all(results)).resolves.toHaveLength(5);
  });

  it('stops a batch before the request that would exceed maxBatchBytes; an oversize one leaves alone', async () => {
    const { batcher, sessions, startDeferred, session } = harness({ maxBatchBytes: 100 });
    const results = [
      batcher.submit('g', 'a', 40),
      batcher.submit('g', 'b', 60),
      batcher.submit('g', 'c', 1),
      batcher.submit('g', 'big', 150),
      batcher.submit('g', 'd', 10),
    ];
    for (let index = 0; index < 4; index += 1) {
      expect(startDeferred()).toBe(1);
      session(index).resolve(signed(session(index).items));
      await turn();
    }
    // 40 + 60 fits 100 exactly; 1 + 150 does not; 150 alone still leaves.
    expect(sessions.map((s) => s.items)).toEqual([['a', 'b'], ['c'], ['big'], ['d']]);
    await expect(Promise.all(results)).resolves.toEqual([
      'sig:a',
      'sig:b',
      'sig:c',
      'sig:big',
      'sig:d',
    ]);
  });

  it('keeps groups apart: no shared sessions, and a busy group does not delay another', async () => {
    const { batcher, sessions, startDeferred, session } = harness();
    const a1 = batcher.submit('A', 'a1', 1);
    const b1 = batcher.submit('B', 'b1', 1);
    expect(startDeferred()).toBe(2);
    expect(sessions.map((s) => [s.group, s.items])).toEqual([
      ['A', ['a1']],
      ['B', ['b1']],
    ]);
    session(1).resolve(signed(['b1']));
    await expect(b1).resolves.toBe('sig:b1');
    await turn();
    // A is still busy and queues; B starts at once.
    const a2 = batcher.submit('A', 'a2', 1);
    const b2 = batcher.submit('B', 'b2', 1);
    expect(startDeferred()).toBe(1);
    expect(sessions.map((s) => [s.group, s.items])).toEqual([
      ['A', ['a1']],
      ['B', ['b1']],
      ['B', ['b2']],
    ]);
    expect(batcher.waiting('A')).toBe(1);
    expect(batcher.waiting('B')).toBe(0);
    session(2).resolve(signed(['b2']));
    session(0).resolve(signed(['a1']));
    await turn();
    expect(startDeferred()).toBe(1);
    expect(session(3).group).toBe('A');
    expect(session(3).items).toEqual(['a2']);
    session(3).resolve(signed(['a2']));
    await expect(Promise.all([a1, a2, b2])).resolves.toEqual(['sig:a1', 'sig:a2', 'sig:b2']);
  });

  it('settles each item with its own outcome', async () => {
    const { batcher, startDeferred, session } = harness();
    const [a, b, c] = ['a', 'b', 'c'].map((item) => track(batcher.submit('g', item, 1)));
    startDeferred();
    const refused = new Error('b refused');
    session(0).resolve([
      { status: 'fulfilled', value: 'sig:a' },
      { status: 'rejected', reason: refused },
      { status: 'fulfilled', value: 'sig:c' },
    ]);
    await turn();
    expect(a).toEqual([{ status: 'fulfilled', value: 'sig:a' }]);
    expect(b).toEqual([{ status: 'rejected', reason: refused }]);
    expect(c).toEqual([{ status: 'fulfilled', value: 'sig:c' }]);
  });

  it('fails a whole batch when run rejects, then still runs the next queued batch', async () => {
    const { batcher, startDeferred, session } = harness();
    const first = ['a', 'b'].map((item) => track(batcher.submit('g', item, 1)));
    startDeferred();
    const next = track(batcher.submit('g', 'c', 1));
    const failure = new Error('session aborted');
    session(0).reject(failure);
    await turn();
    expect(first).toEqual([
      [{ status: 'rejected', reason: failure }],
      [{ status: 'rejected', reason: failure }],
    ]);
    expect(startDeferred()).toBe(1);
    expect(session(1).items).toEqual(['c']);
    session(1).resolve(signed(['c']));
    await turn();
    expect(next).toEqual([{ status: 'fulfilled', value: 'sig:c' }]);
  });

  it('rejects the items a short result list leaves out instead of leaving them pending', async () => {
    const { batcher, startDeferred, session } = harness();
    const [a, b, c] = ['a', 'b', 'c'].map((item) => track(batcher.submit('g', item, 1)));
    startDeferred();
    session(0).resolve(signed(['a']));
    await turn();
    expect(a).toEqual([{ status: 'fulfilled', value: 'sig:a' }]);
    const noResult = {
      status: 'rejected',
      reason: expect.objectContaining({
        message: 'signing batch returned no result for a request',
      }) as unknown,
    };
    expect([b, c]).toEqual([[noResult], [noResult]]);
  });

  it('settles every submit exactly once and forgets an idle group', async () => {
    const { batcher, deferred, sessions, startDeferred, session } = harness({ maxBatch: 2 });
    const seen = ['a', 'b', 'c', 'd', 'e'].map((item) => track(batcher.submit('g', item, 1)));
    for (let index = 0; index < 3; index += 1) {
      startDeferred();
      const items = session(index).items;
      if (index === 1) session(index).reject(new Error('lost'));
      else session(index).resolve([...signed(items), ...signed(['extra'])]);
      await turn();
    }
    expect(seen.map((settlements) => settlements.length)).toEqual([1, 1, 1, 1, 1]);
    expect(seen.map((settlements) => settlements[0]?.status)).toEqual([
      'fulfilled',
      'fulfilled',
      'rejected',
      'rejected',
      'fulfilled',
    ]);
    expect(deferred).toHaveLength(0);
    expect(batcher.waiting('g')).toBe(0);
    expect(batcher['groups'].size).toBe(0);
    // A later request starts afresh, alone and at once.
    const later = batcher.submit('g', 'f', 1);
    expect(startDeferred()).toBe(1);
    expect(sessions.map((s) => s.items).at(-1)).toEqual(['f']);
    session(3).resolve(signed(['f']));
    await expect(later).resolves.toBe('sig:f');
  });

  it('is joinable while requests wait for a session and the next batch has room', async () => {
    const { batcher, startDeferred, session } = harness({ maxBatch: 2 });
    expect(batcher.joinable('g')).toBe(false); // nothing waits: a newcomer starts its own
    void batcher.submit('g', 'a', 1);
    expect(batcher.joinable('g')).toBe(true); // 'a' waits for the deferred start
    startDeferred();
    expect(batcher.joinable('g')).toBe(false); // 'a' runs, nothing waits
    void batcher.submit('g', 'b', 1);
    expect(batcher.joinable('g')).toBe(true);
    void batcher.submit('g', 'c', 1);
    expect(batcher.joinable('g')).toBe(false); // a full batch waits: spread elsewhere
    session(0).resolve(signed(['a']));
    await turn();
    startDeferred();
    expect(batcher.joinable('g')).toBe(false);
  });

  it('refuses maxBatch or maxInFlightPerGroup below 1', () => {
    const base = { maxBatchBytes: 100, run: () => Promise.resolve([]) };
    expect(() => new SigningBatcher({ ...base, maxBatch: 0, maxInFlightPerGroup: 1 })).toThrow(
      RangeError,
    );
    expect(() => new SigningBatcher({ ...base, maxBatch: 1, maxInFlightPerGroup: 0 })).toThrow(
      RangeError,
    );
    expect(
      () => new SigningBatcher({ ...base, maxBatch: 1, maxInFlightPerGroup: 1, maxBatchBytes: 0 }),
    ).toThrow(RangeError);
    expect(
      () => new SigningBatcher({ ...base, maxBatch: 1, maxInFlightPerGroup: 1 }),
    ).not.toThrow();
  });
});

describe('settleBatch', () => {
  /** Steps over string items: outcome `sig:<item>`; records what ran how. */
  function steps(
    options: {
      together?: (items: readonly string[]) => Promise<readonly string[]>;
      aloneFails?: string;
      releaseFails?: string;
      startedNowhere?: (error: unknown) => boolean;
    } = {},
  ) {
    const log: string[] = [];
    const batchSteps: BatchSessionSteps<string, string> = {
      runTogether: async (items) => {
        log.push(`together:${items.join(',')}`);
        return (options.together ?? (async (all) => all.map((item) => `sig:${item}`)))(items);
      },
      runAlone: async (item) => {
        log.push(`alone:${item}`);
        if (item === options.aloneFails) throw new Error(`refused ${item}`);
        return `sig:${item}`;
      },
      release: (item, outcome) => {
        if (item === options.releaseFails) throw new Error(`bad signature ${item}`);
        return outcome;
      },
      startedNowhere: options.startedNowhere ?? (() => false),
    };
    return { log, batchSteps };
  }

  const values = (settled: readonly PromiseSettledResult<string>[]) =>
    settled.map((entry) =>
      entry.status === 'fulfilled' ? entry.value : `error:${(entry.reason as Error).message}`,
    );

  it('runs a lone item alone, never as a batch', async () => {
    const { log, batchSteps } = steps();
    expect(values(await settleBatch(['a'], batchSteps))).toEqual(['sig:a']);
    expect(log).toEqual(['alone:a']);
  });

  it('runs several items together and releases each outcome on its own', async () => {
    const { log, batchSteps } = steps({ releaseFails: 'b' });
    expect(values(await settleBatch(['a', 'b', 'c'], batchSteps))).toEqual([
      'sig:a',
      'error:bad signature b',
      'sig:c',
    ]);
    expect(log).toEqual(['together:a,b,c']);
  });

  it('retries every item alone when the batch started nowhere: one refusal fails one item', async () => {
    const { log, batchSteps } = steps({
      together: () => Promise.reject(new Error('participant refused')),
      startedNowhere: (error) => (error as Error).message === 'participant refused',
      aloneFails: 'b',
    });
    expect(values(await settleBatch(['a', 'b', 'c'], batchSteps))).toEqual([
      'sig:a',
      'error:refused b',
      'sig:c',
    ]);
    expect(log).toEqual(['together:a,b,c', 'alone:a', 'alone:b', 'alone:c']);
  });

  it('fails the whole batch with the error of a session that had started', async () => {
    const { log, batchSteps } = steps({
      together: () => Promise.reject(new Error('peer lost')),
    });
    await expect(settleBatch(['a', 'b'], batchSteps)).rejects.toThrow('peer lost');
    expect(log).toEqual(['together:a,b']);
  });

  it('fails an item the batch session returned no outcome for', async () => {
    const { batchSteps } = steps({ together: async () => ['sig:a'] });
    expect(values(await settleBatch(['a', 'b'], batchSteps))).toEqual([
      'sig:a',
      'error:the batch session returned no outcome',
    ]);
  });
});
