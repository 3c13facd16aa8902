/**
 * The Helm chart rendered by the real helm binary (built into the control-plane cache):
 * usable as a subchart with the usual overrides, NOTES with the real image and no placeholder
 * URL, monitoring objects never dropped silently, docs that list every alert.
 */
import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { helm, type Cluster } from './helpers.ts';

const cluster: Cluster = { binDir: inject('k8sBinDir'), kubeconfigPath: inject('kubeconfigPath') };
const CHART = 'charts/mpc-operator';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered YAML
type Json = any;
const objects = (rendered: string): Json[] =>
  parseAllDocuments(rendered)
    .map((doc) => doc.toJS() as Json)
    .filter((o) => o !== null);
const alertNames = (): string[] =>
  (parse(readFileSync(`${CHART}/files/alerts.yaml`, 'utf8')) as Json).groups
    .flatMap((g: Json) => g.rules)
    .map((r: Json) => r.alert as string);

describe('helm chart', () => {
  it("accepts Helm's injected global and the usual name overrides (usable as a subchart)", async () => {
    const rendered = await helm(cluster, [
      'template',
      'r',
      CHART,
      '--set',
      'global.imageRegistry=example.com',
      '--set',
      'fullnameOverride=ops',
      '--set',
      'nameOverride=mpcop',
    ]);
    const deployment = objects(rendered).find((o) => o.kind === 'Deployment');
    expect(deployment.metadata.name).toBe('ops');
    expect(deployment.metadata.labels['app.kubernetes.io/name']).toBe('mpcop');
    await expect(helm(cluster, ['template', 'r', CHART, '--set', 'bogus=1'])).rejects.toThrow(
      /bogus/,
    );
  });

  it('NOTES name the real image tag and no placeholder URL', async () => {
    const out = await helm(cluster, [
      '--kubeconfig',
      cluster.kubeconfigPath,
      'install',
      'r',
      CHART,
      '--dry-run=client',
      '--namespace',
      'x',
      '--set',
      'image.tag=9.8.7',
    ]);
    const notes = out.slice(out.indexOf('NOTES:'));
    expect(notes).toContain(':9.8.7');
    expect(notes).not.toMatch(/https?:\/\/</);
    expect(notes).not.toContain('WARNING');
  });

  it('monitoring objects are rendered on request, or a warning says why not', async () => {
    const enable = [
      '--set',
      'metrics.serviceMonitor.enabled=true',
      '--set',
      'metrics.prometheusRule.enabled=true',
    ];
    // helm 3.21 still reads the server version in client dry-run mode.
    const dropped = await helm(cluster, [
      '--kubeconfig',
      cluster.kubeconfigPath,
      'install',
      'r',
      CHART,
      '--dry-run=client',
      ...enable,
    ]);
    expect(objects(dropped.slice(0, dropped.indexOf('NOTES:'))).map((o) => o.kind)).not.toContain(
      'PrometheusRule',
    );
    expect(dropped).toContain('WARNING: metrics.serviceMonitor/prometheusRule are enabled');

    for (const extra of [
      ['--set', 'metrics.assumeMonitoringApi=true'],
      ['--api-versions', 'monitoring.coreos.com/v1'],
    ]) {
      const rendered = objects(await helm(cluster, ['template', 'r', CHART, ...enable, ...extra]));
      expect(rendered.filter((o) => o.kind === 'ServiceMonitor')).toHaveLength(2);
      const rule = rendered.find((o) => o.kind === 'PrometheusRule');
      expect(rule.spec.groups.flatMap((g: Json) => g.rules).map((r: Json) => r.alert)).toEqual(
        alertNames(),
      );
    }
  });

  it('ships the Grafana dashboard verbatim in a sidecar ConfigMap on request', async () => {
    expect(objects(await helm(cluster, ['template', 'r', CHART])).map((o) => o.kind)).not.toContain(
      'ConfigMap',
    );
    const rendered = objects(
      await helm(cluster, ['template', 'r', CHART, '--set', 'grafana.dashboard.enabled=true']),
    );
    const configMap = rendered.find((o) => o.kind === 'ConfigMap');
    expect(configMap.metadata.labels['grafana_dashboard']).toBe('1');
    expect(JSON.parse(configMap.data['mpc-platform.json'])).toEqual(
      JSON.parse(readFileSync(`${CHART}/files/dashboard.json`, 'utf8')),
    );
  });

  it('the chart README and the runbook list every alert; the README states the strategies', () => {
    const chartReadme = readFileSync(`${CHART}/README.md`, 'utf8');
    const readme = readFileSync('README.md', 'utf8');
    expect(alertNames()).toContain('MpcReconcileFailing');
    for (const alert of alertNames()) {
      expect(chartReadme, alert).toContain(alert);
      expect(readme, alert).toMatch(new RegExp(`^### ${alert}$`, 'm'));
    }
    expect(chartReadme).toContain('OnDelete');
    expect(chartReadme).toContain('kubectl apply --server-side --force-conflicts -f crds/');
  });
});
