/**
 * Identity pinning (design §8, issue 7): the operator pins each signer's Ed25519 identity key
 * the first time it sees it on the signer's Lease and never changes a pin by itself. A Lease
 * presenting another key for a pinned signer is an identity mismatch (a wiped data volume, or
 * an impostor): the pin stays, the signer does not count as ready, and the MpcCluster reports
 * condition IdentityMismatch until an administrator clears the pin with the annotation
 * `mpc-platform.dev/unpin: <nodeId>[,<nodeId>…]` (the next key seen is then pinned afresh).
 *
 * The signers do not take the operator's word for a changed pin (security review M2): each
 * remembers the keys it pinned and accepts a replacement only with an administrator-signed
 * repin statement (signer/identity/repin.ts). The administrator gives such statements with the
 * annotation `mpc-platform.dev/repin: <token>[,<token>…]`; a statement that verifies under
 * `spec.administratorPublicKey`, names this cluster (`<namespace>/<name>`) and a signer of it,
 * and replaces the current pin (or a cleared one) sets the pin to its new key at once. The
 * tokens that authorise current pins are kept in `status.repinAuthorizations` and copied into
 * the roster ConfigMap (`repins.json`) so that every signer, also one that was down, can
 * verify the change itself. A bare unpin still works for signers that never saw the old key;
 * the others keep refusing the new one until a statement arrives.
 * Pure.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { decodeRepinToken, repinSigningBytes } from '../../signer/identity/repin.ts';

/** Annotation an administrator sets on the MpcCluster to clear pins. */
export const UNPIN_ANNOTATION = 'mpc-platform.dev/unpin';
/** Annotation carrying administrator-signed repin statements (comma-separated tokens). */
export const REPIN_ANNOTATION = 'mpc-platform.dev/repin';
/** Most tokens kept in status.repinAuthorizations (the CRD's bound). */
const MAX_AUTHORIZATIONS = 64;

const HEX_KEY = /^[0-9a-f]{64}$/;

export interface PinMismatch {
  readonly signer: string;
  readonly pinnedFingerprint: string;
  readonly presentedFingerprint: string;
}

export interface PinOutcome {
  /** Signer name → pinned hex key, sorted by name. */
  readonly pins: Readonly<Record<string, string>>;
  readonly newlyPinned: readonly string[];
  readonly mismatches: readonly PinMismatch[];
  /** Signers whose pin the unpin annotation cleared in this round. */
  readonly unpinned: readonly string[];
  /** Signers whose pin a repin statement changed in this round. */
  readonly repinned: readonly string[];
  /** Why given repin statements were not applied (no key material). */
  readonly rejectedRepins: readonly string[];
  /** Tokens authorising current pins (status.repinAuthorizations, ConfigMap repins.json). */
  readonly authorizations: readonly string[];
}

/** Repin input of `computePins`. */
export interface RepinInput {
  /** Tokens from the repin annotation (this round). */
  readonly tokens: readonly string[];
  /** status.repinAuthorizations. */
  readonly previous: readonly string[] | undefined;
  /** spec.administratorPublicKey (hex); without it no statement is applied. */
  readonly administratorKey: string | undefined;
  /** `<namespace>/<name>`. */
  readonly cluster: string;
  /** Unix milliseconds (operator clock), for expiry. */
  readonly nowMs: number;
}

interface CheckedRepin {
  readonly token: string;
  readonly nodeId: string;
  readonly oldFingerprint: string;
  readonly newKey: string;
  readonly expiresAt: number;
}

/** Decodes and verifies a token against the administrator key and cluster; throws why not. */
function checkRepin(token: string, input: RepinInput): CheckedRepin {
  const signed = decodeRepinToken(token);
  const { statement } = signed;
  if (input.administratorKey === undefined || !HEX_KEY.test(input.administratorKey.toLowerCase())) {
    throw new Error('spec.administratorPublicKey is not set');
  }
  if (statement.cluster !== input.cluster) {
    throw new Error(`statement is for cluster ${statement.cluster}, not ${input.cluster}`);
  }
  if (statement.expiresAt * 1000 <= input.nowMs) throw new Error('statement expired');
  const key = createPublicKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      x: Buffer.from(input.administratorKey.toLowerCase(), 'hex').toString('base64url'),
    },
    format: 'jwk',
  });
  if (!verify(null, repinSigningBytes(statement), key, signed.signature)) {
    throw new Error('statement is not signed by spec.administratorPublicKey');
  }
  return {
    token,
    nodeId: statement.nodeId,
    oldFingerprint: statement.oldFingerprint,
    newKey: statement.newKey,
    expiresAt: statement.expiresAt,
  };
}

/** First 16 hex characters of SHA-256 of the key (the signer's own fingerprint format). */
export function keyFingerprint(hexKey: string): string {
  return createHash('sha256').update(Buffer.from(hexKey, 'hex')).digest('hex').slice(0, 16);
}

/** Node ids named by the unpin annotation (comma-separated, whitespace ignored). */
export function parseUnpin(value: string | undefined): string[] {
  if (value === undefined) return [];
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
}

export function computePins(input: {
  readonly previous: Readonly<Record<string, string>> | undefined;
  /** Signer name → identity key its Lease presents (lowercase hex; others are ignored). */
  readonly presented: ReadonlyMap<string, string>;
  readonly signers: readonly string[];
  readonly unpin: readonly string[];
  readonly repin?: RepinInput;
}): PinOutcome {
  const pins = new Map<string, string>();
  const unpinned: string[] = [];
  for (const [signer, key] of Object.entries(input.previous ?? {})) {
    if (input.unpin.includes(signer)) unpinned.push(signer);
    else if (HEX_KEY.test(key)) pins.set(signer, key);
  }
  const repinned: string[] = [];
  const rejectedRepins: string[] = [];
  const kept: CheckedRepin[] = [];
  const repin = input.repin;
  if (repin !== undefined) {
    for (const token of repin.tokens) {
      let checked: CheckedRepin;
      try {
        checked = checkRepin(token, repin);
      } catch (error) {
        rejectedRepins.push(error instanceof Error ? error.message : String(error));
        continue;
      }
      const { nodeId, newKey } = checked;
      const current = pins.get(nodeId);
      const owner = [...pins].find(([signer, key]) => key === newKey && signer !== nodeId)?.[0];
      if (!input.signers.includes(nodeId)) {
        rejectedRepins.push(`${nodeId} is not a signer of this cluster`);
      } else if (owner !== undefined) {
        rejectedRepins.push(`the new key of ${nodeId} is pinned for ${owner}`);
      } else if (
        current !== undefined &&
        current !== newKey &&
        keyFingerprint(current) !== checked.oldFingerprint
      ) {
        rejectedRepins.push(
          `statement for ${nodeId} replaces key ${checked.oldFingerprint}, pinned is ${keyFingerprint(current)}`,
        );
      } else {
        if (current !== newKey) repinned.push(nodeId);
        pins.set(nodeId, newKey);
        kept.push(checked);
      }
    }
    // Earlier statements stay while they authorise a current pin and have not expired: a
    // signer that was down during the change verifies it when it comes back.
    for (const token of repin.previous ?? []) {
      try {
        kept.push(checkRepin(token, repin));
      } catch {
        // expired, or the administrator key changed: no longer authorises anything
      }
    }
  }
  const newlyPinned: string[] = [];
  const mismatches: PinMismatch[] = [];
  for (const signer of input.signers) {
    const presented = input.presented.get(signer)?.toLowerCase();
    if (presented === undefined || !HEX_KEY.test(presented)) continue;
    const pinned = pins.get(signer);
    if (pinned === undefined) {
      // One key per signer: a key already pinned for another signer is never pinned twice.
      if ([...pins.values()].includes(presented)) continue;
      pins.set(signer, presented);
      newlyPinned.push(signer);
    } else if (pinned !== presented) {
      mismatches.push({
        signer,
        pinnedFingerprint: keyFingerprint(pinned),
        presentedFingerprint: keyFingerprint(presented),
      });
    }
  }
  const sorted = Object.fromEntries([...pins].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  const authorizations = [
    ...new Set(kept.filter((r) => pins.get(r.nodeId) === r.newKey).map((r) => r.token)),
  ].slice(-MAX_AUTHORIZATIONS);
  return {
    pins: sorted,
    newlyPinned,
    mismatches,
    unpinned,
    repinned,
    rejectedRepins,
    authorizations,
  };
}

/** The roster document the signers read (signer/identity/roster.ts file format). */
export function rosterDocument(pins: Readonly<Record<string, string>>): string {
  return `${JSON.stringify({ version: 1, nodes: pins }, null, 2)}\n`;
}

/** The `repins.json` document the signers read (signer/membership/roster-config-map.ts). */
export function repinsDocument(authorizations: readonly string[]): string {
  return `${JSON.stringify({ version: 1, authorizations }, null, 2)}\n`;
}
