/**
 * The operator's view of one resource, cluster-wide or over a fixed set of namespaces
 * (namespace-scoped install: the chart grants Roles only in `watchNamespaces`, so a
 * cluster-wide LIST would be forbidden). One ResilientWatch per namespace, each with its own
 * LIST+WATCH, behind the cache interface the operator reads (`get` by `<namespace>/<name>`,
 * `list`, `synced` once every namespace has listed). Objects of a namespace outside the set
 * are never seen, so `get` of such a key is undefined.
 */
import type { ListedObject, ResilientWatch } from './resilient-watch.ts';

export class ScopedWatch<T extends ListedObject> {
  private readonly byNamespace: ReadonlyMap<string, ResilientWatch<T>>;
  private readonly all: ResilientWatch<T> | undefined;
  readonly synced: Promise<void>;

  /**
   * @param namespaces undefined: one cluster-wide watch; otherwise one watch per namespace
   *                   (at least one, no duplicates).
   * @param create     builds the watch for one namespace (undefined = all namespaces)
   */
  constructor(
    namespaces: readonly string[] | undefined,
    create: (namespace: string | undefined) => ResilientWatch<T>,
  ) {
    if (namespaces === undefined) {
      this.all = create(undefined);
      this.byNamespace = new Map();
      this.synced = this.all.synced;
      return;
    }
    if (namespaces.length === 0) throw new Error('ScopedWatch: namespace list is empty');
    if (new Set(namespaces).size !== namespaces.length)
      throw new Error('ScopedWatch: namespace list has duplicates');
    this.all = undefined;
    this.byNamespace = new Map(namespaces.map((namespace) => [namespace, create(namespace)]));
    this.synced = Promise.all([...this.byNamespace.values()].map((w) => w.synced)).then(
      () => undefined,
    );
  }

  get(key: string): T | undefined {
    if (this.all !== undefined) return this.all.get(key);
    const slash = key.indexOf('/');
    if (slash < 0) return undefined;
    return this.byNamespace.get(key.slice(0, slash))?.get(key);
  }

  list(): T[] {
    if (this.all !== undefined) return this.all.list();
    return [...this.byNamespace.values()].flatMap((watch) => watch.list());
  }

  start(): void {
    this.all?.start();
    for (const watch of this.byNamespace.values()) watch.start();
  }

  stop(): void {
    this.all?.stop();
    for (const watch of this.byNamespace.values()) watch.stop();
  }
}

/**
 * Parses a comma- or whitespace-separated namespace list (MPC_OPERATOR_WATCH_NAMESPACES).
 * Empty or absent = undefined = cluster-wide. Each entry must be a DNS-1123 label (what
 * Kubernetes accepts as a namespace name); duplicates are an error, not silently merged.
 */
export function parseWatchNamespaces(raw: string | undefined): string[] | undefined {
  if (raw === undefined || raw.trim() === '') return undefined;
  const namespaces = raw.split(/[\s,]+/).filter((part) => part !== '');
  for (const namespace of namespaces) {
    if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(namespace) || namespace.length > 63) {
      throw new Error(`invalid namespace in watch list: ${JSON.stringify(namespace)}`);
    }
  }
  if (new Set(namespaces).size !== namespaces.length) {
    throw new Error(`duplicate namespace in watch list: ${JSON.stringify(raw)}`);
  }
  return namespaces;
}
