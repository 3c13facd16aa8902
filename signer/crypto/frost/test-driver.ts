/**
 * In-memory driver for `RoundProtocol`s: runs one protocol instance per party to completion,
 * routing every broadcast to all other participants and every direct message to its
 * recipient, exactly as the session runner does over the network. For tests and benchmarks.
 *
 * `intercept` sees every outgoing payload (sender, recipient, round, channel) and may return
 * a replacement (tampering) or `undefined` to drop it; broadcasts are delivered per recipient,
 * so an interceptor can also equivocate.
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
}

/** Per-party outcome: the result or the error that party's protocol threw. */
export type PartyOutcome<Result> =
  { readonly ok: true; readonly value: Result } | { readonly ok: false; readonly error: unknown };

interface Inbox {
  broadcast: Map<PartyId, Uint8Array>;
  direct: Map<PartyId, Uint8Array>;
}

/**
 * Runs all parties in lock step. A party that throws stops (and is wiped); the others keep
 * going as far as their inputs allow (a missing message surfaces as their own error).
 */
export function runProtocols<Result>(
  parties: readonly RoundProtocol<Result>[],
  options: DriverOptions = {},
): Map<PartyId, PartyOutcome<Result>> {
  const outcomes = new Map<PartyId, PartyOutcome<Result>>();
  const alive = new Map(parties.map((party) => [party.self, party]));
  const rounds = parties[0]?.rounds ?? 0;
  let inboxes = new Map<PartyId, Inbox>(
    parties.map((party) => [party.self, { broadcast: new Map(), direct: new Map() }]),
  );
  const fail = (party: RoundProtocol<Result>, error: unknown): void => {
    outcomes.set(party.self, { ok: false, error });
    alive.delete(party.self);
    party.wipe();
  };
  for (let round = 0; round <= rounds; round++) {
    const next = new Map<PartyId, Inbox>(
      parties.map((party) => [party.self, { broadcast: new Map(), direct: new Map() }]),
    );
    for (const party of [...alive.values()]) {
      const inbox = inboxes.get(party.self) as Inbox;
      const input = round === 0 ? EMPTY_ROUND_INPUT : inbox;
      if (round === rounds) {
        try {
          outcomes.set(party.self, { ok: true, value: party.finish(input) });
        } catch (error) {
          fail(party, error);
          continue;
        }
        party.wipe();
        continue;
      }
      let output;
      try {
        output = party.round(round, input);
      } catch (error) {
        fail(party, error);
        continue;
      }
      const deliver = (to: PartyId, channel: 'broadcast' | 'direct', payload: Uint8Array): void => {
        const delivered = options.intercept
          ? options.intercept({ round, from: party.self, to, channel, payload: payload.slice() })
          : payload.slice();
        if (delivered !== undefined) next.get(to)?.[channel].set(party.self, delivered);
      };
      if (output.broadcast !== undefined) {
        for (const to of party.participants) {
          if (to !== party.self) deliver(to, 'broadcast', output.broadcast);
        }
      }
      for (const [to, payload] of output.direct ?? []) deliver(to, 'direct', payload);
    }
    inboxes = next;
  }
  return outcomes;
}

/** Runs the parties and returns every result, throwing the first party error if any. */
export function runToCompletion<Result>(
  parties: readonly RoundProtocol<Result>[],
  options: DriverOptions = {},
): Map<PartyId, Result> {
  const results = new Map<PartyId, Result>();
  for (const [party, outcome] of runProtocols(parties, options)) {
    if (!outcome.ok) throw outcome.error;
    results.set(party, outcome.value);
  }
  return results;
}
