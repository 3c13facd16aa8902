/**
 * Builds the protocol party a `PartySpec` names: the registry of factories the party worker
 * uses. Synchronous and thread-agnostic (unit-tested on the calling thread).
 *
 * Share handling: a signing spec's `share` bytes are wiped as soon as they are decoded (the
 * decoded share is wiped by `wipe()`); a keygen party's share is encoded into fresh bytes at
 * `finish` and the decoded form wiped. Results hold only buffers the party owns exclusively,
 * so they can be transferred.
 */
import {
  createDkls23KeygenProtocol,
  createDkls23PairRefreshProtocol,
  createDkls23SigningProtocol,
  decodeDkls23KeyShare,
  encodeDkls23KeyShare,
  wipeDkls23KeyShare,
  type Dkls23KeyShare,
  type Dkls23PairRefreshResult,
  type Dkls23Signature,
} from '../crypto/dkls23/index.ts';
import {
  createFrostKeygenProtocol,
  createFrostSigningProtocol,
  decodeFrostKeyShare,
  encodeFrostKeyShare,
  wipeFrostKeyShare,
  type FrostKeyShare,
  type FrostSignature,
} from '../crypto/frost/index.ts';
import type { RoundInput, RoundOutput, RoundProtocol } from '../crypto/round-protocol.ts';
import {
  createDkls23ReshareProtocol,
  createFrostReshareProtocol,
  type ReshareProtocol,
} from '../crypto/reshare/index.ts';
import { wipeBytes } from '../crypto/wipe.ts';
import type {
  Dkls23RefreshPairPartyOptions,
  EncodedKeygenResult,
  EncodedReshareResult,
  PartyResults,
  PartySpec,
} from './worker-messages.ts';

/** A party as the worker hosts it: a `RoundProtocol` with a plain-data result. */
export interface HostedParty {
  readonly rounds: number;
  round(index: number, input: RoundInput): RoundOutput;
  finish(input: RoundInput): PartyResults[keyof PartyResults];
  /** Wipes every secret (protocol state and decoded share). Idempotent. */
  wipe(): void;
}

function keygenParty<Share extends { readonly publicKey: Uint8Array }>(
  protocol: RoundProtocol<Share>,
  encode: (share: Share) => Uint8Array,
  wipeShare: (share: Share) => void,
): HostedParty {
  return {
    rounds: protocol.rounds,
    round: (index, input) => protocol.round(index, input),
    finish: (input): EncodedKeygenResult => {
      const share = protocol.finish(input);
      try {
        return { share: encode(share), publicKey: share.publicKey.slice() };
      } finally {
        wipeShare(share);
      }
    },
    wipe: () => protocol.wipe(),
  };
}

function signingParty<Share, Signature extends object>(
  encodedShare: Uint8Array,
  decode: (bytes: Uint8Array) => Share,
  wipeShare: (share: Share) => void,
  create: (share: Share) => RoundProtocol<Signature>,
  copySignature: (signature: Signature) => Signature,
): HostedParty {
  let share: Share;
  try {
    share = decode(encodedShare);
  } finally {
    wipeBytes(encodedShare);
  }
  let protocol: RoundProtocol<Signature>;
  try {
    protocol = create(share);
  } catch (error) {
    wipeShare(share);
    throw error;
  }
  return {
    rounds: protocol.rounds,
    round: (index, input) => protocol.round(index, input),
    finish: (input) => copySignature(protocol.finish(input)) as FrostSignature | Dkls23Signature,
    wipe: () => {
      protocol.wipe();
      wipeShare(share);
    },
  };
}

function reshareParty<Share>(
  encodedShare: Uint8Array | undefined,
  decode: (bytes: Uint8Array) => Share,
  encode: (share: Share) => Uint8Array,
  wipeShare: (share: Share) => void,
  create: (oldShare: Share | undefined) => ReshareProtocol<Share>,
): HostedParty {
  let oldShare: Share | undefined;
  try {
    oldShare = encodedShare === undefined ? undefined : decode(encodedShare);
  } finally {
    if (encodedShare !== undefined) wipeBytes(encodedShare);
  }
  const wipeOld = (): void => {
    if (oldShare !== undefined) wipeShare(oldShare);
  };
  let protocol: ReshareProtocol<Share>;
  try {
    protocol = create(oldShare);
  } catch (error) {
    wipeOld();
    throw error;
  }
  return {
    rounds: protocol.rounds,
    round: (index, input) => protocol.round(index, input),
    finish: (input): EncodedReshareResult => {
      const result = protocol.finish(input);
      const transcriptDigest = protocol.confirmedTranscript() ?? new Uint8Array(0);
      if (result === undefined) return { transcriptDigest };
      try {
        return { share: encode(result.share), transcriptDigest };
      } finally {
        wipeShare(result.share);
      }
    },
    wipe: () => {
      protocol.wipe();
      wipeOld();
    },
  };
}

/** A pairwise refresh party: decodes the share (wiping the bytes), encodes the refreshed one. */
function refreshPairParty(
  encodedShare: Uint8Array,
  options: Dkls23RefreshPairPartyOptions,
): HostedParty {
  let share: Dkls23KeyShare;
  try {
    share = decodeDkls23KeyShare(encodedShare);
  } finally {
    wipeBytes(encodedShare);
  }
  let protocol: RoundProtocol<Dkls23PairRefreshResult>;
  try {
    protocol = createDkls23PairRefreshProtocol({ share, ...options });
  } finally {
    wipeDkls23KeyShare(share); // the protocol holds its own copy
  }
  return {
    rounds: protocol.rounds,
    round: (index, input) => protocol.round(index, input),
    finish: (input): EncodedReshareResult => {
      const result = protocol.finish(input);
      try {
        return {
          share: encodeDkls23KeyShare(result.share),
          transcriptDigest: result.transcriptDigest,
        };
      } finally {
        wipeDkls23KeyShare(result.share);
      }
    },
    wipe: () => protocol.wipe(),
  };
}

/** Builds the party; throws the protocol's typed error when the spec's values are invalid. */
export function createHostedParty(spec: PartySpec): HostedParty {
  switch (spec.protocol) {
    case 'frost-keygen':
      return keygenParty<FrostKeyShare>(
        createFrostKeygenProtocol(spec.options),
        encodeFrostKeyShare,
        wipeFrostKeyShare,
      );
    case 'dkls23-keygen':
      return keygenParty<Dkls23KeyShare>(
        createDkls23KeygenProtocol(spec.options),
        encodeDkls23KeyShare,
        wipeDkls23KeyShare,
      );
    case 'frost-sign':
      return signingParty<FrostKeyShare, FrostSignature>(
        spec.share,
        decodeFrostKeyShare,
        wipeFrostKeyShare,
        (share) => createFrostSigningProtocol({ share, ...spec.options }),
        (signature) => ({
          signature: signature.signature.slice(),
          publicKey: signature.publicKey.slice(),
        }),
      );
    case 'dkls23-sign':
      return signingParty<Dkls23KeyShare, Dkls23Signature>(
        spec.share,
        decodeDkls23KeyShare,
        wipeDkls23KeyShare,
        (share) => createDkls23SigningProtocol({ share, ...spec.options }),
        (signature) => ({
          r: signature.r.slice(),
          s: signature.s.slice(),
          recovery: signature.recovery,
          publicKey: signature.publicKey.slice(),
        }),
      );
    case 'frost-reshare':
      return reshareParty<FrostKeyShare>(
        spec.share,
        decodeFrostKeyShare,
        encodeFrostKeyShare,
        wipeFrostKeyShare,
        (oldShare) =>
          createFrostReshareProtocol({
            ...spec.options,
            ...(oldShare === undefined ? {} : { oldShare }),
          }),
      );
    case 'dkls23-reshare':
      return reshareParty<Dkls23KeyShare>(
        spec.share,
        decodeDkls23KeyShare,
        encodeDkls23KeyShare,
        wipeDkls23KeyShare,
        (oldShare) =>
          createDkls23ReshareProtocol({
            ...spec.options,
            ...(oldShare === undefined ? {} : { oldShare }),
          }),
      );
    case 'dkls23-refresh-pair':
      return refreshPairParty(spec.share, spec.options);
  }
}
