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
import { wipeBytes } from '../crypto/wipe.ts';
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

/** Rounds of every hosted protocol (checked against the created party when it is bound). */
export const PROTOCOL_ROUNDS = {
  'frost-keygen': 2,
  'dkls23-keygen': 2,
  'frost-sign': 2,
  'dkls23-sign': 3,
  'frost-reshare': 2,
  'dkls23-reshare': 2,
  'dkls23-refresh-pair': 2,
} as const satisfies Record<PartySpec['protocol'], number>;

/**
 * A party whose protocol is created only once the session's binding id is known: the
 * protocol's `sessionId` is the binding of every participant's fresh hello (security review
 * L4, `signer/session/session-binding.ts`), which no single party, the coordinator included,
 * chooses. `driver` can be handed to the session before; it refuses rounds until `bind`.
 */
export interface DeferredParty<Result> {
  readonly driver: PartyDriver<Result>;
  bind(binding: Uint8Array): Promise<void>;
}

export function deferParty<Spec extends PartySpec>(
  drivers: ProtocolDrivers,
  spec: Spec,
): DeferredParty<PartyResultOf<Spec>> {
  // Our own copy of the share: the caller wipes its bytes, the pool wipes the bound spec's.
  const share =
    'share' in spec && spec.share instanceof Uint8Array ? spec.share.slice() : undefined;
  const rounds = PROTOCOL_ROUNDS[spec.protocol];
  let inner: PartyDriver<PartyResultOf<Spec>> | undefined;
  let wiped = false;
  const bound = (): PartyDriver<PartyResultOf<Spec>> => {
    if (inner === undefined) throw new Error('protocol party used before the session binding');
    return inner;
  };
  return {
    driver: {
      rounds,
      round: (index, input) => bound().round(index, input),
      finish: (input) => bound().finish(input),
      wipe: () => {
        wiped = true;
        if (share !== undefined) wipeBytes(share);
        inner?.wipe();
      },
    },
    async bind(binding) {
      if (inner !== undefined || wiped) throw new Error('protocol party bound twice or after wipe');
      const boundSpec = {
        ...spec,
        options: { ...spec.options, sessionId: binding },
        ...(share === undefined ? {} : { share: share.slice() }),
      } as Spec;
      if (share !== undefined) wipeBytes(share);
      const created = await drivers.create(boundSpec);
      if (wiped || created.rounds !== rounds) {
        created.wipe();
        throw new Error(
          wiped ? 'session ended before its party was created' : 'round count mismatch',
        );
      }
      inner = created;
    },
  };
}
