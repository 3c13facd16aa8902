/**
 * The chart's alert rules (charts/mpc-operator/files/alerts.yaml, shipped verbatim in the
 * PrometheusRule) pass `promtool check rules`, and `promtool test rules` runs the firing and
 * non-firing cases in alerts.test.yaml. promtool comes from Debian's prometheus package
 * (scripts/ensure-deps.sh extracts it into the cache; a promtool on PATH is used otherwise).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
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

describe('alert rules', () => {
  it('pass promtool check rules', async () => {
    const { stdout } = await run(promtool, [
      'check',
      'rules',
      'charts/mpc-operator/files/alerts.yaml',
    ]);
    expect(stdout).toContain('SUCCESS: 6 rules found');
  });

  it('fire and stay quiet exactly as alerts.test.yaml expects (promtool test rules)', async () => {
    const { stdout, stderr } = await run(promtool, [
      'test',
      'rules',
      'test/alerts/alerts.test.yaml',
    ]).catch((error: { stdout?: string; stderr?: string }) => ({
      stdout: error.stdout ?? '',
      stderr: `${error.stderr ?? ''} (promtool failed)`,
    }));
    expect(`${stdout}${stderr}`).toContain('SUCCESS');
    expect(stderr).not.toContain('promtool failed');
  });
});
