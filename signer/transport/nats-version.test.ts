import { describe, expect, it } from 'vitest';
import { natsServerVersionWarning, parseServerVersion } from './nats-version.ts';

describe('nats-server version check', () => {
  it('parses release, v-prefixed and pre-release versions', () => {
    expect(parseServerVersion('2.10.27')).toEqual({ major: 2, minor: 10, patch: 27 });
    expect(parseServerVersion('v2.9.10')).toEqual({ major: 2, minor: 9, patch: 10 });
    expect(parseServerVersion('2.11.0-RC.1')).toEqual({ major: 2, minor: 11, patch: 0 });
    for (const bad of ['', '2.10', 'x2.10.0', '2.10.0 extra', 'latest', '2..1']) {
      expect(parseServerVersion(bad)).toBeUndefined();
    }
  });

  it('warns for every server older than 2.10.0, and only for those', () => {
    for (const old of ['2.9.10', '2.9.25', '2.2.0', '1.4.1', 'v2.9.99', '2.9.10-beta']) {
      const warning = natsServerVersionWarning(old);
      expect(warning).toContain(`nats-server ${old} is too old for mpcium's Go client`);
      expect(warning).toContain('2.10.0 or newer');
      expect(warning).toContain('filter_subjects');
    }
    // Compared as numbers, not strings ("2.10" < "2.9" as text).
    for (const current of ['2.10.0', '2.10.0-RC.1', '2.10.27', '2.11.0', '2.15.3', '3.0.0']) {
      expect(natsServerVersionWarning(current)).toBeUndefined();
    }
  });

  it('stays quiet when the version is unknown or unreadable', () => {
    expect(natsServerVersionWarning(undefined)).toBeUndefined();
    expect(natsServerVersionWarning('unknown')).toBeUndefined();
  });
});
