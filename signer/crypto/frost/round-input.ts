/** Checks that a round's input holds exactly the expected messages from the expected parties. */
import type { PartyId, RoundInput } from '../round-protocol.ts';
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
  const other = channel === 'broadcast' ? input.direct : input.broadcast;
  for (const sender of other.keys()) {
    throw new FrostError(
      FrostErrorCode.UnexpectedSender,
      `${what}: unexpected ${channel === 'broadcast' ? 'direct' : 'broadcast'} message from party ${sender}`,
      { counterparty: sender },
    );
  }
  const received = input[channel];
  const expected = new Set(expectedSenders);
  for (const sender of received.keys()) {
    if (!expected.has(sender)) {
      throw new FrostError(
        FrostErrorCode.UnexpectedSender,
        `${what}: message from party ${String(sender)}, which is not in this run`,
        { counterparty: sender },
      );
    }
  }
  for (const sender of expectedSenders) {
    if (!received.has(sender)) {
      throw new FrostError(
        FrostErrorCode.UnexpectedSender,
        `${what}: no message from party ${sender}`,
        {
          counterparty: sender,
        },
      );
    }
  }
  return received;
}

/** Adapts an injected randomness source to the RNG signature noble expects. */
export function nobleRandom(
  random: ((length: number) => Uint8Array) | undefined,
): ((length?: number) => Uint8Array<ArrayBuffer>) | undefined {
  if (random === undefined) return undefined;
  return (length?: number) => Uint8Array.from(random(length ?? 32));
}
