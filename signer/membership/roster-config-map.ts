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
 */
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from 'pino';
import { fingerprintOf, parseRoster, type LiveRoster, type Roster } from '../identity/index.ts';

/** ConfigMap key holding the roster JSON. */
export const ROSTER_CONFIG_MAP_KEY = 'roster.json';

export interface ConfigMapRosterOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  readonly roster: LiveRoster;
  readonly log: Logger;
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
    try {
      const configMap = await this.api.readNamespacedConfigMap({ name, namespace });
      text = configMap.data?.[ROSTER_CONFIG_MAP_KEY];
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
    let next: Roster;
    try {
      next = parseRoster(text, `configmap/${name}`);
    } catch (error) {
      this.problem('roster ConfigMap is invalid; keeping the current pins', {
        reason: error instanceof Error ? error.message : String(error),
      });
      return;
    }
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
