/**
 * What `kubectl mpc` prints, as pure functions of what it read: the per-signer status table,
 * the drain verdict, the administrator's repin step and the per-wallet resharing steps
 * (examples/reshare.md). No Kubernetes I/O here, so every line is unit-tested.
 */
import type { MpcCluster } from '../api/mpc-cluster.ts';
import { clusterIdentity, quorumOf } from '../api/mpc-cluster.ts';
import { signerPodNames } from '../resources/names.ts';
import { keyFingerprint } from '../status/roster-pins.ts';
import type { DrainVerdict } from './drain.ts';

/** A signer pod as the plugin sees it. */
export interface PodView {
  readonly name: string;
  readonly node?: string;
  readonly ready: boolean;
  readonly terminating: boolean;
  readonly phase?: string;
}

/** A signer Lease as the plugin sees it (no judgement of liveness: that is the operator's). */
export interface LeaseView {
  readonly name: string;
  readonly holder?: string;
  /** The identity key the Lease presents (annotation), lowercase hex. */
  readonly identityPublicKey?: string;
}

/** Left-aligned columns separated by two spaces, like kubectl's tables. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows)
    row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function pinColumn(pinned: string | undefined, presented: string | undefined): string {
  if (pinned === undefined) return 'no';
  if (presented === undefined || presented === pinned) return 'yes';
  return `MISMATCH (pinned ${keyFingerprint(pinned)})`;
}

/** `kubectl mpc status <cluster>`. */
export function formatStatus(
  cluster: MpcCluster,
  pods: readonly PodView[],
  leases: readonly LeaseView[],
): string {
  const status = cluster.status ?? {};
  const quorum = status.quorum ?? quorumOf(cluster.spec);
  const lines: string[] = [
    `MpcCluster ${clusterIdentity(cluster)}: ${cluster.spec.replicas} signers, threshold ${cluster.spec.threshold} (quorum ${quorum}), ` +
      `${status.readySigners ?? 0}/${cluster.spec.replicas} ready, phase ${status.phase ?? 'unknown'}`,
  ];
  if (status.observedGeneration !== cluster.metadata.generation) {
    lines.push(
      `  (status is from generation ${status.observedGeneration ?? 'none'}, spec is generation ${cluster.metadata.generation ?? '?'}: the operator has not caught up)`,
    );
  }
  for (const condition of status.conditions ?? []) {
    lines.push(
      `  ${condition.type}=${condition.status} ${condition.reason ?? ''}${
        condition.message === undefined || condition.message === '' ? '' : `: ${condition.message}`
      }`,
    );
  }
  const podsByName = new Map(pods.map((pod) => [pod.name, pod]));
  const leasesByName = new Map(leases.map((lease) => [lease.name, lease]));
  const statusByName = new Map((status.signers ?? []).map((s) => [s.name, s]));
  const names = [
    ...new Set([
      ...signerPodNames(cluster),
      ...(status.signers ?? []).map((s) => s.name),
      ...pods.map((p) => p.name),
    ]),
  ];
  const rows: string[][] = [
    ['SIGNER', 'NODE', 'POD', 'COUNTED', 'LEASE', 'AGE', 'HOLDER', 'FINGERPRINT', 'PINNED'],
  ];
  for (const name of names) {
    const pod = podsByName.get(name);
    const lease = leasesByName.get(name);
    const signer = statusByName.get(name);
    const presented = lease?.identityPublicKey;
    // The status fingerprint is of a key whose signed heartbeat the operator verified; a key
    // only seen on the Lease is marked unverified.
    const fingerprint =
      signer?.identityFingerprint ??
      (presented !== undefined && /^[0-9a-f]{64}$/.test(presented)
        ? `${keyFingerprint(presented)}?`
        : '-');
    rows.push([
      name,
      pod?.node ?? '-',
      pod === undefined
        ? 'absent'
        : pod.terminating
          ? 'Terminating'
          : pod.ready
            ? 'Ready'
            : `NotReady${pod.phase === undefined ? '' : `/${pod.phase}`}`,
      signer === undefined ? '-' : signer.ready ? 'yes' : 'no',
      signer?.lease ?? (lease === undefined ? 'absent' : '-'),
      signer?.leaseAgeSeconds === undefined ? '-' : `${signer.leaseAgeSeconds}s`,
      lease?.holder ?? '-',
      fingerprint,
      pinColumn(status.roster?.[name], presented),
    ]);
  }
  lines.push(table(rows));
  lines.push(
    'COUNTED: counts towards quorum (pod Ready, Lease live by the operator clock, identity matches its pin). ' +
      'FINGERPRINT with ?: seen on the Lease only, not verified by the operator.',
  );
  return `${lines.join('\n')}\n`;
}

/** `kubectl mpc drain-check <node>`. */
export function formatDrain(verdict: DrainVerdict): string {
  const rows: string[][] = [
    ['CLUSTER', 'QUORUM', 'READY', 'ON-NODE', 'AFTER', 'MARGIN', 'SAFE'],
    ...verdict.clusters.map((c) => [
      `${c.namespace}/${c.name}`,
      String(c.quorum),
      String(c.readyNow),
      String(c.readyOnNode),
      String(c.readyAfter),
      String(c.margin),
      c.safe ? (c.alreadyBelowQuorum ? 'yes (below quorum already)' : 'yes') : 'NO',
    ]),
  ];
  const unsafe = verdict.clusters.filter((c) => !c.safe);
  const down = verdict.clusters.filter((c) => c.safe && c.alreadyBelowQuorum);
  const summary = verdict.safe
    ? `safe to drain ${verdict.node}: no cluster loses its quorum of ready signers`
    : `NOT safe to drain ${verdict.node}: ${unsafe
        .map(
          (c) =>
            `${c.namespace}/${c.name} would keep ${c.readyAfter} ready signer(s), quorum is ${c.quorum}`,
        )
        .join('; ')}`;
  const warning =
    down.length === 0
      ? ''
      : `warning: already below quorum, not affected by this drain: ${down
          .map((c) => `${c.namespace}/${c.name} (${c.readyNow} of ${c.quorum} ready)`)
          .join(', ')}\n`;
  return `${verdict.clusters.length === 0 ? 'no MpcClusters found' : table(rows)}\n${warning}${summary}\n`;
}

/** Steps printed by `kubectl mpc unpin`: what only the administrator can do. */
export function repinSteps(input: {
  readonly cluster: MpcCluster;
  readonly signer: string;
  readonly oldKey: string | undefined;
  readonly newKey: string | undefined;
}): string {
  const { cluster, signer, oldKey, newKey } = input;
  const ns = cluster.metadata.namespace;
  const name = cluster.metadata.name;
  const lines = [
    `Signers that pinned the old key keep refusing ${signer}'s new key until an administrator-signed repin statement arrives.`,
    `1. Check the new key against the signer itself (its Lease can be written by every signer of the cluster):`,
    `   kubectl -n ${ns} exec ${signer} -- node dist/signer/main.js identity`,
    `   expected: ${newKey ?? '<the Lease presents no key yet: wait for the signer to renew its Lease>'}`,
  ];
  if (cluster.spec.administratorPublicKey === undefined) {
    lines.push(
      `2. spec.administratorPublicKey is not set, so no statement can be verified: signers that pinned the old key`,
      `   cannot accept a new one. Set spec.administratorPublicKey (mpc initiator create --algorithm ed25519 --out admin.key),`,
      `   or reshare the wallets away from ${signer} (examples/reshare.md).`,
    );
  } else {
    lines.push(
      `2. With the administrator key (offline; its public half is spec.administratorPublicKey):`,
      `   TOKEN=$(mpc admin sign-repin --key admin.key --cluster ${clusterIdentity(cluster)} --node ${signer} \\`,
      `            --old ${oldKey ?? '<old key or its fingerprint>'} --new ${newKey ?? '<new key>'} --valid-for 3600)`,
      `   kubectl -n ${ns} annotate mpccluster ${name} mpc-platform.dev/repin="$TOKEN"`,
      `3. Watch for event IdentityRepinned (or RepinRejected with the reason):`,
      `   kubectl -n ${ns} get events --field-selector involvedObject.name=${name}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/**
 * A reshare id never used before: `n<N>-t<T>-<UTC yyyymmddhhmmss>-<hex>`, a DNS label as the
 * CRD requires; `used` (status.reshare.usedIds) is checked anyway.
 */
export function freshReshareId(
  replicas: number,
  threshold: number,
  now: Date,
  randomHex: () => string,
  used: readonly string[],
): string {
  const stamp = now.toISOString().replace(/[-:T]/g, '').replace(/\..*$/, '').toLowerCase();
  for (let attempt = 0; attempt < 8; attempt++) {
    const id = `n${replicas}-t${threshold}-${stamp}-${randomHex().toLowerCase()}`;
    if (!used.includes(id) && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(id) && id.length <= 63)
      return id;
  }
  throw new Error('could not make a fresh reshare id');
}

/** The per-wallet steps after `kubectl mpc reshare` changed n/t (examples/reshare.md). */
export function reshareSteps(input: {
  readonly cluster: MpcCluster;
  readonly fromReplicas: number;
  readonly replicas: number;
  readonly threshold: number;
  readonly id: string;
}): string {
  const { cluster, fromReplicas, replicas, threshold, id } = input;
  const ns = cluster.metadata.namespace;
  const name = cluster.metadata.name;
  const target = signerPodNames({ ...cluster, spec: { ...cluster.spec, replicas } }).join(',');
  const nats = cluster.spec.nats.url;
  const reshareCommand = [
    `   mpc reshare --nats ${nats} --key <initiator key file> --wallet-id <wallet> \\`,
    `     --key-type secp256k1 --node-ids ${target} --threshold ${threshold}`,
    `   # …and the same with --key-type ed25519, for every wallet. A failed request leaves the wallet as it was: send it again.`,
  ];
  const lines = [
    `spec.replicas=${replicas} spec.threshold=${threshold} set with spec.reshare.id=${id} on ${ns}/${name}.`,
    `The operator changes the signers; it never reshares wallets itself. Move every wallet (examples/reshare.md):`,
  ];
  if (replicas > fromReplicas) {
    lines.push(
      `1. Wait until all ${replicas} signers are ready:`,
      `   kubectl -n ${ns} get mpcc ${name} -w        # READY ${replicas}, PHASE Ready`,
      `2. Reshare each wallet and key type onto the new committee (then any ${replicas - threshold - 1} signer(s) may be down):`,
      ...reshareCommand,
    );
  } else if (replicas < fromReplicas) {
    const leaving = signerPodNames(cluster).slice(replicas);
    lines.push(
      `1. Reshare each wallet and key type off ${leaving.join(', ')} onto the signers that stay:`,
      ...reshareCommand,
      `2. The operator removes ${leaving.join(', ')} one at a time (highest first), only once the signers that stay`,
      `   confirm no wallet needs it; until then it holds with ScaleDownBlocked naming the wallets:`,
      `   kubectl -n ${ns} get mpcc ${name} -o jsonpath='{.status.conditions[?(@.type=="ScaleDownBlocked")]}'`,
      `3. Done when READY ${replicas} and PHASE Ready. The leaving signers' volumes are kept; delete them when no longer wanted:`,
      `   kubectl -n ${ns} delete pvc ${leaving.map((pod) => `data-${pod}`).join(' ')}`,
    );
  } else {
    lines.push(
      `1. Reshare each wallet and key type to the new threshold on the same signers:`,
      ...reshareCommand,
    );
  }
  return `${lines.join('\n')}\n`;
}
