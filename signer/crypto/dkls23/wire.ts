/**
 * Canonical binary framing shared by every DKLs23 message: fixed-length fields in a fixed
 * order, so a payload of the wrong length is malformed and no field is ambiguous. Header:
 * `version u8 ‖ kind u8 ‖ from u16 ‖ to u16 (0 for broadcast) ‖ context[32]`.
 */
import type { PartyId } from '../round-protocol.ts';
import {
  Dkls23ContextMismatchError,
  Dkls23MalformedMessageError,
  Dkls23UnexpectedSenderError,
} from './errors.ts';
import { WIRE_VERSION } from './params.ts';
import { decodePoint, decodeScalar, type Point, pointToBytes, scalarToBytes } from './group.ts';

export const HEADER_BYTES = 1 + 1 + 2 + 2 + 32;

export class Writer {
  readonly bytes: Uint8Array;
  private offset = 0;
  constructor(length: number) {
    this.bytes = new Uint8Array(length);
  }
  u8(value: number): this {
    this.bytes[this.offset++] = value;
    return this;
  }
  u16(value: number): this {
    this.bytes[this.offset++] = value >>> 8;
    this.bytes[this.offset++] = value & 0xff;
    return this;
  }
  raw(value: Uint8Array): this {
    this.bytes.set(value, this.offset);
    this.offset += value.length;
    return this;
  }
  scalar(value: bigint): this {
    return this.raw(scalarToBytes(value));
  }
  point(value: Point): this {
    return this.raw(pointToBytes(value));
  }
  header(kind: number, from: PartyId, to: PartyId, context: Uint8Array): this {
    return this.u8(WIRE_VERSION).u8(kind).u16(from).u16(to).raw(context);
  }
  /** Returns the payload; throws if the declared length was not filled exactly. */
  finish(): Uint8Array {
    if (this.offset !== this.bytes.length)
      throw new Error(`writer: wrote ${this.offset} of ${this.bytes.length} bytes`);
    return this.bytes;
  }
}

export class Reader {
  private offset = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly what: string,
    private readonly counterparty: PartyId,
  ) {}
  /** The bytes read so far (a view, not a copy). */
  consumed(): Uint8Array {
    return this.bytes.subarray(0, this.offset);
  }
  private where(field: string): { field: string; counterparty: PartyId } {
    return { field: `${this.what}.${field}`, counterparty: this.counterparty };
  }
  raw(length: number, field: string): Uint8Array {
    if (this.offset + length > this.bytes.length) {
      throw new Dkls23MalformedMessageError(`${this.what}.${field}: truncated`, this.where(field));
    }
    const out = this.bytes.subarray(this.offset, this.offset + length);
    this.offset += length;
    return out;
  }
  u8(field: string): number {
    return this.raw(1, field)[0] as number;
  }
  u16(field: string): number {
    const b = this.raw(2, field);
    return ((b[0] as number) << 8) | (b[1] as number);
  }
  scalar(field: string, nonZero = false): bigint {
    return decodeScalar(this.raw(32, field), this.where(field), nonZero);
  }
  point(field: string): Point {
    return decodePoint(this.raw(33, field), this.where(field));
  }
  /**
   * Checks the header: version, kind, declared sender = transport sender, declared recipient
   * = us (0 for broadcast), session context.
   */
  header(
    kind: number,
    from: PartyId,
    to: PartyId,
    context: Uint8Array,
    expectedLength: number,
  ): void {
    if (this.bytes.length !== expectedLength) {
      throw new Dkls23MalformedMessageError(
        `${this.what}: length ${this.bytes.length}, expected ${expectedLength}`,
        this.where('length'),
      );
    }
    if (this.u8('version') !== WIRE_VERSION) {
      throw new Dkls23MalformedMessageError(
        `${this.what}: unsupported version`,
        this.where('version'),
      );
    }
    if (this.u8('kind') !== kind)
      throw new Dkls23MalformedMessageError(`${this.what}: wrong kind`, this.where('kind'));
    if (this.u16('from') !== from || this.u16('to') !== to) {
      throw new Dkls23UnexpectedSenderError(
        `${this.what}: declared sender or recipient mismatch`,
        this.where('from'),
      );
    }
    const received = this.raw(32, 'context');
    let difference = 0;
    for (let i = 0; i < 32; i++) difference |= (received[i] as number) ^ (context[i] as number);
    if (difference !== 0) {
      throw new Dkls23ContextMismatchError(
        `${this.what}: built for another session`,
        this.where('context'),
      );
    }
  }
  end(): void {
    if (this.offset !== this.bytes.length) {
      throw new Dkls23MalformedMessageError(`${this.what}: trailing bytes`, this.where('length'));
    }
  }
}

/** Constant-time equality of equal-length byte strings (false on length mismatch). */
export function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let i = 0; i < left.length; i++) difference |= (left[i] as number) ^ (right[i] as number);
  return difference === 0;
}
