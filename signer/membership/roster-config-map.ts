/**
 * The pinned roster in Kubernetes (design §8): the operator writes ConfigMap
 * `<cluster>-roster`, key `roster.json` (the roster file format of signer/identity/roster.ts),
 * pinning each signer's identity key the first time it sees it on the signer's Lease. This
 * source polls that ConfigMap through the API (RBAC: get configmaps, that name) and swaps each
 * valid version into a `LiveRoster`, so peers become acceptable as soon as they are pinned and
 * a cleared pin takes effect without a restart.
 *
 * Polling, not a watch: pins change a handful of times in a cluster's life, one GET per signer
 * every couple of seconds is negligible load, and a poll cannot silently stall. A missing
 * ConfigMap or an invalid document keeps the last valid roster (logged once per distinct
 * problem); a signer that never saw a valid one has an empty roster and accepts nobody.
 *
 * The ConfigMap only proposes pins (security review M2): every proposal goes through
 * `gateRoster` (signer/identity/pin-store.ts) against the pins this signer accepted before,
 * kept on its data volume. A key that replaces a remembered one is used only with an
 * administrator-signed repin statement for exactly that change, listed under key
 * `repins.json` (`{ "version": 1, "authorizations": ["<token>", …] }`, tokens of
 * signer/identity/repin.ts; the operator copies them there from its `mpc-platform.dev/repin`
 * annotation). An unauthorised swap is refused and logged; the node keeps its remembered key.
 */
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { fingerprintOf, parseRoster, type LiveRoster, type Roster } from '../identity/index.ts';
import { gateRoster, type PinStore } from '../identity/pin-store.ts';
import { decodeRepinToken, type SignedRepin } from '../identity/repin.ts';

/** ConfigMap key holding the roster JSON. */
export const ROSTER_CONFIG_MAP_KEY = 'roster.json';
/** ConfigMap key holding the administrator-signed repin statements. */
export const REPINS_CONFIG_MAP_KEY = 'repins.json';

/**
 * Parses `repins.json`; malformed tokens are skipped and reported through `onInvalid` (they
 * can only fail to authorise something).
 */
export function parseRepins(
  text: string | undefined,
  onInvalid: (reason: string) => void,
): SignedRepin[] {
  if (text === undefined) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    onInvalid(`${REPINS_CONFIG_MAP_KEY} is not JSON`);
    return [];
  }
  const list = (parsed as { authorizations?: unknown } | null)?.authorizations;
  if (!Array.isArray(list)) {
    onInvalid(`${REPINS_CONFIG_MAP_KEY}: expected { "version": 1, "authorizations": [...] }`);
    return [];
  }
  const result: SignedRepin[] = [];
  for (const token of list) {
    try {
      result.push(decodeRepinToken(token as string));
    } catch (error) {
      onInvalid(error instanceof Error ? error.message : String(error));
    }
  }
  return result;
}

export interface ConfigMapRosterOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly roster: LiveRoster;
  /** The pins this signer accepted before (durable); every proposal is gated against it. */
  readonly pinStore: PinStore;
  /** This cluster's name (`cluster_name`), which repin statements must name. */
  readonly cluster: string | undefined;
  readonly log: Logger;
  /** Wall clock for statement expiry (unix ms); default Date.now. */
  readonly now?: () => number;
  /** Default 2000 ms. */
  readonly pollIntervalMs?: number;
  /** Called after the pins changed. */
  readonly onChange?: () => void;
}

function statusOf(error: unknown): number | undefined {
  if (error instanceof ApiException) return error.code;
  return undefined;
}

/** Node ids whose pin appeared, changed or disappeared between two rosters. */
export function changedPins(before: ReadonlyMap<string, Uint8Array>, after: Roster): string[] {
  const changed = new Set<string>();
  for (const [node, key] of after) {
    const old = before.get(node);
    if (old === undefined || Buffer.compare(old, key) !== 0) changed.add(node);
  }
  for (const node of before.keys()) if (!after.has(node)) changed.add(node);
  return [...changed].sort();
}

export class ConfigMapRosterSource {
  private readonly api: CoreV1Api;
  private readonly pollIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private lastProblem = '';
  private lastRefusal = '';
  private stopped = false;

  constructor(private readonly options: ConfigMapRosterOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.pollIntervalMs = options.pollIntervalMs ?? 2000;
  }

  /** Reads the roster once (failures are logged, not thrown), then keeps polling. */
  async start(): Promise<void> {
    await this.pollOnce();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.pollOnce().finally(() => this.schedule());
    }, this.pollIntervalMs);
    this.timer.unref();
  }

  private problem(message: string, details: Record<string, unknown> = {}): void {
    if (message === this.lastProblem) return;
    this.lastProblem = message;
    this.options.log.warn({ configMap: this.options.name, ...details }, message);
  }

  private async pollOnce(): Promise<void> {
    const { namespace, name, roster, log } = this.options;
    let text: string | undefined;
    let repinsText: string | undefined;
    try {
      const configMap = await this.api.readNamespacedConfigMap({ name, namespace });
      text = configMap.data?.[ROSTER_CONFIG_MAP_KEY];
      repinsText = configMap.data?.[REPINS_CONFIG_MAP_KEY];
    } catch (error) {
      if (statusOf(error) === 404) {
        this.problem('roster ConfigMap not found yet; keeping the current pins');
      } else {
        this.problem('roster ConfigMap unreadable; keeping the current pins', {
          status: statusOf(error),
          err: error,
        });
      }
      return;
    }
    if (text === undefined) {
      this.problem(`roster ConfigMap has no ${ROSTER_CONFIG_MAP_KEY}; keeping the current pins`);
      return;
    }
    let proposed: Roster;
    try {
      proposed = parseRoster(text, `configmap/${name}`);
    } catch (error) {
      this.problem('roster ConfigMap is invalid; keeping the current pins', {
        reason: error instanceof Error ? error.message : String(error),
      });
      return;
    }
    const invalid: string[] = [];
    const authorizations = parseRepins(repinsText, (reason) => invalid.push(reason));
    const decision = gateRoster({
      state: this.options.pinStore.state,
      proposed,
      authorizations,
      cluster: this.options.cluster,
      nowMs: (this.options.now ?? Date.now)(),
    });
    if (decision.stateChanged) {
      try {
        await this.options.pinStore.save(decision.state);
      } catch (error) {
        this.problem('accepted pins could not be saved; keeping the current pins', { err: error });
        return;
      }
    }
    const refusal = JSON.stringify([decision.refused, invalid]);
    if (refusal !== this.lastRefusal) {
      this.lastRefusal = refusal;
      if (decision.refused.length > 0 || invalid.length > 0) {
        log.error(
          { configMap: name, refused: decision.refused, invalidRepins: invalid },
          'roster ConfigMap replaces pinned identity keys without a valid administrator repin statement; the pinned keys stay in force',
        );
      }
    }
    const next = decision.roster;
    this.lastProblem = '';
    const changed = changedPins(roster, next);
    if (changed.length === 0) return;
    roster.replace(next);
    log.info(
      {
        configMap: name,
        changed: changed.map((node) => {
          const key = next.get(node);
          return { node, fingerprint: key === undefined ? null : fingerprintOf(key) };
        }),
      },
      'roster pins changed',
    );
    this.options.onChange?.();
  }
}
