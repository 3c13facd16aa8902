/**
 * What crosses the thread boundary between a `PartyWorkerPool` (calling thread) and the
 * party worker (party-worker.ts). Everything here is plain, structured-clone-able data: Maps,
 * Uint8Arrays, bigints, numbers and strings.
 *
 * A party is named by a `PartySpec` (protocol name and options, with the key share as its
 * canonical encoding); the worker builds the protocol from it (worker-parties.ts). Keygen
 * results come back encoded (`EncodedKeygenResult`), signatures as the protocols return them.
 *
 * Messages (calling thread → worker):
 *   create { call, party, spec }  →  created { call, rounds } | failed { call, error }
 *   round  { call, party, index, input }  →  output { call, output } | failed
 *   finish { call, party, input }  →  result { call, result } | failed
 *   wipe   { party }  (no reply; idempotent)
 * `call` numbers replies; `party` is the pool's handle of a hosted party (not a PartyId).
 * After `finish` or any failure the worker wipes and releases the party by itself.
 *
 * Buffer ownership: the worker wipes its copy of the direct payloads of every input once the
 * call returns (the runner does the same on its side) and the copy of the share it decoded.
 * Payloads and results it sends are fresh buffers, transferred (not copied).
 */
import type { Dkls23Signature } from '../crypto/dkls23/index.ts';
import type { FrostSignature } from '../crypto/frost/index.ts';
import type { PartyId, RoundInput, RoundOutput } from '../crypto/round-protocol.ts';
import { InvalidPartySpecError, type SerializedPartyError } from './worker-errors.ts';

/** Options of a distributed key generation party (both schemes). */
export interface KeygenPartyOptions {
  readonly self: PartyId;
  /** Every party receiving a share, ascending. */
  readonly participants: readonly PartyId[];
  /** t: any t+1 participants sign. */
  readonly threshold: number;
  /** Unique per run, identical at every party. */
  readonly sessionId: Uint8Array;
}

export interface FrostSignPartyOptions {
  /** Exactly t+1 signers, ascending, including this party. */
  readonly signers: readonly PartyId[];
  readonly sessionId: Uint8Array;
  /** The exact bytes to sign. */
  readonly message: Uint8Array;
  /** Additive HD tweak; omit for the master key. */
  readonly tweak?: bigint;
}

export interface Dkls23SignPartyOptions {
  /** Exactly t+1 signers, ascending, including this party. */
  readonly signers: readonly PartyId[];
  readonly sessionId: Uint8Array;
  /** 32-byte message digest (already hashed). */
  readonly digest: Uint8Array;
  /** Additive HD tweak; omit for the master key. */
  readonly tweak?: bigint;
}

/** Public parameters of one resharing party (signer/crypto/reshare/options.ts). */
export interface ResharePartyOptions {
  readonly self: PartyId;
  readonly oldCommittee: readonly PartyId[];
  readonly oldThreshold: number;
  readonly newCommittee: readonly PartyId[];
  readonly newThreshold: number;
  /** Exactly oldThreshold + 1 old members, ascending. */
  readonly dealers: readonly PartyId[];
  /** The unchanged group key (Ed25519 32 bytes, secp256k1 33 bytes compressed). */
  readonly publicKey: Uint8Array;
  readonly sessionId: Uint8Array;
}

/** Public parameters of one DKLs23 pairwise refresh party (crypto/dkls23/pair-refresh-protocol.ts). */
export interface Dkls23RefreshPairPartyOptions {
  /** The other share holder of the pair. */
  readonly peer: PartyId;
  /** Fresh per run, identical at both parties. */
  readonly sessionId: Uint8Array;
}

/**
 * A party to host. `share` is the canonical encoding of this party's key share (secret): the
 * pool takes it over and wipes the caller's bytes once they are posted.
 */
export type PartySpec =
  | { readonly protocol: 'frost-keygen'; readonly options: KeygenPartyOptions }
  | { readonly protocol: 'dkls23-keygen'; readonly options: KeygenPartyOptions }
  | {
      readonly protocol: 'frost-sign';
      readonly share: Uint8Array;
      readonly options: FrostSignPartyOptions;
    }
  | {
      readonly protocol: 'dkls23-sign';
      readonly share: Uint8Array;
      readonly options: Dkls23SignPartyOptions;
    }
  | {
      readonly protocol: 'frost-reshare';
      /** The current share on dealers; absent on new-only members. */
      readonly share?: Uint8Array;
      readonly options: ResharePartyOptions;
    }
  | {
      readonly protocol: 'dkls23-reshare';
      readonly share?: Uint8Array;
      readonly options: ResharePartyOptions;
    }
  | {
      readonly protocol: 'dkls23-refresh-pair';
      readonly share: Uint8Array;
      readonly options: Dkls23RefreshPairPartyOptions;
    };

export type PartyProtocolName = PartySpec['protocol'];

export const PARTY_PROTOCOLS: readonly PartyProtocolName[] = Object.freeze([
  'frost-keygen',
  'dkls23-keygen',
  'frost-sign',
  'dkls23-sign',
  'frost-reshare',
  'dkls23-reshare',
  'dkls23-refresh-pair',
]);

/** A finished keygen party: its encoded key share (secret; the receiver wipes it) and group key. */
export interface EncodedKeygenResult {
  readonly share: Uint8Array;
  readonly publicKey: Uint8Array;
}

/**
 * A finished resharing party: the encoded new share (new members only; secret, the receiver
 * wipes it) and the transcript digest every participant confirmed (public).
 */
export interface EncodedReshareResult {
  readonly share?: Uint8Array;
  readonly transcriptDigest: Uint8Array;
}

/** Result type of each protocol. */
export interface PartyResults {
  'frost-keygen': EncodedKeygenResult;
  'dkls23-keygen': EncodedKeygenResult;
  'frost-sign': FrostSignature;
  'dkls23-sign': Dkls23Signature;
  'frost-reshare': EncodedReshareResult;
  'dkls23-reshare': EncodedReshareResult;
  /** The share with the refreshed pair (secret) and the transcript both parties confirm. */
  'dkls23-refresh-pair': EncodedReshareResult;
}

/** Result type of a spec. */
export type PartyResultOf<Spec extends PartySpec> = PartyResults[Spec['protocol']];

export type ToWorkerMessage =
  | {
      readonly kind: 'create';
      readonly call: number;
      readonly party: number;
      readonly spec: PartySpec;
    }
  | {
      readonly kind: 'round';
      readonly call: number;
      readonly party: number;
      readonly index: number;
      readonly input: RoundInput;
    }
  | {
      readonly kind: 'finish';
      readonly call: number;
      readonly party: number;
      readonly input: RoundInput;
    }
  | { readonly kind: 'wipe'; readonly party: number };

export type FromWorkerMessage =
  | { readonly kind: 'created'; readonly call: number; readonly rounds: number }
  | { readonly kind: 'output'; readonly call: number; readonly output: RoundOutput }
  | { readonly kind: 'result'; readonly call: number; readonly result: unknown }
  | { readonly kind: 'failed'; readonly call: number; readonly error: SerializedPartyError };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}

/**
 * Checks the shape the pool relies on (protocol name, share bytes, options object); the
 * protocol factories validate the option values themselves and name the bad field.
 */
export function checkPartySpec(spec: unknown): asserts spec is PartySpec {
  if (!isRecord(spec)) throw new InvalidPartySpecError('spec', 'not an object');
  const protocol = spec['protocol'];
  if (typeof protocol !== 'string' || !PARTY_PROTOCOLS.includes(protocol as PartyProtocolName)) {
    throw new InvalidPartySpecError('protocol', 'unknown protocol');
  }
  if (!isRecord(spec['options'])) throw new InvalidPartySpecError('options', 'not an object');
  if (
    (protocol.endsWith('-sign') || protocol === 'dkls23-refresh-pair') &&
    !(spec['share'] instanceof Uint8Array)
  ) {
    throw new InvalidPartySpecError('share', 'not a Uint8Array');
  }
  if (
    protocol.endsWith('-reshare') &&
    spec['share'] !== undefined &&
    !(spec['share'] instanceof Uint8Array)
  ) {
    throw new InvalidPartySpecError('share', 'not a Uint8Array');
  }
}

/**
 * The ArrayBuffers that can be moved instead of copied: those of Uint8Arrays that span their
 * whole buffer (transferring a shared buffer would detach unrelated views). Deduplicated.
 */
export function transferableBuffers(values: Iterable<unknown>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const value of values) {
    if (!(value instanceof Uint8Array)) continue;
    const buffer = value.buffer;
    if (!(buffer instanceof ArrayBuffer)) continue;
    if (value.byteOffset !== 0 || value.byteLength !== buffer.byteLength) continue;
    if (buffer.byteLength === 0) continue;
    buffers.add(buffer);
  }
  return [...buffers];
}

/** Copies every payload of a round output into fresh buffers (the party keeps its own). */
export function copyRoundOutput(output: RoundOutput): RoundOutput {
  const copy: { broadcast?: Uint8Array; direct?: Map<PartyId, Uint8Array> } = {};
  if (output.broadcast !== undefined) copy.broadcast = output.broadcast.slice();
  if (output.direct !== undefined) {
    copy.direct = new Map([...output.direct].map(([party, payload]) => [party, payload.slice()]));
  }
  return copy;
}

/** Every payload buffer of a round output, for a transfer list. */
export function roundOutputPayloads(output: RoundOutput): Uint8Array[] {
  const payloads: Uint8Array[] = [];
  if (output.broadcast !== undefined) payloads.push(output.broadcast);
  if (output.direct !== undefined) payloads.push(...output.direct.values());
  return payloads;
}

/** The top-level Uint8Array fields of a plain result object. */
export function resultBuffers(result: unknown): Uint8Array[] {
  if (!isRecord(result)) return [];
  return Object.values(result).filter((value): value is Uint8Array => value instanceof Uint8Array);
}
