/**
 * PartyWorkerPool against the BUILD output (Node 20 cannot start a worker from TypeScript):
 * a 2-of-3 DKLs23 keygen and signing run in worker threads through the session runner over
 * an in-memory network; protocol errors come back typed with their counterparty; the calling
 * thread's event loop keeps ticking during a keygen. Run after `npm run build`.
 */
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartyId, RoundInput, RoundOutput } from '../../signer/crypto/round-protocol.ts';
import type * as ErrorsSource from '../../signer/session/worker-errors.ts';
import type * as PoolSource from '../../signer/session/worker-pool.ts';
import type { EncodedKeygenResult } from '../../signer/session/worker-messages.ts';
import {
  RoundRunner,
  type PartyDriver,
  type RoundNetwork,
} from '../../signer/session/round-runner.ts';

type PoolModule = typeof PoolSource;
type ErrorsModule = typeof ErrorsSource;

const distPool = new URL('../../dist/signer/session/worker-pool.js', import.meta.url);
const distErrors = new URL('../../dist/signer/session/worker-errors.js', import.meta.url);

const NODES = new Map<PartyId, string>([
  [1, 'node-a'],
  [2, 'node-b'],
  [3, 'node-c'],
]);

/** Runs one runner per driver over an in-memory network; resolves with every result. */
async function runSession<Result>(
  sessionId: string,
  drivers: ReadonlyMap<PartyId, PartyDriver<Result>>,
): Promise<Map<PartyId, Result>> {
  const nodes = new Map([...NODES].filter(([party]) => drivers.has(party)));
  const runners = new Map<string, RoundRunner<Result>>();
  for (const [party, driver] of drivers) {
    const node = nodes.get(party) as string;
    const network: RoundNetwork = {
      broadcast: async (round, payload, peers) => {
        for (const peer of peers)
          runners.get(peer)?.deliver('broadcast', round, node, payload.slice());
      },
      direct: async (round, payload, peer) => {
        runners.get(peer)?.deliver('direct', round, node, payload.slice());
      },
      probe: async () => undefined,
    };
    runners.set(
      node,
      new RoundRunner({
        sessionId,
        party: driver,
        nodeOfParty: nodes,
        self: party,
        network,
        roundTimeoutMs: 60_000,
        probeIntervalMs: 1_000,
      }),
    );
  }
  const results = await Promise.all(
    [...drivers.keys()].map((party) => runners.get(nodes.get(party) as string)!.run()),
  );
  return new Map([...drivers.keys()].map((party, index) => [party, results[index] as Result]));
}

/** Lockstep router without the runner: lets a test tamper with one message. */
async function runLockstep<Result>(
  drivers: ReadonlyMap<PartyId, PartyDriver<Result>>,
  tamper: (
    round: number,
    from: PartyId,
    to: PartyId,
    kind: 'broadcast' | 'direct',
    payload: Uint8Array,
  ) => void,
): Promise<Map<PartyId, Result>> {
  const parties = [...drivers.keys()];
  const rounds = drivers.get(parties[0] as PartyId)!.rounds;
  let inputs = new Map<PartyId, RoundInput>(
    parties.map((party) => [party, { broadcast: new Map(), direct: new Map() }]),
  );
  for (let round = 0; round < rounds; round++) {
    const outputs = new Map<PartyId, RoundOutput>();
    for (const party of parties)
      outputs.set(party, await drivers.get(party)!.round(round, inputs.get(party)!));
    const next = new Map<
      PartyId,
      { broadcast: Map<PartyId, Uint8Array>; direct: Map<PartyId, Uint8Array> }
    >(parties.map((party) => [party, { broadcast: new Map(), direct: new Map() }]));
    for (const [from, output] of outputs) {
      for (const to of parties) {
        if (to === from) continue;
        if (output.broadcast !== undefined) {
          const copy = output.broadcast.slice();
          tamper(round, from, to, 'broadcast', copy);
          next.get(to)!.broadcast.set(from, copy);
        }
        const direct = output.direct?.get(to);
        if (direct !== undefined) {
          tamper(round, from, to, 'direct', direct);
          next.get(to)!.direct.set(from, direct);
        }
      }
    }
    inputs = next;
  }
  const results = new Map<PartyId, Result>();
  for (const party of parties)
    results.set(party, await drivers.get(party)!.finish(inputs.get(party)!));
  return results;
}

function randomBytes(length: number): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(length));
}

describe('PartyWorkerPool (build output)', () => {
  let pool: InstanceType<PoolModule['PartyWorkerPool']>;
  let errors: ErrorsModule;
  let keygen: Map<PartyId, EncodedKeygenResult>;
  let ticksDuringKeygen = 0;
  let maxLagMs = 0;

  beforeAll(async () => {
    if (!existsSync(distPool))
      throw new Error(`${distPool.pathname} missing: run \`npm run build\` first`);
    const { PartyWorkerPool } = (await import(distPool.href)) as PoolModule;
    errors = (await import(distErrors.href)) as ErrorsModule;
    pool = new PartyWorkerPool({ size: 2 });
  });

  afterAll(async () => {
    await pool?.close();
  });

  it('runs a 2-of-3 DKLs23 keygen in workers while the event loop keeps ticking', async () => {
    const sessionId = randomBytes(16);
    const participants = [1, 2, 3];
    const drivers = new Map<PartyId, PartyDriver<EncodedKeygenResult>>();
    for (const self of participants) {
      drivers.set(
        self,
        await pool.createDriver({
          protocol: 'dkls23-keygen',
          options: { self, participants, threshold: 1, sessionId },
        }),
      );
    }
    expect(pool.loads).toEqual([2, 1]);
    const intervalMs = 20;
    let last = performance.now();
    const started = last;
    const ticker = setInterval(() => {
      const now = performance.now();
      maxLagMs = Math.max(maxLagMs, now - last - intervalMs);
      last = now;
      ticksDuringKeygen += 1;
    }, intervalMs);
    try {
      keygen = await runSession('keygen', drivers);
    } finally {
      clearInterval(ticker);
    }
    const elapsedMs = performance.now() - started;
    process.stderr.write(
      `${JSON.stringify({ bench: 'worker-pool-dkls23-keygen-2of3', elapsedMs: Math.round(elapsedMs), ticks: ticksDuringKeygen, maxLagMs: Math.round(maxLagMs) })}\n`,
    );
    const publicKeys = [...keygen.values()].map((result) =>
      Buffer.from(result.publicKey).toString('hex'),
    );
    expect(new Set(publicKeys).size).toBe(1);
    expect(publicKeys[0]).toHaveLength(66);
    // The keygen takes seconds of CPU; with it on the calling thread, the timer could not fire.
    // Robust bound: a quarter of the ticks an idle loop would have produced.
    expect(ticksDuringKeygen).toBeGreaterThanOrEqual(Math.floor(elapsedMs / intervalMs / 4));
    expect(ticksDuringKeygen).toBeGreaterThanOrEqual(10);
    expect(pool.loads).toEqual([0, 0]);
  });

  it('signs with two of the three shares; the signature verifies (prehashed, lowS)', async () => {
    const digest = randomBytes(32);
    const sessionId = randomBytes(16);
    const signers = [1, 3];
    const drivers = new Map<
      PartyId,
      PartyDriver<{ r: Uint8Array; s: Uint8Array; publicKey: Uint8Array }>
    >();
    for (const party of signers) {
      const share = keygen.get(party)!.share.slice();
      drivers.set(
        party,
        await pool.createDriver({
          protocol: 'dkls23-sign',
          share,
          options: { signers, sessionId, digest },
        }),
      );
      expect(share.every((byte) => byte === 0)).toBe(true);
    }
    const signatures = await runSession('sign', drivers);
    for (const signature of signatures.values()) {
      const compact = new Uint8Array(64);
      compact.set(signature.r, 0);
      compact.set(signature.s, 32);
      expect(Buffer.from(signature.publicKey)).toEqual(Buffer.from(keygen.get(1)!.publicKey));
      expect(
        secp256k1.verify(compact, digest, signature.publicKey, { prehash: false, lowS: true }),
      ).toBe(true);
    }
  });

  it('returns protocol errors typed, naming the counterparty', async () => {
    const digest = randomBytes(32);
    const sessionId = randomBytes(16);
    const signers = [1, 2];
    const drivers = new Map<PartyId, PartyDriver<unknown>>();
    for (const party of signers) {
      drivers.set(
        party,
        await pool.createDriver({
          protocol: 'dkls23-sign',
          share: keygen.get(party)!.share.slice(),
          options: { signers, sessionId, digest },
        }),
      );
    }
    const failure = await runLockstep(drivers, (round, from, to, kind, payload) => {
      // Corrupt the last byte of party 2's first message to party 1.
      if (round === 0 && from === 2 && to === 1) payload[payload.length - 1]! ^= 1;
      void kind;
    }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(errors.PartyWorkerError);
    const error = failure as InstanceType<ErrorsModule['PartyWorkerError']>;
    expect(error.counterparty).toBe(2);
    expect(error.code).toMatch(/^DKLS23_/);
    expect(error.name).toMatch(/^Dkls23/);
    expect(typeof error.banPair).toBe('boolean');
    // The failed party was released by the worker: further calls reject.
    const failed = drivers.get(1)!;
    await expect(
      failed.round(1, { broadcast: new Map(), direct: new Map() }),
    ).rejects.toBeInstanceOf(errors.PartyReleasedError);
    for (const driver of drivers.values()) driver.wipe();
    expect(pool.loads).toEqual([0, 0]);
  });

  it('rejects invalid options with the factory error, and calls after wipe', async () => {
    const invalid = await pool
      .createDriver({
        protocol: 'dkls23-keygen',
        options: { self: 4, participants: [1, 2, 3], threshold: 1, sessionId: randomBytes(16) },
      })
      .catch((error: unknown) => error);
    expect(invalid).toBeInstanceOf(errors.PartyWorkerError);
    expect((invalid as { code: string }).code).toBe('DKLS23_INVALID_ARGUMENT');

    const driver = await pool.createDriver({
      protocol: 'frost-keygen',
      options: { self: 1, participants: [1, 2, 3], threshold: 1, sessionId: randomBytes(16) },
    });
    const output = await driver.round(0, { broadcast: new Map(), direct: new Map() });
    expect(output.broadcast).toBeInstanceOf(Uint8Array);
    driver.wipe();
    driver.wipe();
    await expect(
      driver.round(1, { broadcast: new Map(), direct: new Map() }),
    ).rejects.toBeInstanceOf(errors.PartyReleasedError);
  });
});
