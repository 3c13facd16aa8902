/**
 * The round-input check every protocol makes: exactly one message from each expected sender
 * on the expected channel, and nothing else. Pure; each protocol turns the finding into its
 * own typed error naming the sender.
 */
import type { PartyId, RoundInput } from './round-protocol.ts';

export interface UnexpectedSender {
  readonly sender: PartyId;
  /** `other-channel`: a message on the channel this round does not use. */
  readonly problem: 'other-channel' | 'not-in-run' | 'missing';
}

/** The first violation, or undefined when `input` holds exactly the expected messages. */
export function findUnexpectedSender(
  input: RoundInput,
  channel: 'broadcast' | 'direct',
  expectedSenders: readonly PartyId[],
): UnexpectedSender | undefined {
  const other = channel === 'broadcast' ? input.direct : input.broadcast;
  for (const sender of other.keys()) return { sender, problem: 'other-channel' };
  const received = input[channel];
  const expected = new Set(expectedSenders);
  for (const sender of received.keys()) {
    if (!expected.has(sender)) return { sender, problem: 'not-in-run' };
  }
  for (const sender of expectedSenders) {
    if (!received.has(sender)) return { sender, problem: 'missing' };
  }
  return undefined;
}
