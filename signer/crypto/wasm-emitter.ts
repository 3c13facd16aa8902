/**
 * A minimal WebAssembly binary writer for the modules this project generates at load time
 * (keccak.ts, frost/edwards-wasm.ts): LEB128 integers, the opcodes those modules use, and the
 * module layout (WebAssembly Core Specification 2.0 §5: magic, version, then the type,
 * function, memory, export and code sections in that order). Modules are built from code, not
 * shipped as binaries, so every instruction can be read (and reviewed) in the generator.
 */

/** Unsigned LEB128 of a non-negative integer below 2^32. */
export function unsignedLeb(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  do {
    let byte = rest & 0x7f;
    rest >>>= 7;
    if (rest !== 0) byte |= 0x80;
    out.push(byte);
  } while (rest !== 0);
  return out;
}

/** Signed LEB128 of a small integer (|value| < 2^31). */
export function signedLeb(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  for (;;) {
    const byte = rest & 0x7f;
    rest >>= 7;
    if ((rest === 0 && (byte & 0x40) === 0) || (rest === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

/** Opcodes (Core Specification §5.4) and immediates used by the generated modules. */
export const op = {
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Const: 0x41,
  i64Const: 0x42,
  i64Load: 0x29,
  i64Store: 0x37,
  i64Add: 0x7c,
  i64Sub: 0x7d,
  i64Mul: 0x7e,
  i64And: 0x83,
  i64Xor: 0x85,
  i64Shl: 0x86,
  i64ShrS: 0x87,
  i64Rotl: 0x89,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32And: 0x71,
  i32Xor: 0x73,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  i32LtU: 0x49,
  i64ExtendI32U: 0xad,
  brIf: 0x0d,
  loop: 0x03,
  if: 0x04,
  end: 0x0b,
  call: 0x10,
  /** memory.copy (bulk memory): 0xFC 10 followed by two memory indices. */
  memoryCopy: [0xfc, 10, 0, 0] as readonly number[],
  /** Block type "no result". */
  voidBlock: 0x40,
  /** Alignment exponent of an 8-byte access. */
  align8: 3,
} as const;

export const valueType = { i32: 0x7f, i64: 0x7e } as const;

/** A function type: parameter and result value types. */
export interface FunctionType {
  readonly params: readonly number[];
  readonly results: readonly number[];
}

/** A function: its type index, its local declarations (count, value type) and its body. */
export interface FunctionBody {
  readonly type: number;
  readonly locals: readonly (readonly [count: number, type: number])[];
  /** Instructions, ending with `op.end`. */
  readonly code: readonly number[];
}

export interface ModuleDefinition {
  readonly types: readonly FunctionType[];
  readonly functions: readonly FunctionBody[];
  /** Initial size of the one memory, in 64 KiB pages (no maximum). */
  readonly memoryPages: number;
  /** Exported functions by name (index into `functions`); the memory is exported as "memory". */
  readonly exports: Readonly<Record<string, number>>;
}

/** The module's binary encoding. */
export function encodeModule(definition: ModuleDefinition): Uint8Array {
  const vector = (items: readonly (readonly number[])[]): number[] => [
    ...unsignedLeb(items.length),
    ...items.flat(),
  ];
  const section = (id: number, content: number[]): number[] => [
    id,
    ...unsignedLeb(content.length),
    ...content,
  ];
  const name = (text: string): number[] => [
    ...unsignedLeb(text.length),
    ...new TextEncoder().encode(text),
  ];
  const body = (fn: FunctionBody): number[] => {
    const content = [
      ...vector(fn.locals.map(([count, type]) => [...unsignedLeb(count), type])),
      ...fn.code,
    ];
    return [...unsignedLeb(content.length), ...content];
  };
  return Uint8Array.from([
    0x00,
    0x61,
    0x73,
    0x6d,
    1,
    0,
    0,
    0,
    ...section(
      1,
      vector(
        definition.types.map((type) => [
          0x60,
          ...vector(type.params.map((param) => [param])),
          ...vector(type.results.map((result) => [result])),
        ]),
      ),
    ),
    ...section(3, vector(definition.functions.map((fn) => unsignedLeb(fn.type)))),
    ...section(5, vector([[0, ...unsignedLeb(definition.memoryPages)]])),
    ...section(
      7,
      vector([
        [...name('memory'), 2, 0],
        ...Object.entries(definition.exports).map(([exportName, index]) => [
          ...name(exportName),
          0,
          ...unsignedLeb(index),
        ]),
      ]),
    ),
    ...section(10, vector(definition.functions.map(body))),
  ]);
}

/** An i32 address operand: a constant, or an i32 parameter (local index) plus an offset. */
export type Address = number | readonly [parameter: number, offset: number];

export function pushAddress(code: number[], address: Address): void {
  if (typeof address === 'number') {
    code.push(op.i32Const, ...signedLeb(address));
    return;
  }
  const [parameter, offset] = address;
  code.push(op.localGet, parameter);
  if (offset !== 0) code.push(op.i32Const, ...signedLeb(offset), op.i32Add);
}

/** Appends a call of function `fn` with the given address arguments. */
export function callWith(code: number[], fn: number, ...addresses: readonly Address[]): void {
  for (const address of addresses) pushAddress(code, address);
  code.push(op.call, ...unsignedLeb(fn));
}

/** Appends memory.copy of `bytes` bytes. */
export function copyBytes(code: number[], to: Address, from: Address, bytes: number): void {
  pushAddress(code, to);
  pushAddress(code, from);
  code.push(op.i32Const, ...signedLeb(bytes), ...op.memoryCopy);
}

/** Appends `target = i64.load(pointer + 8·limb)` (pointer: an i32 local). */
export function loadLimb(code: number[], pointer: number, limb: number, target: number): void {
  code.push(op.localGet, pointer, op.i64Load, op.align8, ...unsignedLeb(8 * limb));
  code.push(op.localSet, ...unsignedLeb(target));
}

/** Appends stores of locals `value(0 … count − 1)` as i64 limbs at `pointer` (an i32 local). */
export function storeLimbs(
  code: number[],
  pointer: number,
  value: (limb: number) => number,
  count: number,
): void {
  for (let limb = 0; limb < count; limb++) {
    code.push(op.localGet, pointer, op.localGet, ...unsignedLeb(value(limb)));
    code.push(op.i64Store, op.align8, ...unsignedLeb(8 * limb));
  }
}

/** The exports of an instantiated module: its memory and its functions. */
export interface WasmExports {
  readonly memory: {
    readonly buffer: ArrayBuffer;
    grow(pages: number): number;
  };
  readonly [name: string]: unknown;
}

/** The slice of the WebAssembly JS API used here (the project's TS lib has no WebAssembly types). */
interface WebAssemblyApi {
  readonly Module: new (bytes: Uint8Array) => object;
  readonly Instance: new (module: object) => { readonly exports: object };
}

/** Compiles and instantiates a module (synchronously; the modules are a few KB). */
export function instantiate(bytes: Uint8Array): WasmExports {
  const api = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  return new api.Instance(new api.Module(bytes)).exports as WasmExports;
}
