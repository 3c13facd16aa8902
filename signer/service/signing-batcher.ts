/**
 * Groups signing requests that arrive together for one signing set into one session (issue 15,
 * item 2). Pure scheduling, no I/O: `run` does the session.
 *
 * Policy, per group (a signing set and key type):
 * - a request that finds fewer than `maxInFlightPerGroup` sessions of its group running starts
 *   at once (after the current event-loop turn, which gathers requests that arrive in the
 *   same turn): a lone request never waits for company;
 * - otherwise it queues; when a session of the group ends, the queue's head leaves as one
 *   session of up to `maxBatch` requests and `maxBatchBytes` request bytes (a request larger
 *   than that on its own still leaves, alone).
 *
 * So batches form exactly when requests outpace sessions, and their size follows the load.
 * Every submitted request settles exactly once, with its own result or error.
 */

export interface SigningBatcherOptions<Item, Result> {
  /** Most requests in one session; 1 never batches. */
  readonly maxBatch: number;
  /** Most request bytes in one session of two or more requests. */
  readonly maxBatchBytes: number;
  /** Sessions of one group running at once before requests queue. */
  readonly maxInFlightPerGroup: number;
  /**
   * Runs one session for `items` (1..maxBatch of them, in submission order) and settles each:
   * the result list has one entry per item, in the same order. A rejection fails every item
   * with that error.
   */
  readonly run: (
    group: string,
    items: readonly Item[],
  ) => Promise<readonly PromiseSettledResult<Result>[]>;
  /** Defers the start of a group's next session by one event-loop turn (tests may inject). */
  readonly defer?: (start: () => void) => void;
}

interface Pending<Item, Result> {
  readonly item: Item;
  readonly bytes: number;
  resolve(result: Result): void;
  reject(error: unknown): void;
}

interface GroupState<Item, Result> {
  inFlight: number;
  /** A deferred start is scheduled (at most one per group). */
  scheduled: boolean;
  readonly queue: Pending<Item, Result>[];
}

export class SigningBatcher<Item, Result> {
  private readonly groups = new Map<string, GroupState<Item, Result>>();

  constructor(private readonly options: SigningBatcherOptions<Item, Result>) {
    if (!Number.isSafeInteger(options.maxBatch) || options.maxBatch < 1) {
      throw new RangeError('maxBatch must be a positive integer');
    }
    if (!Number.isSafeInteger(options.maxInFlightPerGroup) || options.maxInFlightPerGroup < 1) {
      throw new RangeError('maxInFlightPerGroup must be a positive integer');
    }
    if (!(options.maxBatchBytes > 0)) throw new RangeError('maxBatchBytes must be positive');
  }

  /** Requests of `group` waiting for a session (joining them costs no extra session). */
  waiting(group: string): number {
    return this.groups.get(group)?.queue.length ?? 0;
  }

  /**
   * Whether a request would share the next session of `group` with requests already waiting:
   * some wait, and fewer than a full batch (a full queue leaves a newcomer for a later session,
   * so it is better spread to another group).
   */
  joinable(group: string): boolean {
    const waiting = this.waiting(group);
    return waiting > 0 && waiting < this.options.maxBatch;
  }

  /** Signs `item` in a session of `group`; `bytes` counts towards the batch's byte bound. */
  submit(group: string, item: Item, bytes: number): Promise<Result> {
    let state = this.groups.get(group);
    if (state === undefined) {
      state = { inFlight: 0, scheduled: false, queue: [] };
      this.groups.set(group, state);
    }
    const settled = new Promise<Result>((resolve, reject) => {
      state.queue.push({ item, bytes, resolve, reject });
    });
    this.schedule(group, state);
    return settled;
  }

  private schedule(group: string, state: GroupState<Item, Result>): void {
    if (state.scheduled || state.queue.length === 0) return;
    if (state.inFlight >= this.options.maxInFlightPerGroup) return;
    state.scheduled = true;
    const defer = this.options.defer ?? ((start: () => void) => void setImmediate(start));
    defer(() => {
      state.scheduled = false;
      this.startNext(group, state);
    });
  }

  private startNext(group: string, state: GroupState<Item, Result>): void {
    while (state.inFlight < this.options.maxInFlightPerGroup && state.queue.length > 0) {
      const batch = this.takeBatch(state.queue);
      state.inFlight += 1;
      void this.runBatch(group, batch).finally(() => {
        state.inFlight -= 1;
        if (state.inFlight === 0 && state.queue.length === 0 && !state.scheduled) {
          this.groups.delete(group);
        } else {
          this.schedule(group, state);
        }
      });
    }
  }

  private takeBatch(queue: Pending<Item, Result>[]): Pending<Item, Result>[] {
    const batch: Pending<Item, Result>[] = [];
    let bytes = 0;
    while (queue.length > 0 && batch.length < this.options.maxBatch) {
      const next = queue[0] as Pending<Item, Result>;
      if (batch.length > 0 && bytes + next.bytes > this.options.maxBatchBytes) break;
      batch.push(next);
      bytes += next.bytes;
      queue.shift();
    }
    return batch;
  }

  private async runBatch(group: string, batch: readonly Pending<Item, Result>[]): Promise<void> {
    let outcomes: readonly PromiseSettledResult<Result>[];
    try {
      outcomes = await this.options.run(
        group,
        batch.map((pending) => pending.item),
      );
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    if (!Array.isArray(outcomes)) outcomes = [];
    batch.forEach((pending, index) => {
      const outcome = outcomes[index];
      if (outcome === undefined) {
        pending.reject(new Error('signing batch returned no result for a request'));
      } else if (outcome.status === 'fulfilled') {
        pending.resolve(outcome.value);
      } else {
        pending.reject(outcome.reason);
      }
    });
  }
}

/** The steps of one batch session, injected by the coordinator (sessions, verification). */
export interface BatchSessionSteps<Item, Outcome> {
  /** Builds and runs one session for every item; one outcome per item, in item order. */
  runTogether(items: readonly Item[]): Promise<readonly Outcome[]>;
  /** Runs one item in a session of its own (a lone item, or after `startedNowhere`). */
  runAlone(item: Item): Promise<Outcome>;
  /** Checks one outcome before it is released; a throw fails that item only. */
  release(item: Item, outcome: Outcome): Outcome;
  /**
   * Whether `runTogether`'s failure means no protocol message was computed anywhere (the
   * batch could not be built, or a participant refused the invite): each item may then run
   * alone and get its own answer.
   */
  startedNowhere(error: unknown): boolean;
}

/**
 * Settles every item of one batch (the `run` of a `SigningBatcher`): a lone item runs alone;
 * several run together, each outcome released on its own. A batch that started nowhere is
 * retried item by item, so one request that a participant refuses does not fail the others; a
 * failure after the start (a lost peer, a bad share) fails every item with that error, as it
 * fails every request of any session with that peer.
 */
export async function settleBatch<Item, Outcome>(
  items: readonly Item[],
  steps: BatchSessionSteps<Item, Outcome>,
): Promise<PromiseSettledResult<Outcome>[]> {
  const alone = (item: Item): Promise<Outcome> =>
    steps.runAlone(item).then((outcome) => steps.release(item, outcome));
  if (items.length === 1) return Promise.allSettled(items.map(alone));
  let outcomes: readonly Outcome[];
  try {
    outcomes = await steps.runTogether(items);
  } catch (error) {
    if (!steps.startedNowhere(error)) throw error;
    return Promise.allSettled(items.map(alone));
  }
  return items.map((item, index): PromiseSettledResult<Outcome> => {
    try {
      const outcome = outcomes[index];
      if (outcome === undefined) throw new Error('the batch session returned no outcome');
      return { status: 'fulfilled', value: steps.release(item, outcome) };
    } catch (reason) {
      return { status: 'rejected', reason };
    }
  });
}
