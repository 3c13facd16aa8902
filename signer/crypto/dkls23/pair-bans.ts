/**
 * The ban rule of crypto.md §1.4 item 1 as a small in-memory registry: after an error with
 * `banPair: true`, every later session that includes that counterparty is refused, so a
 * counterparty that guesses Δ bits through selective aborts learns at most one bit. The caller
 * (session layer) owns one registry per node and key-independent pairwise state, persists it
 * (a restart must not forget a ban) and checks it before starting any DKLs23 session.
 */
import type { PartyId } from '../round-protocol.ts';
import { Dkls23Error, Dkls23PairBannedError } from './errors.ts';

export class Dkls23PairBans {
  private readonly banned = new Set<PartyId>();

  constructor(initiallyBanned: Iterable<PartyId> = []) {
    for (const party of initiallyBanned) this.banned.add(party);
  }

  /** Records a protocol failure; returns the banned counterparty, if the failure bans one. */
  record(error: unknown): PartyId | undefined {
    if (error instanceof Dkls23Error && error.banPair && error.counterparty !== undefined) {
      this.banned.add(error.counterparty);
      return error.counterparty;
    }
    return undefined;
  }

  isBanned(party: PartyId): boolean {
    return this.banned.has(party);
  }

  /** Every banned counterparty, ascending (for persistence). */
  list(): PartyId[] {
    return [...this.banned].sort((a, b) => a - b);
  }

  /** Throws if any of `parties` is banned. Call before creating a signing protocol. */
  assertUsable(parties: readonly PartyId[]): void {
    for (const party of parties) {
      if (this.banned.has(party)) {
        throw new Dkls23PairBannedError(
          `party ${party} is banned after a failed consistency check`,
          {
            counterparty: party,
          },
        );
      }
    }
  }
}
