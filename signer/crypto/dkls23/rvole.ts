/**
 * Random vector OLE, DKLs23 (eprint 2023/765) Protocol 5.2, on top of the KOS extension.
 *
 * Bob (receiver) samples choice bits β ∈ {0,1}^ξ; his random input is b = ⟨g, β⟩ for the
 * public gadget vector g. Alice (sender) has inputs a ∈ Z_q^ℓ (ℓ = 2). Per extended OT j she
 * derives two pads from the OT columns, H0_j = H(j, q_j) and H1_j = H(j, q_j ⊕ Δ) ∈ Z_q^3, and
 * with random ã ∈ Z_q^2, â ∈ Z_q sends τ_j = H0_j − H1_j + (ã, â). Her share of β_j·(ã, â) is
 * α_j = −H0_j; Bob's is ω_j = H(j, t_j) + β_j·τ_j, so α_j + ω_j = β_j·(ã, â).
 * All hashes below are keyed by the run key H(sid, Bob's nonce, Alice's nonce) (`rvoleRunKey`).
 * She also sends δ = a − ã, θ = H(sid, τ, δ), η = â + ⟨θ, ã⟩ and
 * μ = H(sid, (α_{j,3} + ⟨θ, α_{j,1..2}⟩)_j); Bob recomputes μ from β_j·η − ω_{j,3} − ⟨θ, ω_{j,1..2}⟩
 * and aborts (ban) on mismatch. Outputs c = Σ_j g_j·α_j[1..2] (Alice) and
 * d = b·δ + Σ_j g_j·ω_j[1..2] (Bob), so c + d = a·b.
 *
 * Secret choice bits and pads never reach a branch or a product with a bit (review finding
 * L3): per-row sums, differences, negations and reductions run on masked 32-bit limbs
 * (`limbs.ts`), and β_j selects through a mask between two values computed either way. What
 * stays in BigInt: products with the public θ and gadget values and the final `%` reductions
 * (of non-negative values only).
 */
import { Dkls23MalformedMessageError, Dkls23RvoleCheckError } from './errors.ts';
import { Fn, randomScalar, type RandomSource, scalarFromHash, scalarToBytes } from './group.ts';
import {
  otExtensionReceive,
  otExtensionSend,
  type OtExtensionMessage,
  type OtExtensionReceiverSetup,
  type OtExtensionSenderSetup,
} from './ot-extension.ts';
import {
  ModQ,
  lessThanQ,
  limbsFromBigint,
  limbsFromBytes,
  limbsToBytes,
  maskOf,
  newLimbs,
  selectLimbs,
} from './limbs.ts';
import { BATCH, KAPPA, RVOLE_INPUTS, RVOLE_WIDTH, SCALAR_BYTES } from './params.ts';
import { encodeTranscript, shake256Into, taggedExpand, taggedHash } from '../transcript.ts';
import type { PartyId } from '../round-protocol.ts';
import { bytesEqual } from './wire.ts';

let gadgetCache: readonly bigint[] | undefined;

/** The public gadget vector g ∈ Z_q^ξ, derived from a fixed domain tag. */
export function gadgetVector(): readonly bigint[] {
  if (gadgetCache === undefined) {
    const bytes = taggedExpand('DKLs23/v1/rvole/gadget', BATCH * 32);
    const values: bigint[] = [];
    for (let j = 0; j < BATCH; j++) values.push(scalarFromHash(bytes, 32 * j));
    gadgetCache = Object.freeze(values);
  }
  return gadgetCache;
}

let gadgetLimbsCache: readonly Uint32Array[] | undefined;

/** The gadget vector in limbs (`limbs.ts`), for the masked inner product ⟨g, β⟩. */
function gadgetLimbs(): readonly Uint32Array[] {
  gadgetLimbsCache ??= Object.freeze(gadgetVector().map((value) => limbsFromBigint(value)));
  return gadgetLimbsCache;
}

/** Alice → Bob message. */
export interface RvoleSenderMessage {
  /** Alice's fresh 32 bytes: keys the row hashes, θ and μ to this run (see below). */
  readonly nonce: Uint8Array;
  readonly tau: Uint8Array; // ξ × 3 scalars
  readonly delta: readonly bigint[]; // ℓ
  readonly eta: bigint; // ρ = 1
  readonly mu: Uint8Array; // 32
}

export const RVOLE_SENDER_MESSAGE_BYTES =
  32 + BATCH * RVOLE_WIDTH * SCALAR_BYTES + RVOLE_INPUTS * 32 + 32 + 32;

/** Bob's state between his message and Alice's answer. Secret. */
export interface RvoleReceiverState {
  readonly choiceBits: Uint8Array;
  readonly columns: Uint8Array;
  /** b = ⟨g, β⟩, Bob's random input. */
  readonly input: bigint;
  /** The nonce Bob put into his extension message. */
  readonly receiverNonce: Uint8Array;
}

/**
 * Key of one RVOLE run: the pair session id plus both parties' fresh nonces. Bob's nonce keeps
 * his PRG pads fresh; Alice's keeps her row hashes fresh, so a cheating Bob who replays his
 * nonce under a reused session id (same PRG rows, different choice bits) cannot combine two
 * runs' τ to learn ã + ã′ and, with δ + δ′, the sum of Alice's inputs.
 */
export function rvoleRunKey(
  pairSessionId: Uint8Array,
  receiverNonce: Uint8Array,
  senderNonce: Uint8Array,
): Uint8Array {
  return taggedHash('DKLs23/v1/rvole/run', pairSessionId, receiverNonce, senderNonce);
}

const ROW_HASH_DOMAIN = 'DKLs23/v1/rvole/row';
const ORDER = Fn.ORDER;

/**
 * The row hashes H(j, column) = SHAKE256(frame(domain, runKey, j, column)) of one run, with the
 * framed input built once and only the index and column rewritten per row (the same bytes as
 * `encodeTranscript(ROW_HASH_DOMAIN, [runKey, j, column])`, without per-row allocations).
 */
class RowHasher {
  private readonly input: Uint8Array;
  /** One row's digest, reused (and wiped) row after row. */
  private readonly digest = new Uint8Array(RVOLE_WIDTH * 32);
  private readonly view: DataView;
  private readonly indexOffset: number;
  private readonly columnOffset: number;

  constructor(runKey: Uint8Array) {
    this.input = encodeTranscript(ROW_HASH_DOMAIN, [runKey, 0, new Uint8Array(KAPPA / 8)]);
    this.view = new DataView(this.input.buffer, this.input.byteOffset, this.input.length);
    this.columnOffset = this.input.length - KAPPA / 8;
    this.indexOffset = this.columnOffset - 4 - 4;
  }

  /** The row's RVOLE_WIDTH scalars (each 32 hash bytes reduced once mod q, masked) as limbs. */
  limbs(index: number, column: Uint8Array, out: readonly Uint32Array[], mod: ModQ): void {
    this.view.setUint32(this.indexOffset, index);
    this.input.set(column, this.columnOffset);
    const digest = this.digest;
    shake256Into(this.input, RVOLE_WIDTH * 32, digest, 0);
    for (let k = 0; k < RVOLE_WIDTH; k++) {
      mod.reduceLimbs(limbsFromBytes(digest, 32 * k, out[k] as Uint32Array));
    }
    digest.fill(0);
  }

  wipe(): void {
    this.input.fill(0);
    this.digest.fill(0);
  }
}

/**
 * Reduces a non-negative integer into [0, q). Every caller adds enough multiples of q to keep
 * its sum non-negative, so no sign branch on a secret is needed.
 */
function reduce(value: bigint): bigint {
  return value % ORDER;
}

/** 2q² > ⟨θ, ω⟩ for θ, ω ∈ [0, q)²: added to Bob's μ terms so their sum stays non-negative. */
const MU_OFFSET = 2n * ORDER * ORDER;

/** Writes a scalar in [0, 2^256) as 32 big-endian bytes at `offset`. */
function writeScalar(value: bigint, out: Uint8Array, offset: number): void {
  const view = new DataView(out.buffer, out.byteOffset + offset, 32);
  view.setBigUint64(0, BigInt.asUintN(64, value >> 192n));
  view.setBigUint64(8, BigInt.asUintN(64, value >> 128n));
  view.setBigUint64(16, BigInt.asUintN(64, value >> 64n));
  view.setBigUint64(24, BigInt.asUintN(64, value));
}

function theta(pairSessionId: Uint8Array, tau: Uint8Array, delta: readonly bigint[]): bigint[] {
  const bytes = taggedExpand(
    'DKLs23/v1/rvole/theta',
    RVOLE_INPUTS * 32,
    pairSessionId,
    tau,
    ...delta.map(scalarToBytes),
  );
  return Array.from({ length: RVOLE_INPUTS }, (_, i) => scalarFromHash(bytes, 32 * i));
}

function muDigest(pairSessionId: Uint8Array, values: Uint8Array): Uint8Array {
  return taggedHash('DKLs23/v1/rvole/mu', pairSessionId, values);
}

/** Bob, round 1: samples β and produces the OT-extension message. */
export function rvoleReceiverStart(
  setup: OtExtensionReceiverSetup,
  pairSessionId: Uint8Array,
  random: RandomSource,
): { message: OtExtensionMessage; state: RvoleReceiverState } {
  const choiceBits = random(BATCH / 8).slice();
  const { message, columns } = otExtensionReceive(setup, pairSessionId, choiceBits, random);
  // b = ⟨g, β⟩ with masked selection: every term adds g_j or zero, chosen by a mask.
  const gadget = gadgetLimbs();
  const mod = new ModQ();
  const zero = newLimbs();
  const term = newLimbs();
  const sum = newLimbs();
  for (let j = 0; j < BATCH; j++) {
    const mask = maskOf((choiceBits[j >> 3] as number) >> (j & 7));
    mod.addModQ(sum, selectLimbs(mask, zero, gadget[j] as Uint32Array, term), sum);
  }
  const input = mod.toBigint(sum);
  sum.fill(0);
  term.fill(0);
  mod.wipe();
  return { message, state: { choiceBits, columns, input, receiverNonce: message.nonce.slice() } };
}

/** Alice: checks Bob's extension (ban on failure), answers with inputs `a`; returns c. */
export function rvoleSenderRespond(
  setup: OtExtensionSenderSetup,
  pairSessionId: Uint8Array,
  receiverMessage: OtExtensionMessage,
  inputs: readonly bigint[],
  random: RandomSource,
  counterparty: PartyId,
): { message: RvoleSenderMessage; outputs: bigint[] } {
  const q = otExtensionSend(setup, pairSessionId, receiverMessage, counterparty);
  const nonce = random(32).slice();
  const runKey = rvoleRunKey(pairSessionId, receiverMessage.nonce, nonce);
  const columnBytes = KAPPA / 8;
  const flipped = new Uint8Array(columnBytes);
  const correlation = [randomScalar(random), randomScalar(random), randomScalar(random)];
  const gadget = gadgetVector();
  const tau = new Uint8Array(BATCH * RVOLE_WIDTH * 32);
  const mod = new ModQ();
  const zero = newLimbs();
  const correlationLimbs = correlation.map((value) => limbsFromBigint(value));
  const h0 = [newLimbs(), newLimbs(), newLimbs()];
  const h1 = [newLimbs(), newLimbs(), newLimbs()];
  const scratch = newLimbs();
  const alphas: bigint[] = new Array<bigint>(BATCH * RVOLE_WIDTH);
  const rows = new RowHasher(runKey);
  for (let j = 0; j < BATCH; j++) {
    const column = q.subarray(j * columnBytes, (j + 1) * columnBytes);
    for (let b = 0; b < columnBytes; b++)
      flipped[b] = (column[b] as number) ^ (setup.delta[b] as number);
    rows.limbs(j, column, h0, mod);
    rows.limbs(j, flipped, h1, mod);
    for (let k = 0; k < RVOLE_WIDTH; k++) {
      const pad0 = h0[k] as Uint32Array;
      // α = −h0 and τ = h0 − h1 + ã_k, all mod q on masked limbs (no branch on the pads).
      alphas[j * RVOLE_WIDTH + k] = mod.toBigint(mod.subModQ(zero, pad0, scratch));
      mod.subModQ(pad0, h1[k] as Uint32Array, scratch);
      mod.addModQ(scratch, correlationLimbs[k] as Uint32Array, scratch);
      limbsToBytes(scratch, tau, (j * RVOLE_WIDTH + k) * 32);
    }
  }
  for (const limbs of [...h0, ...h1, ...correlationLimbs, scratch]) limbs.fill(0);
  mod.wipe();
  rows.wipe();
  q.fill(0);
  flipped.fill(0);
  const delta = inputs.map((a, i) => Fn.sub(a, correlation[i] as bigint));
  const th = theta(runKey, tau, delta);
  let eta = correlation[RVOLE_INPUTS] as bigint;
  for (let i = 0; i < RVOLE_INPUTS; i++)
    eta = Fn.add(eta, Fn.mul(th[i] as bigint, correlation[i] as bigint));
  const muValues = new Uint8Array(BATCH * 32);
  // Sums are accumulated unreduced (bigints do not overflow) and reduced once.
  const sums = [0n, 0n];
  for (let j = 0; j < BATCH; j++) {
    let value = alphas[j * RVOLE_WIDTH + RVOLE_INPUTS] as bigint;
    for (let i = 0; i < RVOLE_INPUTS; i++) {
      const alpha = alphas[j * RVOLE_WIDTH + i] as bigint;
      value += (th[i] as bigint) * alpha;
      sums[i] = (sums[i] as bigint) + (gadget[j] as bigint) * alpha;
    }
    writeScalar(reduce(value), muValues, 32 * j);
  }
  alphas.fill(0n);
  const outputs = sums.map(reduce);
  const mu = muDigest(runKey, muValues);
  muValues.fill(0);
  return { message: { nonce, tau, delta, eta, mu }, outputs };
}

/** Bob, final: checks μ (ban on failure) and returns d with c + d = a·b. */
export function rvoleReceiverFinish(
  state: RvoleReceiverState,
  pairSessionId: Uint8Array,
  message: RvoleSenderMessage,
  counterparty: PartyId,
): bigint[] {
  const gadget = gadgetVector();
  const runKey = rvoleRunKey(pairSessionId, state.receiverNonce, message.nonce);
  const th = theta(runKey, message.tau, message.delta);
  const columnBytes = KAPPA / 8;
  const mod = new ModQ();
  const zero = newLimbs();
  const eta = limbsFromBigint(message.eta);
  const pads = [newLimbs(), newLimbs(), newLimbs()];
  const omega = [newLimbs(), newLimbs(), newLimbs()];
  const tau = newLimbs();
  const withTau = newLimbs();
  const withEta = newLimbs();
  const muStart = newLimbs();
  const muValues = new Uint8Array(BATCH * 32);
  // Sums are accumulated unreduced (bigints do not overflow) and reduced once.
  const sums = [0n, 0n];
  const rows = new RowHasher(runKey);
  for (let j = 0; j < BATCH; j++) {
    // β_j enters only as a mask selecting between two values computed either way.
    const mask = maskOf((state.choiceBits[j >> 3] as number) >> (j & 7));
    rows.limbs(j, state.columns.subarray(j * columnBytes, (j + 1) * columnBytes), pads, mod);
    for (let k = 0; k < RVOLE_WIDTH; k++) {
      limbsFromBytes(message.tau, (j * RVOLE_WIDTH + k) * 32, tau);
      if (!lessThanQ(tau)) {
        throw new Dkls23MalformedMessageError('rvole.tau: scalar is not reduced', {
          field: 'rvole.tau',
          counterparty,
        });
      }
      // ω = pad + β·τ
      const pad = pads[k] as Uint32Array;
      selectLimbs(mask, pad, mod.addModQ(pad, tau, withTau), omega[k] as Uint32Array);
    }
    // β·η − ω_3, then − ⟨θ, ω_1..2⟩ (offset by 2q² to stay non-negative).
    const omegaCheck = omega[RVOLE_INPUTS] as Uint32Array;
    mod.subModQ(eta, omegaCheck, withEta);
    selectLimbs(mask, mod.subModQ(zero, omegaCheck, muStart), withEta, muStart);
    let value = mod.toBigint(muStart) + MU_OFFSET;
    for (let i = 0; i < RVOLE_INPUTS; i++) {
      const omegaI = mod.toBigint(omega[i] as Uint32Array);
      value -= (th[i] as bigint) * omegaI;
      sums[i] = (sums[i] as bigint) + (gadget[j] as bigint) * omegaI;
    }
    writeScalar(reduce(value), muValues, 32 * j);
  }
  rows.wipe();
  for (const limbs of [...pads, ...omega, withTau, withEta, muStart]) limbs.fill(0);
  mod.wipe();
  const mu = muDigest(runKey, muValues);
  muValues.fill(0);
  if (!bytesEqual(mu, message.mu)) {
    throw new Dkls23RvoleCheckError(`RVOLE consistency check failed for party ${counterparty}`, {
      counterparty,
      field: 'rvole.mu',
    });
  }
  return sums.map((sum, i) => reduce(state.input * (message.delta[i] as bigint) + sum));
}

/** Overwrites Bob's secret buffers. */
export function wipeRvoleReceiverState(state: RvoleReceiverState): void {
  state.choiceBits.fill(0);
  state.columns.fill(0);
}
