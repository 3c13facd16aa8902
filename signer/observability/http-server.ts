/**
 * Health and metrics endpoints (design §12): `/livez` (the process runs), `/readyz` (NATS
 * connected and quorum reachable; 503 otherwise, with the reasons as JSON), `/metrics`, and
 * `/prestop` (the Kubernetes preStop hook; see prestop.ts).
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
