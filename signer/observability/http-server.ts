/**
 * Health and metrics endpoints (design §12): `/livez` (the process runs), `/readyz` (NATS
 * connected and quorum reachable; 503 otherwise, with the reasons as JSON), `/metrics`, and
 * `/prestop` (the Kubernetes preStop hook; see prestop.ts), and `GET
 * /wallets/needing?node=<nodeId>&limit=<n>` (which wallet keys still have that node in their
 * committee, asked by the operator before a scale-down; service/wallets-needing.ts): 200
 * `{ node, count, wallets: [{ walletId, keyType }] }` with at most `limit` (default 10, at most
 * 100) wallets, 400 for a malformed node id or limit.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface Readiness {
  readonly ready: boolean;
  readonly details: Readonly<Record<string, unknown>>;
}

export async function startHttpServer(options: {
  host: string;
  port: number;
  registry: Registry;
  readiness: () => Readiness;
  /** `GET /prestop`: resolves when the pod may stop (Kubernetes preStop hook). */
  prestop?: () => Promise<object>;
  /** `GET /wallets/needing`: wallet keys whose committee includes `node`. */
  walletsNeeding?: (
    node: string,
    limit: number,
  ) => Promise<{ count: number; wallets: ReadonlyArray<{ walletId: string; keyType: string }> }>;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/livez') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (path === '/readyz') {
      const readiness = options.readiness();
      response
        .writeHead(readiness.ready ? 200 : 503, { 'content-type': 'application/json' })
        .end(
          JSON.stringify({ status: readiness.ready ? 'ready' : 'not_ready', ...readiness.details }),
        );
      return;
    }
    if (path === '/prestop' && options.prestop !== undefined) {
      options.prestop().then(
        (outcome) =>
          response
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify(outcome)),
        () => response.writeHead(500).end(),
      );
      return;
    }
    if (path === '/wallets/needing' && options.walletsNeeding !== undefined) {
      const query = new URLSearchParams((request.url ?? '').split('?')[1] ?? '');
      const node = query.get('node') ?? '';
      const limitText = query.get('limit') ?? '10';
      const limit = /^\d{1,3}$/.test(limitText) ? Number(limitText) : -1;
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(node) || limit < 0 || limit > 100) {
        response.writeHead(400, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            error: 'node must be a node id ([A-Za-z0-9._-]{1,64}), limit 0..100',
          }),
        );
        return;
      }
      options.walletsNeeding(node, limit).then(
        ({ count, wallets }) =>
          response
            .writeHead(200, { 'content-type': 'application/json' })
            .end(JSON.stringify({ node, count, wallets })),
        () => response.writeHead(500).end(),
      );
      return;
    }
    if (path === '/metrics') {
      options.registry.metrics().then(
        (text) =>
          response.writeHead(200, { 'content-type': options.registry.contentType }).end(text),
        () => response.writeHead(500).end(),
      );
      return;
    }
    response.writeHead(404).end();
  });
  server.requestTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
