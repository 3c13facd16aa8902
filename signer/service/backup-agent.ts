/**
 * Online backups on Kubernetes (issue 14 item 6): the running signer exports its own shares
 * for every MpcBackup of its cluster, without stopping, and reports the outcome on its Lease.
 *
 * Contract with the operator (operator/controller/backup-controller.ts):
 * - Trigger: every `backup.poll_interval_ms` the signer lists the MpcBackup objects of its
 *   namespace (RBAC: get/list mpcbackups; signers never write them). A one-off (no
 *   `spec.schedule`) whose `spec.clusterName` is this signer's cluster, whose phase is not
 *   yet Succeeded or Failed and that this signer has not reported is pending; pending
 *   backups are exported one at a time, oldest first.
 * - Archive: `<backup.dir>/<backup name>/<node id>.mpcbak` (store/backup.ts format 2, under
 *   the backup key read from `backup.key_file` for each export and wiped after; never the
 *   KEK). Written to a temp file, fsynced and linked into place, so a present archive is
 *   complete. The backup name is a path component: only DNS labels are accepted (the CRD
 *   refuses others too), and the resolved directory must lie directly inside `backup.dir`.
 * - Report: annotation `mpc-platform.dev/backups` on the signer's own Lease,
 *   `<Ed25519 signature, 128 hex>.<JSON>`: the signature by the signer's identity key over
 *   `reportSigningBytes` (domain, cluster, node id, JSON), so another signer sharing the
 *   ServiceAccount cannot forge or alter a peer's report (the operator verifies it under the
 *   pinned key; replaying an older report cannot claim a newer backup, whose uid it lacks).
 *   The JSON is an object
 *   backup name → `{ uid, sha256, bytes, wallets, shares, identity, completedAt }` or
 *   `{ uid, error, completedAt }` (uid: the MpcBackup's, so a deleted and recreated object of
 *   the same name is a new backup). Errors carry the error code and message of the store or file
 *   system (paths, ids), never key material.
 * - Lifetime: an archive lives as long as its MpcBackup. When the object is gone (deleted, or
 *   pruned by its schedule), the signer deletes its archive and its report at the next poll.
 *   A failed list changes nothing.
 *
 * Bounds (a flood of MpcBackup objects must not fill the volume or the Lease): one export at
 * a time; at most `backup.max_archives` archives of this node on the volume (a backup beyond
 * it is reported as failed, nothing written); at most `MAX_REPORTS` reports on the Lease
 * (oldest dropped first; the operator then fails that backup at its deadline).
 */
import { verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import { mkdir, readdir, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { BackupConfig } from '../config/signer-config.ts';
import { decodeSecretBytes } from '../config/load.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import { ensureDirectory, errnoOf } from '../store/atomic-file.ts';
import { ed25519PublicKeyObject } from '../identity/repin.ts';
import type { ExportSummary } from '../store/backup.ts';

/** Lease annotation carrying this signer's backup reports (JSON, see the module comment). */
export const BACKUP_REPORTS_ANNOTATION = 'mpc-platform.dev/backups';
/** A backup name: a DNS label (also what the CRD admits). */
export const BACKUP_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const ARCHIVE_SUFFIX = '.mpcbak';
/** Reports kept on the Lease at most (Lease annotations share a 256 KiB budget). */
export const MAX_REPORTS = 64;
const MAX_ERROR_LENGTH = 300;

export interface BackupReport {
  /** The MpcBackup's uid: a recreated object of the same name is a new backup. */
  readonly uid?: string;
  readonly completedAt: string;
  readonly sha256?: string;
  readonly bytes?: number;
  readonly wallets?: number;
  readonly shares?: number;
  readonly identity?: boolean;
  readonly error?: string;
}

export type BackupReports = Readonly<Record<string, BackupReport>>;

/** What the signer needs of an MpcBackup object. */
export interface ObservedBackup {
  readonly name: string;
  readonly uid?: string;
  readonly clusterName?: string;
  readonly schedule?: string;
  readonly phase?: string;
  readonly creationTimestamp?: string;
  /** Node ids named by annotation `mpc-platform.dev/restore` (a restore request). */
  readonly restoreNodes?: readonly string[];
}

/** MpcBackup annotation asking fresh signers to restore from it: node ids, comma separated. */
export const RESTORE_ANNOTATION = 'mpc-platform.dev/restore';

/** The archive's path relative to the backup volume: `<backup>/<node id>.mpcbak`. */
export function archivePath(backupName: string, nodeId: string): string {
  return `${backupName}/${nodeId}${ARCHIVE_SUFFIX}`;
}

/** Parses the report annotation; anything malformed counts as no reports. */
export function parseReports(text: string | undefined): Record<string, BackupReport> {
  if (text === undefined || text === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return {};
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return {};
  const reports: Record<string, BackupReport> = {};
  for (const [name, value] of Object.entries(parsed as Record<string, unknown>)) {
    if (!BACKUP_NAME_PATTERN.test(name) || typeof value !== 'object' || value === null) continue;
    const report = value as Record<string, unknown>;
    if (typeof report['completedAt'] !== 'string') continue;
    reports[name] = report as unknown as BackupReport;
  }
  return reports;
}

export const BACKUP_REPORTS_DOMAIN = 'mpc-platform.dev/backups/v1';

/** What a signer signs for its report annotation: length-prefixed UTF-8 fields. */
export function reportSigningBytes(cluster: string, nodeId: string, json: string): Uint8Array {
  const parts: Buffer[] = [];
  for (const field of [BACKUP_REPORTS_DOMAIN, cluster, nodeId, json]) {
    const bytes = Buffer.from(field, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    parts.push(length, bytes);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** The annotation value: `<signature hex>.<json>`. */
export function signReports(
  json: string,
  identity: { cluster: string; nodeId: string; sign: (message: Uint8Array) => Uint8Array },
): string {
  const signature = identity.sign(reportSigningBytes(identity.cluster, identity.nodeId, json));
  return `${Buffer.from(signature).toString('hex')}.${json}`;
}

function splitReports(value: string): { signature: string; json: string } | undefined {
  const dot = value.indexOf('.');
  if (dot !== 128 || !/^[0-9a-f]{128}$/.test(value.slice(0, dot))) return undefined;
  return { signature: value.slice(0, dot), json: value.slice(dot + 1) };
}

/**
 * The JSON of a report annotation whose signature verifies under `publicKey` (64 hex) for
 * this cluster and node, else undefined (unsigned, altered, another node's, no pinned key).
 */
export function verifyReports(
  value: string | undefined,
  expected: { cluster: string; nodeId: string; publicKey: string | undefined },
): string | undefined {
  if (value === undefined || expected.publicKey === undefined) return undefined;
  const parts = splitReports(value);
  if (parts === undefined || !/^[0-9a-f]{64}$/i.test(expected.publicKey)) return undefined;
  try {
    const key = ed25519PublicKeyObject(Buffer.from(expected.publicKey, 'hex'));
    const message = reportSigningBytes(expected.cluster, expected.nodeId, parts.json);
    return verify(null, message, key, Buffer.from(parts.signature, 'hex')) ? parts.json : undefined;
  } catch {
    return undefined;
  }
}

/** At most `MAX_REPORTS` reports, newest kept; serialised with sorted keys. */
export function serialiseReports(reports: BackupReports): string {
  const kept = Object.entries(reports)
    .sort(([a, x], [b, y]) =>
      x.completedAt === y.completedAt ? (a < b ? -1 : 1) : x.completedAt < y.completedAt ? 1 : -1,
    )
    .slice(0, MAX_REPORTS)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify(Object.fromEntries(kept));
}

export interface BackupPlan {
  /** The pending backup to export now, if any. */
  readonly next?: string;
  /** How many backups are pending (including `next`). */
  readonly pending: number;
  /** Reports of backups that no longer exist. */
  readonly dropReports: readonly string[];
  /** Backup names whose archive of this node is on the volume but whose object is gone. */
  readonly deleteArchives: readonly string[];
}

/** Decides one poll's work. Pure. */
export function planBackupWork(input: {
  readonly backups: readonly ObservedBackup[];
  readonly cluster: string;
  readonly reports: BackupReports;
  /** Backup names (directory names) holding an archive of this node. */
  readonly archives: readonly string[];
}): BackupPlan {
  const mine = input.backups.filter(
    (backup) =>
      backup.clusterName === input.cluster &&
      (backup.schedule === undefined || backup.schedule === '') &&
      BACKUP_NAME_PATTERN.test(backup.name),
  );
  const names = new Set(mine.map((backup) => backup.name));
  const pending = mine
    .filter(
      (backup) =>
        (!Object.hasOwn(input.reports, backup.name) ||
          input.reports[backup.name]?.uid !== backup.uid) &&
        backup.phase !== 'Succeeded' &&
        backup.phase !== 'Failed',
    )
    .sort((a, b) => {
      const x = a.creationTimestamp ?? '';
      const y = b.creationTimestamp ?? '';
      if (x !== y) return x < y ? -1 : 1;
      return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
  const first = pending[0];
  return {
    ...(first === undefined ? {} : { next: first.name }),
    pending: pending.length,
    dropReports: Object.keys(input.reports).filter((name) => !names.has(name)),
    deleteArchives: input.archives.filter((name) => !names.has(name)),
  };
}

/**
 * The directory of one backup inside `backupDir`, or undefined when `name` is not a DNS
 * label or would resolve anywhere but directly inside `backupDir`.
 */
export function backupDirectory(backupDir: string, name: string): string | undefined {
  if (!BACKUP_NAME_PATTERN.test(name)) return undefined;
  const root = resolve(backupDir);
  const directory = resolve(root, name);
  if (dirname(directory) !== root || basename(directory) !== name) return undefined;
  return directory;
}

export interface BackupAgentLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

export interface BackupAgentOptions {
  readonly nodeId: string;
  /** The MpcCluster name (not namespaced) whose backups this signer serves. */
  readonly cluster: string;
  readonly config: BackupConfig;
  /** Lists the namespace's MpcBackup objects (throws on failure). */
  readonly listBackups: () => Promise<ObservedBackup[]>;
  /** The report annotation as currently on our Lease (after a restart: the earlier reports). */
  readonly currentReports: () => string | undefined;
  /** Writes the report annotation on our Lease (the signed form, see `signReports`). */
  readonly publishReports: (value: string) => Promise<void>;
  /** Signs reports with the identity key; `cluster` is `<namespace>/<MpcCluster>`. */
  readonly identity: {
    readonly cluster: string;
    readonly sign: (message: Uint8Array) => Uint8Array;
  };
  /** Writes this node's archive to `outFile` (store/backup.ts `exportBackup`). */
  readonly exportArchive: (outFile: string, backupKey: Uint8Array) => Promise<ExportSummary>;
  /** Reads the backup key (default: `config.keyFile`, 32 bytes or 64 hex). Caller wipes. */
  readonly readBackupKey?: () => Uint8Array;
  readonly log: BackupAgentLog;
  readonly now?: () => Date;
}

/** One-line error text for a report: code and message, bounded. Never key material. */
function describeFailure(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const text = typeof code === 'string' ? `${code}: ${message}` : message;
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH - 1)}…` : text;
}

export class BackupAgent {
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> = Promise.resolve();
  private stopped = false;
  private reports: Record<string, BackupReport> | undefined;
  private lastProblem = '';

  constructor(private readonly options: BackupAgentOptions) {}

  start(): void {
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /** One poll (also for tests): list, clean up, export at most one pending backup. */
  async pollOnce(): Promise<{ exported?: string; pending: number }> {
    const { options } = this;
    const backups = await options.listBackups();
    if (this.reports === undefined) {
      const current = options.currentReports();
      this.reports = parseReports(current === undefined ? undefined : splitReports(current)?.json);
    }
    const reports = this.reports;
    const archives = await this.archivesOnVolume();
    const plan = planBackupWork({ backups, cluster: options.cluster, reports, archives });
    let changed = false;
    for (const name of plan.dropReports) {
      delete reports[name];
      changed = true;
    }
    for (const name of plan.deleteArchives) await this.deleteArchive(name);
    let exported: string | undefined;
    if (plan.next !== undefined) {
      exported = plan.next;
      const remaining = archives.length - plan.deleteArchives.length;
      const uid = backups.find((backup) => backup.name === plan.next)?.uid;
      const report = await this.export(plan.next, remaining);
      reports[plan.next] = uid === undefined ? report : { uid, ...report };
      changed = true;
    }
    if (changed) {
      await options.publishReports(
        signReports(serialiseReports(reports), { ...options.identity, nodeId: options.nodeId }),
      );
    }
    return { ...(exported === undefined ? {} : { exported }), pending: plan.pending };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.polling = this.pollOnce().then(
        (result) => {
          this.lastProblem = '';
          // More pending: go on at once, still one export at a time.
          this.schedule(result.pending > 1 ? 0 : this.options.config.pollIntervalMs);
        },
        (error: unknown) => {
          const problem = describeFailure(error);
          if (problem !== this.lastProblem) {
            this.lastProblem = problem;
            this.options.log.warn({ reason: problem }, 'backup poll failed; retrying');
          }
          this.schedule(this.options.config.pollIntervalMs);
        },
      );
    }, delayMs);
    this.timer.unref();
  }

  private async export(name: string, archivesPresent: number): Promise<BackupReport> {
    const { options } = this;
    const completedAt = (): string => (options.now?.() ?? new Date()).toISOString();
    const directory = backupDirectory(options.config.dir, name);
    if (directory === undefined) {
      return { completedAt: completedAt(), error: 'invalid backup name' };
    }
    if (archivesPresent >= options.config.maxArchives) {
      options.log.warn(
        { backup: name, maxArchives: options.config.maxArchives },
        'backup refused: archive limit reached',
      );
      return {
        completedAt: completedAt(),
        error: `this signer already keeps ${archivesPresent} archives (backup.max_archives ${options.config.maxArchives}): delete old MpcBackups`,
      };
    }
    const outFile = join(directory, `${options.nodeId}${ARCHIVE_SUFFIX}`);
    let key: Uint8Array | undefined;
    try {
      await mkdir(resolve(options.config.dir), { recursive: true, mode: 0o700 });
      await ensureDirectory(resolve(options.config.dir), directory);
      // An archive left by an export whose report was lost (a crash in between): ours,
      // unreported, so replaced.
      await unlink(outFile).catch((error: unknown) => {
        if (errnoOf(error) !== 'ENOENT') throw error;
      });
      key = (options.readBackupKey ?? (() => readBackupKeyFile(options.config.keyFile)))();
      const summary = await options.exportArchive(outFile, key);
      options.log.info(
        { backup: name, wallets: summary.wallets, shares: summary.shares, bytes: summary.bytes },
        'backup archive written',
      );
      return {
        completedAt: completedAt(),
        sha256: summary.sha256,
        bytes: summary.bytes,
        wallets: summary.wallets,
        shares: summary.shares,
        identity: summary.identity,
      };
    } catch (error) {
      const reason = describeFailure(error);
      options.log.warn({ backup: name, reason }, 'backup failed');
      return { completedAt: completedAt(), error: reason };
    } finally {
      if (key !== undefined) wipeBytes(key);
    }
  }

  /** Backup names whose directory holds this node's archive. */
  private async archivesOnVolume(): Promise<string[]> {
    const root = resolve(this.options.config.dir);
    let entries: string[];
    try {
      entries = await readdir(root);
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return [];
      throw error;
    }
    const found: string[] = [];
    for (const name of entries) {
      if (!BACKUP_NAME_PATTERN.test(name)) continue;
      try {
        const file = await stat(join(root, name, `${this.options.nodeId}${ARCHIVE_SUFFIX}`));
        if (file.isFile()) found.push(name);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT' && errnoOf(error) !== 'ENOTDIR') throw error;
      }
    }
    return found.sort();
  }

  private async deleteArchive(name: string): Promise<void> {
    const directory = backupDirectory(this.options.config.dir, name);
    if (directory === undefined) return;
    try {
      await unlink(join(directory, `${this.options.nodeId}${ARCHIVE_SUFFIX}`));
      this.options.log.info({ backup: name }, 'backup archive deleted (its MpcBackup is gone)');
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
    }
    // The last signer out removes the directory; others' archives keep it.
    await rmdir(directory).catch(() => undefined);
  }
}

/** The backup key from a file: 32 raw bytes or 64 hex characters. The caller wipes it. */
export function readBackupKeyFile(file: string): Uint8Array {
  const contents = new Uint8Array(readFileSync(file));
  try {
    return decodeSecretBytes('backup.key_file', contents);
  } finally {
    wipeBytes(contents);
  }
}

/** Lists the MpcBackup objects of `namespace` (RBAC: list mpcbackups). Throws on failure. */
export async function listMpcBackups(
  kubeConfig: KubeConfig,
  namespace: string,
): Promise<ObservedBackup[]> {
  const api = kubeConfig.makeApiClient(CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({
    group: 'mpc-platform.dev',
    version: 'v1alpha1',
    namespace,
    plural: 'mpcbackups',
  })) as { items?: unknown[] };
  const text = (value: unknown): string | undefined =>
    typeof value === 'string' ? value : undefined;
  return (list.items ?? []).map((item): ObservedBackup => {
    const object = item as {
      metadata?: {
        name?: string;
        uid?: string;
        creationTimestamp?: string;
        annotations?: Record<string, string>;
      };
      spec?: { clusterName?: unknown; schedule?: unknown };
      status?: { phase?: unknown };
    };
    const clusterName = text(object.spec?.clusterName);
    const schedule = text(object.spec?.schedule);
    const phase = text(object.status?.phase);
    const created = text(object.metadata?.creationTimestamp);
    const restore = text(object.metadata?.annotations?.[RESTORE_ANNOTATION]);
    const uid = text(object.metadata?.uid);
    return {
      name: object.metadata?.name ?? '',
      ...(uid === undefined ? {} : { uid }),
      ...(clusterName === undefined ? {} : { clusterName }),
      ...(schedule === undefined ? {} : { schedule }),
      ...(phase === undefined ? {} : { phase }),
      ...(created === undefined ? {} : { creationTimestamp: created }),
      ...(restore === undefined
        ? {}
        : {
            restoreNodes: restore
              .split(',')
              .map((node) => node.trim())
              .filter((node) => node !== ''),
          }),
    };
  });
}

/**
 * The backup a fresh signer must restore from: the one Succeeded MpcBackup of its cluster
 * whose `mpc-platform.dev/restore` annotation names it. Undefined when none does; throws
 * `RangeError` when several do (ambiguous: the administrator must leave one) or when the one
 * named has not succeeded.
 */
export function selectRestoreRequest(
  backups: readonly ObservedBackup[],
  cluster: string,
  nodeId: string,
): string | undefined {
  const requested = backups.filter(
    (backup) =>
      backup.clusterName === cluster &&
      BACKUP_NAME_PATTERN.test(backup.name) &&
      (backup.restoreNodes ?? []).includes(nodeId),
  );
  if (requested.length > 1) {
    throw new RangeError(
      `several MpcBackups ask to restore ${nodeId}: ${requested.map((b) => b.name).join(', ')}; annotate only one`,
    );
  }
  const chosen = requested[0];
  if (chosen === undefined) return undefined;
  if (chosen.phase !== 'Succeeded') {
    throw new RangeError(`MpcBackup ${chosen.name} is ${chosen.phase ?? 'not finished'}`);
  }
  return chosen.name;
}
