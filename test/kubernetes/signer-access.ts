/**
 * Test fixtures for the signer's Kubernetes access: a namespace, the signer ServiceAccount
 * with the Lease Role documented in signer/membership/lease-membership.ts, a bound token, and
 * a KubeConfig that authenticates as that ServiceAccount (not as admin).
 */
import { randomBytes } from 'node:crypto';
import { createServer, connect, type Server, type Socket } from 'node:net';
import {
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  type V1PolicyRule,
} from '@kubernetes/client-node';

/** The Role a signer needs for Lease membership (namespace-scoped). */
export const SIGNER_LEASE_RULES: V1PolicyRule[] = [
  {
    apiGroups: ['coordination.k8s.io'],
    resources: ['leases'],
    verbs: ['get', 'list', 'watch', 'create', 'update'],
  },
];

export function adminConfig(kubeconfigPath: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return config;
}

export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Creates `namespace`, the `signer` ServiceAccount, Role and RoleBinding; returns a token. */
export async function createSignerAccess(admin: KubeConfig, namespace: string): Promise<string> {
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'signer' } } });
  await rbac.createNamespacedRole({
    namespace,
    body: { metadata: { name: 'signer-lease' }, rules: SIGNER_LEASE_RULES },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: 'signer-lease' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'signer-lease' },
      subjects: [{ kind: 'ServiceAccount', name: 'signer', namespace }],
    },
  });
  const request = await core.createNamespacedServiceAccountToken({
    name: 'signer',
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 3600 } },
  });
  const token = request.status?.token;
  if (token === undefined) throw new Error('no token in TokenRequest status');
  return token;
}

/** A KubeConfig authenticating with `token` against `server` (test CA not verified). */
export function tokenConfig(server: string, token: string, namespace: string): KubeConfig {
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'signer', token }],
    contexts: [{ name: 'signer', cluster: 'test', user: 'signer', namespace }],
    currentContext: 'signer',
  });
  return config;
}

/**
 * A TCP proxy in front of the API server that can cut every connection and refuse new ones,
 * to play transient API outages.
 */
export class CuttableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private cut = false;

  private constructor(server: Server) {
    this.server = server;
  }

  static async start(target: URL): Promise<{ proxy: CuttableProxy; url: string }> {
    const server = createServer();
    const proxy = new CuttableProxy(server);
    server.on('connection', (client) => {
      if (proxy.cut) {
        client.destroy();
        return;
      }
      const upstream = connect(Number(target.port), target.hostname);
      proxy.track(client);
      proxy.track(upstream);
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : 0;
    return { proxy, url: `https://127.0.0.1:${port}` };
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
  }

  /** Drops every open connection and refuses new ones until `restore()`. */
  interrupt(): void {
    this.cut = true;
    for (const socket of this.sockets) socket.destroy();
  }

  restore(): void {
    this.cut = false;
  }

  async close(): Promise<void> {
    this.interrupt();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
