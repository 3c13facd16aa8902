/**
 * Operator entry point: `node dist/operator/main.js`.
 *
 * Environment:
 *   KUBECONFIG                 kubeconfig file (default: in-cluster service account)
 *   MPC_OPERATOR_HTTP_PORT     /metrics, /livez, /readyz port (default 8080)
 *   MPC_OPERATOR_LOG_LEVEL     pino level (default info)
 *   MPC_OPERATOR_RESYNC_SECONDS  periodic re-reconcile of every MpcCluster (default 300)
 *   MPC_OPERATOR_LEADER_ELECTION  "true" (default) | "false": only the holder of the Lease
 *                                 below reconciles, so several replicas can run
 *   MPC_OPERATOR_LEADER_LEASE     Lease name (default mpc-operator-leader), in POD_NAMESPACE
 *   MPC_OPERATOR_LEASE_DURATION_SECONDS / _RENEW_DEADLINE_SECONDS / _RETRY_PERIOD_SECONDS
 *                                 client-go semantics (defaults 15 / 10 / 2)
 *   MPC_OPERATOR_SIGNER_CLUSTERROLE  ClusterRole bound to each cluster's signers (Leases, pods);
 *                                 the chart sets it so the operator needs no Lease write rights
 *   MPC_OPERATOR_WATCH_NAMESPACES  comma-separated namespaces: namespace-scoped install (only
 *                                 these are listed, watched and reconciled; the chart grants
 *                                 Roles there only). Empty/unset: cluster-wide
 *   MPC_OPERATOR_SIGNER_ROLE      with WATCH_NAMESPACES: the Role (same name in every watched
 *                                 namespace) bound to each cluster's signers instead of the
 *                                 ClusterRole above
 *   POD_NAMESPACE, HOSTNAME       the Lease's namespace; the candidate identity (+ random)
 * SIGTERM / SIGINT: graceful shutdown (finish the reconcile in progress, release the leader
 * Lease, then exit 0). Losing leadership exits 1 at once (restarted as a fresh candidate).
 */
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { startOperator } from './operator.ts';
import { parseWatchNamespaces } from './kube/scoped-watch.ts';
import type { SignerRoleRef } from './resources/children.ts';

function integerFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`${name} must be an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
  }
  return value;
}

async function main(): Promise<void> {
  const logger = pino({
    level: process.env['MPC_OPERATOR_LOG_LEVEL'] ?? 'info',
    base: { component: 'mpc-operator' },
  });
  const kubeConfig = new KubeConfig();
  if (process.env['KUBECONFIG'] !== undefined && process.env['KUBECONFIG'] !== '') {
    kubeConfig.loadFromDefault();
  } else if (process.env['KUBERNETES_SERVICE_HOST'] !== undefined) {
    kubeConfig.loadFromCluster();
  } else {
    throw new Error('not in a cluster (KUBERNETES_SERVICE_HOST unset) and KUBECONFIG not set');
  }
  const electionEnabled = (process.env['MPC_OPERATOR_LEADER_ELECTION'] ?? 'true') !== 'false';
  const namespace = process.env['POD_NAMESPACE'] ?? '';
  if (electionEnabled && namespace === '') {
    throw new Error('leader election needs POD_NAMESPACE (or MPC_OPERATOR_LEADER_ELECTION=false)');
  }
  const watchNamespaces = parseWatchNamespaces(process.env['MPC_OPERATOR_WATCH_NAMESPACES']);
  const signerRoleName = process.env['MPC_OPERATOR_SIGNER_ROLE'] ?? '';
  const signerClusterRoleName = process.env['MPC_OPERATOR_SIGNER_CLUSTERROLE'] ?? '';
  if (signerRoleName !== '' && watchNamespaces === undefined) {
    // A Role exists only where the chart created it: the watched namespaces.
    throw new Error('MPC_OPERATOR_SIGNER_ROLE needs MPC_OPERATOR_WATCH_NAMESPACES');
  }
  const signerRole: SignerRoleRef | undefined =
    signerRoleName !== ''
      ? { kind: 'Role', name: signerRoleName }
      : signerClusterRoleName !== ''
        ? { kind: 'ClusterRole', name: signerClusterRoleName }
        : undefined;
  const operator = await startOperator({
    kubeConfig,
    logger,
    httpPort: integerFromEnv('MPC_OPERATOR_HTTP_PORT', 8080, 0, 65535),
    resyncIntervalMs: integerFromEnv('MPC_OPERATOR_RESYNC_SECONDS', 300, 10, 86_400) * 1000,
    ...(signerRole === undefined ? {} : { signerRole }),
    ...(watchNamespaces === undefined ? {} : { watchNamespaces }),
    ...(electionEnabled
      ? {
          leaderElection: {
            namespace,
            leaseName: process.env['MPC_OPERATOR_LEADER_LEASE'] ?? 'mpc-operator-leader',
            identity: `${process.env['HOSTNAME'] ?? hostname()}_${randomBytes(4).toString('hex')}`,
            timings: {
              leaseDurationMs:
                integerFromEnv('MPC_OPERATOR_LEASE_DURATION_SECONDS', 15, 2, 3600) * 1000,
              renewDeadlineMs:
                integerFromEnv('MPC_OPERATOR_RENEW_DEADLINE_SECONDS', 10, 1, 3600) * 1000,
              retryPeriodMs: integerFromEnv('MPC_OPERATOR_RETRY_PERIOD_SECONDS', 2, 1, 3600) * 1000,
            },
            onLost: () => {
              logger.error({}, 'leadership lost: exiting so a fresh candidate restarts');
              process.exit(1);
            },
          },
        }
      : {}),
  });
  logger.info(
    { httpPort: operator.httpPort, watchNamespaces: watchNamespaces ?? 'all' },
    'operator started',
  );
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    operator.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ error: String(error) }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

main().catch((error: unknown) => {
  console.error(
    `mpc-operator failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
