/**
 * Safe scaling on the real control plane (issue 14 item 3): the operator records reshare ids
 * in status.reshare and refuses a reused one; a scale-down removes one signer at a time, the
 * highest ordinal first, only once the signers that stay confirm no wallet needs it, and
 * otherwise holds with ScaleDownBlocked naming the wallets. Pods are kwok fakes without an
 * HTTP server, so the signer query is replaced at its dependency boundary
 * (operator/controller/signer-wallets.ts; its HTTP side is tested against a real signer HTTP
 * server in signer/service/wallets-needing.test.ts). Test order matters.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startOperator, type OperatorHandle } from '../../operator/operator.ts';
import type { SignerWalletQuery } from '../../operator/controller/signer-wallets.ts';
import type { SignerAnswer, WalletRef } from '../../operator/status/scaling.ts';
import {
  createVolumes,
  eventually,
  getJson,
  installChart,
  kc,
  mpcClusterManifest,
  serviceAccountKubeConfig,
  type Cluster,
} from './helpers.ts';

const cluster: Cluster = { binDir: inject('k8sBinDir'), kubeconfigPath: inject('kubeconfigPath') };
const serverUrl = inject('k8sServerUrl');
const RELEASE = 'scale';
const OPERATOR_NS = 'scale-system';
const NS = 'scale';
const STORAGE_CLASS = 'scale-test';
const silent = { info: () => {}, warn: () => {}, error: () => {} };

/** What the fake signers report: leaving node id → wallets that still need it. */
const needing = new Map<string, WalletRef[]>();
/** Every question asked: `<pod asked>?<node leaving>`. */
const asked: string[] = [];
const signerWallets: SignerWalletQuery = {
  async walletsNeeding(target, node): Promise<SignerAnswer> {
    asked.push(`${target.pod}?${node}`);
    const wallets = needing.get(node) ?? [];
    return { ok: true, count: wallets.length, wallets };
  },
};

let operator: OperatorHandle | undefined;

const mpc = () => getJson(cluster, ['-n', NS, 'mpccluster', 'wallet']);
const condition = async (type: string) =>
  (await mpc())?.['status']?.conditions?.find((c: { type: string }) => c.type === type);
const patch = (body: object) =>
  kc(cluster, ['-n', NS, 'patch', 'mpcc', 'wallet', '--type=merge', '-p', JSON.stringify(body)]);
const stsReplicas = async () =>
  (await getJson(cluster, ['-n', NS, 'statefulset', 'wallet-signer']))?.['spec']?.replicas;
const podNames = async () =>
  (
    (await getJson(cluster, ['-n', NS, 'pods', '-l', 'app.kubernetes.io/instance=wallet']))?.[
      'items'
    ] ?? []
  )
    .map((pod: { metadata: { name: string } }) => pod.metadata.name)
    .sort();

beforeAll(async () => {
  await installChart(cluster, RELEASE, OPERATOR_NS);
  await kc(cluster, ['create', 'namespace', NS]);
  await createVolumes(cluster, 'scale-pv', 6, STORAGE_CLASS);
  operator = await startOperator({
    kubeConfig: await serviceAccountKubeConfig(
      cluster,
      serverUrl,
      OPERATOR_NS,
      `${RELEASE}-mpc-operator`,
    ),
    logger: silent,
    httpHost: '127.0.0.1',
    httpPort: 0,
    relistIntervalMs: 60_000,
    signerClusterRole: `${RELEASE}-mpc-operator-signer`,
    signerWallets,
  });
  await operator.synced;
});

afterAll(async () => {
  await operator?.stop();
});

describe('reshare ids and scale-down', () => {
  it('records the id of the initial spec and of a growth, which applies at once', async () => {
    await kc(
      cluster,
      ['apply', '-f', '-'],
      JSON.stringify(
        mpcClusterManifest(
          { namespace: NS, name: 'wallet', storageClassName: STORAGE_CLASS },
          { reshare: { id: 'first' } },
        ),
      ),
    );
    await eventually(
      'initial reshare record',
      async () => {
        const status = (await mpc())?.['status'];
        return status?.phase === 'Ready' && status?.reshare?.usedIds?.[0] === 'first';
      },
      90_000,
    );
    await patch({ spec: { replicas: 5, threshold: 2, reshare: { id: 'grow' } } });
    await eventually(
      'grown to 5',
      async () => {
        const status = (await mpc())?.['status'];
        return status?.phase === 'Ready' && status?.replicas === 5;
      },
      90_000,
    );
    expect((await mpc())?.['status']?.reshare).toEqual({
      id: 'grow',
      replicas: 5,
      threshold: 2,
      usedIds: ['first', 'grow'],
    });
    expect(asked).toEqual([]);
  });

  it('refuses an n/t change with an id used before (which CEL alone lets through)', async () => {
    await patch({ spec: { replicas: 3, threshold: 1, reshare: { id: 'first' } } });
    const degraded = await eventually('ReshareIdReused', async () => {
      const c = await condition('Degraded');
      return c?.reason === 'ReshareIdReused' ? c : undefined;
    });
    expect(degraded.status).toBe('True');
    expect(degraded.message).toContain('"first" was already used');
    expect(await stsReplicas()).toBe(5);
    expect((await mpc())?.['status']?.reshare?.usedIds).toEqual(['first', 'grow']);
    expect(asked).toEqual([]);
  });

  it('holds a scale-down while a wallet needs the leaving signer, naming it', async () => {
    needing.set('wallet-signer-4', [{ walletId: 'treasury', keyType: 'secp256k1' }]);
    await patch({ spec: { reshare: { id: 'shrink-to-3' } } });
    const blocked = await eventually('ScaleDownBlocked', async () => {
      const c = await condition('ScaleDownBlocked');
      return c?.status === 'True' ? c : undefined;
    });
    expect(blocked.reason).toBe('WalletsNeedSigner');
    expect(blocked.message).toContain('wallet-signer-4');
    expect(blocked.message).toContain('treasury/secp256k1');
    expect(await stsReplicas()).toBe(5);
    // All five signers stay (a pod the rollout is replacing right now comes back).
    await eventually('five signer pods', async () => (await podNames()).length === 5);
    expect(await stsReplicas()).toBe(5);
    expect((await condition('Degraded'))?.reason).not.toBe('ReshareIdReused');
    // Every staying signer was asked about the highest ordinal, and only about it.
    const nodes = new Set(asked.map((question) => question.split('?')[1]));
    expect([...nodes]).toEqual(['wallet-signer-4']);
  });

  it('removes one signer at a time: stops at 4 while signer 3 is still needed, then 3', async () => {
    needing.set('wallet-signer-3', [{ walletId: 'cold', keyType: 'ed25519' }]);
    needing.delete('wallet-signer-4');
    const blocked = await eventually(
      'blocked on signer 3',
      async () => {
        const c = await condition('ScaleDownBlocked');
        return c?.status === 'True' && String(c.message).includes('wallet-signer-3 ')
          ? c
          : undefined;
      },
      90_000,
    );
    expect(blocked.message).toContain('cold/ed25519');
    expect(await stsReplicas()).toBe(4);
    // Ordinals 0-3 stay (the rollout of the new signer configuration may be replacing one of
    // them right now; it comes back under the same name).
    const staying = JSON.stringify([0, 1, 2, 3].map((i) => `wallet-signer-${i}`));
    await eventually('signers 0-3', async () => JSON.stringify(await podNames()) === staying);
    expect(await stsReplicas()).toBe(4);
    needing.delete('wallet-signer-3');
    await eventually(
      'shrunk to 3 and Ready',
      async () => {
        const status = (await mpc())?.['status'];
        return status?.phase === 'Ready' && status?.replicas === 3;
      },
      90_000,
    );
    expect(await stsReplicas()).toBe(3);
    expect(await condition('ScaleDownBlocked')).toMatchObject({
      status: 'False',
      reason: 'NoScaleDown',
    });
    expect((await mpc())?.['status']?.reshare?.usedIds).toEqual(['first', 'grow', 'shrink-to-3']);
  });
});
