/**
 * Idempotent creation of the JetStream streams and durable consumers of the mpcium client
 * contract (reference `mpcium-contract.md` §1.2, §1.4, §10.1–2). Signers call
 * `ensureMpcStreams` before they consume; clients call the narrower helpers for their routing.
 *
 * Shapes (exactly what mpcium's Go code sends, so a Go client's later `CreateOrUpdateStream`
 * is a no-op update rather than a conflict):
 * - `mpc-keygen` / `mpc-signing`: subjects `mpc.keygen_request.*` / `mpc.signing_request.*`,
 *   description `Stream for <name>`, retention Limits, storage File, MaxAge 7 days,
 *   MaxBytes 100 000 000.
 * - `mpc`: the three `….>` result subjects, description `Stream for mpc`, retention WorkQueue,
 *   storage File, MaxBytes 100 000 000, no MaxAge.
 * - result durables (legacy or ClientID-scoped): explicit ack, AckWait 30 s, MaxDeliver 3,
 *   MaxAckPending 1000, one filter subject.
 * - shared request durables `mpc_keygen_consumer` / `mpc_signing_consumer`: explicit ack,
 *   deliver all, AckWait / MaxDeliver / MaxAckPending / optional BackOff from the caller.
 *
 * Tolerance: a stream that already exists with another retention (the mpcium TS client creates
 * WorkQueue request streams and an Interest/WorkQueue `mpc` with one subject; retention cannot
 * be changed in place) is left alone apart from its subjects, and a warning is returned rather
 * than failing; consumers whose update the server refuses are likewise reported, not fatal.
 * Concurrent callers (several signers starting at once) are safe: "already exists" falls back
 * to the update path.
 *
 * Filters use the single `filter_subject` field, which nats-server 2.9 understands (Go's
 * `FilterSubjects` needs 2.10; see nats-version.ts). A Go client's later `CreateOrUpdateConsumer`
 * of a legacy durable with `filter_subjects: [same filter]` is accepted and still matches here
 * (test/integration/go-client-wire.test.ts).
 */
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  type ConsumerConfig,
  type JetStreamManager,
  type StreamConfig,
  type StreamInfo,
  type ConsumerInfo,
} from '@nats-io/jetstream';
import {
  KeygenBrokerStream,
  KeygenRequestConsumerName,
  KeygenRequestTopic,
  KeygenResultConsumerBase,
  RefreshPairRequestStream,
  RefreshPairRequestTopic,
  ReshareRequestConsumerName,
  ReshareRequestStream,
  ReshareRequestTopic,
  ReshareResultConsumerBase,
  ResultStreamName,
  SigningPublisherStream,
  SigningRequestConsumerName,
  SigningRequestTopic,
  SigningResultConsumerBase,
  keygenResultSubscriptionSubject,
  refreshPairConsumerName,
  refreshPairRequestSubject,
  reshareResultSubscriptionSubject,
  resultConsumerDurableName,
  resultStreamSubjects,
  signingResultSubscriptionSubject,
} from '../protocol/subjects.ts';

/** JetStream durations are nanoseconds. */
function nanos(milliseconds: number): number {
  return milliseconds * 1_000_000;
}

/** mpcium `DefaultStreamMaxAge`: 7 days. */
export const REQUEST_STREAM_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
/** mpcium `DefaultStreamMaxBytes` (request streams and `mpc`). */
export const STREAM_MAX_BYTES = 100_000_000;
/** Result consumer settings of mpcium `NewMessageQueue`. */
export const RESULT_CONSUMER_ACK_WAIT_MS = 30_000;
export const RESULT_CONSUMER_MAX_DELIVER = 3;
export const RESULT_CONSUMER_MAX_ACK_PENDING = 1000;

/** Settings of the shared request durables, chosen by the signer configuration. */
export interface RequestConsumerOptions {
  /** Ack wait of a delivered request before JetStream redelivers it. */
  readonly ackWaitMs: number;
  /** Deliveries before JetStream gives up (and emits the max-deliveries advisory). */
  readonly maxDeliver: number;
  /** Cluster-wide in-flight keygen requests. */
  readonly maxAckPendingKeygen: number;
  /** Cluster-wide in-flight signing requests. */
  readonly maxAckPendingSigning: number;
  /** Optional redelivery back-off (mpcium: [30 s, 30 s, 30 s]); needs maxDeliver > length. */
  readonly backoffMs?: readonly number[];
}

/** What `ensure…` did not manage to put in the desired shape (human-readable). */
export interface EnsureReport {
  readonly warnings: string[];
}

const STREAM_EXISTS_CODE = 10058;
const CONSUMER_EXISTS_CODES = new Set([10013, 10148, 10105]);

function isApiError(error: unknown, codes: ReadonlySet<number> | number): boolean {
  if (!(error instanceof JetStreamApiError)) return false;
  return typeof codes === 'number' ? error.code === codes : codes.has(error.code);
}

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && (error.code === 10059 || error.code === 10014);
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The Go shape of `mpc-keygen` / `mpc-signing`. */
export function requestStreamConfig(name: string, subject: string): StreamConfig {
  return {
    name,
    description: `Stream for ${name}`,
    subjects: [subject],
    retention: RetentionPolicy.Limits,
    storage: StorageType.File,
    max_age: nanos(REQUEST_STREAM_MAX_AGE_MS),
    max_bytes: STREAM_MAX_BYTES,
  } as StreamConfig;
}

/** The Go shape of the result stream `mpc`. */
export function resultStreamConfig(): StreamConfig {
  return {
    name: ResultStreamName,
    description: `Stream for ${ResultStreamName}`,
    subjects: resultStreamSubjects(),
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    max_bytes: STREAM_MAX_BYTES,
  } as StreamConfig;
}

function sameSubjects(left: readonly string[] | undefined, right: readonly string[]): boolean {
  const a = [...(left ?? [])].sort();
  const b = [...right].sort();
  return a.length === b.length && a.every((value, index) => value === b[index]);
}

async function streamInfoOrUndefined(
  jsm: JetStreamManager,
  name: string,
): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Creates `desired` or brings an existing stream to it as far as the server allows. */
export async function ensureStream(
  jsm: JetStreamManager,
  desired: StreamConfig,
  report: EnsureReport,
): Promise<void> {
  let info = await streamInfoOrUndefined(jsm, desired.name);
  if (info === undefined) {
    try {
      await jsm.streams.add(desired);
      return;
    } catch (error) {
      if (!isApiError(error, STREAM_EXISTS_CODE)) throw error;
      info = await jsm.streams.info(desired.name);
    }
  }
  const current = info.config;
  const desiredSubjects = desired.subjects ?? [];
  if (current.retention !== desired.retention) {
    report.warnings.push(
      `stream ${desired.name} exists with retention "${current.retention}" (expected ` +
        `"${desired.retention}", probably created by an mpcium TS client); it still works for ` +
        `our signers, but Go clients' CreateOrUpdateStream will fail on it (NATS error 10052). ` +
        `Recreate it while idle: nats stream rm ${desired.name}, then restart a signer.`,
    );
    if (!sameSubjects(current.subjects, desiredSubjects)) {
      try {
        await jsm.streams.update(desired.name, { subjects: desiredSubjects });
      } catch (error) {
        report.warnings.push(
          `stream ${desired.name}: could not set subjects ${desiredSubjects.join(', ')}: ${describeError(error)}`,
        );
      }
    }
    return;
  }
  const upToDate =
    sameSubjects(current.subjects, desiredSubjects) &&
    current.max_bytes === desired.max_bytes &&
    current.max_age === (desired.max_age ?? 0) &&
    current.storage === desired.storage &&
    (current.description ?? '') === (desired.description ?? '');
  if (upToDate) return;
  try {
    await jsm.streams.update(desired.name, {
      subjects: desiredSubjects,
      max_bytes: desired.max_bytes,
      max_age: desired.max_age ?? 0,
      ...(desired.description === undefined ? {} : { description: desired.description }),
    });
  } catch (error) {
    report.warnings.push(`stream ${desired.name}: update refused: ${describeError(error)}`);
  }
}

/** Durable consumer config, as a partial config keyed by the durable name. */
export type DurableConsumerConfig = Partial<ConsumerConfig> & {
  readonly durable_name: string;
  readonly filter_subject: string;
};

/** The Go shape of a result consumer for `base` and `clientId` ('' = legacy). */
export function resultConsumerConfig(
  base: string,
  clientId: string,
  filterSubject: string,
): DurableConsumerConfig {
  return {
    durable_name: resultConsumerDurableName(base, clientId),
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(RESULT_CONSUMER_ACK_WAIT_MS),
    max_deliver: RESULT_CONSUMER_MAX_DELIVER,
    max_ack_pending: RESULT_CONSUMER_MAX_ACK_PENDING,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filterSubject,
  };
}

/** The three result consumers of one routing scope ('' = the legacy mpcium durables). */
export function resultConsumerConfigs(clientId: string): DurableConsumerConfig[] {
  return [
    resultConsumerConfig(
      KeygenResultConsumerBase,
      clientId,
      keygenResultSubscriptionSubject(clientId),
    ),
    resultConsumerConfig(
      SigningResultConsumerBase,
      clientId,
      signingResultSubscriptionSubject(clientId),
    ),
    resultConsumerConfig(
      ReshareResultConsumerBase,
      clientId,
      reshareResultSubscriptionSubject(clientId),
    ),
  ];
}

function requestConsumerConfig(
  durable: string,
  filterSubject: string,
  maxAckPending: number,
  options: RequestConsumerOptions,
): DurableConsumerConfig {
  return {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(options.ackWaitMs),
    max_deliver: options.maxDeliver,
    max_ack_pending: maxAckPending,
    deliver_policy: DeliverPolicy.All,
    filter_subject: filterSubject,
    ...(options.backoffMs === undefined || options.backoffMs.length === 0
      ? {}
      : { backoff: options.backoffMs.map((ms) => nanos(ms)) }),
  };
}

function consumerMatches(current: ConsumerConfig, desired: DurableConsumerConfig): boolean {
  const currentFilters =
    current.filter_subjects ?? (current.filter_subject ? [current.filter_subject] : []);
  return (
    currentFilters.length === 1 &&
    currentFilters[0] === desired.filter_subject &&
    current.ack_policy === desired.ack_policy &&
    current.ack_wait === desired.ack_wait &&
    current.max_deliver === desired.max_deliver &&
    current.max_ack_pending === desired.max_ack_pending &&
    JSON.stringify(current.backoff ?? []) === JSON.stringify(desired.backoff ?? [])
  );
}

async function consumerInfoOrUndefined(
  jsm: JetStreamManager,
  stream: string,
  durable: string,
): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, durable);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}

/** Creates the durable or updates it to `desired` (mpcium `CreateOrUpdateConsumer`). */
export async function ensureDurableConsumer(
  jsm: JetStreamManager,
  stream: string,
  desired: DurableConsumerConfig,
  report: EnsureReport,
): Promise<void> {
  let info = await consumerInfoOrUndefined(jsm, stream, desired.durable_name);
  if (info === undefined) {
    try {
      await jsm.consumers.add(stream, desired);
      return;
    } catch (error) {
      if (!isApiError(error, CONSUMER_EXISTS_CODES)) throw error;
      info = await jsm.consumers.info(stream, desired.durable_name);
    }
  }
  if (consumerMatches(info.config, desired)) return;
  const { durable_name: durable, ...update } = desired;
  try {
    await jsm.consumers.update(stream, durable, update);
  } catch (error) {
    report.warnings.push(
      `consumer ${stream}/${durable}: could not update to filter ${desired.filter_subject}: ${describeError(error)}`,
    );
  }
}

/** Ensures `mpc-keygen` and `mpc-signing` (what every mpcium client and node does). */
export async function ensureRequestStreams(
  jsm: JetStreamManager,
  report: EnsureReport = { warnings: [] },
): Promise<EnsureReport> {
  await ensureStream(jsm, requestStreamConfig(KeygenBrokerStream, KeygenRequestTopic), report);
  await ensureStream(jsm, requestStreamConfig(SigningPublisherStream, SigningRequestTopic), report);
  await ensureStream(jsm, requestStreamConfig(ReshareRequestStream, ReshareRequestTopic), report);
  await ensureStream(
    jsm,
    requestStreamConfig(RefreshPairRequestStream, RefreshPairRequestTopic),
    report,
  );
  return report;
}

/** Ensures the result stream `mpc`. */
export async function ensureResultStream(
  jsm: JetStreamManager,
  report: EnsureReport = { warnings: [] },
): Promise<EnsureReport> {
  await ensureStream(jsm, resultStreamConfig(), report);
  return report;
}

/**
 * Ensures this signer's own durable on `mpc-refresh-pair`, filtered on its own subject (a
 * pairwise refresh is coordinated by a signer of the pair, chosen by the client).
 */
export async function ensureRefreshPairConsumer(
  jsm: JetStreamManager,
  nodeId: string,
  options: RequestConsumerOptions,
  report: EnsureReport = { warnings: [] },
): Promise<{ durable: string; report: EnsureReport }> {
  const durable = refreshPairConsumerName(nodeId);
  await ensureDurableConsumer(
    jsm,
    RefreshPairRequestStream,
    requestConsumerConfig(durable, refreshPairRequestSubject(nodeId), 1, options),
    report,
  );
  return { durable, report };
}

/** Ensures the three result durables of one routing scope ('' = legacy). */
export async function ensureResultConsumers(
  jsm: JetStreamManager,
  clientId: string,
  report: EnsureReport = { warnings: [] },
): Promise<EnsureReport> {
  for (const config of resultConsumerConfigs(clientId)) {
    await ensureDurableConsumer(jsm, ResultStreamName, config, report);
  }
  return report;
}

/** Ensures the shared request durables `mpc_keygen_consumer` and `mpc_signing_consumer`. */
export async function ensureRequestConsumers(
  jsm: JetStreamManager,
  options: RequestConsumerOptions,
  report: EnsureReport = { warnings: [] },
): Promise<EnsureReport> {
  await ensureDurableConsumer(
    jsm,
    KeygenBrokerStream,
    requestConsumerConfig(
      KeygenRequestConsumerName,
      KeygenRequestTopic,
      options.maxAckPendingKeygen,
      options,
    ),
    report,
  );
  await ensureDurableConsumer(
    jsm,
    SigningPublisherStream,
    requestConsumerConfig(
      SigningRequestConsumerName,
      SigningRequestTopic,
      options.maxAckPendingSigning,
      options,
    ),
    report,
  );
  await ensureDurableConsumer(
    jsm,
    ReshareRequestStream,
    requestConsumerConfig(
      ReshareRequestConsumerName,
      ReshareRequestTopic,
      options.maxAckPendingKeygen,
      options,
    ),
    report,
  );
  return report;
}

/**
 * Everything a signer needs before consuming (contract §10.1–2): both request streams, the
 * result stream, the three legacy result durables and the two shared request durables.
 * Returns the warnings (never fails for a stream of another shape); throws only on NATS
 * errors (no JetStream, permissions, connection).
 */
export async function ensureMpcStreams(
  jsm: JetStreamManager,
  options: RequestConsumerOptions,
): Promise<EnsureReport> {
  const report: EnsureReport = { warnings: [] };
  await ensureRequestStreams(jsm, report);
  await ensureResultStream(jsm, report);
  await ensureResultConsumers(jsm, '', report);
  await ensureRequestConsumers(jsm, options, report);
  return report;
}
