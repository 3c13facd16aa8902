/**
 * The worker side of the pool protocol (worker-messages.ts), independent of the thread
 * plumbing: `PartyHost.handle` turns one request into one reply plus its transfer list.
 * party-worker.ts only wires it to `parentPort`.
 */
import { Dkls23Error } from '../crypto/dkls23/index.ts';
import { FrostError } from '../crypto/frost/index.ts';
import type { RoundInput } from '../crypto/round-protocol.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import {
  PARTY_WORKER_INTERNAL_CODE,
  PARTY_WORKER_STATE_CODE,
  type SerializedPartyError,
} from './worker-errors.ts';
import {
  copyRoundOutput,
  resultBuffers,
  roundOutputPayloads,
  transferableBuffers,
  type FromWorkerMessage,
  type ToWorkerMessage,
} from './worker-messages.ts';
import { createHostedParty, type HostedParty } from './worker-parties.ts';

/** One reply and the buffers to move with it. */
export interface WorkerReply {
  readonly message: FromWorkerMessage;
  readonly transfer: ArrayBuffer[];
}

/**
 * Plain form of a thrown value. Only vetted protocol errors keep name and message (they are
 * written never to include secrets); anything else, whose message might quote rejected
 * values, becomes a generic internal error naming only its class.
 */
export function serializePartyError(error: unknown): SerializedPartyError {
  if (error instanceof Dkls23Error) {
    return {
      name: error.name,
      message: error.message,
      code: error.code,
      ...(error.counterparty === undefined ? {} : { counterparty: error.counterparty }),
      ...(error.field === undefined ? {} : { field: error.field }),
      banPair: error.banPair,
    };
  }
  if (error instanceof FrostError) {
    return {
      name: error.name,
      message: error.message,
      code: error.code,
      ...(error.counterparty === undefined ? {} : { counterparty: error.counterparty }),
      ...(error.field === undefined ? {} : { field: error.field }),
    };
  }
  const kind = error instanceof Error ? error.name : typeof error;
  return {
    name: 'PartyWorkerInternalError',
    message: `internal error in protocol party (${kind})`,
    code: PARTY_WORKER_INTERNAL_CODE,
  };
}

function wipeDirectPayloads(input: RoundInput): void {
  for (const payload of input.direct.values()) wipeBytes(payload);
}

export class PartyHost {
  private readonly parties = new Map<number, HostedParty>();

  /** Number of parties currently hosted. */
  get size(): number {
    return this.parties.size;
  }

  /** Handles one request; `undefined` for requests without a reply (wipe). */
  handle(request: ToWorkerMessage): WorkerReply | undefined {
    switch (request.kind) {
      case 'wipe':
        this.release(request.party);
        return undefined;
      case 'create':
        return this.attempt(request.call, undefined, () => {
          try {
            if (this.parties.has(request.party)) throw new Error('duplicate party handle');
            this.parties.set(request.party, createHostedParty(request.spec));
          } finally {
            if ('share' in request.spec) wipeBytes(request.spec.share);
          }
          const party = this.party(request.party);
          return {
            message: { kind: 'created', call: request.call, rounds: party.rounds },
            transfer: [],
          };
        });
      case 'round':
        return this.attempt(request.call, request.party, () => {
          try {
            const output = copyRoundOutput(
              this.party(request.party).round(request.index, request.input),
            );
            return {
              message: { kind: 'output', call: request.call, output },
              transfer: transferableBuffers(roundOutputPayloads(output)),
            };
          } finally {
            wipeDirectPayloads(request.input);
          }
        });
      case 'finish':
        return this.attempt(request.call, request.party, () => {
          try {
            const result = this.party(request.party).finish(request.input);
            return {
              message: { kind: 'result', call: request.call, result },
              transfer: transferableBuffers(resultBuffers(result)),
            };
          } finally {
            wipeDirectPayloads(request.input);
            this.release(request.party);
          }
        });
    }
  }

  /** Wipes and forgets every party (the worker is shutting down). */
  wipeAll(): void {
    for (const handle of [...this.parties.keys()]) this.release(handle);
  }

  private party(handle: number): HostedParty {
    const party = this.parties.get(handle);
    if (party === undefined) throw new UnknownPartyError();
    return party;
  }

  private release(handle: number): void {
    const party = this.parties.get(handle);
    if (party === undefined) return;
    this.parties.delete(handle);
    party.wipe();
  }

  /** Runs `work`; on failure releases the party (if any) and replies with the error. */
  private attempt(call: number, handle: number | undefined, work: () => WorkerReply): WorkerReply {
    try {
      return work();
    } catch (error) {
      if (handle !== undefined) this.release(handle);
      const serialized =
        error instanceof UnknownPartyError
          ? {
              name: 'PartyWorkerStateError',
              message: 'party is not hosted (wiped, finished or failed)',
              code: PARTY_WORKER_STATE_CODE,
            }
          : serializePartyError(error);
      return { message: { kind: 'failed', call, error: serialized }, transfer: [] };
    }
  }
}

class UnknownPartyError extends Error {}
