/**
 * Pool plumbing against a stub worker script (plain JS; the real party-worker needs the build
 * and is exercised by test/integration/worker-pool.test.ts): scheduling, share hand-over,
 * crash handling and replacement, wipe and close semantics.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { RoundInput } from '../crypto/round-protocol.ts';
import {
  InvalidPartySpecError,
  PartyReleasedError,
  PartyWorkerCrashedError,
  PartyWorkerError,
} from './worker-errors.ts';
import { PartyWorkerPool, defaultPoolSize } from './worker-pool.ts';
import type { PartySpec } from './worker-messages.ts';

/**
 * Stub behaviours, chosen by `options.behaviour`: rounds echo the party handle; 'crash' exits
 * the thread in round 1; 'throw' throws an uncaught error in round 1; 'hang' never answers
 * round 1; 'fail' answers round 1 with a protocol error. `share` is echoed back on finish.
 */
const STUB = `
import { parentPort, threadId } from 'node:worker_threads';
const behaviours = new Map();
const shares = new Map();
parentPort.on('message', (m) => {
  if (m.kind === 'create') {
    behaviours.set(m.party, m.spec.options.behaviour);
    if (m.spec.share) shares.set(m.party, m.spec.share);
    parentPort.postMessage({ kind: 'created', call: m.call, rounds: 2 });
  } else if (m.kind === 'round') {
    const behaviour = behaviours.get(m.party);
    if (m.index === 1 && behaviour === 'crash') process.exit(7);
    if (m.index === 1 && behaviour === 'throw') throw new Error('secret 0xdeadbeef');
    if (m.index === 1 && behaviour === 'hang') return;
    if (m.index === 1 && behaviour === 'fail') {
      parentPort.postMessage({ kind: 'failed', call: m.call, error: { name: 'Dkls23GammaCheckError',
        message: 'gamma check failed for party 2', code: 'DKLS23_GAMMA_CHECK_FAILED', counterparty: 2, banPair: true } });
      return;
    }
    const payload = new Uint8Array([m.party, threadId]);
    parentPort.postMessage({ kind: 'output', call: m.call, output: { broadcast: payload } }, [payload.buffer]);
  } else if (m.kind === 'finish') {
    parentPort.postMessage({ kind: 'result', call: m.call, result: { share: shares.get(m.party) ?? null } });
  }
});
`;

const directory = mkdtempSync(join(tmpdir(), 'party-worker-stub-'));
const stubUrl = pathToFileURL(join(directory, 'stub-worker.mjs'));
writeFileSync(stubUrl, STUB);

const EMPTY: RoundInput = { broadcast: new Map(), direct: new Map() };
const pools: PartyWorkerPool[] = [];

function stubPool(size: number): PartyWorkerPool {
  const pool = new PartyWorkerPool({ size, workerUrl: stubUrl });
  pools.push(pool);
  return pool;
}

function spec(behaviour: string): PartySpec {
  return { protocol: 'frost-keygen', options: { behaviour } as never };
}

afterEach(async () => {
  await Promise.all(pools.splice(0).map((pool) => pool.close()));
});
afterAll(() => rmSync(directory, { recursive: true, force: true }));

describe('defaultPoolSize', () => {
  it('leaves a core for the event loop, at least 1, at most 4', () => {
    expect([1, 2, 3, 5, 6, 64].map((cores) => defaultPoolSize(cores))).toEqual([1, 1, 2, 4, 4, 4]);
    expect(defaultPoolSize()).toBeGreaterThanOrEqual(1);
  });

  it('rejects a bad size, naming the field', () => {
    for (const size of [0, 1.5, 65, Number.NaN]) {
      expect(() => new PartyWorkerPool({ size })).toThrow(InvalidPartySpecError);
    }
  });
});

describe('PartyWorkerPool', () => {
  it('refuses to start without the compiled worker script, naming it and wiping the share', async () => {
    const pool = new PartyWorkerPool({ size: 1 });
    pools.push(pool);
    const share = Uint8Array.of(9, 9);
    const error = await pool
      .createDriver({
        protocol: 'frost-sign',
        share,
        options: { signers: [1, 2], sessionId: new Uint8Array(4), message: new Uint8Array(1) },
      })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InvalidPartySpecError);
    expect((error as InvalidPartySpecError).field).toBe('workerUrl');
    expect([...share]).toEqual([0, 0]);
  });

  it('places parties on the least-loaded worker and frees the slot on wipe', async () => {
    const pool = stubPool(2);
    const first = await pool.createDriver(spec('ok'));
    const second = await pool.createDriver(spec('ok'));
    const third = await pool.createDriver(spec('ok'));
    expect(pool.loads).toEqual([2, 1]);
    const threads = new Set<number>();
    for (const driver of [first, second, third]) {
      expect(driver.rounds).toBe(2);
      threads.add((await driver.round(0, EMPTY)).broadcast![1]!);
    }
    expect(threads.size).toBe(2);
    first.wipe();
    first.wipe();
    expect(pool.loads).toEqual([1, 1]);
    await expect(first.round(1, EMPTY)).rejects.toBeInstanceOf(PartyReleasedError);
    await pool.createDriver(spec('ok'));
    expect(pool.loads).toEqual([2, 1]);
  });

  it('hands the share over: the caller bytes are wiped, the worker gets a copy', async () => {
    const pool = stubPool(1);
    const share = Uint8Array.of(1, 2, 3);
    const driver = await pool.createDriver({
      protocol: 'dkls23-sign',
      share,
      options: { signers: [1, 2], sessionId: new Uint8Array(4), digest: new Uint8Array(32) },
    });
    expect([...share]).toEqual([0, 0, 0]);
    await driver.round(0, EMPTY);
    const result = (await driver.finish(EMPTY)) as unknown as { share: Uint8Array };
    expect([...result.share]).toEqual([1, 2, 3]);
    expect(pool.loads).toEqual([0]);
    await expect(driver.finish(EMPTY)).rejects.toBeInstanceOf(PartyReleasedError);
  });

  it('returns protocol failures typed, with counterparty and banPair, and releases the party', async () => {
    const pool = stubPool(1);
    const driver = await pool.createDriver(spec('fail'));
    await driver.round(0, EMPTY);
    const error = await driver.round(1, EMPTY).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PartyWorkerError);
    expect(error).toMatchObject({
      name: 'Dkls23GammaCheckError',
      code: 'DKLS23_GAMMA_CHECK_FAILED',
      counterparty: 2,
      banPair: true,
    });
    expect(pool.loads).toEqual([0]);
    await expect(driver.round(1, EMPTY)).rejects.toBeInstanceOf(PartyReleasedError);
  });

  it.each(['crash', 'throw'])(
    'a worker that dies (%s) fails its parties and is replaced on demand',
    async (behaviour) => {
      const pool = stubPool(1);
      const doomed = await pool.createDriver(spec(behaviour));
      const bystander = await pool.createDriver(spec('hang'));
      await doomed.round(0, EMPTY);
      await bystander.round(0, EMPTY);
      const stuck = bystander.round(1, EMPTY).catch((caught: unknown) => caught);
      const error = await doomed.round(1, EMPTY).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(PartyWorkerCrashedError);
      expect((error as Error).message).not.toContain('deadbeef');
      // The bystander's call was queued behind the crash: it fails too, with the same error.
      expect(await stuck).toBeInstanceOf(PartyWorkerCrashedError);
      await expect(bystander.round(1, EMPTY)).rejects.toBeInstanceOf(PartyWorkerCrashedError);
      bystander.wipe();
      expect(pool.loads).toEqual([0]);
      const fresh = await pool.createDriver(spec('ok'));
      expect((await fresh.round(0, EMPTY)).broadcast).toBeInstanceOf(Uint8Array);
    },
  );

  it('wipe rejects a pending call at once', async () => {
    const pool = stubPool(1);
    const driver = await pool.createDriver(spec('hang'));
    await driver.round(0, EMPTY);
    const pending = driver.round(1, EMPTY).catch((caught: unknown) => caught);
    driver.wipe();
    expect(await pending).toBeInstanceOf(PartyReleasedError);
  });

  it('close rejects pending calls and later creates; invalid specs are refused before posting', async () => {
    const pool = stubPool(1);
    const driver = await pool.createDriver(spec('hang'));
    await driver.round(0, EMPTY);
    const pending = driver.round(1, EMPTY).catch((caught: unknown) => caught);
    await pool.close();
    expect(await pending).toBeInstanceOf(PartyReleasedError);
    await expect(pool.createDriver(spec('ok'))).rejects.toBeInstanceOf(PartyReleasedError);
    await expect(
      stubPool(1).createDriver({ protocol: 'nope', options: {} } as unknown as PartySpec),
    ).rejects.toBeInstanceOf(InvalidPartySpecError);
  });
});
