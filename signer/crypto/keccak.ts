/**
 * SHAKE256 (FIPS 202) for short inputs on a Keccak-f[1600] permutation compiled to WebAssembly,
 * for the DKLs23 hot paths that hash thousands of ~100-byte inputs per signature (KOS PRG rows,
 * RVOLE row hashes). node:crypto's per-call cost (a Hash object, an EVP context, a Buffer)
 * is ~2.5 µs for one 136-byte block, several times OpenSSL's permutation itself; here a call
 * costs ~1.5 µs (bench/dkls23.bench.ts components). Large inputs stay with node:crypto
 * (transcript.ts dispatches by length), where OpenSSL's assembly wins per block.
 *
 * The module is generated here, not shipped as a binary: a ~1.5 KB WebAssembly module with
 * two functions over one memory page —
 *   permute(): Keccak-f[1600] in place on the 25 little-endian 64-bit lanes at bytes 0..199
 *              (24 rounds of θ, ρ, π, χ, ι; FIPS 202 §3.2, lane (x, y) at index x + 5y;
 *              rotation offsets and round constants derived below from their definitions);
 *   absorb():  XORs the 136-byte block at IN_OFFSET into the rate lanes, then permute().
 * Round constants live at RC_OFFSET, written once at instantiation. Keccak has no secret-
 * dependent branches or table lookups, in WebAssembly as in C.
 *
 * Secrets: the inputs hold seeds and OT columns. State and block buffer are zero between calls
 * (each call wipes both before returning, also on the way out of an exception), so nothing of
 * one call remains in the module's memory. The instance is created on first use and shared by
 * the thread (no configuration; single-threaded, and no call can interleave another).
 * shake256 is checked byte for byte against node:crypto for input lengths 0..600 and output
 * lengths up to 3 blocks (keccak.test.ts).
 */
import {
  encodeModule,
  instantiate,
  op,
  signedLeb,
  unsignedLeb,
  valueType,
} from './wasm-emitter.ts';

/** SHAKE256 rate in bytes: 1600 − 2·256 bits. */
export const SHAKE256_RATE = 136;
const RATE = SHAKE256_RATE;
const STATE_BYTES = 200;
const RC_OFFSET = 256;
const IN_OFFSET = 1024;
const ROUNDS = 24;

/** ρ rotation offsets r[x + 5y] (FIPS 202 Algorithm 2). */
function rotationOffsets(): number[] {
  const offsets = new Array<number>(25).fill(0);
  let x = 1;
  let y = 0;
  for (let t = 0; t < 24; t++) {
    offsets[x + 5 * y] = (((t + 1) * (t + 2)) / 2) % 64;
    [x, y] = [y, (2 * x + 3 * y) % 5];
  }
  return offsets;
}

/** ι round constants (FIPS 202 Algorithms 5 and 6). */
export function roundConstants(): bigint[] {
  const rc = (t: number): number => {
    let r = 1;
    for (let i = 0; i < t % 255; i++) {
      r <<= 1;
      if (r & 0x100) r ^= 0x171; // x^8 + x^6 + x^5 + x^4 + 1
    }
    return r & 1;
  };
  const constants: bigint[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    let value = 0n;
    for (let j = 0; j < 7; j++) {
      if (rc(j + 7 * round) === 1) value |= 1n << BigInt((1 << j) - 1);
    }
    constants.push(value);
  }
  return constants;
}

function permuteBody(): number[] {
  // Locals: lanes a[0..24], b[0..24] (after ρ, π), c[0..4], d[0..4] (θ), round (i32).
  const a = (k: number): number => k;
  const b = (k: number): number => 25 + k;
  const c = (x: number): number => 50 + x;
  const d = (x: number): number => 55 + x;
  const round = 60;
  const code: number[] = [];
  const get = (index: number): void => void code.push(op.localGet, ...unsignedLeb(index));
  const set = (index: number): void => void code.push(op.localSet, ...unsignedLeb(index));
  for (let k = 0; k < 25; k++) {
    code.push(op.i32Const, 0, op.i64Load, op.align8, ...unsignedLeb(8 * k));
    set(a(k));
  }
  code.push(op.i32Const, 0);
  set(round);
  code.push(op.loop, op.voidBlock);
  // θ
  for (let x = 0; x < 5; x++) {
    get(a(x));
    for (let y = 1; y < 5; y++) {
      get(a(x + 5 * y));
      code.push(op.i64Xor);
    }
    set(c(x));
  }
  for (let x = 0; x < 5; x++) {
    get(c((x + 4) % 5));
    get(c((x + 1) % 5));
    code.push(op.i64Const, 1, op.i64Rotl, op.i64Xor);
    set(d(x));
  }
  for (let k = 0; k < 25; k++) {
    get(a(k));
    get(d(k % 5));
    code.push(op.i64Xor);
    set(a(k));
  }
  // ρ and π: b[y, 2x + 3y] = rotl(a[x, y], r[x, y])
  const offsets = rotationOffsets();
  for (let x = 0; x < 5; x++) {
    for (let y = 0; y < 5; y++) {
      get(a(x + 5 * y));
      code.push(op.i64Const, ...signedLeb(offsets[x + 5 * y] as number), op.i64Rotl);
      set(b(y + 5 * ((2 * x + 3 * y) % 5)));
    }
  }
  // χ: a[x, y] = b[x, y] ⊕ (¬b[x+1, y] ∧ b[x+2, y])
  for (let y = 0; y < 5; y++) {
    for (let x = 0; x < 5; x++) {
      get(b(((x + 1) % 5) + 5 * y));
      code.push(op.i64Const, ...signedLeb(-1), op.i64Xor);
      get(b(((x + 2) % 5) + 5 * y));
      code.push(op.i64And);
      get(b(x + 5 * y));
      code.push(op.i64Xor);
      set(a(x + 5 * y));
    }
  }
  // ι: a[0, 0] ⊕= RC[round]
  get(a(0));
  get(round);
  code.push(op.i32Const, 3, op.i32Shl, op.i64Load, op.align8, ...unsignedLeb(RC_OFFSET));
  code.push(op.i64Xor);
  set(a(0));
  get(round);
  code.push(op.i32Const, 1, op.i32Add, op.localTee, ...unsignedLeb(round));
  code.push(op.i32Const, ROUNDS, op.i32LtU, op.brIf, 0, op.end);
  for (let k = 0; k < 25; k++) {
    code.push(op.i32Const, 0);
    get(a(k));
    code.push(op.i64Store, op.align8, ...unsignedLeb(8 * k));
  }
  code.push(op.end);
  return code;
}

function absorbBody(): number[] {
  const code: number[] = [];
  for (let lane = 0; lane < RATE / 8; lane++) {
    code.push(op.i32Const, 0, op.i32Const, 0, op.i64Load, op.align8, ...unsignedLeb(8 * lane));
    code.push(op.i32Const, 0, op.i64Load, op.align8, ...unsignedLeb(IN_OFFSET + 8 * lane));
    code.push(op.i64Xor, op.i64Store, op.align8, ...unsignedLeb(8 * lane));
  }
  code.push(op.call, 0, op.end);
  return code;
}

function moduleBytes(): Uint8Array {
  return encodeModule({
    types: [{ params: [], results: [] }], // type 0: () → ()
    functions: [
      // 60 i64 locals (lanes a, b, c, d), 1 i32 local (round).
      {
        type: 0,
        locals: [
          [60, valueType.i64],
          [1, valueType.i32],
        ],
        code: permuteBody(),
      },
      { type: 0, locals: [], code: absorbBody() },
    ],
    memoryPages: 1,
    exports: { permute: 0, absorb: 1 },
  });
}

interface KeccakInstance {
  readonly memory: Uint8Array;
  readonly permute: () => void;
  readonly absorb: () => void;
}

let instance: KeccakInstance | undefined;

function keccak(): KeccakInstance {
  if (instance !== undefined) return instance;
  const exports = instantiate(moduleBytes());
  const constants = new DataView(exports.memory.buffer, RC_OFFSET, 8 * ROUNDS);
  roundConstants().forEach((value, index) => constants.setBigUint64(8 * index, value, true));
  instance = {
    memory: new Uint8Array(exports.memory.buffer),
    permute: exports['permute'] as () => void,
    absorb: exports['absorb'] as () => void,
  };
  return instance;
}

/** Whether the state and block buffer are all zero (tests: nothing of a call remains). */
export function keccakScratchIsClear(): boolean {
  const { memory } = keccak();
  for (let index = 0; index < STATE_BYTES; index++) if (memory[index] !== 0) return false;
  for (let index = IN_OFFSET; index < IN_OFFSET + RATE; index++)
    if (memory[index] !== 0) return false;
  return true;
}

/**
 * SHAKE256(`input`) with `length` output bytes, written into `out` at `outOffset`. Any lengths;
 * meant for short inputs (transcript.ts dispatches). Writing into a caller's buffer lets hot
 * loops reuse one: a fresh Uint8Array per digest (an off-heap buffer above 64 bytes) cost as
 * much as the permutation itself. Entry invariant: state and block buffer are zero (every call
 * wipes both on its way out).
 */
export function shake256WasmInto(
  input: Uint8Array,
  length: number,
  out: Uint8Array,
  outOffset: number,
): void {
  if (outOffset < 0 || outOffset + length > out.length) {
    throw new RangeError('output does not fit');
  }
  const { memory, permute, absorb } = keccak();
  try {
    let offset = 0;
    while (input.length - offset >= RATE) {
      memory.set(input.subarray(offset, offset + RATE), IN_OFFSET);
      absorb();
      offset += RATE;
    }
    const rest = input.length - offset;
    if (offset > 0) memory.fill(0, IN_OFFSET + rest, IN_OFFSET + RATE);
    if (rest > 0) memory.set(offset === 0 ? input : input.subarray(offset), IN_OFFSET);
    // pad10*1 with the SHAKE domain bits 1111: 0x1F after the message, 0x80 on the last byte
    // (the same byte when rest = RATE − 1).
    memory[IN_OFFSET + rest] = 0x1f;
    memory[IN_OFFSET + RATE - 1] = (memory[IN_OFFSET + RATE - 1] as number) | 0x80;
    absorb();
    let produced = 0;
    for (;;) {
      const take = Math.min(RATE, length - produced);
      out.set(memory.subarray(0, take), outOffset + produced);
      produced += take;
      if (produced >= length) return;
      permute();
    }
  } finally {
    memory.fill(0, 0, STATE_BYTES);
    memory.fill(0, IN_OFFSET, IN_OFFSET + RATE);
  }
}
