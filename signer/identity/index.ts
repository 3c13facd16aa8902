/**
 * Node identities (each signer's Ed25519 key, node-identity.ts) and the pinned peer roster
 * (roster.ts), design §8.
 */
export {
  IdentityFileError,
  IdentityMismatchError,
  RosterError,
  UnknownPeerError,
} from './errors.ts';
export {
  fingerprintOf,
  initIdentity,
  loadOrCreateIdentity,
  type IdentityLocation,
  type NodeIdentity,
} from './node-identity.ts';
export {
  LiveRoster,
  encodeRoster,
  loadRosterFile,
  parseRoster,
  rosterFromEntries,
  selfPinState,
  verifyPeer,
  type Roster,
  type SelfPinState,
} from './roster.ts';
