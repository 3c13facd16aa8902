/**
 * `kubectl mpc`: the kubectl plugin for MpcClusters, as a function of its arguments, output
 * streams and Kubernetes access (the binary in `cli.ts` wires it to the process and the
 * user's kubeconfig):
 *
 *   kubectl mpc status <cluster>              per-signer detail: pod, quorum count, Lease state
 *                                             and age, holder, identity fingerprint, pinned?
 *   kubectl mpc drain-check <node>            exit 0 when draining <node> leaves every cluster
 *                                             at least its quorum of ready signers, else 1
 *                                             (all namespaces unless -n is given)
 *   kubectl mpc unpin <cluster> <signer> [--force]
 *                                             clears the operator's identity pin of <signer>
 *                                             (annotation mpc-platform.dev/unpin) and prints the
 *                                             administrator's repin step; refuses (without
 *                                             --force) when the signer presents its pinned key
 *   kubectl mpc backup <cluster> [--name <name>]
 *                                             creates an MpcBackup of the cluster, prints its name
 *   kubectl mpc reshare <cluster> --replicas <n> --threshold <t> [--acknowledge-no-fault-tolerance]
 *                                             sets n/t with a fresh spec.reshare.id and prints
 *                                             the per-wallet `mpc reshare` steps
 *
 * Global flags: -n/--namespace (default: the kubeconfig context's, else "default"),
 * --kubeconfig, --context. Exit codes: 0 success (drain-check: safe); 1 failure or not safe;
 * 2 bad usage. Errors never print Kubernetes request bodies (kubeErrorMessage).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import {
  MPC_API_VERSION,
  quorumOf,
  type MpcCluster,
  type MpcClusterSpec,
} from '../api/mpc-cluster.ts';
import { kubeErrorMessage, statusCodeOf } from '../kube/kube-api.ts';
import { signerPodNames } from '../resources/names.ts';
import { UNPIN_ANNOTATION, keyFingerprint, parseUnpin } from '../status/roster-pins.ts';
import { drainVerdict, type DrainCluster } from './drain.ts';
import { formatDrain, formatStatus, freshReshareId, repinSteps, reshareSteps } from './format.ts';
import { MPC_BACKUP_KIND, MPC_BACKUP_PLURAL, type PluginKube } from './kube.ts';

export interface PluginIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

export interface PluginDeps {
  /** Opens the user's kubeconfig; `namespace` is the context's default namespace. */
  readonly connect: (options: { kubeconfig?: string; context?: string }) => {
    kube: PluginKube;
    namespace: string;
  };
  readonly now?: () => Date;
  readonly randomHex?: () => string;
}

export const PLUGIN_USAGE = `usage:
  kubectl mpc status <cluster>
  kubectl mpc drain-check <node>
  kubectl mpc unpin <cluster> <signer> [--force]
  kubectl mpc backup <cluster> [--name <name>]
  kubectl mpc reshare <cluster> --replicas <n> --threshold <t> [--acknowledge-no-fault-tolerance]
flags: -n/--namespace <ns>  --kubeconfig <file>  --context <name>
exit codes: 0 success (drain-check: safe to drain); 1 failure (drain-check: not safe); 2 usage
`;

class PluginUsageError extends Error {}
class PluginError extends Error {}

function positiveInteger(flag: string, raw: string | undefined): number {
  if (raw === undefined) throw new PluginUsageError(`${flag} is required`);
  if (!/^[0-9]+$/.test(raw)) throw new PluginUsageError(`${flag} must be an integer`);
  return Number(raw);
}

export async function runKubectlMpc(
  argv: readonly string[],
  io: PluginIo,
  deps: PluginDeps,
): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      strict: true,
      options: {
        namespace: { type: 'string', short: 'n' },
        kubeconfig: { type: 'string' },
        context: { type: 'string' },
        name: { type: 'string' },
        replicas: { type: 'string' },
        threshold: { type: 'string' },
        force: { type: 'boolean' },
        'acknowledge-no-fault-tolerance': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (error) {
    io.stderr(`${error instanceof Error ? error.message : String(error)}\n${PLUGIN_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    io.stdout(PLUGIN_USAGE);
    return 0;
  }
  const [command, ...args] = positionals;
  const arity: Record<string, number> = {
    status: 1,
    'drain-check': 1,
    unpin: 2,
    backup: 1,
    reshare: 1,
  };
  if (command === undefined || arity[command] === undefined) {
    io.stderr(`unknown command ${JSON.stringify(command ?? '')}\n${PLUGIN_USAGE}`);
    return 2;
  }
  if (args.length !== arity[command]) {
    io.stderr(`${command} takes ${arity[command]} argument(s)\n${PLUGIN_USAGE}`);
    return 2;
  }
  try {
    const { kube, namespace: contextNamespace } = deps.connect({
      ...(values.kubeconfig === undefined ? {} : { kubeconfig: values.kubeconfig }),
      ...(values.context === undefined ? {} : { context: values.context }),
    });
    const namespace = values.namespace ?? contextNamespace;
    const context: Context = { kube, namespace, io, deps };
    switch (command) {
      case 'status':
        return await status(context, args[0] ?? '');
      case 'drain-check':
        return await drainCheck(context, args[0] ?? '', values.namespace);
      case 'unpin':
        return await unpin(context, args[0] ?? '', args[1] ?? '', values.force === true);
      case 'backup':
        return await backup(context, args[0] ?? '', values.name);
      default:
        return await reshare(
          context,
          args[0] ?? '',
          positiveInteger('--replicas', values.replicas),
          positiveInteger('--threshold', values.threshold),
          values['acknowledge-no-fault-tolerance'] === true,
        );
    }
  } catch (error) {
    if (error instanceof PluginUsageError) {
      io.stderr(`${error.message}\n${PLUGIN_USAGE}`);
      return 2;
    }
    io.stderr(
      `kubectl mpc ${command}: ${error instanceof PluginError ? error.message : kubeErrorMessage(error)}\n`,
    );
    return 1;
  }
}

interface Context {
  readonly kube: PluginKube;
  readonly namespace: string;
  readonly io: PluginIo;
  readonly deps: PluginDeps;
}

async function requireCluster(context: Context, name: string): Promise<MpcCluster> {
  const cluster = await context.kube.getCluster(context.namespace, name);
  if (cluster === undefined)
    throw new PluginError(`mpccluster ${context.namespace}/${name} not found`);
  return cluster;
}

async function status(context: Context, name: string): Promise<number> {
  const cluster = await requireCluster(context, name);
  const pods = await context.kube.listSignerPods(context.namespace, name);
  let leases: Awaited<ReturnType<PluginKube['listSignerLeases']>> = [];
  try {
    leases = await context.kube.listSignerLeases(context.namespace, name);
  } catch (error) {
    if (statusCodeOf(error) !== 403) throw error;
    context.io.stderr('note: you may not list Leases here; HOLDER and Lease keys are not shown\n');
  }
  context.io.stdout(formatStatus(cluster, pods, leases));
  return 0;
}

async function drainCheck(
  context: Context,
  node: string,
  explicitNamespace: string | undefined,
): Promise<number> {
  const exists = await context.kube.nodeExists(node);
  if (exists === false) throw new PluginError(`node ${node} not found`);
  let clusters: MpcCluster[];
  try {
    clusters = await context.kube.listClusters(explicitNamespace);
  } catch (error) {
    if (statusCodeOf(error) === 403 && explicitNamespace === undefined) {
      throw new PluginError(
        `you may not list MpcClusters in all namespaces (${kubeErrorMessage(error)}); a drain affects every namespace, so pass -n <namespace> for each one you can see`,
      );
    }
    throw error;
  }
  const pods = await context.kube.listSignerPods(explicitNamespace);
  const input: DrainCluster[] = clusters.map((cluster) => {
    const { namespace, name } = cluster.metadata;
    const statusReady = new Map((cluster.status?.signers ?? []).map((s) => [s.name, s.ready]));
    return {
      namespace,
      name,
      quorum: Math.max(cluster.status?.quorum ?? 0, quorumOf(cluster.spec)),
      signers: pods
        .filter((pod) => pod.namespace === namespace && pod.instance === name)
        .map((pod) => {
          const counted = statusReady.get(pod.name);
          return {
            name: pod.name,
            ...(pod.node === undefined ? {} : { node: pod.node }),
            podReady: pod.ready && !pod.terminating,
            ...(counted === undefined ? {} : { statusReady: counted }),
          };
        }),
    };
  });
  const verdict = drainVerdict(node, input);
  if (explicitNamespace !== undefined) {
    context.io.stderr(
      `note: only namespace ${explicitNamespace} was checked; clusters elsewhere may have signers on ${node}\n`,
    );
  }
  context.io.stdout(formatDrain(verdict));
  return verdict.safe ? 0 : 1;
}

async function unpin(
  context: Context,
  name: string,
  signer: string,
  force: boolean,
): Promise<number> {
  const cluster = await requireCluster(context, name);
  const roster = cluster.status?.roster ?? {};
  if (!signerPodNames(cluster).includes(signer) && roster[signer] === undefined) {
    throw new PluginError(
      `${signer} is not a signer of ${context.namespace}/${name} (signers: ${signerPodNames(cluster).join(', ')})`,
    );
  }
  const oldKey = roster[signer];
  const leases = await context.kube.listSignerLeases(context.namespace, name);
  const newKey = leases.find((lease) => lease.name === signer)?.identityPublicKey;
  if (oldKey === undefined) {
    context.io.stdout(
      `${signer} has no identity pin in ${context.namespace}/${name}: nothing to clear (the operator pins the next key its Lease presents)\n`,
    );
    return 0;
  }
  if (newKey === oldKey && !force) {
    throw new PluginError(
      `${signer} presents its pinned key (${keyFingerprint(oldKey)}): there is no mismatch to resolve. Clearing the pin would let whatever key its Lease shows next be pinned; pass --force to do it anyway`,
    );
  }
  const pending = parseUnpin(cluster.metadata.annotations?.[UNPIN_ANNOTATION]);
  const value = [...new Set([...pending, signer])].join(',');
  await context.kube.patchCluster(context.namespace, name, {
    metadata: { annotations: { [UNPIN_ANNOTATION]: value } },
  });
  context.io.stdout(
    `annotated mpccluster ${context.namespace}/${name} ${UNPIN_ANNOTATION}=${value}: the operator clears its pin of ${signer} ` +
      `(was ${keyFingerprint(oldKey)}) and pins the next key the Lease presents` +
      `${newKey === undefined ? '' : ` (now ${keyFingerprint(newKey)})`}.\n`,
  );
  context.io.stdout(repinSteps({ cluster, signer, oldKey, newKey }));
  return 0;
}

async function backup(
  context: Context,
  name: string,
  backupName: string | undefined,
): Promise<number> {
  await requireCluster(context, name);
  const body = {
    apiVersion: MPC_API_VERSION,
    kind: MPC_BACKUP_KIND,
    metadata: {
      namespace: context.namespace,
      ...(backupName === undefined ? { generateName: `${name}-` } : { name: backupName }),
    },
    spec: { clusterName: name },
  };
  let created: string;
  try {
    created = await context.kube.createBackup(context.namespace, body);
  } catch (error) {
    const code = statusCodeOf(error);
    if (code === 404) {
      // The namespace exists (the MpcCluster was just read): the resource type does not.
      throw new PluginError(
        `the ${MPC_BACKUP_KIND} API (${MPC_BACKUP_PLURAL}.${MPC_API_VERSION}) is not installed in this cluster: ` +
          'apply the CRDs first (kubectl apply --server-side --force-conflicts -f crds/)',
      );
    }
    if (code === 409)
      throw new PluginError(`mpcbackup ${context.namespace}/${backupName ?? ''} already exists`);
    throw error;
  }
  context.io.stdout(`${created}\n`);
  context.io.stderr(
    `mpcbackup ${context.namespace}/${created} created for ${name}; follow it with: kubectl -n ${context.namespace} get mpcbackup ${created} -w\n`,
  );
  return 0;
}

async function reshare(
  context: Context,
  name: string,
  replicas: number,
  threshold: number,
  acknowledge: boolean,
): Promise<number> {
  if (threshold < 1) throw new PluginUsageError('--threshold must be >= 1');
  if (replicas < threshold + 1)
    throw new PluginUsageError('--replicas must be >= threshold + 1 (the signing quorum)');
  const cluster = await requireCluster(context, name);
  if (
    replicas === threshold + 1 &&
    cluster.spec.acknowledgeNoFaultTolerance !== true &&
    !acknowledge
  ) {
    throw new PluginError(
      `${replicas} signers with threshold ${threshold} cannot lose a single signer (one drain stops signing); ` +
        'pass --acknowledge-no-fault-tolerance if that is intended',
    );
  }
  if (replicas === cluster.spec.replicas && threshold === cluster.spec.threshold) {
    context.io.stdout(
      `${context.namespace}/${name} already has replicas ${replicas} and threshold ${threshold}: nothing changed\n`,
    );
    return 0;
  }
  const id = freshReshareId(
    replicas,
    threshold,
    (context.deps.now ?? (() => new Date()))(),
    context.deps.randomHex ?? (() => randomBytes(3).toString('hex')),
    cluster.status?.reshare?.usedIds ?? [],
  );
  const spec: Partial<MpcClusterSpec> & { reshare: { id: string } } = {
    replicas,
    threshold,
    reshare: { id },
    ...(acknowledge ? { acknowledgeNoFaultTolerance: true } : {}),
  };
  // resourceVersion makes the patch conditional: a concurrent change fails with 409 instead
  // of being overwritten.
  try {
    await context.kube.patchCluster(context.namespace, name, {
      metadata: { resourceVersion: cluster.metadata.resourceVersion },
      spec,
    });
  } catch (error) {
    if (statusCodeOf(error) === 409) {
      throw new PluginError(
        `${context.namespace}/${name} changed while this ran; run the command again`,
      );
    }
    throw error;
  }
  context.io.stdout(
    reshareSteps({ cluster, fromReplicas: cluster.spec.replicas, replicas, threshold, id }),
  );
  return 0;
}
