/**
 * Typed mpcium client: a superset of the mpcium TypeScript client (`fystack/mpcium-client-ts`)
 * and of the Go client (`pkg/client`), speaking the wire contract of
 * `mpcium-contract.md` §1–3 byte for byte:
 * - ClientID result routing (header `ClientID`, scoped result durables), validated like Go;
 * - Ed25519 and P-256 initiator keys (`InitiatorSigner`), authorizer co-signatures;
 * - caller-chosen `tx_id`, optional `derivation_path`;
 * - result streams (`onWalletCreationResult`, `onSignResult`, `onResharingResult`) and
 *   promise-per-request helpers (`createWalletAndWait`, `signAndWait`) that match results on
 *   wallet_id / tx_id and reject with `ResultTimeoutError`;
 * - our extension `refreshPair` / `refreshPairAndWait` (DKLs23 pairwise refresh after a ban).
 *
 * Requests are checked with the signer's own parsers before publishing, so a request this client
 * sends is never rejected for its shape (`ValidationError` is thrown to the caller instead).
 *
 * Routing note: every client instance with the same ClientID shares one durable per result kind
 * on a WorkQueue stream, so instances load-balance results. Give each independent process its
 * own ClientID if each must see its own results.
 */
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager, type JetStreamClient } from '@nats-io/jetstream';
import { headers, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { ErrorCode, MpcError, ValidationError } from '../protocol/errors.ts';
import { decodeStdBase64 } from '../protocol/go-json.ts';
import {
  decodeKeygenResultEvent,
  decodeResharingResultEvent,
  decodeSigningResultEvent,
  encodeGenerateKeyMessage,
  encodePairRefreshMessage,
  pairRefreshRaw,
  parsePairRefreshMessage,
  encodeResharingMessage,
  encodeSignTxMessage,
  generateKeyRaw,
  parseGenerateKeyMessage,
  parseResharingMessage,
  parseSignTxMessage,
  resharingRaw,
  signTxRaw,
  derivationPathRaw,
  validateIdentifier,
  type AuthorizerSignature,
  type KeyType,
  type KeygenResultEvent,
  type ResharingResultEvent,
  type SigningResultEvent,
} from '../protocol/messages.ts';
import {
  ClientIdHeader,
  KeygenResultConsumerBase,
  MpcReshareEvent,
  reshareRequestMessageId,
  reshareRequestSubject,
  ReshareResultConsumerBase,
  ResultStreamName,
  SigningResultConsumerBase,
  keygenRequestSubject,
  refreshPairRequestMessageId,
  refreshPairRequestSubject,
  resultConsumerDurableName,
  signingRequestSubject,
  validateClientId,
} from '../protocol/subjects.ts';
import {
  ensureRequestStreams,
  ensureResultConsumers,
  ensureResultStream,
  type EnsureReport,
} from '../transport/streams.ts';
import type { AuthorizerContext, InitiatorSigner } from './initiator-keys.ts';
import { ResultDispatcher } from './result-dispatcher.ts';

/** No result for the request arrived in time. Code `ERROR_NETWORK_TIMEOUT`. */
export class ResultTimeoutError extends MpcError {
  readonly operation: 'keygen' | 'signing' | 'resharing' | 'pair refresh';
  readonly id: string;
  readonly timeoutMs: number;

  constructor(
    operation: 'keygen' | 'signing' | 'resharing' | 'pair refresh',
    id: string,
    timeoutMs: number,
  ) {
    const what = {
      keygen: 'wallet',
      signing: 'tx',
      resharing: 'session',
      'pair refresh': 'session',
    }[operation];
    super(
      ErrorCode.NetworkTimeout,
      `no ${operation} result for ${what} ${id} within ${timeoutMs} ms`,
    );
    this.operation = operation;
    this.id = id;
    this.timeoutMs = timeoutMs;
  }
}

/** Authorizer signatures: given, or computed from the initiator's signature (they sign after). */
export type AuthorizerSignaturesInput =
  | readonly AuthorizerSignature[]
  | ((
      context: AuthorizerContext,
    ) => readonly AuthorizerSignature[] | Promise<readonly AuthorizerSignature[]>);

export interface MpcClientOptions {
  readonly nc: NatsConnection;
  readonly signer: InitiatorSigner;
  /** Result routing scope; '' or absent = legacy mpcium routing (shared by all such clients). */
  readonly clientId?: string;
  /** Create streams and this client's result durables (default true, like the Go client). */
  readonly ensureStreams?: boolean;
  /** Receives pull-loop and callback errors (default: console.error). */
  readonly onError?: (error: unknown) => void;
}

export interface CreateWalletOptions {
  readonly authorizerSignatures?: AuthorizerSignaturesInput;
}

export interface SignTransactionRequest {
  readonly walletId: string;
  readonly keyType: KeyType;
  /** ECDSA: the 32-byte digest. EdDSA: the message. Bytes, or standard base64 text. */
  readonly tx: Uint8Array | string;
  readonly networkInternalCode?: string;
  /** Defaults to a fresh UUID v4. */
  readonly txId?: string;
  /** Non-hardened CKD path; absent = master key. */
  readonly derivationPath?: readonly number[];
  readonly authorizerSignatures?: AuthorizerSignaturesInput;
}

export interface ReshareRequest {
  readonly walletId: string;
  readonly nodeIds: readonly string[];
  readonly newThreshold: number;
  readonly keyType: KeyType;
  /** Defaults to a fresh UUID v4. */
  readonly sessionId?: string;
  readonly authorizerSignatures?: AuthorizerSignaturesInput;
  /**
   * `stream` (default): persisted in our `mpc-reshare` request stream, and the call resolves
   * once JetStream stored it (nothing is lost while no signer listens). `core`: published on
   * `mpc:reshare` exactly as mpcium clients do (lost if no signer is subscribed).
   */
  readonly transport?: 'stream' | 'core';
}

/**
 * A DKLs23 pairwise refresh of one secp256k1 wallet (security review M1): after `node` banned
 * `peer` (a failed consistency check burned their pair in every wallet), this reruns the pair's
 * setup with fresh base OTs so the two sign together again. `node` coordinates; the request
 * waits in stream `mpc-refresh-pair` until it runs. Signed with the initiator key.
 */
export interface PairRefreshRequest {
  readonly walletId: string;
  /** The signer that coordinates: one of the pair (usually the one that recorded the ban). */
  readonly node: string;
  /** The other signer of the pair. */
  readonly peer: string;
  /** Defaults to a fresh UUID v4; the result arrives on the resharing result subject of it. */
  readonly sessionId?: string;
  readonly authorizerSignatures?: AuthorizerSignaturesInput;
}

/** A resharing result with the session ID its subject carries. */
export type ReshareResultWithSession = ResharingResultEvent & { readonly session_id: string };

export interface WaitOptions {
  /** How long to wait for the result. */
  readonly timeoutMs: number;
}

export type StopFunction = () => Promise<void>;

export class MpcClient {
  /** Stream/consumer shapes the client could not establish (see `ensureMpcStreams`). */
  readonly warnings: readonly string[];
  private readonly js: JetStreamClient;
  private readonly keygenResults: ResultDispatcher<KeygenResultEvent>;
  private readonly signingResults: ResultDispatcher<SigningResultEvent>;
  private readonly reshareResults: ResultDispatcher<ReshareResultWithSession>;

  private constructor(
    private readonly nc: NatsConnection,
    private readonly signer: InitiatorSigner,
    readonly clientId: string,
    warnings: readonly string[],
    onError: (error: unknown) => void,
  ) {
    this.warnings = warnings;
    this.js = jetstream(nc);
    const dispatcher = <T>(base: string, decode: (body: Uint8Array, subject: string) => T) =>
      new ResultDispatcher<T>({
        js: this.js,
        stream: ResultStreamName,
        durable: resultConsumerDurableName(base, clientId),
        decode,
        onError,
      });
    this.keygenResults = dispatcher(KeygenResultConsumerBase, decodeKeygenResultEvent);
    this.signingResults = dispatcher(SigningResultConsumerBase, decodeSigningResultEvent);
    this.reshareResults = dispatcher(ReshareResultConsumerBase, (body, subject) => ({
      ...decodeResharingResultEvent(body),
      session_id: subject.slice(subject.lastIndexOf('.') + 1),
    }));
  }

  /** Validates the ClientID and (by default) ensures streams and this routing's durables. */
  static async create(options: MpcClientOptions): Promise<MpcClient> {
    const clientId = options.clientId ?? '';
    validateClientId(clientId);
    let report: EnsureReport = { warnings: [] };
    if (options.ensureStreams ?? true) {
      const jsm = await jetstreamManager(options.nc);
      report = await ensureRequestStreams(jsm, report);
      report = await ensureResultStream(jsm, report);
      report = await ensureResultConsumers(jsm, clientId, report);
    }
    const onError =
      options.onError ?? ((error: unknown) => console.error('mpc client error:', error));
    return new MpcClient(options.nc, options.signer, clientId, report.warnings, onError);
  }

  private requestHeaders(): MsgHdrs | undefined {
    if (this.clientId === '') return undefined;
    const result = headers();
    result.set(ClientIdHeader, this.clientId);
    return result;
  }

  private async authorizers(
    input: AuthorizerSignaturesInput | undefined,
    context: AuthorizerContext,
  ): Promise<readonly AuthorizerSignature[]> {
    if (input === undefined) return [];
    return typeof input === 'function' ? await input(context) : input;
  }

  /** Publishes a keygen request; returns the wallet ID (a UUID v4 when not given). */
  async createWallet(walletId?: string, options: CreateWalletOptions = {}): Promise<string> {
    const id = walletId ?? randomUUID();
    validateIdentifier(id, 'wallet_id');
    const raw = generateKeyRaw({ walletId: id });
    const signature = this.signer.sign(raw);
    const authorizerSignatures = await this.authorizers(options.authorizerSignatures, {
      initiatorId: id,
      raw,
      initiatorSignature: signature,
    });
    const body = encodeGenerateKeyMessage({ walletId: id, signature, authorizerSignatures });
    parseGenerateKeyMessage(body);
    await this.js.publish(keygenRequestSubject(id), body, this.publishOptions());
    return id;
  }

  /** Publishes a signing request; returns its tx ID. */
  async signTransaction(request: SignTransactionRequest): Promise<string> {
    const txId = request.txId ?? randomUUID();
    const tx = typeof request.tx === 'string' ? decodeStdBase64(request.tx) : request.tx;
    if (tx === undefined) throw new ValidationError('tx', 'must be standard padded base64');
    const fields = {
      keyType: request.keyType,
      walletId: request.walletId,
      networkInternalCode: request.networkInternalCode ?? '',
      txId,
      tx,
    };
    const raw = signTxRaw(fields);
    const signature = this.signer.sign(raw);
    const authorizerSignatures = await this.authorizers(request.authorizerSignatures, {
      initiatorId: txId,
      raw,
      initiatorSignature: signature,
    });
    const derivationPath =
      request.derivationPath === undefined ? null : [...request.derivationPath];
    // Bind the path to the request (mpcium's Raw() does not cover it), the empty path too, so
    // nobody can add a path to a master-key request; mpcium nodes ignore this field.
    const derivationPathSignature = this.signer.sign(
      derivationPathRaw({ ...fields, derivationPath }),
    );
    const body = encodeSignTxMessage({
      ...fields,
      signature,
      derivationPath,
      derivationPathSignature,
      authorizerSignatures,
    });
    parseSignTxMessage(body);
    await this.js.publish(signingRequestSubject(txId), body, this.publishOptions());
    return txId;
  }

  /** Publishes a resharing request (see `ReshareRequest.transport`); returns its session ID. */
  async reshareKeys(request: ReshareRequest): Promise<string> {
    const sessionId = request.sessionId ?? randomUUID();
    const fields = {
      sessionId,
      nodeIds: [...request.nodeIds],
      newThreshold: request.newThreshold,
      keyType: request.keyType,
      walletId: request.walletId,
    };
    const raw = resharingRaw(fields);
    const signature = this.signer.sign(raw);
    const authorizerSignatures = await this.authorizers(request.authorizerSignatures, {
      initiatorId: request.walletId,
      raw,
      initiatorSignature: signature,
    });
    const body = encodeResharingMessage({ ...fields, signature, authorizerSignatures });
    parseResharingMessage(body);
    if (request.transport !== 'core') {
      await this.js.publish(reshareRequestSubject(sessionId), body, {
        ...this.publishOptions(),
        msgID: reshareRequestMessageId(this.clientId, body),
      });
      return sessionId;
    }
    const requestHeaders = this.requestHeaders();
    this.nc.publish(
      MpcReshareEvent,
      body,
      requestHeaders === undefined ? {} : { headers: requestHeaders },
    );
    await this.nc.flush();
    return sessionId;
  }

  /** Publishes a pairwise refresh request; returns its session ID (see `PairRefreshRequest`). */
  async refreshPair(request: PairRefreshRequest): Promise<string> {
    const sessionId = request.sessionId ?? randomUUID();
    const fields = {
      sessionId,
      walletId: request.walletId,
      nodeIds: [request.node, request.peer] as const,
    };
    validateIdentifier(request.node, 'node');
    const raw = pairRefreshRaw(fields);
    const signature = this.signer.sign(raw);
    const authorizerSignatures = await this.authorizers(request.authorizerSignatures, {
      initiatorId: request.walletId,
      raw,
      initiatorSignature: signature,
    });
    const body = encodePairRefreshMessage({ ...fields, signature, authorizerSignatures });
    parsePairRefreshMessage(body);
    await this.js.publish(refreshPairRequestSubject(request.node), body, {
      ...this.publishOptions(),
      msgID: refreshPairRequestMessageId(this.clientId, body),
    });
    return sessionId;
  }

  /**
   * Refreshes the pair and resolves with the result of this session: a `ResharingResultEvent`
   * (`result_type` success with the unchanged key and threshold, or an error).
   */
  async refreshPairAndWait(
    request: PairRefreshRequest,
    options: WaitOptions,
  ): Promise<ReshareResultWithSession> {
    const sessionId = request.sessionId ?? randomUUID();
    validateIdentifier(sessionId, 'session_id');
    return this.waitFor(
      this.reshareResults,
      (event) => event.session_id === sessionId,
      'pair refresh',
      sessionId,
      options.timeoutMs,
      () => this.refreshPair({ ...request, sessionId }),
    );
  }

  private publishOptions(): { headers: MsgHdrs } | undefined {
    const requestHeaders = this.requestHeaders();
    return requestHeaders === undefined ? undefined : { headers: requestHeaders };
  }

  /** Streams keygen results of this routing; the returned function stops the callback. */
  onWalletCreationResult(
    callback: (event: KeygenResultEvent) => void | Promise<void>,
  ): Promise<StopFunction> {
    return this.keygenResults.add(callback, true);
  }

  /** Streams signing results of this routing (match them on `tx_id`). */
  onSignResult(
    callback: (event: SigningResultEvent) => void | Promise<void>,
  ): Promise<StopFunction> {
    return this.signingResults.add(callback, true);
  }

  /**
   * Streams resharing results of this routing. The wire body has no session ID; the client
   * adds `session_id` from the result's subject (as mpcium's TS typings declare it).
   */
  onResharingResult(
    callback: (event: ReshareResultWithSession) => void | Promise<void>,
  ): Promise<StopFunction> {
    return this.reshareResults.add(callback, true);
  }

  /** Creates a wallet and resolves with its keygen result (success or error event). */
  async createWalletAndWait(
    walletId: string | undefined,
    options: WaitOptions & CreateWalletOptions,
  ): Promise<KeygenResultEvent> {
    const id = walletId ?? randomUUID();
    validateIdentifier(id, 'wallet_id');
    return this.waitFor(
      this.keygenResults,
      (event) => event.wallet_id === id,
      'keygen',
      id,
      options.timeoutMs,
      () => this.createWallet(id, options),
    );
  }

  /** Signs and resolves with the signing result for this wallet and tx ID (success or error). */
  async signAndWait(
    request: SignTransactionRequest,
    options: WaitOptions,
  ): Promise<SigningResultEvent> {
    const txId = request.txId ?? randomUUID();
    validateIdentifier(txId, 'tx_id');
    return this.waitFor(
      this.signingResults,
      (event) => event.tx_id === txId && event.wallet_id === request.walletId,
      'signing',
      txId,
      options.timeoutMs,
      () => this.signTransaction({ ...request, txId }),
    );
  }

  /** Reshares and resolves with the result of this session (success or error event). */
  async reshareAndWait(
    request: ReshareRequest,
    options: WaitOptions,
  ): Promise<ReshareResultWithSession> {
    const sessionId = request.sessionId ?? randomUUID();
    validateIdentifier(sessionId, 'session_id');
    return this.waitFor(
      this.reshareResults,
      (event) => event.session_id === sessionId,
      'resharing',
      sessionId,
      options.timeoutMs,
      () => this.reshareKeys({ ...request, sessionId }),
    );
  }

  private async waitFor<T>(
    dispatcher: ResultDispatcher<T>,
    matches: (event: T) => boolean,
    operation: 'keygen' | 'signing' | 'resharing' | 'pair refresh',
    id: string,
    timeoutMs: number,
    send: () => Promise<unknown>,
  ): Promise<T> {
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
      throw new RangeError('timeoutMs must be a positive number');
    }
    let resolveResult!: (event: T) => void;
    const result = new Promise<T>((resolve) => {
      resolveResult = resolve;
    });
    let done = false;
    const remove = await dispatcher.add((event) => {
      if (done || !matches(event)) return false;
      done = true;
      resolveResult(event);
      return true;
    }, false);
    let timer: NodeJS.Timeout | undefined;
    try {
      await send();
      return await Promise.race([
        result,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new ResultTimeoutError(operation, id, timeoutMs)),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      done = true;
      if (timer !== undefined) clearTimeout(timer);
      await remove();
    }
  }

  /** Stops every result stream of this client (the NATS connection stays open). */
  async close(): Promise<void> {
    await Promise.all([
      this.keygenResults.stop(),
      this.signingResults.stop(),
      this.reshareResults.stop(),
    ]);
  }
}
