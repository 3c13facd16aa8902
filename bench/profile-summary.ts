/**
 * Summarises the V8 CPU profiles signers write when a cluster benchmark runs with
 * BENCH_SIGNER_CPU_PROFILE_DIR set (bench-cluster.ts): self time by module and by function,
 * idle excluded, over every `.cpuprofile` in a directory (all signers, main and worker threads).
 *
 *   node dist-bench/bench/profile-summary.js <dir> [--baseline <dir>] [--signatures <n>]
 *        [--top <k>] [--callers <function name>]
 *
 * `--baseline`: profiles of the same run without the measured part (e.g. zero signatures), whose
 * time is subtracted, so start-up and keygen drop out; `--signatures` turns the difference into
 * time per signature. Profiling slows the signers (~1.5–2×): compare shares, not absolute times.
 * `--callers`: the callers (first frames outside Node's internals) of one function instead.
 * Prints JSON lines: {"profile":"total",...}, then {"profile":"module"|"function"|"callers",...}.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

interface Totals {
  readonly byModule: Map<string, number>;
  readonly byFunction: Map<string, number>;
  readonly callers: Map<string, number>;
  busy: number;
}

/** A readable module name: the package, the Node.js module, or the last two path segments. */
function moduleOf(frame: CallFrame): string {
  const url = frame.url;
  if (url === '') return frame.functionName.startsWith('(') ? frame.functionName : '(native)';
  if (url.startsWith('node:')) return url;
  const packageAt = url.lastIndexOf('node_modules/');
  if (packageAt >= 0) {
    const parts = url.slice(packageAt + 'node_modules/'.length).split('/');
    return (parts[0] ?? '').startsWith('@') ? `${parts[0]}/${parts[1]}` : (parts[0] ?? url);
  }
  return url.split('/').slice(-2).join('/');
}

function add<Key>(map: Map<Key, number>, key: Key, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

function accumulate(profile: CpuProfile, totals: Totals, callersOf: string | undefined): void {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes)
    for (const child of node.children ?? []) parent.set(child, node.id);
  const selfTime = new Map<number, number>();
  profile.samples.forEach((id, index) => add(selfTime, id, profile.timeDeltas[index] ?? 0));
  for (const [id, micros] of selfTime) {
    const node = nodes.get(id);
    if (node === undefined || node.callFrame.functionName === '(idle)') continue;
    const frame = node.callFrame;
    totals.busy += micros;
    add(totals.byModule, moduleOf(frame), micros);
    const name = frame.functionName === '' ? '(anonymous)' : frame.functionName;
    add(
      totals.byFunction,
      `${name} ${frame.url.split('/').pop() ?? ''}:${frame.lineNumber}`,
      micros,
    );
    if (callersOf !== undefined && name === callersOf) {
      const chain: string[] = [];
      for (let at = parent.get(id); at !== undefined && chain.length < 4; at = parent.get(at)) {
        const caller = nodes.get(at)?.callFrame;
        if (caller === undefined || caller.url.startsWith('node:')) continue;
        chain.push(
          `${caller.functionName || '(anonymous)'}@${caller.url.split('/').pop() ?? ''}:${caller.lineNumber}`,
        );
      }
      add(totals.callers, chain.join(' < '), micros);
    }
  }
}

function load(dir: string, callersOf: string | undefined): Totals {
  const totals: Totals = {
    byModule: new Map(),
    byFunction: new Map(),
    callers: new Map(),
    busy: 0,
  };
  const files = readdirSync(dir).filter((name) => name.endsWith('.cpuprofile'));
  if (files.length === 0) throw new Error(`no .cpuprofile files in ${dir}`);
  for (const name of files) {
    accumulate(JSON.parse(readFileSync(join(dir, name), 'utf8')) as CpuProfile, totals, callersOf);
  }
  return totals;
}

function option(name: string): string | undefined {
  const at = process.argv.indexOf(name);
  return at >= 0 ? process.argv[at + 1] : undefined;
}

function main(): void {
  const dir = process.argv[2];
  if (dir === undefined || dir.startsWith('--')) {
    throw new Error(
      'usage: profile-summary <dir> [--baseline <dir>] [--signatures <n>] [--top <k>] [--callers <name>]',
    );
  }
  const callersOf = option('--callers');
  const baselineDir = option('--baseline');
  const signatures = Number(option('--signatures') ?? Number.NaN);
  const top = Number(option('--top') ?? 30);
  const run = load(dir, callersOf);
  const baseline = baselineDir === undefined ? undefined : load(baselineDir, callersOf);
  const busy = run.busy - (baseline?.busy ?? 0);
  const perSignature = (micros: number): number | null =>
    Number.isFinite(signatures) && signatures > 0
      ? Math.round((micros / 1000 / signatures) * 1000) / 1000
      : null;
  const rows = (kind: string, map: Map<string, number>, other: Map<string, number> | undefined) =>
    [...map]
      .map(([name, micros]) => [name, micros - (other?.get(name) ?? 0)] as const)
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, micros]) => ({
        profile: kind,
        name,
        share: Math.round((micros / busy) * 1000) / 1000,
        ms: Math.round(micros) / 1000,
        ms_per_signature: perSignature(micros),
      }));
  const out = (value: unknown): void => void process.stdout.write(`${JSON.stringify(value)}\n`);
  out({ profile: 'total', busy_ms: Math.round(busy) / 1000, ms_per_signature: perSignature(busy) });
  if (callersOf !== undefined) {
    for (const row of rows('callers', run.callers, baseline?.callers)) out(row);
    return;
  }
  for (const row of rows('module', run.byModule, baseline?.byModule)) out(row);
  for (const row of rows('function', run.byFunction, baseline?.byFunction)) out(row);
}

main();
