import { describe, expect, it } from 'vitest';
import type { PartyId, RoundInput, RoundProtocol } from '../crypto/round-protocol.ts';
import { ErrorCode } from '../protocol/errors.ts';
import { PeerUnavailableError, SessionAbortedError } from './errors.ts';
import { RoundRunner, localPartyDriver, type RoundNetwork } from './round-runner.ts';

/** Toy protocol: round 0 broadcasts a value, round 1 sends it doubled directly; sums all. */
class SumProtocol implements RoundProtocol<number> {
  readonly rounds = 2;
  wiped = false;
  private total = 0;
  constructor(
    readonly self: PartyId,
    readonly participants: PartyId[],
    private readonly secret: Uint8Array,
  ) {}
  round(index: number, input: RoundInput) {
    if (index === 0) return { broadcast: this.secret.slice() };
    for (const payload of input.broadcast.values()) this.total += payload[0] ?? 0;
    const direct = new Map<PartyId, Uint8Array>();
    for (const party of this.participants) {
      if (party !== this.self) direct.set(party, Uint8Array.of((this.secret[0] ?? 0) * 2));
    }
    return { direct };
  }
  finish(input: RoundInput): number {
    for (const payload of input.direct.values()) this.total += payload[0] ?? 0;
    return this.total + (this.secret[0] ?? 0) * 3;
  }
  wipe(): void {
    this.secret.fill(0);
    this.wiped = true;
  }
}

interface Cluster {
  runners: Map<string, RoundRunner<number>>;
  protocols: Map<string, SumProtocol>;
  dead: Set<string>;
}

function cluster(
  options: {
    silent?: string;
    pauseAt?: number;
    roundTimeoutMs?: number;
    /** The acks of this node's sends (delivered at once) come when `gate` settles. */
    acks?: { node: string; gate: Promise<void> };
  } = {},
) {
  const nodes = new Map<PartyId, string>([
    [1, 'a'],
    [2, 'b'],
    [3, 'c'],
  ]);
  const state: Cluster = { runners: new Map(), protocols: new Map(), dead: new Set() };
  for (const [party, node] of nodes) {
    const network: RoundNetwork = {
      broadcast: async (round, payload, peers) => {
        if (node === options.silent) return;
        for (const peer of peers) {
          if (state.dead.has(peer)) throw new PeerUnavailableError(peer, 's1', 'no responders');
          state.runners.get(peer)?.deliver('broadcast', round, node, payload.slice());
        }
        if (options.acks?.node === node) await options.acks.gate;
      },
      direct: async (round, payload, peer) => {
        if (node === options.silent) return;
        if (state.dead.has(peer)) throw new PeerUnavailableError(peer, 's1', 'no responders');
        state.runners.get(peer)?.deliver('direct', round, node, payload);
        if (options.acks?.node === node) await options.acks.gate;
      },
      probe: async (peer) => {
        if (state.dead.has(peer)) throw new PeerUnavailableError(peer, 's1', 'no responders');
      },
    };
    const protocol = new SumProtocol(party, [...nodes.keys()], Uint8Array.of(party));
    state.protocols.set(node, protocol);
    state.runners.set(
      node,
      new RoundRunner({
        sessionId: 's1',
        party: localPartyDriver(protocol),
        nodeOfParty: nodes,
        self: party,
        network,
        roundTimeoutMs: options.roundTimeoutMs ?? 2000,
        probeIntervalMs: 20,
        shouldPause: (round) => node === 'c' && round === options.pauseAt,
      }),
    );
  }
  return state;
}

describe('RoundRunner', () => {
  it('runs every round and gives each party the same result, then wipes', async () => {
    const state = cluster();
    const results = await Promise.all([...state.runners.values()].map((runner) => runner.run()));
    // sum over parties of (v + 2v) plus own 3v counted once = 3*(1+2+3) = 18
    expect(results).toEqual([18, 18, 18]);
    for (const protocol of state.protocols.values()) expect(protocol.wiped).toBe(true);
  });

  it('overwrites received direct payloads after use and leaves broadcasts intact', async () => {
    const state = cluster();
    const delivered: { kind: string; payload: Uint8Array }[] = [];
    for (const runner of state.runners.values()) {
      const deliver = runner.deliver.bind(runner);
      runner.deliver = (kind, round, from, payload) => {
        delivered.push({ kind, payload });
        return deliver(kind, round, from, payload);
      };
    }
    await Promise.all([...state.runners.values()].map((runner) => runner.run()));
    const directs = delivered.filter((entry) => entry.kind === 'direct');
    const broadcasts = delivered.filter((entry) => entry.kind === 'broadcast');
    expect(directs).toHaveLength(6);
    for (const { payload } of directs) expect([...payload]).toEqual([0]);
    for (const { payload } of broadcasts) expect(payload[0]).not.toBe(0);
  });

  it('goes on once the round messages are in, and reports only after every ack', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const state = cluster({ acks: { node: 'a', gate } });
    const protocol = state.protocols.get('a')!;
    const rounds: number[] = [];
    const round = protocol.round.bind(protocol);
    protocol.round = (index, input) => (rounds.push(index), round(index, input));
    let settled = false;
    const runs = [...state.runners.values()].map((runner) => runner.run());
    void runs[0]!.finally(() => (settled = true));
    await expect(Promise.all(runs.slice(1))).resolves.toEqual([18, 18]);
    expect(rounds).toEqual([0, 1]); // round 1 ran while round 0's acks were outstanding
    expect(settled).toBe(false);
    release();
    await expect(runs[0]).resolves.toBe(18);
  });

  it('fails at once when a send is refused while the round messages are awaited', async () => {
    const gate = Promise.reject(new PeerUnavailableError('b', 's1', 'message rejected by peer'));
    gate.catch(() => undefined);
    const state = cluster({ acks: { node: 'a', gate }, silent: 'c', roundTimeoutMs: 60_000 });
    const [a, ...others] = [...state.runners.values()].map((runner) => runner.run());
    await expect(a).rejects.toMatchObject({ code: ErrorCode.PeerUnavailable, peer: 'b' });
    expect(state.protocols.get('a')!.wiped).toBe(true);
    for (const runner of state.runners.values()) {
      runner.abort(new SessionAbortedError('a', ErrorCode.PeerUnavailable, 'x'));
    }
    await Promise.allSettled(others);
  });

  it('drops duplicates and messages from non-participants', () => {
    const state = cluster();
    const runner = state.runners.get('a')!;
    expect(runner.deliver('broadcast', 0, 'b', Uint8Array.of(2))).toBe(true);
    expect(runner.deliver('broadcast', 0, 'b', Uint8Array.of(9))).toBe(false);
    expect(runner.deliver('broadcast', 0, 'mallory', Uint8Array.of(9))).toBe(false);
    expect(runner.deliver('broadcast', 0, 'a', Uint8Array.of(9))).toBe(false);
    expect(runner.deliver('broadcast', 7, 'c', Uint8Array.of(9))).toBe(false);
  });

  it('fails with ERROR_PEER_UNAVAILABLE when a stalled peer disappears', async () => {
    const state = cluster({ pauseAt: 1 });
    const a = state.runners.get('a')!.run();
    const b = state.runners.get('b')!.run();
    const c = state.runners.get('c')!.run();
    const settled = Promise.allSettled([a, b, c]);
    setTimeout(() => state.dead.add('c'), 50);
    await expect(a).rejects.toMatchObject({ code: ErrorCode.PeerUnavailable, peer: 'c' });
    await expect(b).rejects.toBeInstanceOf(PeerUnavailableError);
    state.runners.get('c')!.abort(new SessionAbortedError('a', ErrorCode.PeerUnavailable, 'x'));
    expect((await settled)[2]).toMatchObject({ status: 'rejected' });
    expect(state.protocols.get('a')!.wiped).toBe(true);
    expect(state.protocols.get('c')!.wiped).toBe(true);
  });

  it('fails with ERROR_SESSION_TIMEOUT when a live peer never sends', async () => {
    const state = cluster({ silent: 'c', roundTimeoutMs: 200 });
    const [a, ...others] = [...state.runners.values()].map((runner) => runner.run());
    const othersSettled = Promise.allSettled(others);
    await expect(a).rejects.toMatchObject({
      code: ErrorCode.SessionTimeout,
      missingPeers: ['c'],
    });
    await othersSettled;
  });

  it('fails with the code of an abort announced by another participant', async () => {
    const state = cluster({ pauseAt: 0 });
    const [a, ...others] = [...state.runners.values()].map((runner) => runner.run());
    const othersSettled = Promise.allSettled(others);
    state.runners
      .get('a')!
      .abort(new SessionAbortedError('b', ErrorCode.PeerUnavailable, 'peer c gone', 'c'));
    await expect(a).rejects.toMatchObject({ code: ErrorCode.PeerUnavailable, abortedBy: 'b' });
    expect(state.protocols.get('a')!.wiped).toBe(true);
    for (const runner of state.runners.values()) {
      runner.abort(new SessionAbortedError('a', ErrorCode.PeerUnavailable, 'x'));
    }
    await othersSettled;
  });

  it('reports a protocol exception as a protocol violation naming the counterparty', async () => {
    const state = cluster();
    const protocol = state.protocols.get('a')!;
    protocol.finish = () => {
      throw Object.assign(new Error('bad share'), { counterparty: 2 });
    };
    const runs = [...state.runners.values()].map((runner) => runner.run());
    const allSettled = Promise.allSettled(runs);
    await expect(runs[0]).rejects.toMatchObject({
      code: ErrorCode.MessageVerification,
      peer: 'b',
    });
    await allSettled;
  });
});
