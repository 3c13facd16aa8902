/**
 * The signer's Prometheus metrics (design §12), on a registry owned by the process (never the
 * global one). Labels are bounded: kind, key type, result, error code. Never wallet, tx or
 * session ids.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export interface SignerMetrics {
  readonly registry: Registry;
  readonly sessionsTotal: Counter<'kind' | 'key_type' | 'result' | 'error_code'>;
  readonly sessionDuration: Histogram<'kind' | 'key_type' | 'result'>;
  readonly peersReady: Gauge;
  readonly quorumAvailable: Gauge;
  readonly activeSessions: Gauge;
  readonly requestsRejected: Counter<'kind' | 'error_code'>;
  /** Peers banned after a failed DKLs23 consistency check (alert on any increase). */
  readonly peerBans: Counter;
  /** Requests per `sign-batch` session this signer coordinated (lone requests not counted). */
  readonly signingBatchSize: Histogram;
  /**
   * Where the readiness gauges read from at scrape time (so they are never stale):
   * ready signers as this signer sees them, and the quorum (threshold + 1).
   */
  setReadinessSource(source: () => { readySigners: number; quorum: number }): void;
  /** Where `mpc_active_sessions` reads from at scrape time. */
  setActiveSessionsSource(source: () => number): void;
}

export function createSignerMetrics(nodeId: string): SignerMetrics {
  let readiness = (): { readySigners: number; quorum: number } => ({ readySigners: 0, quorum: 1 });
  let activeSessions = (): number => 0;
  const registry = new Registry();
  registry.setDefaultLabels({ node_id: nodeId });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 10 });
  return {
    registry,
    sessionsTotal: new Counter({
      name: 'mpc_sessions_total',
      help: 'Sessions this signer coordinated, by outcome',
      labelNames: ['kind', 'key_type', 'result', 'error_code'] as const,
      registers: [registry],
    }),
    sessionDuration: new Histogram({
      name: 'mpc_session_duration_seconds',
      help: 'Wall time of coordinated sessions from request to result',
      labelNames: ['kind', 'key_type', 'result'] as const,
      buckets: [0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48],
      registers: [registry],
    }),
    peersReady: new Gauge({
      name: 'mpc_peers_ready',
      help: 'Signers of the cluster this signer sees as ready, itself included',
      registers: [registry],
      collect() {
        this.set(readiness().readySigners);
      },
    }),
    quorumAvailable: new Gauge({
      name: 'mpc_quorum_available',
      help: '1 when at least quorum (threshold + 1) signers are ready',
      registers: [registry],
      collect() {
        const { readySigners, quorum } = readiness();
        this.set(readySigners >= quorum ? 1 : 0);
      },
    }),
    activeSessions: new Gauge({
      name: 'mpc_active_sessions',
      help: 'Sessions this signer currently holds state for',
      registers: [registry],
      collect() {
        this.set(activeSessions());
      },
    }),
    requestsRejected: new Counter({
      name: 'mpc_requests_rejected_total',
      help: 'Client requests answered with an error before any session started',
      labelNames: ['kind', 'error_code'] as const,
      registers: [registry],
    }),
    peerBans: new Counter({
      name: 'mpc_peer_bans_total',
      help: 'Peers banned for ECDSA sessions after a failed DKLs23 consistency check',
      registers: [registry],
    }),
    signingBatchSize: new Histogram({
      name: 'mpc_signing_batch_requests',
      help: 'Requests per signing batch session this signer coordinated',
      buckets: [2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64],
      registers: [registry],
    }),
    setReadinessSource(source) {
      readiness = source;
    },
    setActiveSessionsSource(source) {
      activeSessions = source;
    },
  };
}
