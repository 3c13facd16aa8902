/**
 * The pins this signer accepted, kept on its own data volume (security review M2), and the rule
 * that decides which roster the signer uses when the roster source (the operator's ConfigMap)
 * proposes a new one.
 *
 * Rule (`gateRoster`, pure):
 * - a node id never seen before is pinned on first sight (trust on first use) unless its key
 *   is already pinned for another node id;
 * - a proposed key equal to the remembered one is accepted (also after the node was removed:
 *   re-adding a node with its old key needs nothing);
 * - a proposed key that differs from the remembered one is accepted only with a valid
 *   administrator-signed re-pin statement (repin.ts) naming this cluster, the node, the
 *   fingerprint of the remembered key and exactly the proposed key, not expired, whose nonce
 *   this signer never accepted before. Otherwise the change is refused and the signer keeps
 *   using the remembered key for that node (the swap has no effect);
 * - a node missing from the proposal is dropped from the roster in use (nobody accepts it) but
 *   stays remembered, so it cannot come back under another key without a statement either.
 * A ConfigMap writer can therefore remove nodes (deny service) but never put a key of its
 * choosing in place of a pinned one.
 *
 * File `<dataDir>/identity/pins.json` (0600, atomic write + fsync before the roster is used):
 *   { "version": 1, "administrator_key": "<hex>" | null,
 *     "pins": { "<nodeId>": "<hex key>" }, "used_repin_nonces": ["<hex>", …] }
 * The administrator key is pinned the same way: the first one configured is remembered, and a
 * later start configured with a different one refuses to start (whoever may edit the signer
 * configuration must not be able to swap in their own administrator key). An unreadable file
 * stops the signer: resetting it silently would re-open trust on first use.
 */
import { timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { readFileIfExists, writeFileAtomic, ensureDirectory } from '../store/atomic-file.ts';
import { IdentityFileError, RepinError } from './errors.ts';
import { IDENTITY_DIR, fingerprintOf } from './node-identity.ts';
import { verifyRepin, type SignedRepin } from './repin.ts';
import { rosterFromEntries, type Roster } from './roster.ts';

export const PIN_STORE_FILE = 'pins.json';

/** The remembered state (hex keys). */
export interface PinState {
  readonly administratorKey: string | undefined;
  readonly pins: ReadonlyMap<string, string>;
  readonly usedNonces: ReadonlySet<string>;
}

export interface RefusedPin {
  readonly nodeId: string;
  readonly pinnedFingerprint: string;
  readonly proposedFingerprint: string;
  /** Why no statement authorised it (the last statement's failure, or none given). */
  readonly reason: string;
}

export interface RosterDecision {
  /** The roster to use. */
  readonly roster: Roster;
  readonly firstPins: readonly string[];
  readonly repinned: readonly string[];
  readonly refused: readonly RefusedPin[];
  /** The state to remember (equal content to the input when nothing new was accepted). */
  readonly state: PinState;
  /** Whether `state` differs from the input state. */
  readonly stateChanged: boolean;
}

function sameKey(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Applies the rule above to a proposed roster. Pure apart from reading `nowMs`. */
export function gateRoster(input: {
  readonly state: PinState;
  readonly proposed: Roster;
  readonly authorizations: readonly SignedRepin[];
  readonly cluster: string | undefined;
  readonly nowMs: number;
}): RosterDecision {
  const { state, proposed } = input;
  const pins = new Map(state.pins);
  const usedNonces = new Set(state.usedNonces);
  const owners = new Map<string, string>();
  for (const [node, key] of pins) owners.set(key, node);
  const administratorKey =
    state.administratorKey === undefined
      ? undefined
      : new Uint8Array(Buffer.from(state.administratorKey, 'hex'));
  const effective: [string, Uint8Array][] = [];
  const firstPins: string[] = [];
  const repinned: string[] = [];
  const refused: RefusedPin[] = [];
  for (const [node, key] of proposed) {
    const keyHex = hex(key);
    const rememberedHex = pins.get(node);
    if (rememberedHex === undefined) {
      const owner = owners.get(keyHex);
      if (owner !== undefined) {
        refused.push({
          nodeId: node,
          pinnedFingerprint: 'none',
          proposedFingerprint: fingerprintOf(key),
          reason: `key already pinned for node ${owner}`,
        });
        continue;
      }
      pins.set(node, keyHex);
      owners.set(keyHex, node);
      firstPins.push(node);
      effective.push([node, key]);
      continue;
    }
    const remembered = new Uint8Array(Buffer.from(rememberedHex, 'hex'));
    if (sameKey(remembered, key)) {
      effective.push([node, key]);
      continue;
    }
    let reason = 'no administrator-signed repin statement for this change';
    let authorised = false;
    for (const signed of input.authorizations) {
      if (signed.statement.nodeId !== node) continue;
      try {
        if (administratorKey === undefined) {
          throw new RepinError('signature', 'no administrator.public_key is configured');
        }
        if (input.cluster === undefined) {
          throw new RepinError('cluster', 'this signer has no cluster_name configured');
        }
        verifyRepin(signed, {
          administratorKey,
          cluster: input.cluster,
          nodeId: node,
          oldKey: remembered,
          newKey: key,
          nowMs: input.nowMs,
        });
        if (usedNonces.has(signed.statement.nonce)) {
          throw new RepinError('nonce', 'statement already used');
        }
        if (owners.has(keyHex) && owners.get(keyHex) !== node) {
          throw new RepinError('new_key', `key already pinned for node ${owners.get(keyHex)}`);
        }
        usedNonces.add(signed.statement.nonce);
        authorised = true;
        break;
      } catch (error) {
        reason = error instanceof Error ? error.message : String(error);
      }
    }
    if (authorised) {
      owners.delete(rememberedHex);
      owners.set(keyHex, node);
      pins.set(node, keyHex);
      repinned.push(node);
      effective.push([node, key]);
    } else {
      refused.push({
        nodeId: node,
        pinnedFingerprint: fingerprintOf(remembered),
        proposedFingerprint: fingerprintOf(key),
        reason,
      });
      // The swap has no effect: the node keeps its remembered key.
      effective.push([node, remembered]);
    }
  }
  // A refused swap keeps the remembered key, which the proposal may have given to another
  // node (first sight of that node was refused above, so only keys swapped between nodes
  // both refused can meet here, and those are each node's own remembered key).
  const roster = rosterFromEntries(effective);
  const stateChanged = firstPins.length > 0 || repinned.length > 0;
  return {
    roster,
    firstPins,
    repinned,
    refused,
    state: { administratorKey: state.administratorKey, pins, usedNonces },
    stateChanged,
  };
}

/** Durable `PinState` in `<dataDir>/identity/pins.json`. */
export class PinStore {
  private constructor(
    private readonly path: string,
    private current: PinState,
  ) {}

  /**
   * Loads (or creates) the store and pins the administrator key: `administratorKey` (hex) is
   * remembered on first use; a different one than remembered throws `IdentityFileError`.
   * Absent, the remembered one (if any) stays in force.
   */
  static async open(dataDir: string, administratorKey: string | undefined): Promise<PinStore> {
    const directory = join(dataDir, IDENTITY_DIR);
    const path = join(directory, PIN_STORE_FILE);
    let text: Buffer | undefined;
    try {
      await ensureDirectory(dataDir, directory);
      text = await readFileIfExists(path);
    } catch (error) {
      throw new IdentityFileError(`cannot read ${path}`, { cause: error });
    }
    const state = text === undefined ? emptyState() : parseState(path, text.toString('utf8'));
    const configured = administratorKey?.toLowerCase();
    const store = new PinStore(path, state);
    if (configured !== undefined) {
      if (state.administratorKey === undefined) {
        await store.save({ ...state, administratorKey: configured });
      } else if (state.administratorKey !== configured) {
        throw new IdentityFileError(
          `administrator.public_key (fingerprint ${fingerprintOf(Buffer.from(configured, 'hex'))}) differs from the ` +
            `administrator key this signer pinned (fingerprint ${fingerprintOf(Buffer.from(state.administratorKey, 'hex'))}) in ${path}; ` +
            'refusing to start. To rotate the administrator key on purpose, remove "administrator_key" from that file on every signer.',
        );
      }
    } else if (text === undefined) {
      await store.save(state);
    }
    return store;
  }

  get state(): PinState {
    return this.current;
  }

  /** Persists `state` (atomic write, fsync) before it becomes current. */
  async save(state: PinState): Promise<void> {
    const document = {
      version: 1,
      administrator_key: state.administratorKey ?? null,
      pins: Object.fromEntries([...state.pins].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))),
      used_repin_nonces: [...state.usedNonces],
    };
    try {
      await writeFileAtomic(this.path, Buffer.from(`${JSON.stringify(document, null, 2)}\n`), {
        overwrite: true,
      });
    } catch (error) {
      throw new IdentityFileError(`cannot write ${this.path}`, { cause: error });
    }
    this.current = state;
  }
}

function emptyState(): PinState {
  return { administratorKey: undefined, pins: new Map(), usedNonces: new Set() };
}

function parseState(path: string, text: string): PinState {
  const fail = (what: string): never => {
    throw new IdentityFileError(
      `${path} is damaged (${what}); refusing to start rather than forget accepted pins`,
    );
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    fail('not JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) fail('not an object');
  const record = parsed as Record<string, unknown>;
  if (record['version'] !== 1) fail('version');
  const admin = record['administrator_key'];
  if (admin !== null && (typeof admin !== 'string' || !/^[0-9a-f]{64}$/.test(admin))) {
    fail('administrator_key');
  }
  const rawPins = record['pins'];
  if (typeof rawPins !== 'object' || rawPins === null || Array.isArray(rawPins)) fail('pins');
  const pins = new Map<string, string>();
  for (const [node, key] of Object.entries(rawPins as Record<string, unknown>)) {
    if (typeof key !== 'string' || !/^[0-9a-f]{64}$/.test(key)) fail(`pins.${node}`);
    pins.set(node, key as string);
  }
  const rawNonces = record['used_repin_nonces'];
  if (!Array.isArray(rawNonces) || rawNonces.some((n) => typeof n !== 'string')) {
    fail('used_repin_nonces');
  }
  return {
    administratorKey: admin === null ? undefined : (admin as string),
    pins,
    usedNonces: new Set(rawNonces as string[]),
  };
}
