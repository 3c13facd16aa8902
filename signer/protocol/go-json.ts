/**
 * Byte-exact reproduction of Go `encoding/json` `Marshal` output for the few shapes the mpcium
 * contract signs or emits (reference `mpcium-contract.md` §3.1): compact objects with a fixed
 * field order, strings, integers, booleans, string arrays, uint32 arrays and `[]byte`.
 *
 * Go string escaping (Go ≥ 1.22 `appendString` with HTML escaping on):
 * - `"` and `\` → `\"`, `\\`; `\b` `\f` `\n` `\r` `\t` → short escapes; other bytes < 0x20 →
 *   `\u00XX` (lower-case hex);
 * - `<` `>` `&` → `\u003c` `\u003e` `\u0026`; U+2028 / U+2029 → `\u2028` / `\u2029`;
 * - invalid UTF-8 → `\ufffd`. A JS string cannot hold invalid UTF-8; its analogue, a lone
 *   UTF-16 surrogate, is escaped the same way;
 * - everything else (including `/`, `+`, DEL and non-ASCII) verbatim as UTF-8.
 * `[]byte` is standard padded base64 (`null` for a nil slice); a nil slice/array is `null`.
 */

/** A value the Go-compatible marshaller can encode. `null` is Go's nil slice/pointer. */
export type GoJsonValue =
  string | number | boolean | null | GoBytes | readonly GoJsonValue[] | GoJsonObject;

/** An ordered list of `[jsonName, value]` pairs: Go struct fields in declaration order. */
export interface GoJsonObject {
  readonly kind: 'object';
  readonly fields: readonly (readonly [string, GoJsonValue])[];
}

/** A Go `[]byte`: marshalled as standard padded base64. */
export interface GoBytes {
  readonly kind: 'bytes';
  readonly bytes: Uint8Array;
}

/** Wraps a byte array so the marshaller emits base64; `null` stays `null` (nil slice). */
export function goBytes(bytes: Uint8Array | null): GoBytes | null {
  return bytes === null ? null : { kind: 'bytes', bytes };
}

/** Builds an ordered Go struct from `[name, value]` pairs. */
export function goObject(...fields: (readonly [string, GoJsonValue])[]): GoJsonObject {
  return { kind: 'object', fields };
}

const HEX = '0123456789abcdef';

/** Go's quoted-string encoding of `value` (see the module comment). */
export function goQuoteString(value: string): string {
  let out = '"';
  let runStart = 0;
  for (let index = 0; index < value.length; index++) {
    const unit = value.charCodeAt(index);
    let escape: string | undefined;
    if (unit < 0x20 || unit === 0x22 || unit === 0x5c) {
      escape = escapeAsciiControl(unit);
    } else if (unit === 0x3c || unit === 0x3e || unit === 0x26) {
      escape = `\\u00${HEX[unit >> 4]}${HEX[unit & 0xf]}`;
    } else if (unit === 0x2028 || unit === 0x2029) {
      escape = unit === 0x2028 ? '\\u2028' : '\\u2029';
    } else if (unit >= 0xd800 && unit <= 0xdfff) {
      const next = value.charCodeAt(index + 1);
      if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        index++; // a valid surrogate pair: emitted verbatim
        continue;
      }
      escape = '\\ufffd';
    }
    if (escape !== undefined) {
      out += value.slice(runStart, index) + escape;
      runStart = index + 1;
    }
  }
  return `${out}${value.slice(runStart)}"`;
}

function escapeAsciiControl(unit: number): string {
  switch (unit) {
    case 0x22:
      return '\\"';
    case 0x5c:
      return '\\\\';
    case 0x08:
      return '\\b';
    case 0x0c:
      return '\\f';
    case 0x0a:
      return '\\n';
    case 0x0d:
      return '\\r';
    case 0x09:
      return '\\t';
    default:
      return `\\u00${HEX[unit >> 4]}${HEX[unit & 0xf]}`;
  }
}

/** Standard base64 with padding (Go `base64.StdEncoding.EncodeToString`). */
export function encodeStdBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

const BASE64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUES = (() => {
  const table = new Int16Array(128).fill(-1);
  for (let index = 0; index < BASE64_ALPHABET.length; index++) {
    table[BASE64_ALPHABET.charCodeAt(index)] = index;
  }
  return table;
})();

/**
 * Decodes like Go `base64.StdEncoding.DecodeString` (what `encoding/json` uses for `[]byte`):
 * standard alphabet, padding required, `\r` and `\n` ignored anywhere, non-zero trailing bits
 * tolerated (so re-encoding may differ from the input: callers re-encode canonically).
 * Returns `undefined` on any other deviation.
 */
export function decodeStdBase64(text: string): Uint8Array | undefined {
  const clean = text.includes('\r') || text.includes('\n') ? text.replace(/[\r\n]/g, '') : text;
  if (clean.length % 4 !== 0) return undefined;
  let padding = 0;
  if (clean.endsWith('==')) padding = 2;
  else if (clean.endsWith('=')) padding = 1;
  const out = new Uint8Array((clean.length / 4) * 3 - padding);
  let outIndex = 0;
  for (let index = 0; index < clean.length; index += 4) {
    const isLast = index + 4 === clean.length;
    let accumulator = 0;
    for (let offset = 0; offset < 4; offset++) {
      const code = clean.charCodeAt(index + offset);
      if (code === 0x3d) {
        if (!isLast || offset < 4 - padding) return undefined;
        accumulator <<= 6;
        continue;
      }
      const value = code < 128 ? (BASE64_VALUES[code] ?? -1) : -1;
      if (value < 0) return undefined;
      accumulator = (accumulator << 6) | value;
    }
    const chunk = [(accumulator >> 16) & 0xff, (accumulator >> 8) & 0xff, accumulator & 0xff];
    const take = isLast ? 3 - padding : 3;
    for (let byteIndex = 0; byteIndex < take; byteIndex++) out[outIndex++] = chunk[byteIndex] ?? 0;
  }
  return out;
}

/** Go `json.Marshal` text of `value` (compact). Numbers must be safe integers. */
export function goMarshalText(value: GoJsonValue): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return goQuoteString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isSafeInteger(value)) {
        throw new RangeError(`goMarshal supports safe integers only, got ${value}`);
      }
      return String(value);
    default:
      break;
  }
  if (isReadonlyArray(value)) return `[${value.map(goMarshalText).join(',')}]`;
  if (value.kind === 'bytes') return `"${encodeStdBase64(value.bytes)}"`;
  return `{${value.fields.map(([name, field]) => `${goQuoteString(name)}:${goMarshalText(field)}`).join(',')}}`;
}

/** Go `json.Marshal` bytes of `value`. */
export function goMarshal(value: GoJsonValue): Uint8Array {
  return new TextEncoder().encode(goMarshalText(value));
}

function isReadonlyArray(value: unknown): value is readonly GoJsonValue[] {
  return Array.isArray(value);
}

/**
 * Replaces lone UTF-16 surrogates by U+FFFD: what Go's decoder yields for a `\udXXX` escape
 * that is not part of a pair. Apply to every string decoded with `JSON.parse` so that
 * re-marshalling matches a Go node.
 */
export function toGoDecodedString(value: string): string {
  let out = '';
  let runStart = 0;
  for (let index = 0; index < value.length; index++) {
    const unit = value.charCodeAt(index);
    if (unit < 0xd800 || unit > 0xdfff) continue;
    const next = value.charCodeAt(index + 1);
    if (unit <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
      index++;
      continue;
    }
    out += `${value.slice(runStart, index)}\ufffd`;
    runStart = index + 1;
  }
  return runStart === 0 ? value : out + value.slice(runStart);
}
