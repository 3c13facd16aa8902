/** Round-input checks shared by the DKLs23 protocols. */
import type { PartyId, RoundInput } from '../round-protocol.ts';
import { findUnexpectedSender } from '../round-input.ts';
import {
  Dkls23InvalidArgumentError,
  Dkls23ProtocolStateError,
  Dkls23UnexpectedSenderError,
} from './errors.ts';
import { defaultRandom, type RandomSource } from './group.ts';

/**
 * Requires exactly one message from each of `expectedSenders` on `channel` and nothing on the
 * other channel; names the first missing or unexpected sender.
 */
export function expectMessages(
  input: RoundInput,
  channel: 'broadcast' | 'direct',
  expectedSenders: readonly PartyId[],
  what: string,
): ReadonlyMap<PartyId, Uint8Array> {
  const finding = findUnexpectedSender(input, channel, expectedSenders);
  if (finding !== undefined) {
    const { sender } = finding;
    const detail =
      finding.problem === 'other-channel'
        ? `unexpected message on the other channel from party ${sender}`
        : finding.problem === 'not-in-run'
          ? `message from party ${String(sender)}, not in this run`
          : `no message from party ${sender}`;
    throw new Dkls23UnexpectedSenderError(`${what}: ${detail}`, { counterparty: sender });
  }
  return input[channel];
}

/** Tracks the call order of a RoundProtocol: round(0..rounds-1), finish, then wiped. */
export class RoundSequencer {
  private next = 0;
  private wiped = false;
  constructor(private readonly rounds: number) {}
  enter(index: number): void {
    if (this.wiped) throw new Dkls23ProtocolStateError('protocol already finished or wiped');
    if (index !== this.next || index >= this.rounds) {
      throw new Dkls23ProtocolStateError(`round ${index} called, expected ${this.next}`);
    }
    this.next++;
  }
  enterFinish(): void {
    if (this.wiped) throw new Dkls23ProtocolStateError('protocol already finished or wiped');
    if (this.next !== this.rounds)
      throw new Dkls23ProtocolStateError('finish called before the last round');
    this.next++;
  }
  markWiped(): void {
    this.wiped = true;
  }
}

/** Validates an injected random source by wrapping it with a length check. */
export function checkedRandom(random: RandomSource | undefined): RandomSource {
  const source = random ?? defaultRandom;
  return (length) => {
    const bytes = source(length);
    if (!(bytes instanceof Uint8Array) || bytes.length !== length) {
      throw new Dkls23InvalidArgumentError('random source returned the wrong length', {
        field: 'random',
      });
    }
    return bytes;
  };
}

/** u16 big-endian list, for hashing party sets. */
export function encodePartyList(parties: readonly PartyId[]): Uint8Array {
  const out = new Uint8Array(parties.length * 2);
  parties.forEach((id, i) => {
    out[2 * i] = id >>> 8;
    out[2 * i + 1] = id & 0xff;
  });
  return out;
}
