/**
 * KOS15 correlated OT extension (eprint 2015/546, Fig. 10, corrected) with the row-wise
 * GF(2^128) consistency check (as in SoftSpokenOT, k = 1) and Fiat–Shamir challenges hashed
 * from the whole message (DKLs23 p. 30), so the extension is one message receiver → sender.
 *
 * Setup (from κ base OTs with roles reversed): the extension sender holds Δ ∈ {0,1}^κ and
 * seeds k_{l,Δ_l}; the receiver holds k_{l,0}, k_{l,1}. Per run, with the receiver's choice
 * bits x ∈ {0,1}^{ξ} padded by 128 random bits:
 *   receiver: t^l = G(k_{l,0}), u^l = t^l ⊕ G(k_{l,1}) ⊕ x; χ = H(sid, nonce, u);
 *             x̃ = Σ_k χ_k·x_k, t̃^l = Σ_k χ_k·t^l_k  (k over 128-bit blocks of a row)
 *   sender:   q^l = G(k_{l,Δ_l}) ⊕ Δ_l·u^l = t^l ⊕ Δ_l·x; checks Σ_k χ_k·q^l_k = t̃^l ⊕ Δ_l·x̃.
 * Column j of Q then equals column j of T ⊕ x_j·Δ (the law tested as q = t ⊕ Δ·x).
 *
 * The PRG G is SHAKE256 keyed by the seed and bound to the pair session id and a fresh
 * receiver nonce: a repeated session id can then never repeat the receiver's pads (crypto.md
 * §1.4 item 2) — repeating them would only hurt the receiver who chose the nonce.
 */
import { transposeBits } from './bit-matrix.ts';
import { Dkls23OtExtensionCheckError } from './errors.ts';
import { gf128MultiplyAccumulate, gf128Table, gf128WordsToBytes } from './gf128.ts';
import { BATCH, CHECK_BLOCKS, KAPPA, ROW_BYTES, SEED_BYTES } from './params.ts';
import type { RandomSource } from './group.ts';
import { encodeTranscript, shake256Into, taggedExpand } from '../transcript.ts';
import type { PartyId } from '../round-protocol.ts';

/** Extension sender's pairwise state: Δ (κ bits) and the κ seeds k_{l,Δ_l}. Secret. */
export interface OtExtensionSenderSetup {
  readonly delta: Uint8Array;
  readonly seeds: Uint8Array;
}

/** Extension receiver's pairwise state: both seeds of each of the κ base OTs. Secret. */
export interface OtExtensionReceiverSetup {
  readonly seeds0: Uint8Array;
  readonly seeds1: Uint8Array;
}

/** Receiver → sender message. */
export interface OtExtensionMessage {
  readonly nonce: Uint8Array; // 32
  readonly u: Uint8Array; // κ × ROW_BYTES
  readonly xTilde: Uint8Array; // 16
  readonly tTilde: Uint8Array; // κ × 16
}

export const OT_EXTENSION_MESSAGE_BYTES = 32 + KAPPA * ROW_BYTES + 16 + KAPPA * 16;

/** Receiver's outputs: columns t_j (κ bits each) for the first ξ extended OTs. Secret. */
export interface OtExtensionReceiverOutput {
  readonly message: OtExtensionMessage;
  readonly columns: Uint8Array; // ξ × 32
}

const PRG_DOMAIN = 'DKLs23/v1/kos/prg';

/**
 * The PRG rows G(k_l) = SHAKE256(frame(domain, k_l, sid, nonce, l)) of one run, with the framed
 * input built once and only the seed and index rewritten per row (the same bytes as
 * `encodeTranscript(PRG_DOMAIN, [seed, sid, nonce, l])`, without per-row framing and
 * allocations). The input holds a seed: `wipe` when done.
 */
class PrgRows {
  private readonly input: Uint8Array;
  private readonly view: DataView;
  private readonly seedOffset: number;
  private readonly indexOffset: number;

  constructor(pairSessionId: Uint8Array, nonce: Uint8Array) {
    this.input = encodeTranscript(PRG_DOMAIN, [
      new Uint8Array(SEED_BYTES),
      pairSessionId,
      nonce,
      0,
    ]);
    this.view = new DataView(this.input.buffer, this.input.byteOffset, this.input.length);
    // Layout: u32 ‖ domain ‖ u32 ‖ seed ‖ u32 ‖ sid ‖ u32 ‖ nonce ‖ u32 ‖ index (4 bytes).
    this.seedOffset = 4 + this.view.getUint32(0) + 4;
    this.indexOffset = this.input.length - 4;
  }

  /** Writes row `index` (ROW_BYTES) into `out` at `outOffset`. */
  row(seeds: Uint8Array, index: number, out: Uint8Array, outOffset: number): void {
    this.input.set(seeds.subarray(index * SEED_BYTES, (index + 1) * SEED_BYTES), this.seedOffset);
    this.view.setUint32(this.indexOffset, index);
    shake256Into(this.input, ROW_BYTES, out, outOffset);
  }

  wipe(): void {
    this.input.fill(0);
  }
}

function challengeTables(
  pairSessionId: Uint8Array,
  nonce: Uint8Array,
  u: Uint8Array,
): Uint32Array[] {
  const chi = taggedExpand('DKLs23/v1/kos/chi', CHECK_BLOCKS * 16, pairSessionId, nonce, u);
  const tables: Uint32Array[] = [];
  for (let k = 0; k < CHECK_BLOCKS; k++) tables.push(gf128Table(chi, 16 * k));
  return tables;
}

function rowCheckValue(
  tables: readonly Uint32Array[],
  row: Uint8Array,
  rowOffset: number,
  out: Uint8Array,
  outOffset: number,
): void {
  const accumulator = new Uint32Array(4);
  for (let k = 0; k < CHECK_BLOCKS; k++) {
    gf128MultiplyAccumulate(tables[k] as Uint32Array, row, rowOffset + 16 * k, accumulator);
  }
  gf128WordsToBytes(accumulator, out, outOffset);
}

/**
 * Receiver side. `choiceBits` holds ξ bits (ξ/8 bytes). Returns the message and the columns t_j.
 */
export function otExtensionReceive(
  setup: OtExtensionReceiverSetup,
  pairSessionId: Uint8Array,
  choiceBits: Uint8Array,
  random: RandomSource,
): OtExtensionReceiverOutput {
  if (choiceBits.length !== BATCH / 8) throw new RangeError('choice bits must be ξ bits');
  const nonce = random(32).slice();
  const x = new Uint8Array(ROW_BYTES);
  x.set(choiceBits);
  const pad = random(ROW_BYTES - BATCH / 8);
  x.set(pad, BATCH / 8);
  pad.fill(0);
  const output = buildReceiverMessage(setup, pairSessionId, nonce, x, () => x);
  x.fill(0);
  return output;
}

/**
 * The receiver computation with the padded choice row `x` used for the check values and
 * `rowChoice(l)` as the choice row actually embedded in u^l. Honest receivers pass `() => x`;
 * tests pass inconsistent rows to model a cheating receiver (selective-abort regression).
 */
export function buildReceiverMessage(
  setup: OtExtensionReceiverSetup,
  pairSessionId: Uint8Array,
  nonce: Uint8Array,
  x: Uint8Array,
  rowChoice: (row: number) => Uint8Array,
): OtExtensionReceiverOutput {
  const t = new Uint8Array(KAPPA * ROW_BYTES);
  const u = new Uint8Array(KAPPA * ROW_BYTES);
  const prg = new PrgRows(pairSessionId, nonce);
  const t1 = new Uint8Array(ROW_BYTES);
  for (let l = 0; l < KAPPA; l++) {
    const base = l * ROW_BYTES;
    prg.row(setup.seeds0, l, t, base);
    prg.row(setup.seeds1, l, t1, 0);
    const choice = rowChoice(l);
    for (let b = 0; b < ROW_BYTES; b++) {
      u[base + b] = (t[base + b] as number) ^ (t1[b] as number) ^ (choice[b] as number);
    }
  }
  t1.fill(0);
  prg.wipe();
  const tables = challengeTables(pairSessionId, nonce, u);
  const xTilde = new Uint8Array(16);
  rowCheckValue(tables, x, 0, xTilde, 0);
  const tTilde = new Uint8Array(KAPPA * 16);
  for (let l = 0; l < KAPPA; l++) rowCheckValue(tables, t, l * ROW_BYTES, tTilde, l * 16);
  const columns = transposeBits(t, KAPPA, ROW_BYTES, BATCH);
  t.fill(0);
  return { message: { nonce, u, xTilde, tTilde }, columns };
}

/**
 * Sender side: verifies the KOS check (ban the counterparty on failure) and returns the
 * columns q_j = t_j ⊕ x_j·Δ for the first ξ extended OTs.
 */
export function otExtensionSend(
  setup: OtExtensionSenderSetup,
  pairSessionId: Uint8Array,
  message: OtExtensionMessage,
  counterparty: PartyId,
): Uint8Array {
  const q = new Uint8Array(KAPPA * ROW_BYTES);
  const prg = new PrgRows(pairSessionId, message.nonce);
  for (let l = 0; l < KAPPA; l++) {
    const mask = -(((setup.delta[l >> 3] as number) >> (l & 7)) & 1) & 0xff;
    const base = l * ROW_BYTES;
    prg.row(setup.seeds, l, q, base);
    for (let b = 0; b < ROW_BYTES; b++) {
      q[base + b] = (q[base + b] as number) ^ ((message.u[base + b] as number) & mask);
    }
  }
  prg.wipe();
  const tables = challengeTables(pairSessionId, message.nonce, message.u);
  const expected = new Uint8Array(16);
  let difference = 0;
  for (let l = 0; l < KAPPA; l++) {
    rowCheckValue(tables, q, l * ROW_BYTES, expected, 0);
    const mask = -(((setup.delta[l >> 3] as number) >> (l & 7)) & 1) & 0xff;
    for (let b = 0; b < 16; b++) {
      difference |=
        (expected[b] as number) ^
        (message.tTilde[l * 16 + b] as number) ^
        ((message.xTilde[b] as number) & mask);
    }
  }
  if (difference !== 0) {
    q.fill(0);
    throw new Dkls23OtExtensionCheckError(
      `OT-extension consistency check failed for party ${counterparty}`,
      {
        counterparty,
        field: 'otExtension',
      },
    );
  }
  const columns = transposeBits(q, KAPPA, ROW_BYTES, BATCH);
  q.fill(0);
  return columns;
}
