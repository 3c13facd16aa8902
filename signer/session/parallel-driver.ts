/**
 * Runs several parties side by side as one: a wallet's keygen runs FROST and DKLs23 together
 * in one session, a signing batch runs one FROST signing party per request. Parts are
 * symmetric per round, so the composite is too: in round `r` the composite broadcasts when any
 * part broadcasts and sends directs when any part sends directs; each payload frames every
 * part's payload, in part order.
 *
 * Frame: for each part in order, u32 length then bytes, where length 0xFFFFFFFF means the
 * part sent nothing of this kind in this round. A frame with fewer or more parts, or trailing
 * bytes, is a protocol violation by its sender. A part with fewer rounds finishes as soon as
 * its last round's input has arrived; its result is kept until the composite finishes.
 */
import type { PartyId, RoundInput, RoundOutput } from '../crypto/round-protocol.ts';
import { EMPTY_ROUND_INPUT } from '../crypto/round-protocol.ts';
import { ProtocolViolationError } from './errors.ts';
import type { PartyDriver } from './round-runner.ts';

const ABSENT = 0xffffffff;

function frame(parts: readonly (Uint8Array | undefined)[]): Uint8Array {
  let length = 0;
  for (const part of parts) length += 4 + (part?.length ?? 0);
  const out = new Uint8Array(length);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const part of parts) {
    view.setUint32(offset, part === undefined ? ABSENT : part.length);
    offset += 4;
    if (part !== undefined) {
      out.set(part, offset);
      offset += part.length;
    }
  }
  return out;
}

function unframe(bytes: Uint8Array, count: number, from: PartyId): (Uint8Array | undefined)[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const parts: (Uint8Array | undefined)[] = [];
  let offset = 0;
  for (let index = 0; index < count; index++) {
    if (offset + 4 > bytes.length)
      throw new ProtocolViolationError(`truncated frame from party ${from}`);
    const length = view.getUint32(offset);
    offset += 4;
    if (length === ABSENT) {
      parts.push(undefined);
      continue;
    }
    if (offset + length > bytes.length)
      throw new ProtocolViolationError(`truncated frame from party ${from}`);
    parts.push(bytes.subarray(offset, offset + length));
    offset += length;
  }
  if (offset !== bytes.length)
    throw new ProtocolViolationError(`trailing bytes in frame from party ${from}`);
  return parts;
}

function splitInput(input: RoundInput, count: number): RoundInput[] {
  const parts = Array.from({ length: count }, () => ({
    broadcast: new Map<PartyId, Uint8Array>(),
    direct: new Map<PartyId, Uint8Array>(),
  }));
  for (const kind of ['broadcast', 'direct'] as const) {
    for (const [from, payload] of input[kind]) {
      unframe(payload, count, from).forEach((part, index) => {
        if (part !== undefined) parts[index]?.[kind].set(from, part.slice());
      });
    }
  }
  return parts;
}

function joinOutputs(outputs: readonly (RoundOutput | undefined)[]): RoundOutput {
  const anyBroadcast = outputs.some((output) => output?.broadcast !== undefined);
  const recipients = new Set<PartyId>();
  for (const output of outputs)
    for (const party of output?.direct?.keys() ?? []) recipients.add(party);
  const result: { broadcast?: Uint8Array; direct?: Map<PartyId, Uint8Array> } = {};
  if (anyBroadcast) result.broadcast = frame(outputs.map((output) => output?.broadcast));
  if (recipients.size > 0) {
    result.direct = new Map(
      [...recipients].map((party) => [
        party,
        frame(outputs.map((output) => output?.direct?.get(party))),
      ]),
    );
  }
  return result;
}

/** Runs `first` and `second` side by side (concurrently, each may live in a worker). */
export function parallelDrivers<A, B>(
  first: PartyDriver<A>,
  second: PartyDriver<B>,
): PartyDriver<[A, B]> {
  const both = parallelDriverList<unknown>([first, second]);
  return {
    rounds: both.rounds,
    round: (index, input) => both.round(index, input),
    finish: async (input) => {
      const [a, b] = await both.finish(input);
      return [a as A, b as B];
    },
    wipe: () => both.wipe(),
  };
}

/** Runs every part side by side; the result lists the parts' results in part order. */
export function parallelDriverList<Result>(
  parts: readonly PartyDriver<Result>[],
): PartyDriver<Result[]> {
  if (parts.length === 0) throw new Error('a composite party needs at least one part');
  const count = parts.length;
  const results: Result[] = new Array<Result>(count);
  const rounds = Math.max(...parts.map((part) => part.rounds));
  const idle = Array.from({ length: count }, () => EMPTY_ROUND_INPUT);

  const step = async (
    index: number,
    input: RoundInput,
    isFinish: boolean,
  ): Promise<RoundOutput> => {
    const inputs = index === 0 ? idle : splitInput(input, count);
    const outputs = await Promise.all(
      parts.map(async (part, which) => {
        const partInput = inputs[which] ?? EMPTY_ROUND_INPUT;
        if (index < part.rounds && !isFinish) return part.round(index, partInput);
        if (index === part.rounds) results[which] = await part.finish(partInput);
        return undefined;
      }),
    );
    return joinOutputs(outputs);
  };

  return {
    rounds,
    round: (index, input) => step(index, input, false),
    async finish(input) {
      await step(rounds, input, true);
      return [...results];
    },
    wipe() {
      for (const part of parts) part.wipe();
    },
  };
}
