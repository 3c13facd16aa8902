/** ParticipationLog: durable per-operation session counts (security review M3). */
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ErrorCode } from '../protocol/errors.ts';
import { PARTICIPATION_LOG_FILE, ParticipationLog } from './participation-log.ts';

const KEY = `op.${'a'.repeat(64)}`;

function open(dataDir: string, now = () => 1_000_000) {
  return ParticipationLog.open({
    dataDir,
    maxSessionsPerOperation: 2,
    retentionMs: 60_000,
    maxOperations: 100,
    now,
  });
}

describe('ParticipationLog', () => {
  it('refuses a second concurrent session and counts sessions across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'participation-'));
    const log = await open(dataDir);
    const first = await log.begin(KEY);
    await expect(log.begin(KEY)).rejects.toMatchObject({ code: ErrorCode.SessionDuplicate });
    first.release();
    await log.close();
    // A restart remembers the session: one more is allowed (2 in all), then none.
    const reopened = await open(dataDir);
    expect(reopened.sessionsOf(KEY)).toBe(1);
    (await reopened.begin(KEY)).release();
    await expect(reopened.begin(KEY)).rejects.toMatchObject({ code: ErrorCode.SessionDuplicate });
    await reopened.close();
  });

  it('drops a torn last line and entries past the retention, and compacts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'participation-'));
    const log = await open(dataDir);
    (await log.begin(KEY)).release();
    (await log.begin(`op.${'b'.repeat(64)}`)).release();
    await log.close();
    appendFileSync(join(dataDir, PARTICIPATION_LOG_FILE), `1000000 op.${'c'.repeat(10)}`);
    const later = await open(dataDir, () => 1_000_000 + 61_000);
    expect(later.sessionsOf(KEY)).toBe(0);
    await later.close();
    expect(readFileSync(join(dataDir, PARTICIPATION_LOG_FILE), 'utf8')).toBe('');
  });

  it('rejects keys that could break the log format', async () => {
    const log = await open(mkdtempSync(join(tmpdir(), 'participation-')));
    await expect(log.begin('op with space\n')).rejects.toMatchObject({
      code: ErrorCode.MsgValidation,
    });
    await log.close();
  });
});
