/**
 * In-memory driver for `RoundProtocol`s (tests and benchmarks): runs one instance per party in
 * lock step, routing each broadcast to every other participant and each direct message to its
 * recipient, as the session runner does over the network. `intercept` sees every delivery and
 * may replace the payload (tamper, equivocate) or return `undefined` to drop it.
 */
import type { PartyId, RoundProtocol } from '../round-protocol.ts';
import { EMPTY_ROUND_INPUT } from '../round-protocol.ts';

export interface Delivery {
  readonly round: number;
  readonly from: PartyId;
  readonly to: PartyId;
  readonly channel: 'broadcast' | 'direct';
  readonly payload: Uint8Array;
}

export interface DriverOptions {
  readonly intercept?: (delivery: Delivery) => Uint8Array | undefined;
  /** Called with every party's CPU-relevant wall time per call (benchmarks). */
  readonly onCall?: (party: PartyId, round: number, milliseconds: number) => void;
}

export type PartyOutcome<Result> =
  { readonly ok: true; readonly value: Result } | { readonly ok: false; readonly error: unknown };

interface Inbox {
  broadcast: Map<PartyId, Uint8Array>;
  direct: Map<PartyId, Uint8Array>;
}

export function runProtocols<Result>(
  parties: readonly RoundProtocol<Result>[],
  options: DriverOptions = {},
): Map<PartyId, PartyOutcome<Result>> {
  const outcomes = new Map<PartyId, PartyOutcome<Result>>();
  const alive = new Set(parties.map((party) => party.self));
  const rounds = parties[0]?.rounds ?? 0;
  const emptyInboxes = (): Map<PartyId, Inbox> =>
    new Map(parties.map((party) => [party.self, { broadcast: new Map(), direct: new Map() }]));
  let inboxes = emptyInboxes();
  for (let round = 0; round <= rounds; round++) {
    const next = emptyInboxes();
    for (const party of parties) {
      if (!alive.has(party.self)) continue;
      const input = round === 0 ? EMPTY_ROUND_INPUT : (inboxes.get(party.self) as Inbox);
      const started = performance.now();
      try {
        if (round === rounds) {
          outcomes.set(party.self, { ok: true, value: party.finish(input) });
          options.onCall?.(party.self, round, performance.now() - started);
          party.wipe();
          continue;
        }
        const output = party.round(round, input);
        options.onCall?.(party.self, round, performance.now() - started);
        const deliver = (
          to: PartyId,
          channel: 'broadcast' | 'direct',
          payload: Uint8Array,
        ): void => {
          const delivered = options.intercept
            ? options.intercept({ round, from: party.self, to, channel, payload: payload.slice() })
            : payload.slice();
          if (delivered !== undefined) next.get(to)?.[channel].set(party.self, delivered);
        };
        if (output.broadcast) {
          for (const other of party.participants)
            if (other !== party.self) deliver(other, 'broadcast', output.broadcast);
        }
        for (const [to, payload] of output.direct ?? []) deliver(to, 'direct', payload);
      } catch (error) {
        outcomes.set(party.self, { ok: false, error });
        alive.delete(party.self);
        party.wipe();
      }
    }
    inboxes = next;
  }
  return outcomes;
}
