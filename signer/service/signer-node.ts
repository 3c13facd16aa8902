/**
 * The composition root of one signer process: wires configuration, identity, roster, share
 * store, NATS, membership, the session host and the request coordinator, and serves health
 * and metrics. `startSignerNode` resolves once the signer consumes requests; `stop()` shuts
 * it down in reverse order (abort sessions, stop consuming, drain NATS, close the store).
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, credsAuthenticator, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { SignerConfig } from '../config/index.ts';
import { loadSignerSecrets } from '../config/index.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import {
  LiveRoster,
  loadOrCreateIdentity,
  loadRosterFile,
  verifyPeer,
  type Roster,
} from '../identity/index.ts';
import { createMembership, inClusterKubeConfig } from '../membership/create-membership.ts';
import { LeaseMembership } from '../membership/lease-membership.ts';
import { readIdentitySeedForBackup } from '../identity/node-identity.ts';
import { exportBackup } from '../store/backup.ts';
import { BACKUP_REPORTS_ANNOTATION, BackupAgent, listMpcBackups } from './backup-agent.ts';
import { ConfigMapRosterSource } from '../membership/roster-config-map.ts';
import { PinStore } from '../identity/pin-store.ts';
import { RosterGatedMembership } from '../membership/roster-gated-membership.ts';
import { waitUntilSafeToLeave } from '../observability/prestop.ts';
import { startHttpServer } from '../observability/http-server.ts';
import { createSignerMetrics } from '../observability/metrics.ts';
import { createAuthorizerPolicy } from '../protocol/authorizers.ts';
import { createInitiatorVerifier } from '../protocol/initiator.ts';
import {
  KeygenRequestConsumerName,
  SigningRequestConsumerName,
  KeygenBrokerStream,
  ReshareRequestConsumerName,
  ReshareRequestStream,
  RefreshPairRequestStream,
  SigningPublisherStream,
} from '../protocol/subjects.ts';
import { SessionHost } from '../session/session-host.ts';
import { ShareStore } from '../store/index.ts';
import { PeerMessenger } from '../transport/peer-messenger.ts';
import { ensureMpcStreams, ensureRefreshPairConsumer } from '../transport/streams.ts';
import { natsServerVersionWarning } from '../transport/nats-version.ts';
import { JobFactory } from './jobs.ts';
import { pooledProtocolDrivers } from './protocol-drivers.ts';
import { PeerBans, isPairBanVerdict, readPeerBansForBackup } from './peer-bans.ts';
import { PartyWorkerPool } from '../session/worker-pool.ts';
import { watchMaxDeliveryAdvisories } from './max-delivery-advisories.ts';
import { forwardReshareRequests } from './reshare-intake.ts';
import { OperationLedger, operationKey } from './operation-ledger.ts';
import { PairSlots } from '../session/pair-slots.ts';
import { ParticipationLog } from '../session/participation-log.ts';
import { JetStreamRequestSource, requestOfInvite } from '../transport/request-source.ts';
import { RequestAuthenticator } from './request-authenticator.ts';
import { RequestCoordinator } from './request-coordinator.ts';
import { prepareSigningBatchInvite, prepareSigningInvite } from './signing-invite.ts';
import { WalletRepository } from './wallet-repository.ts';
import { walletsNeedingNode } from './wallets-needing.ts';
import { decodeStdBase64 } from '../protocol/go-json.ts';
import { ErrorCode, MpcError } from '../protocol/errors.ts';

/**
 * Lifetime of a request consumer's pull (its idle heartbeat is half of it): also how long the
 * NATS client waits before re-checking a consumer it could not reach after a reconnect.
 */
const CONSUME_PULL_EXPIRES_MS = 5000;

export interface SignerNode {
  readonly httpPort: number;
  stop(): Promise<void>;
  /** Resolves when the NATS connection closes for good (the process should exit). */
  readonly closed: Promise<unknown>;
}

/** Probe cadence while waiting for a round: fast enough to notice a death well under 1 s. */
const PROBE_INTERVAL_MS = 100;

export async function startSignerNode(config: SignerConfig, log: Logger): Promise<SignerNode> {
  const secrets = loadSignerSecrets(config);
  const identity = await loadOrCreateIdentity({ dataDir: config.dataDir, nodeId: config.nodeId });
  // Burned DKLs23 pairs; an unreadable or corrupt ban file stops the signer here (PeerBansFileError).
  const bans = await PeerBans.load(config.dataDir);
  // The pinned roster: a file (local clusters), or the operator's ConfigMap (Kubernetes).
  let roster: ReadonlyMap<string, Uint8Array>;
  let rosterSource: ConfigMapRosterSource | undefined;
  if (config.rosterFile !== undefined) {
    roster = await loadRosterFile(config.rosterFile);
    verifyPeer(roster as Roster, config.nodeId, identity.publicKey);
  } else if (config.membership.rosterConfigMap !== undefined) {
    const namespace = process.env['POD_NAMESPACE'];
    if (namespace === undefined || namespace === '') {
      throw new MpcError(
        ErrorCode.InvalidConfiguration,
        'membership.roster_config_map needs POD_NAMESPACE (downward API)',
      );
    }
    const live = new LiveRoster();
    rosterSource = new ConfigMapRosterSource({
      kubeConfig: inClusterKubeConfig(),
      namespace,
      name: config.membership.rosterConfigMap,
      roster: live,
      pinStore: await PinStore.open(config.dataDir, config.administrator?.publicKey),
      cluster: config.clusterName,
      log,
    });
    await rosterSource.start();
    roster = live;
  } else {
    throw new MpcError(
      ErrorCode.InvalidConfiguration,
      'a roster is required: roster_file, or membership.roster_config_map with the kubernetes backend',
    );
  }
  const store = await ShareStore.open({ dataDir: config.dataDir, kek: secrets.kek, log });
  wipeBytes(secrets.kek);
  const metrics = createSignerMetrics(config.nodeId);

  const nc: NatsConnection = await connect({
    servers: config.nats.url,
    name: config.nats.name ?? `mpc-signer-${config.nodeId}`,
    maxReconnectAttempts: -1,
    waitOnFirstConnect: true,
    reconnectTimeWait: 250,
    pingInterval: 5000,
    maxPingOut: 3,
    // Without this every request builds two Error objects (stack traces) up front, used only
    // to decorate a failure; peer traffic is all requests (issue 15 profile). Error types and
    // `isNoResponders()` are unchanged.
    noAsyncTraces: true,
    ...(config.nats.user === undefined ? {} : { user: config.nats.user }),
    ...(config.nats.password === undefined ? {} : { pass: config.nats.password }),
    ...(config.nats.token === undefined ? {} : { token: config.nats.token }),
    ...(config.nats.credsFile === undefined
      ? {}
      : { authenticator: credsAuthenticator(new Uint8Array(readFileSync(config.nats.credsFile))) }),
    ...(config.nats.tls === undefined
      ? {}
      : {
          tls: {
            ...(config.nats.tls.caFile === undefined ? {} : { caFile: config.nats.tls.caFile }),
            ...(config.nats.tls.certFile === undefined
              ? {}
              : { certFile: config.nats.tls.certFile }),
            ...(config.nats.tls.keyFile === undefined ? {} : { keyFile: config.nats.tls.keyFile }),
          },
        }),
  });
  const oldNats = natsServerVersionWarning(nc.info?.version);
  if (oldNats !== undefined) log.warn({ natsServerVersion: nc.info?.version }, oldNats);
  void (async () => {
    for await (const status of nc.status()) log.info({ natsStatus: status.type }, 'nats status');
  })();
  const jsm = await jetstreamManager(nc);
  const streams = await ensureMpcStreams(jsm, {
    ackWaitMs: config.sessions.ackWaitMs,
    maxDeliver: config.sessions.maxDeliver,
    maxAckPendingKeygen: config.sessions.maxConcurrentKeygen,
    maxAckPendingSigning: config.sessions.maxConcurrentSigning,
  });
  const refreshPair = await ensureRefreshPairConsumer(jsm, config.nodeId, {
    ackWaitMs: config.sessions.ackWaitMs,
    maxDeliver: config.sessions.maxDeliver,
    maxAckPendingKeygen: config.sessions.maxConcurrentKeygen,
    maxAckPendingSigning: config.sessions.maxConcurrentSigning,
  });
  for (const warning of [...streams.warnings, ...refreshPair.report.warnings]) {
    log.warn({ warning }, 'JetStream shape differs');
  }
  const js = jetstream(nc);
  const ledger = await OperationLedger.open(nc);

  const baseMembership = createMembership({
    config,
    nc,
    log,
    env: process.env,
    identityPublicKey: identity.publicKey,
    sign: (message) => identity.sign(message),
    roster,
  });
  const membership = new RosterGatedMembership(
    baseMembership,
    roster,
    config.nodeId,
    identity.publicKey,
  );
  const quorum = config.threshold + 1;
  metrics.setReadinessSource(() => ({ readySigners: membership.readyNodes().length, quorum }));

  const authenticator = new RequestAuthenticator(
    createInitiatorVerifier({
      algorithm: config.initiator.algorithm,
      publicKey: config.initiator.publicKey,
    }),
    createAuthorizerPolicy(config.authorization),
    { requireSignedDerivationPath: config.authorization.requireSignedDerivationPath },
  );
  const requests = new JetStreamRequestSource(jsm);
  const participation = await ParticipationLog.open({
    dataDir: config.dataDir,
    maxSessionsPerOperation: config.sessions.maxSessionsPerOperation,
    retentionMs: config.sessions.participationRetentionMs,
    maxOperations: 500_000,
  });
  const wallets = new WalletRepository(store);
  const workers = new PartyWorkerPool();
  const jobs = new JobFactory({
    selfNodeId: config.nodeId,
    clusterNodes: config.peers,
    threshold: config.threshold,
    wallets,
    chainCode: secrets.chainCode,
    drivers: pooledProtocolDrivers(workers),
    bans,
  });
  const host = new SessionHost({
    self: identity,
    roster,
    roundTimeoutMs: config.sessions.roundTimeoutMs,
    keygenRoundTimeoutMs: config.sessions.keygenTimeoutMs,
    probeIntervalMs: PROBE_INTERVAL_MS,
    log,
    shouldPause: (kind, role, round) => {
      const fault = config.faultInjection;
      if (fault?.pauseAtRound !== round || (kind !== 'sign' && kind !== 'sign-batch')) {
        return false;
      }
      const wanted = fault.pauseRole ?? 'any';
      if (wanted !== 'any' && wanted !== role) return false;
      return fault.pauseFile === undefined || existsSync(fault.pauseFile);
    },
    onPeerSuspect: (peer) => membership.markSuspect(peer),
    pairSlots: new PairSlots(config.sessions.maxSessionsPerPair),
    participation,
    inviteLimits: {
      maxAgeMs: config.sessions.inviteMaxAgeMs,
      maxClockSkewMs: config.sessions.maxClockSkewMs,
      perCoordinatorPerSecond: config.sessions.invitesPerCoordinatorPerSecond,
      perCoordinatorBurst: 2 * config.sessions.invitesPerCoordinatorPerSecond,
    },
    pairBans: {
      isVerdict: isPairBanVerdict,
      record: async (peer, error) => {
        log.error({ peer, code: error.code }, 'DKLs23 consistency check failed: peer banned');
        metrics.peerBans.inc();
        try {
          await bans.ban(peer, error.code);
        } catch (failure) {
          // A ban that may not survive a restart breaks the one-bit rule: stop serving.
          log.fatal({ err: failure, peer }, 'peer ban not persisted: stopping the signer');
          setImmediate(() => process.exit(70));
          throw failure;
        }
      },
    },
    prepare: async (invite) => {
      const sent = decodeStdBase64(invite.request);
      if (sent === undefined)
        throw new MpcError(ErrorCode.MessageFormat, 'invite request is not base64');
      if (invite.kind === 'sign') {
        return prepareSigningInvite({ requests, authenticator, jobs }, invite, sent);
      }
      if (invite.kind === 'sign-batch') {
        return prepareSigningBatchInvite({ requests, authenticator, jobs }, invite);
      }
      // Act only on the request as the client stored it in JetStream (security review H1).
      const stored = await requestOfInvite(requests, {
        kind: invite.kind,
        requestSeq: invite.requestSeq,
        request: sent,
        clientId: invite.clientId,
      });
      const body = stored.body;
      const clientId = stored.clientId ?? '';
      if (invite.kind === 'keygen') {
        const message = authenticator.keygen(body);
        const operation = operationKey('keygen', clientId, message.walletId);
        const job = await jobs.keygen(invite.sessionId, message, invite.participants, operation);
        return { ...job, operations: [operation] };
      }
      if (invite.kind === 'reshare') {
        const { message } = authenticator.reshare(body);
        const job = await jobs.reshare(message, invite);
        return { ...job, operations: [operationKey('reshare', clientId, message.sessionId)] };
      }
      if (invite.kind === 'refresh-pair') {
        const { message } = authenticator.refreshPair(body);
        const job = await jobs.refreshPair(message, invite);
        return {
          ...job,
          operations: [operationKey('refresh-pair', clientId, message.sessionId)],
        };
      }
      throw new MpcError(ErrorCode.InvalidSessionType, `unsupported session kind ${invite.kind}`);
    },
  });
  const messenger = new PeerMessenger({
    nc,
    selfNodeId: config.nodeId,
    sendTimeoutMs: config.sessions.directSendTimeoutMs,
    sendAttempts: config.sessions.directSendAttempts,
    handler: host,
    onPeerUnreachable: (peer) => membership.markSuspect(peer),
  });
  host.attachMessenger(messenger);
  await messenger.start();
  await membership.start();
  const backups =
    config.backup !== undefined && baseMembership instanceof LeaseMembership
      ? startBackupAgent(config, baseMembership, store, log, (message) => identity.sign(message))
      : undefined;

  const coordinator = new RequestCoordinator({
    selfNodeId: config.nodeId,
    clusterNodes: config.peers,
    threshold: config.threshold,
    authenticator,
    jobs,
    host,
    membership,
    ledger,
    publisher: {
      publish: async (subject, body, messageId) => {
        await js.publish(subject, body, { msgID: messageId });
      },
    },
    metrics,
    log,
    duplicateWaitMs: 8 * config.sessions.roundTimeoutMs,
    workingIntervalMs: Math.max(500, Math.floor(config.sessions.ackWaitMs / 3)),
    retryWithFreshSigners: config.sessions.retryWithFreshSigners,
    signingBatch: {
      maxBatch: config.sessions.maxSigningBatch,
      maxInFlightPerGroup: config.sessions.signingBatchInFlight,
    },
    isPairUsable: (peer, record) => bans.isPairUsable(peer, record),
    passOnDeliveries: Math.min(config.peers.length, config.sessions.maxDeliver - 1),
    ...(config.faultInjection?.holdBeforeAckFile === undefined
      ? {}
      : { beforeAck: holdWhileFileExists(config.faultInjection.holdBeforeAckFile, config.nodeId) }),
    ...(config.faultInjection?.holdBeforeMarkFile === undefined
      ? {}
      : {
          beforeMark: holdWhileFileExists(config.faultInjection.holdBeforeMarkFile, config.nodeId),
        }),
    // A peer's readiness comes back about one heartbeat after a NATS outage.
    notReadyGraceMs: Math.max(5000, 2 * config.membership.heartbeatIntervalMs + 1000),
  });
  await coordinator.register();

  // Give peers' heartbeats a moment so a fresh signer does not take requests it would refuse.
  const quorumWaitUntil = Date.now() + 3 * config.membership.heartbeatIntervalMs;
  while (membership.readyNodes().length < quorum && Date.now() < quorumWaitUntil) {
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  let stopping = false;
  const consumers: ConsumerMessages[] = [];
  const consumeLoop = async (
    stream: string,
    durable: string,
    concurrency: number,
    handle: (msg: JsMsg) => Promise<void>,
    prefetch = Math.max(1, Math.floor(concurrency / 4)),
  ): Promise<void> => {
    let inFlight = 0;
    while (!stopping) {
      try {
        const consumer = await js.consumers.get(stream, durable);
        // Small prefetch: a message waiting in our buffer gets no working() heartbeats and
        // would be redelivered elsewhere after the ack wait. Short pulls: after a reconnect the
        // client re-checks the consumer before pulling again and, when JetStream is not back
        // yet (a restarted nats-server), retries only after `expires` (30 s by default), so a
        // signer took no requests for up to 30 s after every such restart.
        const messages = await consumer.consume({
          max_messages: prefetch,
          expires: CONSUME_PULL_EXPIRES_MS,
        });
        consumers.push(messages);
        for await (const msg of messages) {
          // Not pinned (yet) or pinned to another key: peers would refuse our session, so
          // leave the request to a signer the roster trusts.
          if (membership.selfPin() !== 'pinned') {
            msg.nak(1000);
            continue;
          }
          inFlight += 1;
          void handle(msg).finally(() => {
            inFlight -= 1;
          });
          while (inFlight >= concurrency && !stopping) await new Promise((r) => setTimeout(r, 5));
        }
      } catch (error) {
        if (!stopping) log.warn({ err: error, stream }, 'request consumer restarting');
      }
      if (!stopping) await new Promise((r) => setTimeout(r, 500));
    }
  };
  // Test-only: a signer that refuses coordination only ever participates.
  if (config.faultInjection?.refuseCoordination !== true) {
    void consumeLoop(
      SigningPublisherStream,
      SigningRequestConsumerName,
      config.sessions.maxConcurrentSigning,
      (msg) => coordinator.handleSigning(msg),
    );
    // Keygen: prefetch the whole concurrency. The durable's MaxAckPending is that same
    // figure cluster-wide, so no fetched message ever waits here without a slot (and without
    // working() heartbeats), and a burst of malformed requests is rejected `concurrency` at a
    // time instead of one pull round trip each (hostile.flood_delay).
    void consumeLoop(
      KeygenBrokerStream,
      KeygenRequestConsumerName,
      config.sessions.maxConcurrentKeygen,
      (msg) => coordinator.handleKeygen(msg),
      config.sessions.maxConcurrentKeygen,
    );
    void consumeLoop(
      ReshareRequestStream,
      ReshareRequestConsumerName,
      config.sessions.maxConcurrentKeygen,
      (msg) => coordinator.handleReshare(msg),
    );
    void consumeLoop(RefreshPairRequestStream, refreshPair.durable, 1, (msg) =>
      coordinator.handleRefreshPair(msg),
    );
  }
  const reshareIntake = forwardReshareRequests({ nc, js, log });

  const advisories = watchMaxDeliveryAdvisories({
    nc,
    js,
    jsm,
    ledger,
    isLive: (node) => membership.isReady(node),
    log,
  });

  const http = await startHttpServer({
    host: config.http.host,
    port: config.http.port,
    registry: metrics.registry,
    walletsNeeding: (node, limit) =>
      walletsNeedingNode(
        { listWallets: () => store.listWallets(), load: (id, type) => wallets.load(id, type) },
        node,
        limit,
      ),
    prestop: async () => {
      const outcome = await waitUntilSafeToLeave({
        otherReadySigners: () =>
          membership.readyNodes().filter((node) => node !== config.nodeId).length,
        quorum,
        maxWaitMs: config.http.prestopMaxWaitMs,
        pollMs: 500,
        now: () => performance.now(),
        sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
      });
      log.info(
        outcome,
        outcome.safe ? 'preStop: quorum holds without us' : 'preStop: wait bound reached',
      );
      return outcome;
    },
    readiness: () => {
      const readySigners = membership.readyNodes().length;
      const natsConnected = !nc.isClosed() && !stopping;
      // 'mismatch': the roster pins another key under our node id (we are not who the
      // cluster trusts as this node); 'unpinned': the operator has not pinned us yet.
      const identityPin = membership.selfPin();
      return {
        ready: natsConnected && readySigners >= quorum && identityPin === 'pinned',
        details: {
          natsConnected,
          readySigners,
          quorum,
          identityPin,
          activeSessions: host.activeSessions,
          coordinatingSessions: host.coordinatingSessions,
          ...(config.faultInjection === undefined ? {} : { pausedSessions: host.pausedSessions }),
        },
      };
    },
  });
  metrics.setActiveSessionsSource(() => host.activeSessions);
  let lastPin = membership.selfPin();
  const pinWatch = setInterval(() => {
    const pin = membership.selfPin();
    if (pin === lastPin) return;
    lastPin = pin;
    if (pin === 'mismatch') {
      log.error(
        { nodeId: config.nodeId },
        'the roster pins a different identity key for this node: not serving until an administrator clears the pin',
      );
    } else log.info({ nodeId: config.nodeId, identityPin: pin }, 'identity pin changed');
  }, 1000);
  pinWatch.unref();

  return {
    httpPort: http.port,
    closed: nc.closed(),
    async stop() {
      stopping = true;
      host.abortAll('signer shutting down');
      advisories.unsubscribe();
      reshareIntake.unsubscribe();
      for (const messages of consumers) await messages.close().catch(() => undefined);
      clearInterval(pinWatch);
      await backups?.stop();
      await rosterSource?.stop();
      await membership.stop();
      messenger.stop();
      await nc.drain().catch(() => undefined);
      await http.close();
      await workers.close();
      await participation.close();
      await store.close();
      wipeBytes(secrets.chainCode);
    },
  };
}

/**
 * Online backups (backup-agent.ts): MpcBackup objects of this signer's cluster, read with the
 * pod's credentials; reports on our own Lease.
 */
function startBackupAgent(
  config: SignerConfig,
  lease: LeaseMembership,
  store: ShareStore,
  log: Logger,
  sign: (message: Uint8Array) => Uint8Array,
): BackupAgent | undefined {
  const backup = config.backup;
  const namespace = process.env['POD_NAMESPACE'];
  const cluster =
    config.clusterName?.split('/').pop() ?? /^(.+)-signer-\d+$/.exec(config.nodeId)?.[1];
  if (backup === undefined || namespace === undefined || namespace === '' || !cluster) {
    log.warn({}, 'backup configured but the cluster or namespace is unknown: backups disabled');
    return undefined;
  }
  const kubeConfig = inClusterKubeConfig();
  const agent = new BackupAgent({
    nodeId: config.nodeId,
    cluster,
    config: backup,
    identity: { cluster: config.clusterName ?? `${namespace}/${cluster}`, sign },
    log,
    listBackups: () => listMpcBackups(kubeConfig, namespace),
    currentReports: () => lease.ownAnnotation(BACKUP_REPORTS_ANNOTATION),
    publishReports: (value) => lease.publishAnnotation(BACKUP_REPORTS_ANNOTATION, value),
    exportArchive: async (outFile, backupKey) => {
      const seed = await readIdentitySeedForBackup({
        dataDir: config.dataDir,
        nodeId: config.nodeId,
      });
      try {
        const peerBans = await readPeerBansForBackup(config.dataDir);
        return await exportBackup(store, outFile, backupKey, {
          nodeId: config.nodeId,
          ...(seed === undefined ? {} : { identitySeed: seed }),
          ...(peerBans === undefined ? {} : { peerBans }),
        });
      } finally {
        if (seed !== undefined) wipeBytes(seed);
      }
    },
  });
  agent.start();
  return agent;
}

/** Test-only (fault injection): holds a coordinator before an ack while `file` exists. */
function holdWhileFileExists(file: string, nodeId: string): () => Promise<void> {
  return async () => {
    if (!existsSync(file)) return;
    writeFileSync(`${file}.held`, nodeId);
    while (existsSync(file)) await new Promise((resolve) => setTimeout(resolve, 20));
  };
}
