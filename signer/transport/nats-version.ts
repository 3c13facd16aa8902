/**
 * Which nats-server versions the mpcium clients need, checked by a signer right after it
 * connects (`nc.info.version`).
 *
 * mpcium's Go client (`NewMPCClient`) creates its result consumers on the WorkQueue stream `mpc`
 * with `filter_subjects` (multi-filter consumers, nats-server ≥ 2.10). An older server ignores
 * that field, takes the consumer for an unfiltered one and refuses it beside the signers'
 * filtered durables (error 10099, "multiple non-filtered consumers not allowed on workqueue
 * stream"), and the Go client exits before sending any request. Our signers, our SDK and
 * mpcium's TS client use only the single `filter_subject`, which 2.9 understands.
 *
 * `natsServerVersionWarning` returns the text to log for a server older than 2.10, and
 * `undefined` for a current one or a version it cannot read (no guessing from an unknown
 * string). Pure.
 */

/** The first nats-server release with multi-filter consumers (Go `FilterSubjects`). */
export const MIN_NATS_SERVER_FOR_GO_CLIENT = { major: 2, minor: 10, patch: 0 } as const;

export interface ServerVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
}

/** `2.10.27`, `v2.9.10`, `2.11.0-RC.1` → numbers; anything else → undefined. */
export function parseServerVersion(version: string): ServerVersion | undefined {
  const match = /^v?(\d{1,4})\.(\d{1,4})\.(\d{1,4})(?:[-+][0-9A-Za-z.-]*)?$/.exec(version.trim());
  if (match === null) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), patch: Number(match[3]) };
}

function older(a: ServerVersion, b: ServerVersion): boolean {
  if (a.major !== b.major) return a.major < b.major;
  if (a.minor !== b.minor) return a.minor < b.minor;
  return a.patch < b.patch;
}

/** The warning to log when `version` (from the server's INFO) is too old for mpcium's Go client. */
export function natsServerVersionWarning(version: string | undefined): string | undefined {
  if (version === undefined) return undefined;
  const parsed = parseServerVersion(version);
  if (parsed === undefined || !older(parsed, MIN_NATS_SERVER_FOR_GO_CLIENT)) return undefined;
  const { major, minor, patch } = MIN_NATS_SERVER_FOR_GO_CLIENT;
  return (
    `nats-server ${version} is too old for mpcium's Go client: it needs ` +
    `${major}.${minor}.${patch} or newer (multi-filter consumers, "filter_subjects"). Go clients ` +
    `will fail at start with NATS error 10099; our SDK and mpcium's TS client still work. ` +
    `Upgrade nats-server.`
  );
}
