/**
 * Where a session's protocol party runs. Parties are requested by plain, cloneable
 * descriptions (`PartySpec`, signer/session/worker-messages.ts) so a request can be served on
 * the calling thread or by the worker-thread pool. DKLs23 parties (seconds of CPU per keygen,
 * ~20 ms per signature) go to the pool so the event loop that acks peers and heartbeats never
 * stalls; FROST parties (a few ms) stay on the calling thread, saving the thread hop.
 */
import type { PartyDriver } from '../session/round-runner.ts';
import type { PartyResultOf, PartySpec } from '../session/worker-messages.ts';
import { createHostedParty } from '../session/worker-parties.ts';
import type { PartyWorkerPool } from '../session/worker-pool.ts';

export type { EncodedKeygenResult, PartySpec } from '../session/worker-messages.ts';

export interface ProtocolDrivers {
  create<Spec extends PartySpec>(spec: Spec): Promise<PartyDriver<PartyResultOf<Spec>>>;
}

/** Hosts the party on the calling thread (the same factories the workers use). */
function localDriver<Spec extends PartySpec>(spec: Spec): PartyDriver<PartyResultOf<Spec>> {
  const party = createHostedParty(spec);
  return {
    rounds: party.rounds,
    round: (index, input) => Promise.resolve().then(() => party.round(index, input)),
    finish: (input) => Promise.resolve().then(() => party.finish(input) as PartyResultOf<Spec>),
    wipe: () => party.wipe(),
  };
}

/** Every party on the calling thread (unit tests). */
export const localProtocolDrivers: ProtocolDrivers = {
  create: (spec) => Promise.resolve(localDriver(spec)),
};

/** DKLs23 parties in the worker pool, FROST parties on the calling thread. */
export function pooledProtocolDrivers(pool: PartyWorkerPool): ProtocolDrivers {
  return {
    create: (spec) =>
      spec.protocol.startsWith('dkls23')
        ? pool.createDriver(spec)
        : Promise.resolve(localDriver(spec)),
  };
}
