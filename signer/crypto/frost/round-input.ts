/** Checks that a round's input holds exactly the expected messages from the expected parties. */
import type { PartyId, RoundInput } from '../round-protocol.ts';
import { findUnexpectedSender } from '../round-input.ts';
import { FrostError, FrostErrorCode } from './errors.ts';

/**
 * Requires one message per party in `expectedSenders` on channel `channel` and none on the
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
        ? `unexpected ${channel === 'broadcast' ? 'direct' : 'broadcast'} message from party ${sender}`
        : finding.problem === 'not-in-run'
          ? `message from party ${String(sender)}, which is not in this run`
          : `no message from party ${sender}`;
    throw new FrostError(FrostErrorCode.UnexpectedSender, `${what}: ${detail}`, {
      counterparty: sender,
    });
  }
  return input[channel];
}

/** Adapts an injected randomness source to the RNG signature noble expects. */
export function nobleRandom(
  random: ((length: number) => Uint8Array) | undefined,
): ((length?: number) => Uint8Array<ArrayBuffer>) | undefined {
  if (random === undefined) return undefined;
  return (length?: number) => Uint8Array.from(random(length ?? 32));
}
