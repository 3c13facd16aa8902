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
  createDkls23SigningProtocol,
  decodeDkls23KeyShare,
  encodeDkls23KeyShare,
  wipeDkls23KeyShare,
  type Dkls23KeyShare,
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
import { wipeBytes } from '../crypto/wipe.ts';
import type { EncodedKeygenResult, PartyResults, PartySpec } from './worker-messages.ts';

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
  }
}
