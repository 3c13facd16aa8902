/**
 * Issue 7 end to end on the real control plane: the operator (in process) reconciles an
 * MpcCluster into a StatefulSet whose pods kwok runs; three real signer processes run outside
 * the cluster as those pods' identities (node id = pod name, the operator-made ServiceAccount
 * and Role), with Kubernetes membership
 * against the test apiserver and a real nats-server. Checked, in order:
 * - the signers publish their identity keys on their Leases; the operator pins them into
 *   status.roster and ConfigMap <name>-roster; the signers read the pins and become ready;
 *   keygen and an Ed25519 signature work end to end;
 * - an impostor (signer 2 restarted with a new identity key) is refused: the pin stays,
 *   condition IdentityMismatch + Warning event, the impostor reports identityPin=mismatch, and
 *   signing still works with the others; clearing the pin puts the new key into the roster
 *   ConfigMap (as any ConfigMap writer could), and the signers that pinned the old key keep
 *   refusing it; an administrator-signed repin statement (mpc admin sign-repin, annotation
 *   mpc-platform.dev/repin) makes them accept it;
 * - killed signers make their Leases go stale: status, conditions and operator metrics drop
 *   below quorum although kwok keeps their pods Ready;
 * - with the operator stopped too, the signers' own quorum guard answers a signing request
 *   with exactly one ERROR_PEER_UNAVAILABLE.
 * Every wait is bounded; every process and namespace is removed afterwards.
 */
import { createPublicKey, randomUUID, verify } from 'node:crypto';
import { runCli } from '../../signer/client/cli-commands.ts';
import { verifyHeartbeat } from '../../signer/membership/heartbeat.ts';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import {
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
} from '@kubernetes/client-node';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOperator, type OperatorHandle } from '../../operator/operator.ts';
import { LocalCluster } from '../../signer/local/local-cluster.ts';
import { startNatsServer, type NatsServerHandle } from '../../signer/local/nats-server.ts';
import {
  RawClient,
  keygenBody,
  newEd25519Initiator,
  signBody,
  type ResultWatcher,
} from '../harness/raw-client.ts';
import { kubectl } from '../controlplane/control-plane.ts';
import { tokenConfig, uniqueName } from './signer-access.ts';
import { eventually } from '../harness/eventually.ts';

const SIGNER_MAIN = resolve(import.meta.dirname, '../../dist/signer/main.js');
const NAME = 'vault';
const SIGNERS = [0, 1, 2].map((ordinal) => `${NAME}-signer-${ordinal}`);
const [, SIGNER1, SIGNER2] = SIGNERS as [string, string, string];
const silent = { info: () => {}, warn: () => {}, error: () => {} };

describe('operator + signers on a real control plane', () => {
  const binDir = inject('k8sBinDir');
  const kubeconfigPath = inject('kubeconfigPath');
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfigPath);
  const namespace = uniqueName('e2e');
  const storageClass = uniqueName('e2e-sc');
  const root = mkdtempSync(join(tmpdir(), 'mpc-k8s-e2e-'));
  const initiator = newEd25519Initiator();
  let nats: NatsServerHandle;
  let operator: OperatorHandle | undefined;
  let signers: LocalCluster;
  let nc: NatsConnection;
  let client: RawClient;
  let keygens: ResultWatcher;
  let signings: ResultWatcher;
  const walletId = `wallet-${randomUUID()}`;
  let walletKey: Uint8Array;
  const adminKeyFile = join(root, 'administrator.key');
  let adminPublicKey = '';
  const cli = async (...args: string[]) => {
    let stdout = '';
    let stderr = '';
    const code = await runCli(args, {
      stdout: (text) => (stdout += text),
      stderr: (text) => (stderr += text),
    });
    if (code !== 0) throw new Error(`mpc ${args.join(' ')} failed: ${stderr}`);
    return stdout.trim();
  };
  const logOf = (nodeId: string) =>
    existsSync(signers.logFile(nodeId)) ? readFileSync(signers.logFile(nodeId), 'utf8') : '';
  const readySignersSeenBy = async (nodeId: string) => {
    const response = await signers.http(nodeId, '/readyz');
    return response === undefined
      ? -1
      : ((JSON.parse(response.body) as { readySigners?: number }).readySigners ?? -1);
  };

  const kc = (args: string[], input?: string) => kubectl(binDir, kubeconfigPath, args, input);
  const custom = () => admin.makeApiClient(CustomObjectsApi);
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- apiserver JSON, asserted below
  const mpcCluster = async (): Promise<any> =>
    custom().getNamespacedCustomObject({
      group: 'mpc-platform.dev',
      version: 'v1alpha1',
      namespace,
      plural: 'mpcclusters',
      name: NAME,
    });
  const condition = async (type: string) =>
    ((await mpcCluster()).status?.conditions ?? []).find(
      (c: { type: string }) => c.type === type,
    ) as { status: string; message: string } | undefined;
  const operatorMetric = async (name: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${operator?.httpPort}/metrics`)).text();
    const line = text
      .split('\n')
      .find((l) => l.startsWith(`${name}{`) && l.includes(`mpccluster="${NAME}"`));
    return Number(line?.split(' ').pop());
  };
  const identityKey = (nodeId: string): string =>
    (
      JSON.parse(
        readFileSync(join(signers.signer(nodeId).dataDir, 'identity', 'node.json'), 'utf8'),
      ) as { public_key: string }
    ).public_key;

  beforeAll(async () => {
    if (!existsSync(SIGNER_MAIN)) throw new Error(`${SIGNER_MAIN} is missing: run "npm run build"`);
    await kc(['apply', '--server-side', '-f', 'crds/mpccluster.yaml']);
    await kc([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/mpcclusters.mpc-platform.dev',
    ]);
    await kc(['create', 'namespace', namespace]);
    const volumes = SIGNERS.map((_, i) => ({
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: `${storageClass}-${i}` },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: storageClass,
        hostPath: { path: `/tmp/${storageClass}-${i}` },
      },
    }));
    await kc(
      ['apply', '-f', '-'],
      JSON.stringify({ apiVersion: 'v1', kind: 'List', items: volumes }),
    );

    adminPublicKey = await cli(
      'initiator',
      'create',
      '--algorithm',
      'ed25519',
      '--out',
      adminKeyFile,
    );
    nats = await startNatsServer({ rootDir: join(root, 'nats') });
    operator = await startOperator({
      kubeConfig: admin,
      logger: silent,
      httpHost: '127.0.0.1',
      httpPort: 0,
      relistIntervalMs: 60_000,
    });
    await operator.synced;
    await kc(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'mpc-platform.dev/v1alpha1',
        kind: 'MpcCluster',
        metadata: { name: NAME, namespace },
        spec: {
          replicas: 3,
          threshold: 1,
          image: 'registry.example.com/mpc-platform/signer:test',
          nats: { url: nats.url },
          initiator: { algorithm: 'ed25519', publicKey: initiator.publicKeyHex },
          administratorPublicKey: adminPublicKey,
          storage: { size: '1Gi', storageClassName: storageClass },
        },
      }),
    );
    // The signer processes stand in for the pods' containers: same node ids, Kubernetes
    // membership, the roster from the operator's ConfigMap (no roster file), and the pods'
    // credentials: a token of the ServiceAccount the operator made, bound only to the Role it
    // made (so a missing or excess RBAC rule shows here).
    await eventually('signer ServiceAccount', () =>
      kc(['-n', namespace, 'get', 'serviceaccount', `${NAME}-signer`]),
    );
    const token = (
      await kc(['-n', namespace, 'create', 'token', `${NAME}-signer`, '--duration=1h'])
    ).trim();
    const signerKubeconfig = join(root, 'signer-kubeconfig');
    writeFileSync(
      signerKubeconfig,
      tokenConfig(inject('k8sServerUrl'), token, namespace).exportConfig(),
      { mode: 0o600 },
    );
    signers = await LocalCluster.create({
      natsUrl: nats.url,
      size: 3,
      threshold: 1,
      rootDir: join(root, 'signers'),
      mainScript: SIGNER_MAIN,
      initiator: { algorithm: 'ed25519', publicKey: initiator.publicKeyHex },
      nodeIdPrefix: `${NAME}-signer-`,
      ...(nats.credentials === undefined ? {} : { natsUser: nats.credentials.signer }),
      env: { KUBECONFIG: signerKubeconfig, POD_NAMESPACE: namespace },
      configFor: () => ({
        cluster_name: `${namespace}/${NAME}`,
        administrator: { public_key: adminPublicKey },
        roster_file: undefined,
        membership: {
          backend: 'kubernetes',
          heartbeat_interval_ms: 500,
          peer_timeout_ms: 2000,
          roster_config_map: `${NAME}-roster`,
        },
        sessions: { round_timeout_ms: 3000, keygen_timeout_ms: 60_000 },
      }),
    });
    await signers.startAll();
    nc = await connect({ servers: nats.url });
    client = new RawClient(nc);
    keygens = client.watchResults('mpc.mpc_keygen_result.*');
    signings = client.watchResults('mpc.mpc_signing_result.complete');
  });

  afterAll(async () => {
    keygens?.stop();
    signings?.stop();
    await nc?.close();
    await signers?.stop();
    await operator?.stop();
    await nats?.stop();
    await kc(['delete', 'namespace', namespace, '--wait=false']).catch(() => undefined);
    await kc([
      'delete',
      'pv',
      ...SIGNERS.map((_, i) => `${storageClass}-${i}`),
      '--wait=false',
    ]).catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  });

  async function sign(): Promise<Record<string, unknown>> {
    const txId = randomUUID();
    const tx = new TextEncoder().encode(`pay ${txId}`);
    await client.publishSign(
      signBody(initiator, { keyType: 'ed25519', walletId, networkInternalCode: 't', txId, tx }),
      txId,
    );
    const result = await signings.waitFor((r) => r['tx_id'] === txId, 60_000);
    if (result['result_type'] === 'success') {
      const key = createPublicKey({
        key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(walletKey).toString('base64url') },
        format: 'jwk',
      });
      expect(verify(null, tx, key, Buffer.from(String(result['signature']), 'base64'))).toBe(true);
    }
    return result;
  }

  it('publishes identity keys on Leases; the operator pins them; the signers become ready and sign', async () => {
    const leases = admin.makeApiClient(CoordinationV1Api);
    for (const signer of SIGNERS) {
      const lease = await eventually(`${signer}'s Lease`, () =>
        leases.readNamespacedLease({ name: signer, namespace }),
      );
      expect(lease.metadata?.annotations?.['mpc-platform.dev/identity-public-key']).toBe(
        identityKey(signer),
      );
      // Each renewal carries a heartbeat signed by that identity key (issue 11 item 6).
      expect(
        verifyHeartbeat(lease.metadata?.annotations?.['mpc-platform.dev/heartbeat'], {
          cluster: `${namespace}/${NAME}`,
          nodeId: signer,
          holderIdentity: lease.spec?.holderIdentity ?? '',
          publicKey: identityKey(signer),
        }),
      ).toBeGreaterThan(0);
    }
    const roster = await eventually('three pins in status.roster', async () => {
      const pins = (await mpcCluster()).status?.roster ?? {};
      return Object.keys(pins).length === 3 ? pins : undefined;
    });
    expect(roster).toEqual(Object.fromEntries(SIGNERS.map((s) => [s, identityKey(s)])));
    const configMap = await admin
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: `${NAME}-roster`, namespace });
    expect(JSON.parse(configMap.data?.['roster.json'] ?? '{}')).toEqual({
      version: 1,
      nodes: roster,
    });
    await signers.waitForReady(3, 60_000);
    await eventually(
      'QuorumReady',
      async () => (await condition('QuorumReady'))?.status === 'True',
    );

    await client.publishKeygen(keygenBody(initiator, walletId), walletId);
    const keygen = await keygens.waitFor((r) => r['wallet_id'] === walletId, 90_000);
    expect(keygen['result_type']).toBe('success');
    walletKey = new Uint8Array(Buffer.from(String(keygen['eddsa_pub_key']), 'base64'));
    expect((await sign())['result_type']).toBe('success');
  });

  it('refuses an impostor under a pinned name, also when the ConfigMap is rewritten, until an administrator signs the repin', async () => {
    const pinned = identityKey(SIGNER2);
    await signers.signal(SIGNER2, 'SIGTERM');
    rmSync(join(signers.signer(SIGNER2).dataDir, 'identity'), { recursive: true, force: true });
    await signers.start(SIGNER2); // generates a new identity key
    const impostorKey = identityKey(SIGNER2);
    expect(impostorKey).not.toBe(pinned);

    const mismatch = await eventually('IdentityMismatch', async () => {
      const found = await condition('IdentityMismatch');
      return found?.status === 'True' ? found : undefined;
    });
    expect(mismatch.message).toContain(SIGNER2);
    expect((await mpcCluster()).status.roster[SIGNER2]).toBe(pinned);
    const events = await kc(['-n', namespace, 'get', 'events', '-o', 'json']);
    expect(events).toContain('IdentityKeyChanged');
    const readyz = await eventually('impostor refused', async () => {
      const response = await signers.http(SIGNER2, '/readyz');
      return response?.body.includes('"identityPin":"mismatch"') ? response : undefined;
    });
    expect(readyz.status).toBe(503);
    // The other two keep signing (2-of-3) once they see the impostor's key on its Lease.
    await signers.waitForReady(2, 30_000);
    expect((await sign())['result_type']).toBe('success');

    // Clearing the operator's pin puts the impostor's key into the roster ConfigMap: exactly
    // what anyone who may write that ConfigMap could do. The signers that pinned the old key
    // refuse the swap and keep counting only themselves.
    await kc([
      '-n',
      namespace,
      'annotate',
      'mpccluster',
      NAME,
      `mpc-platform.dev/unpin=${SIGNER2}`,
    ]);
    const core = admin.makeApiClient(CoreV1Api);
    await eventually('impostor key in the roster ConfigMap', async () => {
      const configMap = await core.readNamespacedConfigMap({ name: `${NAME}-roster`, namespace });
      const nodes = (JSON.parse(configMap.data?.['roster.json'] ?? '{}') as { nodes?: object })
        .nodes as Record<string, string> | undefined;
      return nodes?.[SIGNER2] === impostorKey;
    });
    const refusal = 'without a valid administrator repin statement';
    for (const honest of [SIGNERS[0]!, SIGNER1]) {
      await eventually(
        `${honest} refuses the swapped key`,
        async () => logOf(honest).includes(refusal),
        20_000,
      );
    }
    // Refused, not merely late: over several roster polls (2 s) and heartbeats (0.5 s) the
    // honest signers never count the impostor.
    const until = Date.now() + 6000;
    while (Date.now() < until) {
      expect(await readySignersSeenBy(SIGNERS[0]!)).toBe(2);
      expect(await readySignersSeenBy(SIGNER1)).toBe(2);
      await delay(250);
    }

    // The administrator checks the new key out of band and signs the change.
    const token = await cli(
      'admin',
      'sign-repin',
      '--key',
      adminKeyFile,
      '--cluster',
      `${namespace}/${NAME}`,
      '--node',
      SIGNER2,
      '--old',
      pinned,
      '--new',
      impostorKey,
      '--valid-for',
      '600',
    );
    await kc(['-n', namespace, 'annotate', 'mpccluster', NAME, `mpc-platform.dev/repin=${token}`]);
    await eventually('statement kept for the signers', async () => {
      const cluster = await mpcCluster();
      return (
        cluster.status?.repinAuthorizations?.includes(token) === true &&
        cluster.status?.roster?.[SIGNER2] === impostorKey &&
        cluster.metadata.annotations?.['mpc-platform.dev/repin'] === undefined
      );
    });
    await eventually(
      'IdentityMismatch cleared',
      async () => (await condition('IdentityMismatch'))?.status === 'False',
    );
    await signers.waitForReady(3, 60_000);
    expect(
      JSON.parse(
        readFileSync(join(signers.signer(SIGNERS[0]!).dataDir, 'identity', 'pins.json'), 'utf8'),
      ),
    ).toMatchObject({
      administrator_key: adminPublicKey,
      pins: { [SIGNER2]: impostorKey },
    });
  }, 120_000);

  it('stale Leases take status, conditions and metrics below quorum; with the operator down the signers still refuse to sign', async () => {
    expect(await operatorMetric('mpc_cluster_signing_enabled')).toBe(1);
    await signers.kill(SIGNER1);
    await signers.kill(SIGNER2);
    // kwok keeps both pods Ready: only their Leases tell.
    await eventually(
      'QuorumLost',
      async () => (await condition('QuorumReady'))?.status === 'False',
      30_000,
    );
    const status = (await mpcCluster()).status;
    expect(status.readySigners).toBe(1);
    const stale = status.signers.find((s: { name: string }) => s.name === SIGNER1);
    expect(stale).toMatchObject({ ready: false, podReady: true, lease: 'stale' });
    expect(await operatorMetric('mpc_cluster_ready_signers')).toBe(1);
    expect(await operatorMetric('mpc_cluster_signing_enabled')).toBe(0);

    await operator?.stop();
    operator = undefined;
    await signers.waitForReady(1, 30_000);
    const refused = await sign();
    expect(refused['result_type']).toBe('error');
    expect(refused['error_code']).toBe('ERROR_PEER_UNAVAILABLE');
    await delay(500);
    expect(signings.received.filter((r) => r['tx_id'] === refused['tx_id'])).toHaveLength(1);
  });
});
