/**
 * Runs protocol parties in `worker_threads` so CPU-heavy rounds (DKLs23 keygen: seconds per
 * party) never stall the signer's event loop, which must keep acking peers, answering probes
 * and renewing heartbeats (design §9).
 *
 * `createDriver(spec)` places a party on the least-loaded worker (fewest hosted parties, ties
 * to the lowest slot; workers start on demand) and returns a `PartyDriver` the session runner
 * drives like a local party. One worker hosts any number of parties and runs their calls one
 * at a time.
 *
 * Failure semantics:
 * - a protocol error thrown in the worker rejects the call with `PartyWorkerError` (name,
 *   message, code, counterparty, field, banPair); the worker has then wiped the party;
 * - a worker that exits (crash, out of memory) rejects every pending call of its parties with
 *   `PartyWorkerCrashedError`; its parties are gone, and the slot gets a fresh worker on the
 *   next `createDriver`;
 * - after `wipe()`, `finish`, a failure, a crash or `close()` every further call rejects with
 *   `PartyReleasedError` (or the crash error); a call pending at `wipe()` rejects at once.
 *
 * Ownership: a signing spec's `share` bytes are cloned for the worker and wiped on the calling
 * thread before `createDriver` returns (also when it fails). Inputs are copied to the worker (the runner wipes its
 * direct payloads, the worker wipes its copies); outputs and results are transferred.
 * Idle workers do not keep the process alive.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { RoundInput, RoundOutput } from '../crypto/round-protocol.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import type { PartyDriver } from './round-runner.ts';
import {
  InvalidPartySpecError,
  PartyReleasedError,
  PartyWorkerCrashedError,
  PartyWorkerError,
} from './worker-errors.ts';
import {
  checkPartySpec,
  resultBuffers,
  roundOutputPayloads,
  type FromWorkerMessage,
  type PartyResultOf,
  type PartySpec,
  type ToWorkerMessage,
} from './worker-messages.ts';

export interface PartyWorkerPoolOptions {
  /** Worker threads; default `defaultPoolSize()`. Integer in [1, 64]. */
  readonly size?: number;
  /** Worker entry script; default the compiled party-worker.js beside this module. */
  readonly workerUrl?: URL;
}

/** One thread per spare core, leaving one for the event loop, at least 1 and at most 4. */
export function defaultPoolSize(parallelism: number = availableParallelism()): number {
  return Math.min(4, Math.max(1, parallelism - 1));
}

interface PendingCall {
  readonly party: number;
  resolve(message: FromWorkerMessage): void;
  reject(error: Error): void;
}

/** One worker thread and the bookkeeping of the parties it hosts. */
class WorkerSlot {
  readonly worker: Worker;
  readonly parties = new Set<number>();
  readonly pending = new Map<number, PendingCall>();
  /** Set once the thread is gone (exit, error, close); the error calls reject with. */
  failure: Error | undefined;

  constructor(url: URL, onExit: (slot: WorkerSlot) => void) {
    this.worker = new Worker(url);
    this.worker.unref();
    let reason = 'worker thread exited';
    this.worker.on('message', (message: FromWorkerMessage) => this.settle(message));
    this.worker.on('error', (error: Error) => {
      // Only the class: the message of an uncaught error may quote values.
      reason = `uncaught ${error.name} in worker thread`;
    });
    this.worker.on('messageerror', () => {
      reason = 'undeliverable message from worker thread';
      void this.worker.terminate();
    });
    this.worker.on('exit', (code: number) => {
      this.fail(this.failure ?? new PartyWorkerCrashedError(`${reason} (exit code ${code})`));
      onExit(this);
    });
  }

  get load(): number {
    return this.parties.size;
  }

  /** Posts a request expecting a reply; rejects at once if the thread is gone. */
  request(message: ToWorkerMessage & { call: number; party: number }): Promise<FromWorkerMessage> {
    if (this.failure !== undefined) return Promise.reject(this.failure);
    return new Promise<FromWorkerMessage>((resolve, reject) => {
      this.pending.set(message.call, { party: message.party, resolve, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage(message);
      } catch (error) {
        this.forget(message.call);
        reject(error instanceof Error ? error : new Error('postMessage failed'));
      }
    });
  }

  /** Fire-and-forget message (wipe). */
  post(message: ToWorkerMessage): void {
    if (this.failure === undefined) this.worker.postMessage(message);
  }

  /** Rejects a pending call now (its late reply is scrubbed and dropped). */
  abandon(call: number, error: Error): void {
    const pending = this.forget(call);
    pending?.reject(error);
  }

  /** Marks the thread gone and rejects every pending call with `error`. */
  fail(error: Error): void {
    this.failure ??= error;
    for (const call of [...this.pending.keys()]) this.abandon(call, this.failure);
    this.parties.clear();
  }

  private forget(call: number): PendingCall | undefined {
    const pending = this.pending.get(call);
    if (pending === undefined) return undefined;
    this.pending.delete(call);
    if (this.pending.size === 0) this.worker.unref();
    return pending;
  }

  private settle(message: FromWorkerMessage): void {
    const pending = this.forget(message.call);
    if (pending === undefined) {
      scrub(message);
      return;
    }
    pending.resolve(message);
  }
}

/** Overwrites the buffers of a reply nobody waits for any more (they may carry secrets). */
function scrub(message: FromWorkerMessage): void {
  if (message.kind === 'output') wipeBytes(...roundOutputPayloads(message.output));
  if (message.kind === 'result') wipeBytes(...resultBuffers(message.result));
}

function unwrap(
  message: FromWorkerMessage,
  expected: FromWorkerMessage['kind'],
): FromWorkerMessage {
  if (message.kind === 'failed') throw new PartyWorkerError(message.error);
  if (message.kind !== expected) {
    scrub(message);
    throw new PartyWorkerCrashedError(`unexpected reply ${message.kind} to ${expected}`);
  }
  return message;
}

class PooledPartyDriver<Result> implements PartyDriver<Result> {
  private released: Error | undefined;
  private inFlight: number | undefined;

  constructor(
    private readonly pool: PartyWorkerPool,
    private readonly slot: WorkerSlot,
    private readonly handle: number,
    readonly rounds: number,
  ) {}

  async round(index: number, input: RoundInput): Promise<RoundOutput> {
    const reply = await this.call((call) => ({
      kind: 'round',
      call,
      party: this.handle,
      index,
      input,
    }));
    return (unwrap(reply, 'output') as { output: RoundOutput }).output;
  }

  async finish(input: RoundInput): Promise<Result> {
    try {
      const reply = await this.call((call) => ({
        kind: 'finish',
        call,
        party: this.handle,
        input,
      }));
      return (unwrap(reply, 'result') as { result: Result }).result;
    } finally {
      this.release(new PartyReleasedError('party finished'));
    }
  }

  wipe(): void {
    if (this.released !== undefined && !this.slot.parties.has(this.handle)) return;
    this.release(new PartyReleasedError('party wiped'));
  }

  private async call(
    build: (call: number) => ToWorkerMessage & { call: number; party: number },
  ): Promise<FromWorkerMessage> {
    if (this.slot.failure !== undefined) throw this.slot.failure;
    if (this.released !== undefined) throw this.released;
    if (this.inFlight !== undefined) throw new PartyReleasedError('concurrent call on one party');
    const call = this.pool.nextCall();
    this.inFlight = call;
    try {
      const reply = await this.slot.request(build(call));
      if (reply.kind === 'failed') this.release(new PartyReleasedError('party failed'));
      return reply;
    } finally {
      this.inFlight = undefined;
    }
  }

  /** Tells the worker to wipe the party (idempotent there) and refuses further calls. */
  private release(reason: Error): void {
    this.released ??= reason;
    if (this.inFlight !== undefined) this.slot.abandon(this.inFlight, this.released);
    if (this.slot.parties.delete(this.handle)) this.slot.post({ kind: 'wipe', party: this.handle });
  }
}

export class PartyWorkerPool {
  readonly size: number;
  private readonly workerUrl: URL;
  private readonly slots: (WorkerSlot | undefined)[];
  private calls = 0;
  private handles = 0;
  private closed = false;

  constructor(options: PartyWorkerPoolOptions = {}) {
    const size = options.size ?? defaultPoolSize();
    if (!Number.isSafeInteger(size) || size < 1 || size > 64) {
      throw new InvalidPartySpecError('size', 'must be an integer in [1, 64]');
    }
    this.size = size;
    this.workerUrl = options.workerUrl ?? new URL('./party-worker.js', import.meta.url);
    this.slots = new Array<WorkerSlot | undefined>(size).fill(undefined);
  }

  /** Number of parties hosted by each slot (0 for a slot without a thread). */
  get loads(): number[] {
    return this.slots.map((slot) => slot?.load ?? 0);
  }

  /** Hosts the party `spec` names; rejects with the protocol's error if the spec is invalid. */
  async createDriver<Spec extends PartySpec>(
    spec: Spec,
  ): Promise<PartyDriver<PartyResultOf<Spec>>> {
    checkPartySpec(spec);
    const handle = ++this.handles;
    let slot: WorkerSlot;
    let created: Promise<FromWorkerMessage>;
    try {
      if (this.closed) throw new PartyReleasedError('worker pool closed');
      slot = this.pick();
      created = slot.request({ kind: 'create', call: this.nextCall(), party: handle, spec });
    } finally {
      // postMessage cloned the spec synchronously (or it was refused): the share is spent here.
      if ('share' in spec) wipeBytes(spec.share);
    }
    slot.parties.add(handle);
    let reply: FromWorkerMessage;
    try {
      reply = unwrap(await created, 'created');
    } catch (error) {
      slot.parties.delete(handle);
      throw error;
    }
    const rounds = (reply as { rounds: number }).rounds;
    return new PooledPartyDriver<PartyResultOf<Spec>>(this, slot, handle, rounds);
  }

  /** Terminates every worker; pending calls reject with `PartyReleasedError`. */
  async close(): Promise<void> {
    this.closed = true;
    const terminations: Promise<number>[] = [];
    for (const [index, slot] of this.slots.entries()) {
      if (slot === undefined) continue;
      slot.fail(new PartyReleasedError('worker pool closed'));
      terminations.push(slot.worker.terminate());
      this.slots[index] = undefined;
    }
    await Promise.all(terminations);
  }

  /** @internal Call numbers are unique across the pool. */
  nextCall(): number {
    return ++this.calls;
  }

  private pick(): WorkerSlot {
    let best: number | undefined;
    let bestLoad = Number.POSITIVE_INFINITY;
    for (const [index, slot] of this.slots.entries()) {
      const load = slot?.load ?? 0;
      // Prefer a running thread over starting one at equal load.
      const better =
        load < bestLoad ||
        (load === bestLoad && slot !== undefined && this.slots[best ?? 0] === undefined);
      if (better) {
        best = index;
        bestLoad = load;
      }
    }
    const index = best ?? 0;
    let slot = this.slots[index];
    if (slot === undefined) {
      if (this.workerUrl.protocol === 'file:' && !existsSync(fileURLToPath(this.workerUrl))) {
        throw new InvalidPartySpecError(
          'workerUrl',
          `worker script ${fileURLToPath(this.workerUrl)} not found (run \`npm run build\`: Node 20 cannot start a worker from TypeScript)`,
        );
      }
      slot = new WorkerSlot(this.workerUrl, (gone) => {
        const at = this.slots.indexOf(gone);
        if (at >= 0) this.slots[at] = undefined;
      });
      this.slots[index] = slot;
    }
    return slot;
  }
}
