/**
 * The chart's Grafana dashboard (charts/mpc-operator/files/dashboard.json, shipped verbatim in
 * a ConfigMap for the Grafana sidecar): every panel query is valid PromQL (promtool parses it as
 * a recording rule, with the dashboard variables substituted) and reads only metrics that this
 * code base exports, with labels those metrics carry.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const cached = join(
  process.env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'),
  'mpc-platform',
  'promtool',
  'usr',
  'bin',
  'promtool',
);
const promtool = existsSync(cached) ? cached : 'promtool';

interface Panel {
  readonly title: string;
  readonly targets: ReadonlyArray<{ readonly expr: string }>;
}
const dashboard = JSON.parse(readFileSync('charts/mpc-operator/files/dashboard.json', 'utf8')) as {
  panels: Panel[];
  templating: { list: Array<{ name: string; query: unknown }> };
};
const queries = [
  ...dashboard.panels.flatMap((panel) => panel.targets.map((t) => t.expr)),
  // label_values(<selector>, label): the selector must be valid PromQL too.
  ...dashboard.templating.list
    .map((v) => (typeof v.query === 'string' ? /^label_values\((.*), \w+\)$/.exec(v.query) : null))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => m[1] ?? ''),
];
/** Grafana substitutes these before sending the query. */
const substitute = (expr: string) =>
  expr.replaceAll('$namespace', '.*').replaceAll('$mpccluster', '.*');

/** Exported metric names (prom-client `name: '...'` in the sources) → their label names. */
function exportedMetrics(): Map<string, Set<string>> {
  const files = [
    'operator/controller/metrics.ts',
    'signer/observability/metrics.ts',
    'signer/membership/metrics.ts',
  ].filter((f) => existsSync(f));
  const metrics = new Map<string, Set<string>>();
  for (const file of files) {
    const source = readFileSync(file, 'utf8');
    // `labelNames,` (shorthand) refers to a `const labelNames = [...]` in the same file.
    const shared = /const labelNames = \[([^\]]*)\]/.exec(source)?.[1] ?? '';
    for (const match of source.matchAll(/name: '(mpc_[a-z_]+)'[\s\S]*?(?=name: 'mpc_|$)/g)) {
      const labels = /labelNames(?:: \[([^\]]*)\]|,)/.exec(match[0]);
      const list = labels === null ? '' : (labels[1] ?? shared);
      const names = new Set(list.match(/[a-z_]+/g) ?? []);
      metrics.set(match[1] ?? '', names);
    }
  }
  return metrics;
}

describe('Grafana dashboard', () => {
  it('has queries, and every one parses as PromQL (promtool)', async () => {
    expect(queries.length).toBeGreaterThanOrEqual(10);
    const dir = mkdtempSync(join(tmpdir(), 'mpc-dashboard-'));
    try {
      const file = join(dir, 'rules.yaml');
      writeFileSync(
        file,
        stringify({
          groups: [
            {
              name: 'dashboard',
              rules: queries.map((expr, i) => ({
                record: `dashboard:q${i}`,
                expr: substitute(expr),
              })),
            },
          ],
        }),
      );
      const { stdout } = await run(promtool, ['check', 'rules', file]);
      expect(stdout).toContain(`SUCCESS: ${queries.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads only exported metrics, grouping and filtering by labels they have', () => {
    const exported = exportedMetrics();
    expect(exported.has('mpc_cluster_ready_signers')).toBe(true);
    // Labels every scraped series carries (Prometheus target labels).
    const targetLabels = new Set(['namespace', 'pod', 'instance', 'job', 'le']);
    for (const expr of queries) {
      for (const [, metric, selector] of expr.matchAll(
        /(mpc_[a-z_]+?)(?:_bucket)?(\{[^}]*\})?(?=[\s[{)]|$)/g,
      )) {
        const name = metric ?? '';
        const labels = exported.get(name) ?? exported.get(name.replace(/_bucket$/, ''));
        expect(labels, `${name} in ${expr}`).toBeDefined();
        for (const [, label] of (selector ?? '').matchAll(/(\w+)=~?"/g))
          expect(
            labels?.has(label ?? '') === true || targetLabels.has(label ?? ''),
            `${label} on ${name}`,
          ).toBe(true);
      }
      for (const [, by] of expr.matchAll(/by \(([^)]*)\)/g))
        for (const label of (by ?? '').split(',').map((l) => l.trim()))
          expect(
            targetLabels.has(label) || [...exported.values()].some((labels) => labels.has(label)),
            `by ${label} in ${expr}`,
          ).toBe(true);
    }
  });
});
