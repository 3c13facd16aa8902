/**
 * The session binding id (security review L4): the bytes every protocol of a session binds as
 * its session id, derived from the coordinator's session id and every participant's fresh
 * ephemeral channel key (the signed hellos of the session's start). Each participant chose its
 * own key just for this session, so no party, the coordinator included, can make two sessions
 * share a binding, and every participant computes the same bytes from the same start.
 *
 *   SHA-256("mpc-session-binding-v1\n" ‖ u16 len ‖ sessionId ‖ for each participant in node-id
 *           order: u16 len ‖ nodeId ‖ ephemeralPublicKey[32])
 */
import { createHash } from 'node:crypto';

const DOMAIN = 'mpc-session-binding-v1\n';

function lengthPrefixed(text: string): Buffer {
  const bytes = Buffer.from(text, 'utf8');
  const length = Buffer.alloc(2);
  length.writeUInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

export function sessionBinding(
  sessionId: string,
  ephemeralKeys: ReadonlyMap<string, Uint8Array>,
): Uint8Array {
  const hash = createHash('sha256').update(DOMAIN).update(lengthPrefixed(sessionId));
  const nodes = [...ephemeralKeys.keys()].sort();
  for (const node of nodes) {
    hash.update(lengthPrefixed(node)).update(ephemeralKeys.get(node) as Uint8Array);
  }
  return new Uint8Array(hash.digest());
}
