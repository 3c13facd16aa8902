/**
 * DKLs23 (signer/crypto/dkls23) CPU benchmark, in process, one thread, no network. JSON lines:
 *   {"bench":"dkls23.sign","config":"2-of-3","cpu_ms_per_party_p50","cpu_ms_per_party_mean","bytes_sent_per_party","samples"}
 *   {"bench":"dkls23.keygen","config":"2-of-3","cpu_ms_per_party_mean","cpu_ms_per_party_max","bytes_sent_per_party"}
 *   {"bench":"dkls23.component","name":..., "ms_p50"}   the hot steps of one RVOLE
 * Per-party time is the sum of that party's round()/finish() calls (synchronous, so wall time on
 * an otherwise idle thread = CPU time). Bytes count every delivered payload once per recipient.
 * Signing uses dealer-made shares (identical in shape to DKG output); keygen runs real base OTs.
 * Env: BENCH_DKLS23_SIGN_SAMPLES (20), BENCH_DKLS23_KEYGEN_3OF5=1 to also time 3-of-5 keygen.
 */
import type { PartyId } from '../signer/crypto/round-protocol.ts';
import {
  dealKeyShares,
  runKeygen,
  runSigning,
  seededRandom,
  values,
} from '../signer/crypto/dkls23/test-helpers.ts';
import type { DriverOptions } from '../signer/crypto/dkls23/test-driver.ts';
import { otExtensionReceive, otExtensionSend } from '../signer/crypto/dkls23/ot-extension.ts';
import {
  rvoleReceiverFinish,
  rvoleReceiverStart,
  rvoleSenderRespond,
} from '../signer/crypto/dkls23/rvole.ts';
import { transposeBits } from '../signer/crypto/dkls23/bit-matrix.ts';
import { gf128Multiply } from '../signer/crypto/dkls23/gf128.ts';
import { BATCH, KAPPA, SEED_BYTES } from '../signer/crypto/dkls23/params.ts';

const SIGN_SAMPLES = Number(process.env['BENCH_DKLS23_SIGN_SAMPLES'] ?? 20);

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}
const round2 = (value: number): number => Math.round(value * 100) / 100;

function meter(): {
  driver: DriverOptions;
  cpu: Map<PartyId, number>;
  bytes: Map<PartyId, number>;
} {
  const cpu = new Map<PartyId, number>();
  const bytes = new Map<PartyId, number>();
  return {
    cpu,
    bytes,
    driver: {
      onCall: (party, _round, ms) => cpu.set(party, (cpu.get(party) ?? 0) + ms),
      intercept: (delivery) => {
        bytes.set(delivery.from, (bytes.get(delivery.from) ?? 0) + delivery.payload.length);
        return delivery.payload;
      },
    },
  };
}

function benchSigning(threshold: number, n: number): void {
  const participants = Array.from({ length: n }, (_, i) => i + 1);
  const shares = dealKeyShares(threshold, participants, seededRandom(`bench-${n}`));
  const signers = participants.slice(0, threshold + 1);
  for (let warm = 0; warm < 3; warm++)
    values(runSigning({ shares, signers, digest: new Uint8Array(32).fill(warm + 1) }));
  const perParty: number[] = [];
  let bytesPerParty = 0;
  for (let sample = 0; sample < SIGN_SAMPLES; sample++) {
    const { driver, cpu, bytes } = meter();
    const digest = new Uint8Array(32).fill(sample + 7);
    values(
      runSigning({ shares, signers, digest, sessionId: new Uint8Array(32).fill(sample), driver }),
    );
    for (const ms of cpu.values()) perParty.push(ms);
    bytesPerParty = [...bytes.values()].reduce((a, b) => a + b, 0) / signers.length;
    process.stderr.write('.');
  }
  process.stderr.write('\n');
  console.log(
    JSON.stringify({
      bench: 'dkls23.sign',
      config: `${threshold + 1}-of-${n}`,
      cpu_ms_per_party_p50: round2(median(perParty)),
      cpu_ms_per_party_mean: round2(perParty.reduce((a, b) => a + b, 0) / perParty.length),
      bytes_sent_per_party: Math.round(bytesPerParty),
      samples: SIGN_SAMPLES,
    }),
  );
}

function benchKeygen(threshold: number, n: number): void {
  const participants = Array.from({ length: n }, (_, i) => i + 1);
  const { driver, cpu, bytes } = meter();
  values(runKeygen(threshold, participants, new Uint8Array(32).fill(n), undefined, driver));
  const times = [...cpu.values()];
  console.log(
    JSON.stringify({
      bench: 'dkls23.keygen',
      config: `${threshold + 1}-of-${n}`,
      cpu_ms_per_party_mean: round2(times.reduce((a, b) => a + b, 0) / times.length),
      cpu_ms_per_party_max: round2(Math.max(...times)),
      bytes_sent_per_party: Math.round([...bytes.values()].reduce((a, b) => a + b, 0) / n),
    }),
  );
}

function timeIt(name: string, iterations: number, body: () => void): void {
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    body();
    samples.push(performance.now() - start);
  }
  console.log(
    JSON.stringify({
      bench: 'dkls23.component',
      name,
      ms_p50: round2(median(samples)),
      iterations,
    }),
  );
}

function benchComponents(): void {
  const random = seededRandom('bench-components');
  const delta = random(KAPPA / 8).slice();
  const seeds0 = random(KAPPA * SEED_BYTES).slice();
  const seeds1 = random(KAPPA * SEED_BYTES).slice();
  const seeds = new Uint8Array(KAPPA * SEED_BYTES);
  for (let l = 0; l < KAPPA; l++) {
    const bit = ((delta[l >> 3] as number) >> (l & 7)) & 1;
    seeds.set((bit ? seeds1 : seeds0).subarray(l * 32, l * 32 + 32), l * 32);
  }
  const sid = new Uint8Array(32);
  const sender = { delta, seeds };
  const receiver = { seeds0, seeds1 };
  const choice = random(BATCH / 8);
  const received = otExtensionReceive(receiver, sid, choice, random);
  const matrix = random(KAPPA * 80);
  const a = random(16);
  const b = random(16);
  timeIt('transpose 256x640', 50, () => transposeBits(matrix, KAPPA, 80, BATCH));
  timeIt('gf128 multiply incl. table build x1280', 20, () => {
    for (let i = 0; i < 1280; i++) gf128Multiply(a, b);
  });
  timeIt('kos receiver (PRG, u, check values, transpose)', 20, () =>
    otExtensionReceive(receiver, sid, choice, random),
  );
  timeIt('kos sender (PRG, check, transpose)', 20, () =>
    otExtensionSend(sender, sid, received.message, 2),
  );
  const bob = rvoleReceiverStart(receiver, sid, random);
  timeIt('rvole sender (kos sender + 1024 row hashes + τ, μ)', 10, () =>
    rvoleSenderRespond(sender, sid, bob.message, [1n, 2n], random, 2),
  );
  const alice = rvoleSenderRespond(sender, sid, bob.message, [1n, 2n], random, 2);
  timeIt('rvole receiver finish (512 row hashes, μ check)', 10, () =>
    rvoleReceiverFinish(bob.state, sid, alice.message, 1),
  );
}

benchComponents();
benchSigning(1, 3);
benchSigning(2, 5);
benchKeygen(1, 3);
if (process.env['BENCH_DKLS23_KEYGEN_3OF5'] === '1') benchKeygen(2, 5);
