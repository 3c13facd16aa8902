/**
 * Issue 14 item 6 end to end on the real control plane: online backups as MpcBackup objects,
 * and a backup → destroy → restore → sign cycle with real signer processes.
 *
 * The operator runs in process (its backup clock injectable); three real signer processes run
 * outside the cluster as the pods' identities (node id = pod name, the token of the
 * ServiceAccount the operator made, bound only to the Role it made — which must let them read
 * MpcBackups) against a real nats-server. They share one backup directory, as pods sharing a
 * ReadWriteMany claim (spec.backup.volume.claimName) would, and read the backup key the
 * operator generated (the Secret the pods mount). Checked, in order:
 * - a one-off MpcBackup taken while the signers keep running reaches Succeeded with one
 *   archive per signer, whose sha256 and size match the files;
 * - signer 2 is stopped and its data directory destroyed; the init container's command
 *   (`mpc-signer restore --from-request`, the real CLI, with the pod's credentials) restores
 *   it from the MpcBackup annotated mpc-platform.dev/restore=<signer 2>, identity key
 *   included (no repin); with signer 0 stopped, signers 1 and 2 sign, and the signature
 *   verifies;
 * - a scheduled MpcBackup (every minute; the operator's clock is stepped instead of waiting)
 *   creates `<name>-<yyyymmddhhmm>` one-offs, and with keep 1 prunes the older one, whose
 *   archives the signers then delete;
 * - admission refuses backup names that are not DNS labels (path traversal, dots), an
 *   over-long schedule name, and a change of clusterName; the signers wrote nothing outside
 *   the backup directory.
 * Every wait is bounded; every process and namespace is removed afterwards.
 */
import { execFile } from 'node:child_process';
import { createHash, createPublicKey, randomUUID, verify } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
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
const [SIGNER0, , SIGNER2] = SIGNERS as [string, string, string];
const silent = { info: () => {}, warn: () => {}, error: () => {} };

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- apiserver JSON, asserted below
type Json = any;

describe('online backups and restore on a real control plane', () => {
  const binDir = inject('k8sBinDir');
  const kubeconfigPath = inject('kubeconfigPath');
  const admin = new KubeConfig();
  admin.loadFromFile(kubeconfigPath);
  const namespace = uniqueName('backup');
  const storageClass = uniqueName('backup-sc');
  const root = mkdtempSync(join(tmpdir(), 'mpc-k8s-backup-'));
  const backupDir = join(root, 'backups');
  const backupKeyFile = join(root, 'backup-key');
  const signerKubeconfig = join(root, 'signer-kubeconfig');
  const initiator = newEd25519Initiator();
  let clockOffsetMs = 0;
  let nats: NatsServerHandle;
  let operator: OperatorHandle | undefined;
  let signers: LocalCluster;
  let nc: NatsConnection;
  let client: RawClient;
  let keygens: ResultWatcher;
  let signings: ResultWatcher;
  const walletId = `wallet-${randomUUID()}`;
  let walletKey: Uint8Array;

  const kc = (args: string[], input?: string) => kubectl(binDir, kubeconfigPath, args, input);
  const custom = () => admin.makeApiClient(CustomObjectsApi);
  const object = (plural: string, name: string): Promise<Json> =>
    custom().getNamespacedCustomObject({
      group: 'mpc-platform.dev',
      version: 'v1alpha1',
      namespace,
      plural,
      name,
    });
  const listBackups = async (): Promise<Json[]> =>
    (
      (await custom().listNamespacedCustomObject({
        group: 'mpc-platform.dev',
        version: 'v1alpha1',
        namespace,
        plural: 'mpcbackups',
      })) as { items: Json[] }
    ).items;
  const applyBackup = (name: string, spec: Record<string, unknown>) =>
    kc(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'mpc-platform.dev/v1alpha1',
        kind: 'MpcBackup',
        metadata: { name, namespace },
        spec,
      }),
    );
  const succeeded = (name: string) =>
    eventually(
      `MpcBackup ${name} Succeeded`,
      async () => {
        const backup = await object('mpcbackups', name);
        if (backup.status?.phase === 'Failed') {
          throw new Error(`${name} failed: ${backup.status.message}`);
        }
        return backup.status?.phase === 'Succeeded' ? backup : undefined;
      },
      60_000,
    );
  const identityKey = (nodeId: string): string =>
    (
      JSON.parse(
        readFileSync(join(signers.signer(nodeId).dataDir, 'identity', 'node.json'), 'utf8'),
      ) as { public_key: string }
    ).public_key;
  /** The signer CLI with the pod's credentials (KUBECONFIG = the ServiceAccount token). */
  const signerCli = (args: string[]) =>
    new Promise<{ code: number; stdout: string; stderr: string }>((done) => {
      execFile(
        process.execPath,
        [SIGNER_MAIN, ...args],
        {
          env: { ...process.env, KUBECONFIG: signerKubeconfig, POD_NAMESPACE: namespace },
          timeout: 60_000,
        },
        (error, stdout, stderr) =>
          done({
            code: error === null ? 0 : typeof error.code === 'number' ? error.code : 1,
            stdout,
            stderr,
          }),
      );
    });

  beforeAll(async () => {
    if (!existsSync(SIGNER_MAIN)) throw new Error(`${SIGNER_MAIN} is missing: run "npm run build"`);
    await kc(['apply', '--server-side', '-f', 'crds/mpccluster.yaml', '-f', 'crds/mpcbackup.yaml']);
    await kc([
      'wait',
      '--for=condition=Established',
      '--timeout=60s',
      'crd/mpcclusters.mpc-platform.dev',
      'crd/mpcbackups.mpc-platform.dev',
    ]);
    await kc(['create', 'namespace', namespace]);
    // Data volumes for the signer PVCs, and the shared backup claim the MpcCluster names.
    const volumes = [...SIGNERS.map((_, i) => `${storageClass}-${i}`), `${storageClass}-b`].map(
      (name) => ({
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes: ['ReadWriteOnce', 'ReadWriteMany'],
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: storageClass,
          hostPath: { path: `/tmp/${name}` },
        },
      }),
    );
    await kc(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          ...volumes,
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: 'backups', namespace },
            spec: {
              accessModes: ['ReadWriteMany'],
              storageClassName: storageClass,
              volumeName: `${storageClass}-b`,
              resources: { requests: { storage: '1Gi' } },
            },
          },
        ],
      }),
    );

    nats = await startNatsServer({ rootDir: join(root, 'nats') });
    operator = await startOperator({
      kubeConfig: admin,
      logger: silent,
      httpHost: '127.0.0.1',
      httpPort: 0,
      relistIntervalMs: 60_000,
      backupClock: () => new Date(Date.now() + clockOffsetMs),
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
          storage: { size: '1Gi', storageClassName: storageClass },
          backup: { volume: { claimName: 'backups' } },
        },
      }),
    );
    // What the pods mount: the generated backup key Secret, and the operator-made
    // ServiceAccount's token (bound only to the operator-made Role).
    const encoded = await eventually('generated backup key Secret', async () =>
      (
        await kc([
          '-n',
          namespace,
          'get',
          'secret',
          `${NAME}-backup-key`,
          '-o',
          'jsonpath={.data.backup-key}',
        ])
      ).trim(),
    );
    writeFileSync(backupKeyFile, Buffer.from(encoded, 'base64'), { mode: 0o600 });
    const sts = await eventually('StatefulSet with the backup volume', async () =>
      JSON.parse(await kc(['-n', namespace, 'get', 'statefulset', `${NAME}-signer`, '-o', 'json'])),
    );
    expect(JSON.stringify(sts.spec.template.spec.volumes)).toContain('"claimName":"backups"');
    expect(sts.spec.template.spec.initContainers[0].command).toContain('--from-request');
    await eventually('signer ServiceAccount', () =>
      kc(['-n', namespace, 'get', 'serviceaccount', `${NAME}-signer`]),
    );
    const token = (
      await kc(['-n', namespace, 'create', 'token', `${NAME}-signer`, '--duration=1h'])
    ).trim();
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
        roster_file: undefined,
        membership: {
          backend: 'kubernetes',
          heartbeat_interval_ms: 500,
          peer_timeout_ms: 2000,
          roster_config_map: `${NAME}-roster`,
        },
        backup: { dir: backupDir, key_file: backupKeyFile, poll_interval_ms: 300 },
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
      ...[0, 1, 2, 'b'].map((i) => `${storageClass}-${i}`),
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
    expect(result['result_type']).toBe('success');
    const key = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(walletKey).toString('base64url') },
      format: 'jwk',
    });
    expect(verify(null, tx, key, Buffer.from(String(result['signature']), 'base64'))).toBe(true);
    return result;
  }

  it('backs up every running signer into one archive each, matching the reported sha256', async () => {
    await signers.waitForReady(3, 60_000);
    await client.publishKeygen(keygenBody(initiator, walletId), walletId);
    const keygen = await keygens.waitFor((r) => r['wallet_id'] === walletId, 90_000);
    expect(keygen['result_type']).toBe('success');
    walletKey = new Uint8Array(Buffer.from(String(keygen['eddsa_pub_key']), 'base64'));

    await applyBackup('before-loss', { clusterName: NAME });
    const backup = await succeeded('before-loss');
    expect(backup.status.summary).toBe('3/3');
    expect(backup.status.signers.map((s: Json) => s.node)).toEqual(SIGNERS);
    for (const entry of backup.status.signers) {
      expect(entry.archive).toBe(`before-loss/${entry.node}.mpcbak`);
      const bytes = readFileSync(join(backupDir, entry.archive));
      expect(entry.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
      expect(entry.bytes).toBe(bytes.length);
      // One wallet: its Ed25519 and ECDSA shares (keygen makes both).
      expect(entry).toMatchObject({ wallets: 1, shares: 2, identity: true });
    }
    // The signers kept serving throughout: still a quorum, still signing.
    await signers.waitForReady(3, 10_000);
    await sign();
  });

  it('restores a destroyed signer from its archive with the real CLI; it signs again with its pinned identity', async () => {
    const pinned = identityKey(SIGNER2);
    await signers.signal(SIGNER2, 'SIGTERM');
    rmSync(signers.signer(SIGNER2).dataDir, { recursive: true, force: true });

    // Not requested yet: the init container leaves the empty volume alone.
    const idle = await signerCli([
      'restore',
      '--config',
      signers.signer(SIGNER2).configFile,
      '--from-request',
    ]);
    expect(idle.code, idle.stderr).toBe(0);
    expect(JSON.parse(idle.stdout)).toEqual({ restored: false, reason: 'no restore requested' });

    await kc([
      '-n',
      namespace,
      'annotate',
      'mpcbackup',
      'before-loss',
      `mpc-platform.dev/restore=${SIGNER2}`,
    ]);
    const restored = await signerCli([
      'restore',
      '--config',
      signers.signer(SIGNER2).configFile,
      '--from-request',
    ]);
    expect(restored.code, restored.stderr).toBe(0);
    expect(JSON.parse(restored.stdout)).toMatchObject({
      restored: true,
      nodeId: SIGNER2,
      identity: true,
      wallets: 1,
      shares: 2,
    });
    expect(identityKey(SIGNER2)).toBe(pinned);
    // A second run (a pod restart) finds the volume in use and does nothing.
    const again = await signerCli([
      'restore',
      '--config',
      signers.signer(SIGNER2).configFile,
      '--from-request',
    ]);
    expect(JSON.parse(again.stdout)).toEqual({ restored: false, reason: 'data directory in use' });

    await signers.start(SIGNER2);
    await signers.waitForReady(3, 60_000);
    // Only signers 1 and 2 are up: the signature needs signer 2's restored share.
    await signers.signal(SIGNER0, 'SIGTERM');
    await signers.waitForReady(2, 30_000);
    await sign();
    const cluster = await object('mpcclusters', NAME);
    expect(cluster.status.roster[SIGNER2]).toBe(pinned);
    await signers.start(SIGNER0);
    await signers.waitForReady(3, 60_000);
  }, 180_000);

  it('a every-minute schedule creates <name>-<yyyymmddhhmm> backups and prunes beyond keep, archives included', async () => {
    await applyBackup('minutely', { clusterName: NAME, schedule: '* * * * *', keep: 1 });
    const touch = (value: string) =>
      kc([
        '-n',
        namespace,
        'annotate',
        '--overwrite',
        'mpcbackup',
        'minutely',
        `test/touch=${value}`,
      ]);
    const children = async (): Promise<string[]> =>
      (await listBackups())
        .filter((b) => b.metadata.labels?.['mpc-platform.dev/backup-schedule'] === 'minutely')
        .map((b) => b.metadata.name as string)
        .sort();

    clockOffsetMs = 70_000;
    await touch('1');
    const [first] = await eventually('first scheduled backup', async () => {
      const names = await children();
      return names.length === 1 ? names : undefined;
    });
    expect(first).toMatch(/^minutely-\d{12}$/);
    const child = await succeeded(first!);
    expect(child.metadata.ownerReferences[0]).toMatchObject({
      kind: 'MpcBackup',
      name: 'minutely',
    });
    expect(readdirSync(join(backupDir, first!)).sort()).toEqual(SIGNERS.map((s) => `${s}.mpcbak`));
    const schedule = await object('mpcbackups', 'minutely');
    expect(schedule.status).toMatchObject({ phase: 'Scheduled', lastScheduledBackup: first });

    clockOffsetMs = 130_000;
    await touch('2');
    const second = await eventually('second scheduled backup', async () =>
      (await children()).find((name) => name !== first),
    );
    expect(second > first!).toBe(true);
    await succeeded(second);
    // keep 1: the older one goes, and its archives with it.
    await eventually(
      'older scheduled backup pruned',
      async () => JSON.stringify(await children()) === JSON.stringify([second]),
    );
    await eventually(
      'its archives deleted by the signers',
      async () => !existsSync(join(backupDir, first!)),
    );
    expect(readdirSync(join(backupDir, second)).sort()).toEqual(SIGNERS.map((s) => `${s}.mpcbak`));
  }, 180_000);

  it('refuses names that are not DNS labels, long schedule names and clusterName changes at admission', async () => {
    for (const name of ['../escape', 'a.b', '..']) {
      await expect(applyBackup(name, { clusterName: NAME })).rejects.toThrow();
    }
    await expect(applyBackup('has.dot', { clusterName: NAME })).rejects.toThrow(/DNS label/);
    await expect(
      applyBackup('s'.repeat(51), { clusterName: NAME, schedule: '0 2 * * *' }),
    ).rejects.toThrow(/at most 50/);
    await expect(
      applyBackup('bad-cron', { clusterName: NAME, schedule: '0 2 * *' }),
    ).rejects.toThrow(/5 cron fields/);
    await expect(applyBackup('before-loss', { clusterName: 'other' })).rejects.toThrow(
      /clusterName is immutable/,
    );
    // The documented examples pass admission.
    await kc([
      '-n',
      namespace,
      'apply',
      '--dry-run=server',
      '-f',
      'examples/mpcbackup.yaml',
      '-f',
      'examples/mpccluster-backup.yaml',
    ]);
    // Nothing outside the backup directory: only backup-name directories of signer archives.
    for (const entry of readdirSync(backupDir)) {
      expect(entry).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      for (const file of readdirSync(join(backupDir, entry))) {
        expect(SIGNERS.map((s) => `${s}.mpcbak`)).toContain(file);
      }
    }
    expect(readdirSync(root).sort()).toEqual(
      ['backup-key', 'backups', 'nats', 'signer-kubeconfig', 'signers'].sort(),
    );
  });
});
