/**
 * The peer roster: node id → pinned Ed25519 public key (design §8). Signers accept a peer
 * only if the roster lists it with exactly the key it presents. The operator writes the
 * roster (ConfigMap) when it first sees each signer's key; locally the launcher writes it.
 *
 * File format (JSON):
 *   { "version": 1, "nodes": { "<nodeId>": "<64 hex chars: Ed25519 public key>" } }
 * Node ids follow the config's node id rule; keys must decode to a valid Ed25519 point that
 * is not of small order; no two nodes may share a key.
 */
import { timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { ed25519 } from '@noble/curves/ed25519.js';
import { NODE_ID_PATTERN } from '../config/signer-config.ts';
import { IdentityMismatchError, RosterError, UnknownPeerError } from './errors.ts';
import { fingerprintOf } from './node-identity.ts';

/** Node id → 32-byte Ed25519 public key. Immutable once built. */
export type Roster = ReadonlyMap<string, Uint8Array>;

export const ROSTER_FORMAT_VERSION = 1;

function decodePublicKey(field: string, value: unknown): Uint8Array {
  if (typeof value !== 'string' || !/^[0-9a-fA-F]{64}$/.test(value)) {
    throw new RosterError(field, 'expected 64 hex characters (a 32-byte Ed25519 public key)');
  }
  return checkPublicKey(field, new Uint8Array(Buffer.from(value, 'hex')));
}

function checkPublicKey(field: string, key: Uint8Array): Uint8Array {
  if (key.length !== 32) throw new RosterError(field, 'expected a 32-byte Ed25519 public key');
  try {
    const point = ed25519.Point.fromBytes(key);
    if (point.isSmallOrder()) throw new Error('small order');
  } catch (error) {
    throw new RosterError(field, 'not a valid Ed25519 public key', { cause: error });
  }
  return key.slice();
}

class FrozenRoster extends Map<string, Uint8Array> {
  #frozen = false;
  freeze(): this {
    this.#frozen = true;
    return this;
  }
  override set(key: string, value: Uint8Array): this {
    if (this.#frozen) throw new TypeError('the roster is immutable');
    return super.set(key, value);
  }
  override get(key: string): Uint8Array | undefined {
    return super.get(key)?.slice();
  }
  override delete(): boolean {
    throw new TypeError('the roster is immutable');
  }
  override clear(): void {
    throw new TypeError('the roster is immutable');
  }
}

/**
 * Builds a roster from node id → key pairs (key as 32 bytes or 64 hex characters), e.g.
 * `rosterFromEntries({ node0: 'ab…' })` or `rosterFromEntries([['node0', bytes]])`.
 * Throws `RosterError` naming the bad entry.
 */
export function rosterFromEntries(
  entries:
    | Iterable<readonly [string, Uint8Array | string]>
    | Readonly<Record<string, Uint8Array | string>>,
): Roster {
  const pairs: Iterable<readonly [string, Uint8Array | string]> =
    Symbol.iterator in entries
      ? (entries as Iterable<readonly [string, Uint8Array | string]>)
      : Object.entries(entries as Record<string, Uint8Array | string>);
  const roster = new FrozenRoster();
  const owners = new Map<string, string>();
  for (const [nodeId, key] of pairs) {
    const field = `nodes.${nodeId}`;
    if (typeof nodeId !== 'string' || !NODE_ID_PATTERN.test(nodeId)) {
      throw new RosterError(field, 'invalid node id (1 to 64 characters from [A-Za-z0-9._-])');
    }
    if (roster.has(nodeId)) throw new RosterError(field, 'listed twice');
    const bytes =
      typeof key === 'string' ? decodePublicKey(field, key) : checkPublicKey(field, key);
    const hex = Buffer.from(bytes).toString('hex');
    const owner = owners.get(hex);
    if (owner !== undefined)
      throw new RosterError(field, `has the same public key as node ${owner}`);
    owners.set(hex, nodeId);
    roster.set(nodeId, bytes);
  }
  return roster.freeze();
}

/** Reads and validates a roster file. Throws `RosterError`. */
export async function loadRosterFile(path: string): Promise<Roster> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new RosterError(path, 'cannot read the roster file', { cause: error });
  }
  return parseRoster(text, path);
}

/**
 * Parses and validates roster JSON (the file format above; also the operator's ConfigMap key
 * `roster.json`). `source` names the origin in errors. Throws `RosterError`.
 */
export function parseRoster(text: string, source: string): Roster {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RosterError(source, 'not valid JSON', { cause: error });
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new RosterError(source, 'expected a JSON object { "version": 1, "nodes": { … } }');
  }
  const { version, nodes, ...rest } = parsed as Record<string, unknown>;
  if (version !== ROSTER_FORMAT_VERSION) {
    throw new RosterError(
      'version',
      `expected ${ROSTER_FORMAT_VERSION}, got ${JSON.stringify(version)}`,
    );
  }
  const unknown = Object.keys(rest)[0];
  if (unknown !== undefined) throw new RosterError(unknown, 'unknown field');
  if (typeof nodes !== 'object' || nodes === null || Array.isArray(nodes)) {
    throw new RosterError('nodes', 'expected an object of node id → hex public key');
  }
  return rosterFromEntries(
    Object.entries(nodes as Record<string, unknown>).map(([id, key]) => {
      if (typeof key !== 'string') throw new RosterError(`nodes.${id}`, 'expected a hex string');
      return [id, key] as const;
    }),
  );
}

/** The roster file text for `roster` (stable order: node ids sorted). */
export function encodeRoster(roster: Roster): string {
  const nodes: Record<string, string> = {};
  for (const nodeId of [...roster.keys()].sort()) {
    nodes[nodeId] = Buffer.from(roster.get(nodeId) as Uint8Array).toString('hex');
  }
  return `${JSON.stringify({ version: ROSTER_FORMAT_VERSION, nodes }, null, 2)}\n`;
}

/**
 * Accepts `publicKey` as `nodeId`'s identity only if the roster pins exactly that key.
 * Throws `UnknownPeerError` (not listed) or `IdentityMismatchError` (different key).
 */
export function verifyPeer(roster: Roster, nodeId: string, publicKey: Uint8Array): void {
  const pinned = roster.get(nodeId);
  if (pinned === undefined) throw new UnknownPeerError(nodeId);
  if (publicKey.length !== pinned.length || !timingSafeEqual(publicKey, pinned)) {
    throw new IdentityMismatchError(nodeId, fingerprintOf(pinned), fingerprintOf(publicKey));
  }
}

/**
 * A roster whose pins can change while the signer runs (Kubernetes: the operator pins each
 * signer's key the first time it sees it, and an administrator may clear a pin). Readers see
 * the current pins at every lookup; `replace` swaps in a new validated roster atomically.
 */
export class LiveRoster implements ReadonlyMap<string, Uint8Array> {
  #current: Roster = rosterFromEntries([]);

  replace(next: Roster): void {
    this.#current = next;
  }

  get size(): number {
    return this.#current.size;
  }
  get(nodeId: string): Uint8Array | undefined {
    return this.#current.get(nodeId);
  }
  has(nodeId: string): boolean {
    return this.#current.has(nodeId);
  }
  entries(): MapIterator<[string, Uint8Array]> {
    return this.#current.entries();
  }
  keys(): MapIterator<string> {
    return this.#current.keys();
  }
  values(): MapIterator<Uint8Array> {
    return this.#current.values();
  }
  forEach(
    callback: (value: Uint8Array, key: string, map: ReadonlyMap<string, Uint8Array>) => void,
  ): void {
    for (const [key, value] of this.#current) callback(value, key, this);
  }
  [Symbol.iterator](): MapIterator<[string, Uint8Array]> {
    return this.#current.entries();
  }
}

/** How the roster sees this signer's own key. */
export type SelfPinState = 'pinned' | 'unpinned' | 'mismatch';

/** Whether `roster` pins `nodeId` to exactly `publicKey`, to another key, or not at all. */
export function selfPinState(
  roster: ReadonlyMap<string, Uint8Array>,
  nodeId: string,
  publicKey: Uint8Array,
): SelfPinState {
  const pinned = roster.get(nodeId);
  if (pinned === undefined) return 'unpinned';
  return pinned.length === publicKey.length && timingSafeEqual(pinned, publicKey)
    ? 'pinned'
    : 'mismatch';
}
