/**
 * One signer's part in one session: the ephemeral channel keys, the round runner, buffered
 * early messages, and the teardown that wipes all of it (design §6.5, §8).
 *
 * Lifecycle: created when the signer accepts an invite (or, on the coordinator, when it
 * starts a session) → `start(hellos)` derives the pair keys and runs the rounds → settles
 * with the protocol result or a typed error → `dispose()` drops keys and buffers. Messages
 * that arrive before `start` are buffered (bounded) and replayed after it.
 *
 * Authentication: broadcasts are signed with the identity key; direct messages are sealed
 * under the pair keys (and signed until the peer is known to have started). In a session of two
 * signers a broadcast has one recipient and is sealed like a direct message once that peer has
 * started and its hello accepts it (`sealedBroadcasts`), saving a signature and a verification.
 */
import type { PartyId } from '../crypto/round-protocol.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import type { MpcError } from '../protocol/errors.ts';
import type { ControlSigner, SessionHello, SignedControl } from '../transport/control-messages.ts';
import { openControl } from '../transport/control-messages.ts';
import { verifyEd25519 } from '../transport/ed25519-verify.ts';
import type { PeerMessenger } from '../transport/peer-messenger.ts';
import {
  EnvelopeKind,
  broadcastSignedBytes,
  derivePairKeys,
  generateEphemeralKeyPair,
  openDirect,
  sealDirect,
  wipePairKeys,
  type EphemeralKeyPair,
  type Envelope,
  type PairKeys,
} from '../transport/secure-channel.ts';
import { PairStateMismatchError, ProtocolViolationError } from './errors.ts';
import {
  RoundRunner,
  type MessageKind,
  type PartyDriver,
  type RoundNetwork,
} from './round-runner.ts';
import { sessionBinding } from './session-binding.ts';

/*
 * Envelopes that arrive before `start` (a fast peer's first round) are buffered only when they
 * are signed by a participant of this session (direct envelopes carry the sender's signature
 * over header ‖ ciphertext for exactly this reason: their channel keys do not exist yet), one
 * per sender, round and kind (duplicates dropped), so at most 2 × rounds per sender. A forged
 * frame never enters the buffer, so it cannot displace a real one. A sender leaves that
 * signature out once the recipient has sent it an authenticated envelope of this session: the
 * recipient has started then, and a started session authenticates direct envelopes by their
 * AEAD alone (an unsigned one reaching a session that has not started is dropped).
 */

export interface ParticipantSessionOptions<Result> {
  readonly sessionId: string;
  readonly self: ControlSigner;
  readonly roster: ReadonlyMap<string, Uint8Array>;
  readonly nodeOfParty: ReadonlyMap<PartyId, string>;
  readonly party: PartyDriver<Result>;
  readonly messenger: PeerMessenger;
  readonly roundTimeoutMs: number;
  readonly probeIntervalMs: number;
  readonly shouldPause?: ((round: number) => boolean) | undefined;
  readonly onPause?: ((round: number) => void) | undefined;
  /** See `RoundRunnerOptions.gate`. */
  readonly gate?: (() => void) | undefined;
  /** Creates the protocol party for the session binding (session-binding.ts) before round 0. */
  readonly bind?: ((binding: Uint8Array) => Promise<void>) | undefined;
  /**
   * DKLs23 sessions: this signer's pair-state origin per peer (`WalletMetadata.pairOrigins`),
   * announced in the hello and compared with each peer's before round 0.
   */
  readonly pairOrigins?: ReadonlyMap<string, string> | undefined;
}

export class ParticipantSession<Result> {
  readonly sessionId: string;
  readonly ephemeral: EphemeralKeyPair;
  private readonly options: ParticipantSessionOptions<Result>;
  private readonly selfParty: PartyId;
  private readonly runner: RoundRunner<Result>;
  private readonly pairKeys = new Map<string, PairKeys>();
  /** Peers that sent this session an authenticated envelope, so have started (see below). */
  private readonly peersStarted = new Set<string>();
  /** The peer of a two-party session whose hello accepts sealed broadcasts (see `network`). */
  private sealedBroadcastPeer: string | undefined;
  private buffered: Envelope[] = [];
  /** `${from}\n${round}\n${kind}` of buffered envelopes (one each). */
  private readonly bufferedSlots = new Set<string>();
  private started = false;
  private disposed = false;

  constructor(options: ParticipantSessionOptions<Result>) {
    this.options = options;
    this.sessionId = options.sessionId;
    this.ephemeral = generateEphemeralKeyPair();
    const selfParty = [...options.nodeOfParty].find(([, node]) => node === options.self.nodeId);
    if (selfParty === undefined) throw new Error('self is not a participant');
    this.selfParty = selfParty[0];
    this.runner = new RoundRunner({
      sessionId: options.sessionId,
      party: options.party,
      nodeOfParty: options.nodeOfParty,
      self: this.selfParty,
      network: this.network(),
      roundTimeoutMs: options.roundTimeoutMs,
      probeIntervalMs: options.probeIntervalMs,
      shouldPause: options.shouldPause,
      onPause: options.onPause,
      gate: options.gate,
    });
  }

  get peers(): string[] {
    return this.runner.peers;
  }

  hello(): SessionHello {
    return {
      type: 'hello',
      sessionId: this.sessionId,
      nodeId: this.options.self.nodeId,
      ephemeralPublicKey: Buffer.from(this.ephemeral.publicKey).toString('base64'),
      sealedBroadcasts: true,
      signingBatches: true,
      ...(this.options.pairOrigins === undefined
        ? {}
        : { pairOrigins: Object.fromEntries(this.options.pairOrigins) }),
    };
  }

  /**
   * Checks every participant's signed hello, derives the pair keys and runs the rounds.
   * `vouchedBy`: the node whose verified start carried `hellos` (its own hello's signature
   * is then not checked again). Rejects with a typed error; never leaves keys behind (call
   * `dispose()` after settling).
   */
  async start(
    hellos: readonly SignedControl[],
    options: { readonly vouchedBy?: string } = {},
  ): Promise<Result> {
    if (this.started) throw new ProtocolViolationError('session started twice');
    if (this.disposed) throw new ProtocolViolationError('session already ended');
    this.started = true;
    const seen = new Set<string>();
    const ephemeralKeys = new Map<string, Uint8Array>([
      [this.options.self.nodeId, this.ephemeral.publicKey],
    ]);
    // Hellos whose signature proves nothing new: this signer's own (compared with its key
    // below) and, on a participant, the coordinator's, which arrives inside the coordinator's
    // start whose signature the host verified. Every other participant's hello is verified.
    const vouchedFor = new Set([this.options.self.nodeId]);
    if (options.vouchedBy !== undefined) vouchedFor.add(options.vouchedBy);
    for (const signed of hellos) {
      const hello = openControl(signed, this.options.roster, { vouchedFor });
      if (hello?.type !== 'hello' || hello.sessionId !== this.sessionId) {
        throw new ProtocolViolationError(`invalid hello in session ${this.sessionId}`, signed.from);
      }
      seen.add(hello.nodeId);
      if (hello.nodeId === this.options.self.nodeId) {
        if (hello.ephemeralPublicKey !== this.hello().ephemeralPublicKey) {
          throw new ProtocolViolationError(`start carries a foreign hello for this signer`);
        }
        continue;
      }
      if (!this.runner.peers.includes(hello.nodeId)) {
        throw new ProtocolViolationError(
          `hello from non-participant ${hello.nodeId}`,
          hello.nodeId,
        );
      }
      this.checkPairOrigin(hello);
      const peerKey = new Uint8Array(Buffer.from(String(hello.ephemeralPublicKey), 'base64'));
      if (peerKey.length !== 32) {
        throw new ProtocolViolationError(
          `invalid ephemeral key from ${hello.nodeId}`,
          hello.nodeId,
        );
      }
      ephemeralKeys.set(hello.nodeId, peerKey);
      if (hello.sealedBroadcasts === true && this.isTwoParty()) {
        this.sealedBroadcastPeer = hello.nodeId;
      }
      this.pairKeys.set(
        hello.nodeId,
        derivePairKeys({
          sessionId: this.sessionId,
          selfNodeId: this.options.self.nodeId,
          selfKeyPair: this.ephemeral,
          peerNodeId: hello.nodeId,
          peerEphemeralPublicKey: peerKey,
        }),
      );
    }
    for (const peer of this.runner.peers) {
      if (!seen.has(peer)) throw new ProtocolViolationError(`missing hello from ${peer}`, peer);
    }
    await this.options.bind?.(sessionBinding(this.sessionId, ephemeralKeys));
    const early = this.buffered;
    this.buffered = [];
    this.bufferedSlots.clear();
    // Buffered envelopes passed their signature check on the way in (`buffer`); every other
    // check is made again.
    for (const envelope of early) this.accept(envelope, true);
    return this.runner.run();
  }

  /** Both ends of the pair with the hello's sender must hold OT state of the same origin. */
  private checkPairOrigin(hello: SessionHello): void {
    const mine = this.options.pairOrigins;
    if (mine === undefined) return;
    const announced = (hello.pairOrigins as Record<string, unknown> | undefined)?.[
      this.options.self.nodeId
    ];
    const theirs = announced === undefined ? '' : announced;
    if (theirs !== (mine.get(hello.nodeId) ?? '')) {
      throw new PairStateMismatchError(this.sessionId, hello.nodeId);
    }
  }

  /** Returns false when the envelope is dropped (wrong session/recipient, bad auth, duplicate). */
  acceptEnvelope(envelope: Envelope): boolean {
    return this.accept(envelope, false);
  }

  /** `signatureChecked`: a buffered envelope, whose signature `buffer` verified. */
  private accept(envelope: Envelope, signatureChecked: boolean): boolean {
    if (this.disposed) return false;
    const { header, body, signature } = envelope;
    if (header.sessionId !== this.sessionId) return false;
    if (!this.started) return this.buffer(envelope);
    if (header.kind === EnvelopeKind.Broadcast && header.to !== '') {
      // A sealed broadcast (see `acceptSealed`): only in a session of two participants.
      return this.isTwoParty() && this.acceptSealed(envelope, 'broadcast');
    }
    if (header.kind === EnvelopeKind.Broadcast) {
      const key = this.options.roster.get(header.from);
      if (key === undefined) return false;
      if (!signatureChecked && !verifyEd25519(key, broadcastSignedBytes(header, body), signature)) {
        return false;
      }
      this.peersStarted.add(header.from);
      return this.runner.deliver('broadcast', header.round, header.from, body.slice());
    }
    return this.acceptSealed(envelope, 'direct');
  }

  /**
   * An envelope addressed to this signer and sealed under the pair key: a direct message, or a
   * broadcast of a two-party session, where a broadcast has this one recipient and is a direct
   * message in all but name. The AEAD (header as associated data, so kind, round, sender and
   * recipient are bound) authenticates it as well as a signature would for its only reader;
   * nobody else ever relies on it. A sealed broadcast is never buffered: a sender seals one
   * only towards a peer it saw started.
   */
  private acceptSealed(envelope: Envelope, kind: MessageKind): boolean {
    const { header } = envelope;
    if (header.to !== this.options.self.nodeId) return false;
    const keys = this.pairKeys.get(header.from);
    if (keys === undefined) return false;
    let plaintext: Uint8Array;
    try {
      plaintext = openDirect(keys, envelope);
    } catch {
      return false;
    }
    this.peersStarted.add(header.from);
    return this.runner.deliver(kind, header.round, header.from, plaintext);
  }

  private isTwoParty(): boolean {
    return this.options.nodeOfParty.size === 2;
  }

  /** Buffers an early envelope signed by a participant of this session (see the note above). */
  private buffer(envelope: Envelope): boolean {
    const { header, body, signature } = envelope;
    if (!this.runner.peers.includes(header.from)) return false;
    if (header.round < 0 || header.round >= this.options.party.rounds) return false;
    const addressed =
      header.kind === EnvelopeKind.Broadcast
        ? header.to === ''
        : header.to === this.options.self.nodeId;
    if (!addressed) return false;
    const slot = `${header.from}\n${header.round}\n${header.kind}`;
    if (this.bufferedSlots.has(slot)) return false;
    const key = this.options.roster.get(header.from);
    if (key === undefined || !verifyEd25519(key, broadcastSignedBytes(header, body), signature)) {
      return false;
    }
    this.bufferedSlots.add(slot);
    this.buffered.push(envelope);
    return true;
  }

  abort(error: MpcError): void {
    this.runner.abort(error);
  }

  /** Wipes channel keys and buffered messages. The runner has already wiped the party. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const keys of this.pairKeys.values()) wipePairKeys(keys);
    this.pairKeys.clear();
    for (const envelope of this.buffered) wipeBytes(envelope.body);
    this.buffered = [];
  }

  private network(): RoundNetwork {
    const { messenger, self, sessionId } = this.options;
    return {
      broadcast: async (round, payload, peers) => {
        // Sealed broadcasts: in a two-party session, towards a peer whose hello accepts them
        // and that has sent this session an authenticated envelope (so holds the pair keys),
        // the broadcast is sealed under the pair key instead of signed: one AEAD instead of an
        // Ed25519 signature here and a verification there. The first one is still signed.
        const sealedTo = this.sealedBroadcastPeer;
        const keys = sealedTo === undefined ? undefined : this.pairKeys.get(sealedTo);
        if (
          sealedTo !== undefined &&
          keys !== undefined &&
          this.peersStarted.has(sealedTo) &&
          peers.length === 1 &&
          peers[0] === sealedTo
        ) {
          const sealedHeader = {
            kind: EnvelopeKind.Broadcast,
            sessionId,
            round,
            from: self.nodeId,
            to: sealedTo,
          } as const;
          await messenger.sendEnvelope(sealedTo, sealDirect(keys, sealedHeader, payload));
          return;
        }
        const header = {
          kind: EnvelopeKind.Broadcast,
          sessionId,
          round,
          from: self.nodeId,
          to: '',
        } as const;
        const signature = self.sign(broadcastSignedBytes(header, payload));
        const envelope = { header, body: payload, signature };
        await Promise.all(peers.map((peer) => messenger.sendEnvelope(peer, envelope)));
      },
      direct: async (round, payload, peer) => {
        const keys = this.pairKeys.get(peer);
        if (keys === undefined) throw new ProtocolViolationError(`no channel to ${peer}`, peer);
        const header = { kind: EnvelopeKind.Direct, sessionId, round, from: self.nodeId, to: peer };
        const sealed = sealDirect(keys, header, payload);
        wipeBytes(payload);
        // Signed as well as sealed while the peer may not have started yet, so it can tell
        // it from a forgery before buffering it (the AEAD keys need the start's hellos). A
        // peer that sent us an authenticated envelope has started (it sends only after its
        // start) and authenticates by the AEAD alone, so from then on the signature, an
        // Ed25519 hash over the whole ciphertext, is left out.
        const signature = this.peersStarted.has(peer)
          ? new Uint8Array(0)
          : self.sign(broadcastSignedBytes(header, sealed.body));
        await messenger.sendEnvelope(peer, { ...sealed, signature });
      },
      probe: (peer) => messenger.probe(peer, sessionId),
    };
  }
}
