/**
 * Identity pinning (design §8, issue 7): the operator pins each signer's Ed25519 identity key
 * the first time it sees it on the signer's Lease and never changes a pin by itself. A Lease
 * presenting another key for a pinned signer is an identity mismatch (a wiped data volume, or
 * an impostor): the pin stays, the signer does not count as ready, and the MpcCluster reports
 * condition IdentityMismatch until an administrator clears the pin with the annotation
 * `mpc-platform.dev/unpin: <nodeId>[,<nodeId>…]` (the next key seen is then pinned afresh).
 * Pure.
 */
import { createHash } from 'node:crypto';

/** Annotation an administrator sets on the MpcCluster to clear pins. */
export const UNPIN_ANNOTATION = 'mpc-platform.dev/unpin';

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
}): PinOutcome {
  const pins = new Map<string, string>();
  const unpinned: string[] = [];
  for (const [signer, key] of Object.entries(input.previous ?? {})) {
    if (input.unpin.includes(signer)) unpinned.push(signer);
    else if (HEX_KEY.test(key)) pins.set(signer, key);
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
  return { pins: sorted, newlyPinned, mismatches, unpinned };
}

/** The roster document the signers read (signer/identity/roster.ts file format). */
export function rosterDocument(pins: Readonly<Record<string, string>>): string {
  return `${JSON.stringify({ version: 1, nodes: pins }, null, 2)}\n`;
}
