/**
 * Drives one party of a `RoundProtocol` over a network: for each round it computes the
 * party's messages, sends them (every send acknowledged by the recipient), then waits for the
 * round's messages from every other participant (not for the acks: those are awaited, at the
 * latest, before the party reports its result).
 *
 * Failure semantics (design §6):
 * - a send that the transport reports as undeliverable fails the session with
 *   `PeerUnavailableError` at once;
 * - while waiting, peers that have not sent yet are probed every `probeIntervalMs`; a probe
 *   that finds no subscriber (the process is gone) fails with `PeerUnavailableError`;
 * - a round that is not complete within `roundTimeoutMs` fails with `SessionTimeoutError`;
 * - `abort(error)` (another participant told us, or the process is stopping) fails the
 *   session with that error.
 * Whatever the outcome the party's secrets are wiped and buffered payloads are zeroed.
 */
import type { PartyId, RoundInput, RoundOutput, RoundProtocol } from '../crypto/round-protocol.ts';
import { EMPTY_ROUND_INPUT } from '../crypto/round-protocol.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import { MpcError } from '../protocol/errors.ts';
import { ProtocolViolationError, SessionTimeoutError } from './errors.ts';

/** An async view of a party, so heavy protocols can run in a worker thread. */
export interface PartyDriver<Result> {
  readonly rounds: number;
  round(index: number, input: RoundInput): Promise<RoundOutput>;
  finish(input: RoundInput): Promise<Result>;
  wipe(): void;
}

/** Runs a synchronous `RoundProtocol` on the calling thread. */
export function localPartyDriver<Result>(protocol: RoundProtocol<Result>): PartyDriver<Result> {
  return {
    rounds: protocol.rounds,
    round: (index, input) => Promise.resolve().then(() => protocol.round(index, input)),
    finish: (input) => Promise.resolve().then(() => protocol.finish(input)),
    wipe: () => protocol.wipe(),
  };
}

export type MessageKind = 'broadcast' | 'direct';

/** Delay before the first liveness probe of peers a round is still waiting for. */
const FIRST_PROBE_DELAY_MS = 30;

/** What the runner needs from the transport. Every method rejects with a typed error. */
export interface RoundNetwork {
  /** Sends one signed broadcast payload to each listed peer; resolves when all acked. */
  broadcast(round: number, payload: Uint8Array, peers: readonly string[]): Promise<void>;
  /** Sends one encrypted payload to one peer; resolves when acked. */
  direct(round: number, payload: Uint8Array, peer: string): Promise<void>;
  /** Resolves when the peer's session endpoint answers; rejects when it is gone. */
  probe(peer: string): Promise<void>;
}

export interface RoundRunnerOptions<Result> {
  readonly sessionId: string;
  readonly party: PartyDriver<Result>;
  /** Node id of every participant, by party id (including self). */
  readonly nodeOfParty: ReadonlyMap<PartyId, string>;
  readonly self: PartyId;
  readonly network: RoundNetwork;
  readonly roundTimeoutMs: number;
  readonly probeIntervalMs: number;
  /**
   * Test-only fault injection: stall (until aborted) before sending this round's messages.
   * The stall begins once this round's messages from every peer have arrived (or the round
   * deadline passed), so no peer is left waiting for an ack from this one: the stall is seen
   * by the others only through their round deadline. `onPause` is called as it begins.
   */
  readonly shouldPause?: ((round: number) => boolean) | undefined;
  readonly onPause?: ((round: number) => void) | undefined;
  /**
   * Checked before every round's computation, before its messages are sent and before the
   * finish; a throw fails the session (pair bans, security review C1).
   */
  readonly gate?: (() => void) | undefined;
}

interface RoundInbox {
  readonly broadcast: Map<PartyId, Uint8Array>;
  readonly direct: Map<PartyId, Uint8Array>;
}

interface Expectation {
  readonly round: number;
  readonly broadcast: boolean;
  readonly direct: boolean;
  readonly resolve: () => void;
}

export class RoundRunner<Result> {
  private readonly options: RoundRunnerOptions<Result>;
  private readonly partyOfNode = new Map<string, PartyId>();
  private readonly inboxes = new Map<number, RoundInbox>();
  private expectation: Expectation | undefined;
  private failure: MpcError | undefined;
  private failListeners: ((error: MpcError) => void)[] = [];
  private finished = false;

  constructor(options: RoundRunnerOptions<Result>) {
    this.options = options;
    for (const [party, node] of options.nodeOfParty) this.partyOfNode.set(node, party);
  }

  /** Peers (node ids) other than self. */
  get peers(): string[] {
    return [...this.options.nodeOfParty]
      .filter(([party]) => party !== this.options.self)
      .map(([, node]) => node);
  }

  /**
   * Accepts an authenticated payload. Returns false (and drops it) when it is a duplicate,
   * from a non-participant, or for a round already completed.
   */
  deliver(kind: MessageKind, round: number, fromNode: string, payload: Uint8Array): boolean {
    const from = this.partyOfNode.get(fromNode);
    if (from === undefined || from === this.options.self || this.finished) return false;
    if (round < 0 || round >= this.options.party.rounds) return false;
    if (this.expectation !== undefined && round < this.expectation.round) return false;
    let inbox = this.inboxes.get(round);
    if (inbox === undefined) {
      inbox = { broadcast: new Map(), direct: new Map() };
      this.inboxes.set(round, inbox);
    }
    const box = kind === 'broadcast' ? inbox.broadcast : inbox.direct;
    if (box.has(from)) return false;
    box.set(from, payload);
    this.checkExpectation();
    return true;
  }

  /** Fails the session with `error` (first failure wins). */
  abort(error: MpcError): void {
    if (this.failure !== undefined || this.finished) return;
    this.failure = error;
    for (const listener of this.failListeners) listener(error);
    this.failListeners = [];
  }

  /** Runs all rounds; always wipes the party and buffered payloads before settling. */
  async run(): Promise<Result> {
    const { party } = this.options;
    // Sends still waiting for their acks. A round's messages from the peers, not the acks of
    // this party's own, are what the next round needs: the runner goes on once they are in,
    // and a send that fails still fails the session at once (abort), as before.
    const unacknowledged: Promise<void>[] = [];
    try {
      let input: RoundInput = EMPTY_ROUND_INPUT;
      for (let round = 0; round < party.rounds; round++) {
        this.checkGate();
        const output = await this.guard(party.round(round, input));
        if (this.options.shouldPause?.(round) === true) {
          await this.receive(round, output).catch((error: unknown) => {
            if (this.failure !== undefined) throw error;
          });
          this.options.onPause?.(round);
          await this.guard(new Promise<never>(() => {}));
        }
        this.wipeInbox(round - 1);
        this.checkGate();
        const sent = this.send(round, output);
        sent.catch((error: unknown) => this.abort(this.normalize(error)));
        unacknowledged.push(sent);
        input = await this.receive(round, output);
      }
      this.checkGate();
      const result = await this.guard(party.finish(input));
      // Every message of this party was delivered before it reports a result.
      await this.guard(Promise.all(unacknowledged));
      return result;
    } catch (error) {
      throw this.normalize(error);
    } finally {
      this.finished = true;
      party.wipe();
      for (const round of [...this.inboxes.keys()]) this.wipeInbox(round);
    }
  }

  private checkGate(): void {
    if (this.failure !== undefined) throw this.failure;
    this.options.gate?.();
  }

  private normalize(error: unknown): MpcError {
    if (this.failure !== undefined) return this.failure;
    if (error instanceof MpcError) return error;
    const counterparty = (error as { counterparty?: unknown } | null)?.counterparty;
    const peer =
      typeof counterparty === 'number' ? this.options.nodeOfParty.get(counterparty) : undefined;
    const message = error instanceof Error ? error.message : 'protocol failure';
    return new ProtocolViolationError(`protocol check failed: ${message}`, peer, { cause: error });
  }

  /**
   * Drops a round's inbox, overwriting its direct payloads (they carry secrets, such as DKG
   * shares). Broadcast payloads are public and protocols may keep referring to them (e.g. to
   * byte-compare transcripts later), so they are left intact.
   */
  private wipeInbox(round: number): void {
    const inbox = this.inboxes.get(round);
    if (inbox === undefined) return;
    for (const payload of inbox.direct.values()) wipeBytes(payload);
    this.inboxes.delete(round);
  }

  /** Races `work` against a session failure. */
  private guard<T>(work: Promise<T>): Promise<T> {
    if (this.failure !== undefined) {
      work.catch(() => undefined);
      return Promise.reject(this.failure);
    }
    return new Promise<T>((resolve, reject) => {
      const listener = (error: MpcError): void => reject(error);
      this.failListeners.push(listener);
      work.then(
        (value) => {
          this.failListeners = this.failListeners.filter((entry) => entry !== listener);
          resolve(value);
        },
        (error: unknown) => {
          this.failListeners = this.failListeners.filter((entry) => entry !== listener);
          reject(error instanceof MpcError ? error : this.normalize(error));
        },
      );
    });
  }

  private async send(round: number, output: RoundOutput): Promise<void> {
    const { network } = this.options;
    const sends: Promise<void>[] = [];
    if (output.broadcast !== undefined) {
      sends.push(network.broadcast(round, output.broadcast, this.peers));
    }
    if (output.direct !== undefined) {
      for (const [party, payload] of output.direct) {
        const node = this.options.nodeOfParty.get(party);
        if (node === undefined || party === this.options.self) {
          throw new ProtocolViolationError(`protocol addressed unknown party ${party}`);
        }
        sends.push(network.direct(round, payload, node));
      }
    }
    // Fail on the first rejection, not after every send settles.
    await new Promise<void>((resolve, reject) => {
      let pending = sends.length;
      if (pending === 0) resolve();
      for (const send of sends) {
        send.then(() => {
          pending -= 1;
          if (pending === 0) resolve();
        }, reject);
      }
    });
  }

  private missingNodes(round: number, broadcast: boolean, direct: boolean): string[] {
    const inbox = this.inboxes.get(round);
    const missing: string[] = [];
    for (const [party, node] of this.options.nodeOfParty) {
      if (party === this.options.self) continue;
      const hasBroadcast = inbox?.broadcast.has(party) ?? false;
      const hasDirect = inbox?.direct.has(party) ?? false;
      if ((broadcast && !hasBroadcast) || (direct && !hasDirect)) missing.push(node);
    }
    return missing;
  }

  private checkExpectation(): void {
    const expectation = this.expectation;
    if (expectation === undefined) return;
    const { round, broadcast, direct } = expectation;
    if (this.missingNodes(round, broadcast, direct).length === 0) {
      this.expectation = undefined;
      expectation.resolve();
    }
  }

  private async receive(round: number, output: RoundOutput): Promise<RoundInput> {
    const broadcast = output.broadcast !== undefined;
    const direct = output.direct !== undefined;
    const { roundTimeoutMs, probeIntervalMs, sessionId, network } = this.options;
    const started = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const waitForRound = new Promise<void>((resolve, reject) => {
      this.expectation = { round, broadcast, direct, resolve };
      const tick = (): void => {
        const missing = this.missingNodes(round, broadcast, direct);
        const elapsed = Date.now() - started;
        if (elapsed >= roundTimeoutMs) {
          reject(new SessionTimeoutError(sessionId, round, missing, roundTimeoutMs));
          return;
        }
        for (const peer of missing) network.probe(peer).catch(reject);
        timer = setTimeout(tick, Math.min(probeIntervalMs, roundTimeoutMs - elapsed));
      };
      // Rounds normally complete within milliseconds: probe early once, then periodically.
      timer = setTimeout(tick, Math.min(FIRST_PROBE_DELAY_MS, probeIntervalMs, roundTimeoutMs));
      this.checkExpectation();
    });
    try {
      await this.guard(waitForRound);
    } finally {
      clearTimeout(timer);
      this.expectation = undefined;
    }
    const inbox = this.inboxes.get(round) ?? { broadcast: new Map(), direct: new Map() };
    return { broadcast: inbox.broadcast, direct: inbox.direct };
  }
}
