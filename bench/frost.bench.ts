/**
 * FROST(Ed25519) CPU cost per party, in process (no network): 2-of-3 keygen and signing.
 * Each party's `round`/`finish` calls are timed individually in process CPU time
 * (`process.cpuUsage()`: other load on the machine does not count; V8's helper threads, e.g.
 * GC, do) and summed per party. Prints JSON lines on stdout:
 *   {"bench":"frost.keygen.2of3.party_cpu", "p50_ms", "p95_ms", "samples"}
 *   {"bench":"frost.sign.2of3.party_cpu", "tweak", "p50_ms", "p95_ms", "round0_p50_ms",
 *    "round1_p50_ms", "finish_p50_ms", "samples"}
 *   {"bench":"frost.key_share.decode", "p50_ms", "samples"}
 *   {"bench":"hd.ed25519.derive_depth5", "p50_ms", "samples"}
 * Every signature is checked with node:crypto before it counts. Progress goes to stderr.
 * Samples: BENCH_FROST_KEYGEN_SAMPLES (default 30), BENCH_FROST_SIGN_SAMPLES (default 200).
 */
import { createPublicKey, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  createFrostKeygenProtocol,
  createFrostSigningProtocol,
  decodeFrostKeyShare,
  encodeFrostKeyShare,
  type FrostKeyShare,
} from '../signer/crypto/frost/index.ts';
import { runToCompletion } from '../signer/crypto/frost/test-driver.ts';
import { deriveEd25519Child } from '../signer/crypto/hd/index.ts';
import type { PartyId, RoundInput, RoundProtocol } from '../signer/crypto/round-protocol.ts';

const KEYGEN_SAMPLES = Number(process.env['BENCH_FROST_KEYGEN_SAMPLES'] ?? 30);
const SIGN_SAMPLES = Number(process.env['BENCH_FROST_SIGN_SAMPLES'] ?? 200);
const WARMUP = 20;

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Per-party, per-step timings of one run. */
type StepTimes = Map<PartyId, number[]>;

function timed<Result>(protocol: RoundProtocol<Result>, times: StepTimes): RoundProtocol<Result> {
  const steps: number[] = [];
  times.set(protocol.self, steps);
  const measure = <T>(run: () => T): T => {
    const start = process.cpuUsage();
    try {
      return run();
    } finally {
      const used = process.cpuUsage(start);
      steps.push((used.user + used.system) / 1000);
    }
  };
  return {
    rounds: protocol.rounds,
    self: protocol.self,
    participants: protocol.participants,
    round: (index: number, input: RoundInput) => measure(() => protocol.round(index, input)),
    finish: (input: RoundInput) => measure(() => protocol.finish(input)),
    wipe: () => protocol.wipe(),
  };
}

const participants = [1, 2, 3];

function keygen(times: StepTimes): Map<PartyId, FrostKeyShare> {
  const sessionId = crypto.getRandomValues(new Uint8Array(16));
  return runToCompletion(
    participants.map((self) =>
      timed(createFrostKeygenProtocol({ self, participants, threshold: 1, sessionId }), times),
    ),
  );
}

function sign(
  shares: Map<PartyId, FrostKeyShare>,
  signers: PartyId[],
  message: Uint8Array,
  tweak: bigint,
  times: StepTimes,
): Uint8Array {
  const sessionId = crypto.getRandomValues(new Uint8Array(16));
  const results = runToCompletion(
    signers.map((self) =>
      timed(
        createFrostSigningProtocol({
          share: shares.get(self) as FrostKeyShare,
          signers,
          sessionId,
          message,
          tweak,
        }),
        times,
      ),
    ),
  );
  const result = results.get(signers[0] as PartyId);
  if (result === undefined) throw new Error('no result');
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(result.publicKey).toString('base64url') },
    format: 'jwk',
  });
  if (!verify(null, message, key, result.signature)) throw new Error('signature does not verify');
  return result.signature;
}

function benchKeygen(): Map<PartyId, FrostKeyShare> {
  const perParty: number[] = [];
  let shares: Map<PartyId, FrostKeyShare> | undefined;
  for (let sample = 0; sample < KEYGEN_SAMPLES + 3; sample++) {
    const times: StepTimes = new Map();
    shares = keygen(times);
    if (sample < 3) continue;
    for (const steps of times.values()) perParty.push(steps.reduce((a, b) => a + b, 0));
  }
  console.log(
    JSON.stringify({
      bench: 'frost.keygen.2of3.party_cpu',
      p50_ms: round(percentile(perParty, 50)),
      p95_ms: round(percentile(perParty, 95)),
      samples: perParty.length,
    }),
  );
  return shares as Map<PartyId, FrostKeyShare>;
}

function benchSigning(shares: Map<PartyId, FrostKeyShare>, tweak: bigint): void {
  const totals: number[] = [];
  const perStep: number[][] = [[], [], []];
  const pairs: PartyId[][] = [
    [1, 2],
    [1, 3],
    [2, 3],
  ];
  for (let sample = 0; sample < SIGN_SAMPLES + WARMUP; sample++) {
    const times: StepTimes = new Map();
    const message = crypto.getRandomValues(new Uint8Array(64));
    sign(shares, pairs[sample % 3] as PartyId[], message, tweak, times);
    if (sample < WARMUP) continue;
    for (const steps of times.values()) {
      totals.push(steps.reduce((a, b) => a + b, 0));
      steps.forEach((value, index) => perStep[index]?.push(value));
    }
  }
  console.log(
    JSON.stringify({
      bench: 'frost.sign.2of3.party_cpu',
      tweak: tweak !== 0n,
      p50_ms: round(percentile(totals, 50)),
      p95_ms: round(percentile(totals, 95)),
      round0_p50_ms: round(percentile(perStep[0] as number[], 50)),
      round1_p50_ms: round(percentile(perStep[1] as number[], 50)),
      finish_p50_ms: round(percentile(perStep[2] as number[], 50)),
      samples: totals.length,
    }),
  );
}

function benchDecode(shares: Map<PartyId, FrostKeyShare>): void {
  const encoded = encodeFrostKeyShare(shares.get(1) as FrostKeyShare);
  const times: number[] = [];
  for (let sample = 0; sample < SIGN_SAMPLES + WARMUP; sample++) {
    const start = performance.now();
    decodeFrostKeyShare(encoded);
    if (sample >= WARMUP) times.push(performance.now() - start);
  }
  console.log(
    JSON.stringify({
      bench: 'frost.key_share.decode',
      p50_ms: round(percentile(times, 50)),
      samples: times.length,
    }),
  );
}

function benchDerive(shares: Map<PartyId, FrostKeyShare>): bigint {
  const master = (shares.get(1) as FrostKeyShare).publicKey;
  const chainCode = crypto.getRandomValues(new Uint8Array(32));
  const times: number[] = [];
  let tweak = 0n;
  for (let sample = 0; sample < SIGN_SAMPLES + WARMUP; sample++) {
    const start = performance.now();
    tweak = deriveEd25519Child(master, chainCode, [44, 501, sample, 0, 7]).tweak;
    if (sample >= WARMUP) times.push(performance.now() - start);
  }
  console.log(
    JSON.stringify({
      bench: 'hd.ed25519.derive_depth5',
      p50_ms: round(percentile(times, 50)),
      samples: times.length,
    }),
  );
  return tweak;
}

console.error('bench: frost keygen 2-of-3');
const shares = benchKeygen();
console.error('bench: frost signing 2-of-3');
benchSigning(shares, 0n);
console.error('bench: hd derivation');
const tweak = benchDerive(shares);
console.error('bench: frost signing 2-of-3 with HD tweak');
benchSigning(shares, tweak);
benchDecode(shares);
