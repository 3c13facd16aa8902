/**
 * A/B comparison of the in-process protocol costs of this build and another checkout's, in one
 * process, alternating sample by sample, so drift in the machine's speed (1.5× between runs
 * minutes apart was seen on the 2-core machine) hits both sides alike. Not part of `npm run
 * bench`:
 *
 *   npx tsc -p tsconfig.bench.json            # here, and in the other checkout
 *   BENCH_AB_OTHER=/path/to/other/checkout node dist-bench/bench/ab.js
 *
 * Each side imports its own build's modules (its own WebAssembly instances, its own caches).
 * Prints JSON lines {"bench":"ab.frost.sign.2of3"|"ab.dkls23.sign.2of3", "this_p50_ms",
 * "other_p50_ms", "ratio" (this / other), "samples"}: wall time of one whole in-process signing
 * (both parties), the same inputs on both sides. Samples: BENCH_AB_SAMPLES (default 150).
 */
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const SAMPLES = Number(process.env['BENCH_AB_SAMPLES'] ?? 150);
const WARMUP = 5;

/** One side's signing of sample `index` (both parties, in process). */
type Signing = (index: number) => void;

interface Dkls23Helpers {
  dealKeyShares(threshold: number, participants: number[], random: unknown): unknown;
  seededRandom(seed: string): unknown;
  runSigning(options: {
    shares: unknown;
    signers: number[];
    digest: Uint8Array;
    sessionId: Uint8Array;
  }): unknown;
  values(outcomes: unknown): unknown;
}

interface FrostModules {
  readonly frost: {
    createFrostKeygenProtocol(options: {
      self: number;
      participants: number[];
      threshold: number;
      sessionId: Uint8Array;
    }): unknown;
    createFrostSigningProtocol(options: {
      share: unknown;
      signers: number[];
      sessionId: Uint8Array;
      message: Uint8Array;
    }): unknown;
  };
  readonly driver: { runToCompletion(parties: unknown[]): Map<number, unknown> };
}

async function load<Module>(root: string, path: string): Promise<Module> {
  return (await import(pathToFileURL(join(root, 'dist-bench', path)).href)) as Module;
}

async function dkls23Signing(root: string): Promise<Signing> {
  const helpers = await load<Dkls23Helpers>(root, 'signer/crypto/dkls23/test-helpers.js');
  const shares = helpers.dealKeyShares(1, [1, 2, 3], helpers.seededRandom('ab-dkls23'));
  return (index) => {
    const bytes = new Uint8Array(32).fill(index & 0xff);
    helpers.values(
      helpers.runSigning({ shares, signers: [1, 2], digest: bytes, sessionId: bytes }),
    );
  };
}

async function frostSigning(root: string): Promise<Signing> {
  const modules: FrostModules = {
    frost: await load(root, 'signer/crypto/frost/index.js'),
    driver: await load(root, 'signer/crypto/frost/test-driver.js'),
  };
  const participants = [1, 2, 3];
  const keygenSession = new Uint8Array(16).fill(7);
  const shares = modules.driver.runToCompletion(
    participants.map((self) =>
      modules.frost.createFrostKeygenProtocol({
        self,
        participants,
        threshold: 1,
        sessionId: keygenSession,
      }),
    ),
  );
  return (index) => {
    const message = new Uint8Array(64).fill(index & 0xff);
    const sessionId = new Uint8Array(16).fill(index & 0xff);
    modules.driver.runToCompletion(
      [1, 2].map((self) =>
        modules.frost.createFrostSigningProtocol({
          share: shares.get(self),
          signers: [1, 2],
          sessionId,
          message,
        }),
      ),
    );
  };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function compare(bench: string, mine: Signing, theirs: Signing): void {
  const sides = [mine, theirs];
  const times: number[][] = [[], []];
  for (let index = 0; index < WARMUP; index++) for (const side of sides) side(index);
  for (let index = 0; index < SAMPLES; index++) {
    // Alternate which side goes first, so neither always runs right after the other.
    for (const which of index % 2 === 0 ? [0, 1] : [1, 0]) {
      const started = performance.now();
      (sides[which] as Signing)(index);
      (times[which] as number[]).push(performance.now() - started);
    }
  }
  const [mineP50, theirsP50] = times.map(median) as [number, number];
  console.log(
    JSON.stringify({
      bench,
      this_p50_ms: Math.round(mineP50 * 100) / 100,
      other_p50_ms: Math.round(theirsP50 * 100) / 100,
      ratio: Math.round((mineP50 / theirsP50) * 1000) / 1000,
      samples: SAMPLES,
    }),
  );
}

async function main(): Promise<void> {
  const other = process.env['BENCH_AB_OTHER'];
  if (other === undefined || other === '') {
    throw new Error('set BENCH_AB_OTHER to another checkout built with tsconfig.bench.json');
  }
  const here = resolve(import.meta.dirname, '../..');
  compare('ab.frost.sign.2of3', await frostSigning(here), await frostSigning(resolve(other)));
  compare('ab.dkls23.sign.2of3', await dkls23Signing(here), await dkls23Signing(resolve(other)));
}

await main();
