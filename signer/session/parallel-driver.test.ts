import { describe, expect, it } from 'vitest';
import { createFrostKeygenProtocol, type FrostKeyShare } from '../crypto/frost/index.ts';
import type { PartyId, RoundInput, RoundProtocol } from '../crypto/round-protocol.ts';
import { parallelDrivers } from './parallel-driver.ts';
import {
  RoundRunner,
  localPartyDriver,
  type PartyDriver,
  type RoundNetwork,
} from './round-runner.ts';

/** Three rounds: broadcast, direct, broadcast; result = sum of everything received + own. */
class ThreeRounds implements RoundProtocol<number> {
  readonly rounds = 3;
  private total = 0;
  constructor(
    readonly self: PartyId,
    readonly participants: PartyId[],
  ) {}
  private absorb(input: RoundInput): void {
    for (const payload of input.broadcast.values()) this.total += payload[0] ?? 0;
    for (const payload of input.direct.values()) this.total += payload[0] ?? 0;
  }
  round(index: number, input: RoundInput) {
    this.absorb(input);
    if (index === 1) {
      return {
        direct: new Map(
          this.participants.filter((p) => p !== this.self).map((p) => [p, Uint8Array.of(10)]),
        ),
      };
    }
    return { broadcast: Uint8Array.of(this.self) };
  }
  finish(input: RoundInput): number {
    this.absorb(input);
    return this.total;
  }
  wipe(): void {}
}

async function runAll<R>(drivers: Map<PartyId, PartyDriver<R>>): Promise<Map<PartyId, R>> {
  const nodeOfParty = new Map([...drivers.keys()].map((party) => [party, `n${party}`]));
  const runners = new Map<string, RoundRunner<R>>();
  for (const [party, driver] of drivers) {
    const node = `n${party}`;
    const network: RoundNetwork = {
      broadcast: async (round, payload, peers) => {
        for (const peer of peers)
          runners.get(peer)?.deliver('broadcast', round, node, payload.slice());
      },
      direct: async (round, payload, peer) =>
        void runners.get(peer)?.deliver('direct', round, node, payload.slice()),
      probe: async () => undefined,
    };
    runners.set(
      node,
      new RoundRunner({
        sessionId: 's',
        party: driver,
        nodeOfParty,
        self: party,
        network,
        roundTimeoutMs: 5000,
        probeIntervalMs: 1000,
      }),
    );
  }
  const results = await Promise.all([...runners.values()].map((runner) => runner.run()));
  return new Map([...drivers.keys()].map((party, index) => [party, results[index] as R]));
}

describe('parallelDrivers', () => {
  it('runs FROST keygen and a three-round protocol side by side in one session', async () => {
    const parties = [1, 2, 3];
    const drivers = new Map(
      parties.map((self) => [
        self,
        parallelDrivers(
          localPartyDriver(
            createFrostKeygenProtocol({
              self,
              participants: parties,
              threshold: 1,
              sessionId: Uint8Array.of(1, 2),
            }),
          ),
          localPartyDriver(new ThreeRounds(self, parties)),
        ),
      ]),
    );
    expect(drivers.get(1)?.rounds).toBe(3);
    const results = await runAll(drivers);
    const keys = [...results.values()].map(([share]) =>
      Buffer.from((share as FrostKeyShare).publicKey).toString('hex'),
    );
    expect(new Set(keys).size).toBe(1);
    for (const [self, [share, total]] of results) {
      expect((share as FrostKeyShare).self).toBe(self);
      // round 0 broadcasts from two peers (their ids), round 1 directs (10 each), round 2 broadcasts again
      const others = parties.filter((p) => p !== self);
      expect(total).toBe(2 * (others[0]! + others[1]!) + 20);
    }
  });

  it('rejects malformed frames as a protocol violation', async () => {
    const driver = parallelDrivers(
      localPartyDriver(new ThreeRounds(1, [1, 2])),
      localPartyDriver(new ThreeRounds(1, [1, 2])),
    );
    await driver.round(0, { broadcast: new Map(), direct: new Map() });
    await expect(
      driver.round(1, {
        broadcast: new Map([[2, Uint8Array.of(0, 0, 0, 9, 1)]]),
        direct: new Map(),
      }),
    ).rejects.toMatchObject({ code: 'ERROR_MESSAGE_VERIFICATION' });
  });
});
